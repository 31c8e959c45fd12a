"""The IDX format of the original MNIST files (``train-images-idx3-ubyte`` ...).

An IDX file is two zero bytes, a type code, the number of dimensions, the
dimensions as big-endian 32-bit integers, then the data in C order.  Files may
be gzipped (``.gz``).

>>> import struct, gzip
>>> raw = bytes([0, 0, 8, 1]) + struct.pack(">i", 3) + bytes([7, 8, 9])
>>> _ = open("labels-idx1-ubyte", "wb").write(raw)
>>> read_idx("labels-idx1-ubyte").tolist()
[7, 8, 9]
"""
import gzip
import os

import numpy as np

_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path):
    """Read an IDX file (gzipped or not) into an ndarray.

    Raises ``ValueError`` naming the file when the header is wrong or the
    data is shorter or longer than the header says.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"read_idx: {path} is a damaged gzip file ({exc})") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = _TYPES[raw[2]], raw[3]
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError(f"read_idx: {path} is truncated inside its header")
    shape = tuple(int(v) for v in np.frombuffer(raw, ">u4", ndim, 4))
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - head != need:
        raise ValueError(f"read_idx: {path} holds {len(raw) - head} data bytes but its header "
                         f"(shape {shape}, {dtype}) needs {need}; the file is truncated or damaged")
    return np.frombuffer(raw, dtype, offset=head).reshape(shape).astype(dtype.newbyteorder("="))
