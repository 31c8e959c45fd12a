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
import math
import os
import zlib

import numpy as np

from .errors import DataFormatError

_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path):
    """Read an IDX file (gzipped or not) into an ndarray.

    Raises ``DataFormatError`` (a ``ValueError``) naming the file when it is
    not gzip or IDX, when the header is wrong or when the data is shorter or
    longer than the header says.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"read_idx: {path} is a damaged gzip file ({exc}); expected an IDX "
                              "file, gzipped or not") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise DataFormatError(f"read_idx: {path} is not an IDX file (bad magic number "
                              f"{raw[:4].hex() or 'none: the file is empty'}; expected 0000 then a "
                              "type code and the number of dimensions)")
    dtype, ndim = _TYPES[raw[2]], raw[3]
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise DataFormatError(f"read_idx: {path} is truncated inside its header ({len(raw)} bytes, "
                              f"the header of a {ndim}-d IDX file has {head})")
    shape = tuple(int(v) for v in np.frombuffer(raw, ">u4", ndim, 4))
    need = math.prod(shape) * dtype.itemsize      # Python ints: a crafted header cannot overflow
    if len(raw) - head != need:
        raise DataFormatError(f"read_idx: {path} holds {len(raw) - head} data bytes but its header "
                              f"(shape {shape}, {dtype}) needs {need}; the file is truncated or damaged")
    return np.frombuffer(raw, dtype, offset=head).reshape(shape).astype(dtype.newbyteorder("="))
