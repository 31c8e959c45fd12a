"""Saving and loading without pickle: ``qf.save(obj, f)`` / ``qf.load(f)``, ``f`` a path or
an open binary file object (``io.BytesIO`` too), as ``torch.save``/``torch.load``.

``obj`` is any nesting of dicts (string or integer keys), lists and tuples
whose leaves are tensors, NumPy arrays, NumPy scalars, Python numbers,
strings, bools or None — module and optimizer state dicts, training
checkpoints.  The file is an ordinary ``.npz`` archive: one ``.npy`` entry per
array (read back with ``allow_pickle=False``) and one entry holding the
structure as JSON.  Writes are atomic: a temporary file in the same folder,
flushed to disk, then renamed over the target, so a crash never leaves a
half-written checkpoint in place of a good one; the temporary file is
removed on every exit path, and one left by a killed process is removed by
the next save into the same folder.

>>> qf.save({"w": qf.ones(2, 2), "step": 3}, "ckpt.npz")
>>> qf.load("ckpt.npz")["step"]
3
"""
import contextlib
import hashlib
import io
import json
import os
import secrets
import socket
import time
import zipfile

import numpy as np

from ._state import QiflowError
from .backend import check_device, device
from .tensor import Tensor

FORMAT = "qiflow"
VERSION = 1
META = "__qiflow__.npy"


class CheckpointError(QiflowError):
    """A file that qf.load will not read (truncated, foreign, pickled, corrupted)."""


# ------------------------------------------------------------------ atomic writes
# Temporary files are named .NAME.PID-HOST.RANDOM.tmp, so that a later save can tell the
# leftovers of a dead writer (removed) from the file a live one is still writing (kept).
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
_LEGACY_AGE = 3600   # seconds: unnamed leftovers of older versions older than this are dead


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True     # exists but belongs to someone else (or cannot tell): keep its file
    return True


def remove_stale_temporaries(path):
    """Remove the temporary files that dead writers of ``path`` left next to it; returns their names.

    A file of a live writer, or of a writer on another host, is kept.

    >>> remove_stale_temporaries("ckpt.npz")
    []
    """
    folder = os.path.dirname(os.path.abspath(path))
    prefix = "." + os.path.basename(path) + "."
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        tag = name[len(prefix):-len(".tmp")].split(".")[0]
        pid, _, host = tag.partition("-")
        full = os.path.join(folder, name)
        stale = False
        if pid.isdigit() and host:
            stale = host == _HOST and int(pid) != os.getpid() and not _pid_alive(int(pid))
        else:           # written by a qiflow that did not tag its temporary files
            with contextlib.suppress(OSError):
                stale = time.time() - os.stat(full).st_mtime > _LEGACY_AGE
        if stale:
            with contextlib.suppress(OSError):
                os.unlink(full)
                removed.append(name)
    return removed


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file next to ``path``; on success it replaces ``path``.

    If the body raises (or the process is interrupted), the temporary file is
    removed and ``path`` keeps its previous content.

    >>> with atomic_write("note.txt", "w") as f:
    ...     _ = f.write("done")
    >>> open("note.txt").read()
    'done'
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path!r}: folder {folder!r} does not exist")
    remove_stale_temporaries(path)
    tmp = None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        while True:
            # Named before it exists (unlike tempfile.mkstemp), so that an interrupt at any
            # moment leaves a name the clean-up below can remove.
            tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}-{_HOST}."
                                       f"{secrets.token_hex(4)}.tmp")
            try:
                fd = os.open(tmp, flags, 0o600)
                break
            except FileExistsError:
                tmp = None
        with os.fdopen(fd, mode) as f:
            os.chmod(tmp, _mode_for(path))
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    _fsync_dir(folder)


def _mode_for(path):
    # mkstemp makes 0600 files; give the result the permissions a plain open() would.
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _fsync_dir(folder):
    # Makes the rename itself durable; not possible on every platform.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ------------------------------------------------------------------------ saving
def _where(path):
    return "obj" + "".join(f"[{k!r}]" for k in path)


def _encode(obj, arrays, path):
    if isinstance(obj, Tensor):
        return {"tensor": _add_array(obj._data, arrays, path), "requires_grad": bool(obj.requires_grad)}
    if isinstance(obj, np.ndarray):
        return {"array": _add_array(obj, arrays, path)}
    if isinstance(obj, np.generic):
        return {"scalar": _add_array(np.asarray(obj), arrays, path)}
    if obj is None or isinstance(obj, (bool, int, str)):
        return {"v": obj}
    if isinstance(obj, float):
        # JSON has no inf/nan; repr round-trips every float exactly.
        return {"f": repr(obj)}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"qf.save: dict keys must be str or int, got {k!r} "
                                f"({type(k).__name__}) in {_where(path)}")
            items.append([k, _encode(v, arrays, path + [k])])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, arrays, path + [i]) for i, v in enumerate(obj)]}
    for cls in type(obj).__mro__:
        if cls in _ENCODERS:
            return _ENCODERS[cls](obj, arrays, path)
    raise TypeError(f"qf.save: cannot save a {type(obj).__name__} at {_where(path)}; supported are "
                    "tensors, arrays, numbers, strings, bools, None, dicts/lists/tuples of them "
                    "and whole nn.Modules")


# Types that layers above save by their own rules (qiflow.nn registers Module): one
# encoder per type, one decoder per entry kind, so this module imports nothing above it.
_ENCODERS = {}
_DECODERS = {}
_DECODER_HOMES = {"module": "qiflow.nn.serialization"}


def register(cls, kind, encode, decode):
    """``encode(obj, arrays, path) -> node`` saves a ``cls``; ``decode(node, read)`` rebuilds
    a node whose kind is ``kind``, ``read(child)`` decoding a nested node."""
    _ENCODERS[cls] = encode
    _DECODERS[kind] = decode


def _add_array(a, arrays, path):
    if a.dtype.hasobject:
        raise TypeError(f"qf.save: object arrays cannot be saved without pickle ({_where(path)})")
    if a.dtype.kind == "V" and a.dtype.fields is None and not a.dtype.name.startswith("void"):
        # ml_dtypes' types (bfloat16 ...) would come back from .npy as raw bytes
        raise TypeError(f"qf.save: {a.dtype} arrays cannot be saved yet ({_where(path)}); convert "
                        "them first (e.g. .to(qf.float32))")
    name = f"a{len(arrays)}"
    arrays.append((name, a))
    return name


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True):
    """Save nested dicts/lists of tensors, arrays, numbers and strings to ``f``: a path
    or an open binary file object (``open(p, 'wb')``, ``io.BytesIO()``), as ``torch.save``.

    The file is a plain ``.npz`` (no pickle).  A path is written atomically and
    used exactly as given (no suffix is added); a file object receives the whole
    archive in one write once it is complete, so an object that cannot be saved
    leaves it untouched.  ``pickle_module``/``pickle_protocol`` are refused:
    qiflow never pickles.

    >>> model = qf.nn.Linear(3, 2)
    >>> qf.save({"model": model.state_dict(), "epoch": 5}, "linear.npz")
    >>> buf = io.BytesIO(); qf.save(model.state_dict(), buf); qf.load(io.BytesIO(buf.getvalue()))["bias"].shape
    (2,)
    """
    if pickle_module is not None or pickle_protocol is not None:
        raise TypeError("qf.save: pickle_module/pickle_protocol: qiflow never pickles; leave them out")
    arrays = []
    tree = _encode(obj, arrays, [])
    meta = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree}, separators=(",", ":"))
    if hasattr(f, "write"):
        if isinstance(f, io.TextIOBase):
            raise TypeError("qf.save: the file object is open in text mode; open it in binary mode "
                            "(open(path, 'wb'))")
        buf = io.BytesIO()
        _write_archive(buf, arrays, meta)
        view = memoryview(buf.getbuffer())
        while view:                    # raw (unbuffered) files may take fewer bytes per write
            n = f.write(view)
            if n is None:
                raise OSError("qf.save: the file object accepted no data (a non-blocking file?)")
            view = view[n:]
        return
    if not isinstance(f, (str, bytes, os.PathLike)):
        raise TypeError(f"qf.save: expected a path or a binary file object, got {type(f).__name__}")
    with atomic_write(f) as fh:
        _write_archive(fh, arrays, meta)


class _ZipWriter(zipfile.ZipFile):
    """A ZipFile whose finaliser is quiet: an interrupt that lands inside ``__init__`` leaves a
    half-made object, and CPython's ``__del__`` then prints an AttributeError traceback."""

    def __del__(self):
        with contextlib.suppress(Exception):
            super().__del__()


def _write_archive(f, arrays, meta):
    zf = _ZipWriter(f, "w", zipfile.ZIP_STORED, allowZip64=True)
    try:
        for name, a in arrays:
            with zf.open(name + ".npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, np.asanyarray(a), allow_pickle=False)
        with zf.open(META, "w") as entry:
            np.lib.format.write_array(entry, np.frombuffer(meta.encode(), np.uint8), allow_pickle=False)
    except BaseException:
        # Abandon the half-written archive (atomic_write deletes it): closing it could fail
        # on an entry left open by an interrupt, and that error would hide this one.
        zf.fp = None
        raise
    zf.close()


# ----------------------------------------------------------------------- loading
def _sniff(path, head):
    if head[:1] == b"\x80" or head[:1] in (b"(", b"]", b"}") and b"." in head:
        return ("it is a Python pickle (as written by pickle.dump or an old torch.save); qiflow never "
                "unpickles files because unpickling can run arbitrary code")
    if head.startswith(b"\x93NUMPY"):
        return "it is a single .npy array, not a qiflow checkpoint; read it with numpy.load(path)"
    if head.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed data, not a qiflow checkpoint"
    if head.startswith(b"PK"):
        return ("it is truncated or corrupted (a zip archive whose directory cannot be read)")
    if not head:
        return "it is empty"
    return "it is not a qiflow checkpoint (not an .npz/zip archive)"


def _check_map_location(m):
    if m is None or isinstance(m, (str, device)):
        check_device(m, "qf.load(map_location=)")
    elif isinstance(m, dict):
        for v in m.values():
            check_device(v, "qf.load(map_location=)")
    else:
        raise TypeError("qf.load: map_location as a function is not supported; qiflow loads every "
                        "tensor onto the CPU: pass map_location='cpu' or leave it out")


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None):
    """Load what :func:`save` wrote, from a path or an open binary file object (as
    ``torch.load``): tensors come back as qf Tensors, arrays as arrays.

    Nothing in the file is executed: arrays are read with ``allow_pickle=False``
    and the structure is JSON (so ``weights_only`` changes nothing; a
    ``pickle_module`` is refused).  ``map_location`` may name the CPU (or map
    devices to it); everything is loaded there.  A truncated, corrupted,
    pickled or foreign file raises ``CheckpointError``.

    >>> qf.save([qf.zeros(2), "x"], "pair.npz"); qf.load("pair.npz")[1]
    'x'
    """
    if pickle_module is not None:
        raise TypeError("qf.load: pickle_module: qiflow never unpickles files; leave it out")
    if mmap:
        raise NotImplementedError("qf.load: mmap=True is not supported by qiflow yet")
    _check_map_location(map_location)
    if hasattr(f, "read"):
        if isinstance(f, io.TextIOBase):
            raise TypeError("qf.load: the file object is open in text mode; open it in binary mode "
                            "(open(path, 'rb'))")
        label = getattr(f, "name", None)
        label = label if isinstance(label, str) else f"<{type(f).__name__}>"
        if f.seekable():
            start = f.tell()
            head = f.read(64)
            f.seek(start)
            source = f
        else:
            data = f.read()
            head, source = data[:64], io.BytesIO(data)
        if not isinstance(head, bytes):
            raise TypeError(f"qf.load: the file object returned {type(head).__name__}, not bytes; open "
                            "it in binary mode")
        return _load_archive(source, label, head)
    if not isinstance(f, (str, bytes, os.PathLike)):
        raise TypeError(f"qf.load: expected a path or a binary file object, got {type(f).__name__}")
    path = os.fspath(f)
    if not os.path.exists(path):
        raise FileNotFoundError(f"qf.load: no such file {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"qf.load: {path!r} is a folder, not a checkpoint file")
    with open(path, "rb") as fh:
        head = fh.read(64)
    return _load_archive(path, path, head)


def _load_archive(source, path, head):
    """Read the archive ``source`` (a path or a seekable binary file); ``path`` names it in errors."""
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CheckpointError(f"qf.load: cannot read {path!r}: {_sniff(path, head)}") from exc
    with zf:
        names = set(zf.namelist())
        if META not in names:
            if any(n.endswith(".pkl") or n.endswith("data.pkl") for n in names):
                why = "it is a PyTorch-style archive with a pickle inside; qiflow never unpickles files"
            else:
                why = ("it has no qiflow metadata (a foreign .npz or zip archive); plain .npz files "
                       "can be read with numpy.load(path, allow_pickle=False)")
            raise CheckpointError(f"qf.load: {path!r} is not a qiflow checkpoint: {why}")
        meta = _read_json(zf, path)
        try:
            return _decode(meta["tree"], zf, path, names)
        except CheckpointError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
            # crafted or damaged metadata (wrong nesting, bad keys): never a raw traceback
            raise CheckpointError(f"qf.load: the metadata of {path!r} is malformed "
                                  f"({type(exc).__name__}: {exc})") from None


def _read_array(zf, name, path):
    try:
        with zf.open(name) as entry:
            return np.lib.format.read_array(entry, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise CheckpointError(f"qf.load: entry {name!r} of {path!r} holds pickled objects; "
                                  "refusing to unpickle it") from exc
        raise CheckpointError(f"qf.load: entry {name!r} of {path!r} is not a valid array: {exc}") from exc
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as exc:
        raise CheckpointError(f"qf.load: {path!r} is truncated or corrupted (entry {name!r}: {exc})") from exc
    except Exception as exc:    # e.g. a damaged .npy header that does not even tokenize
        raise CheckpointError(f"qf.load: entry {name!r} of {path!r} is corrupted "
                              f"({type(exc).__name__}: {exc})") from exc


def _read_json(zf, path):
    raw = _read_array(zf, META, path)
    try:
        meta = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"qf.load: the metadata of {path!r} is corrupted") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "tree" not in meta:
        raise CheckpointError(f"qf.load: {path!r} is not a qiflow checkpoint (unknown metadata)")
    if not isinstance(meta.get("version", 0), int):
        raise CheckpointError(f"qf.load: {path!r} is not a qiflow checkpoint (bad format version)")
    if meta.get("version", 0) > VERSION:
        raise CheckpointError(f"qf.load: {path!r} was written by a newer qiflow (format version "
                              f"{meta['version']}, this one reads up to {VERSION})")
    return meta


def _decode(node, zf, path, names):
    if not isinstance(node, dict) or len(node) not in (1, 2):
        raise CheckpointError(f"qf.load: the metadata of {path!r} is malformed")
    (kind, value), = [(k, v) for k, v in node.items() if k != "requires_grad"]
    if kind in ("tensor", "array", "scalar"):
        entry = f"{value}.npy"
        if entry not in names:
            raise CheckpointError(f"qf.load: {path!r} is missing array {entry!r}; the file is damaged")
        a = _read_array(zf, entry, path)
        if kind == "array":
            return a
        if kind == "scalar":
            return a[()]
        return Tensor(a, requires_grad=bool(node.get("requires_grad", False)) and a.dtype.kind == "f")
    if kind == "v":
        return value
    if kind == "f":
        return float(value)
    if kind == "dict":
        return {k: _decode(v, zf, path, names) for k, v in value}
    if kind == "list":
        return [_decode(v, zf, path, names) for v in value]
    if kind == "tuple":
        return tuple(_decode(v, zf, path, names) for v in value)
    if kind not in _DECODERS and kind in _DECODER_HOMES:
        import importlib            # the layer that registers it (imported by name: no upward import)
        importlib.import_module(_DECODER_HOMES[kind])
    if kind in _DECODERS:
        return _DECODERS[kind](value, lambda child: _decode(child, zf, path, names))
    raise CheckpointError(f"qf.load: unknown entry kind {kind!r} in {path!r}")
