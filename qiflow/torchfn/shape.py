"""Shape functions with PyTorch's meaning: ``transpose(x, dim0, dim1)`` swaps two
dims, ``split`` takes chunk sizes, ``chunk``, ``unbind``, ``cat``/``stack`` with
``dim``, ``Tensor.repeat`` tiles, ``flip(x, dims)``, ``tril``/``triu``.

>>> x = qf.ones(2, 3)
>>> qf.transpose(x, 0, 1).shape, [p.shape for p in qf.split(qf.ones(5, 2), [1, 4])]
((3, 2), [(1, 2), (4, 2)])
"""
import numpy as np

from ..ops import movement as M, join as J, elementwise as E, linalg as L
from ..ops.indexing import getitem
from .._state import QiflowError
from .args import dim_arg, one_dim
from .arith import promote_all


def _ints(opname, sizes):
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = sizes[0]
    out = []
    for s in sizes:
        if hasattr(s, "item") and not isinstance(s, (int, np.integer)):
            s = s.item()
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"{opname}: expected ints, got {sizes!r}")
        out.append(int(s))
    return tuple(out)


def transpose(input, dim0, dim1):
    """Swap dims ``dim0`` and ``dim1`` (PyTorch's transpose; ``permute`` for any order)."""
    n = input.ndim
    if n == 0:
        return input
    return M.swapaxes(input, one_dim("transpose", dim0, n), one_dim("transpose", dim1, n))


swapaxes = swapdims = transpose


def t(input):
    """Transpose a tensor of at most 2 dimensions (PyTorch's ``t``)."""
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but it has {input.ndim} "
                           f"(shape {tuple(input.shape)}); use transpose(dim0, dim1) or permute")
    return M.transpose(input) if input.ndim == 2 else input


def permute(input, *dims):
    """Reorder the dims: ``qf.permute(x, (2, 0, 1))``."""
    dims = _ints("permute", dims)
    if sorted(d % max(input.ndim, 1) for d in dims) != list(range(input.ndim)):
        raise RuntimeError(f"permute: dims {dims} are not a permutation of the {input.ndim} dims "
                           f"of a tensor of shape {tuple(input.shape)}")
    return M.permute(input, dims)


def movedim(input, source, destination):
    """Move dim ``source`` to position ``destination`` (ints only)."""
    n = input.ndim
    s, d = one_dim("movedim", source, n), one_dim("movedim", destination, n)
    order = [i for i in range(n) if i != s]
    order.insert(d, s)
    return M.permute(input, order)


def _size(x, d):
    s = x.shape[d]
    if not isinstance(s, (int, np.integer)):
        raise QiflowError(f"split: needs the size of dim {d}, unknown in shape {tuple(x.shape)}")
    return int(s)


def _pieces(x, d, sizes):
    out, start = [], 0
    lead = (slice(None),) * d
    for s in sizes:
        out.append(getitem(x, lead + (slice(start, start + s),)))
        start += s
    return tuple(out)


def split(tensor, split_size_or_sections, dim=None, *, axis=None):
    """Split into pieces along ``dim``: an int is the size of each piece (the last may be
    smaller), a list the size of every piece (PyTorch's meaning, not NumPy's split points).

    >>> [p.shape for p in qf.split(qf.ones(5), 2)]
    [(2,), (2,), (1,)]
    """
    d = dim_arg("split", dim, axis)
    d = one_dim("split", 0 if d is None else d, tensor.ndim)
    n = _size(tensor, d)
    s = split_size_or_sections
    if isinstance(s, (int, np.integer)) and not isinstance(s, bool):
        s = int(s)
        if s <= 0 and not (s == 0 and n == 0):
            raise ValueError(f"split: split_size must be positive, got {s}")
        sizes = [s] * (n // s) + ([n % s] if n % s else []) if n else [0]
    else:
        sizes = list(_ints("split", (s,)))
        if sum(sizes) != n or any(v < 0 for v in sizes):
            raise ValueError(f"split: sizes {sizes} must be non-negative and sum to {n}, the size "
                             f"of dim {d} of shape {tuple(tensor.shape)} (PyTorch's split takes "
                             f"sizes, not NumPy's split points)")
    return _pieces(tensor, d, sizes)


def tensor_split(input, indices_or_sections, dim=0):
    """NumPy-style splitting: an int gives that many near-equal pieces, a list the split points."""
    d = one_dim("tensor_split", dim, input.ndim)
    n = _size(input, d)
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError(f"tensor_split: sections must be positive, got {k}")
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    else:
        pts = [min(max(int(p), 0), n) for p in indices_or_sections]
        bounds = [0] + pts + [n]
        sizes = [max(b - a, 0) for a, b in zip(bounds, bounds[1:])]
    return _pieces(input, d, sizes)


def chunk(input, chunks, dim=0):
    """Split into ``chunks`` pieces of size ceil(n / chunks) along ``dim`` (fewer when
    they run out, as in PyTorch).

    >>> [p.shape for p in qf.chunk(qf.ones(5), 3)]
    [(2,), (2,), (1,)]
    """
    if not isinstance(chunks, (int, np.integer)) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    d = one_dim("chunk", dim, input.ndim)
    n = _size(input, d)
    size = -(-n // int(chunks)) if n else 1
    return split(input, max(size, 1), d)


def unbind(input, dim=0):
    """The slices along ``dim``, as a tuple (the dim removed)."""
    d = one_dim("unbind", dim, input.ndim)
    lead = (slice(None),) * d
    return tuple(getitem(input, lead + (i,)) for i in range(_size(input, d)))


def cat(tensors, dim=None, *, axis=None):
    """Join tensors along an existing ``dim`` (PyTorch's cat; ``axis=`` accepted)."""
    d = dim_arg("cat", dim, axis)
    d = 0 if d is None else d
    tensors = [t for t in tensors]
    # PyTorch skips empty 1-d tensors when joining others (a legacy rule programs rely on)
    kept = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    return J.concatenate(promote_all(kept), d)


concat = concatenate = cat


def stack(tensors, dim=None, *, axis=None):
    """Join same-shaped tensors along a new ``dim``."""
    d = dim_arg("stack", dim, axis)
    return J.stack(promote_all(tensors), 0 if d is None else d)


def hstack(tensors):
    tensors = list(tensors)
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    return cat([M.reshape(t, (1, -1)) if t.ndim < 2 else t for t in tensors], 0)


def flip(input, dims):
    """Reverse along ``dims`` (an int or a tuple; required, as in PyTorch)."""
    if isinstance(dims, (int, np.integer)):
        dims = (dims,)
    dims = _ints("flip", (dims,))
    return J.flip(input, tuple(one_dim("flip", d, input.ndim) for d in dims))


def repeat(input, *sizes):
    """PyTorch's ``Tensor.repeat``: tile the whole tensor ``sizes[i]`` times along dim i
    (sizes may add leading dims). NumPy's element repeat is ``repeat_interleave``."""
    sizes = _ints("repeat", sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(f"repeat: the number of repeat sizes ({len(sizes)}) can not be smaller "
                           f"than the number of dimensions ({input.ndim}) of the tensor")
    return J.tile(input, sizes)


def repeat_interleave(input, repeats, dim=None):
    """Repeat each element ``repeats`` times along ``dim`` (None: of the flattened tensor)."""
    if dim is not None:
        dim = one_dim("repeat_interleave", dim, input.ndim)
    return J.repeat(input, repeats, dim)


def squeeze(input, dim=None):
    """Remove size-1 dims (only those of ``dim`` when given; other sizes are left, as in PyTorch)."""
    if dim is None:
        return M.squeeze(input)
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    dims = [one_dim("squeeze", d, input.ndim) for d in dims]
    keep = tuple(d for d in dims if input.shape[d] == 1)
    return M.squeeze(input, keep) if keep else input


def unsqueeze(input, dim):
    """Insert a size-1 dim at ``dim`` (negative counts from the end of the result)."""
    return M.expand_dims(input, one_dim("unsqueeze", dim, input.ndim + 1))


def _tri(name, input, diagonal, lower):
    if input.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions, got shape "
                           f"{tuple(input.shape)}")
    r, c = input.shape[-2], input.shape[-1]
    keep = np.tri(r, c, diagonal, dtype=bool) if lower else ~np.tri(r, c, diagonal - 1, dtype=bool)
    return E.where(keep, input, E.zeros_like(input))


def tril(input, diagonal=0):
    """The lower triangle of the last two dims (elements above ``diagonal`` set to 0)."""
    return _tri("tril", input, diagonal, True)


def triu(input, diagonal=0):
    """The upper triangle of the last two dims (elements below ``diagonal`` set to 0)."""
    return _tri("triu", input, diagonal, False)


def narrow(input, dim, start, length):
    """``length`` elements of ``dim`` from ``start`` (a view)."""
    d = one_dim("narrow", dim, input.ndim)
    return getitem(input, (slice(None),) * d + (slice(start, start + length),))


def roll(input, shifts, dims=None):
    """Shift elements along ``dims`` cyclically (None: of the flattened tensor)."""
    if dims is None:
        flat = M.reshape(input, (-1,))
        return M.reshape(roll(flat, shifts, 0), tuple(input.shape))
    shifts = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    out = input
    for s, d in zip(shifts, dims):
        d = one_dim("roll", d, input.ndim)
        n = _size(input, d)
        idx = (np.arange(n) - int(s)) % n if n else np.arange(0)
        out = getitem(out, (slice(None),) * d + (idx,))
    return out


def diag(input, diagonal=0):
    """A 1-d tensor -> the square matrix with it on ``diagonal``; a 2-d tensor -> that diagonal."""
    if input.ndim == 1:
        n = _size(input, 0) + abs(diagonal)
        rows = np.arange(_size(input, 0)) + max(-diagonal, 0)
        cols = np.arange(_size(input, 0)) + max(diagonal, 0)
        place = np.zeros((n, n, _size(input, 0)), bool)
        place[rows, cols, np.arange(_size(input, 0))] = True
        return L.matmul(E.cast(place, input.dtype), input) if input.dtype.kind in "fc" else \
            L.matmul(E.cast(place, "int64"), E.cast(input, "int64"))
    if input.ndim == 2:
        return diagonal_(input, diagonal)
    raise RuntimeError(f"diag: expected a 1-d or 2-d tensor, got shape {tuple(input.shape)}")


def diagonal_(input, offset=0, dim1=0, dim2=1):
    """The diagonal of dims ``dim1``/``dim2`` (moved to the last dim), as PyTorch's diagonal."""
    n = input.ndim
    d1, d2 = one_dim("diagonal", dim1, n), one_dim("diagonal", dim2, n)
    x = M.permute(input, [i for i in range(n) if i not in (d1, d2)] + [d1, d2])
    r, c = _size(x, n - 2), _size(x, n - 1)
    k = max(0, min(r - max(-offset, 0), c - max(offset, 0)))
    rows = np.arange(k) + max(-offset, 0)
    cols = np.arange(k) + max(offset, 0)
    return getitem(x, (Ellipsis, rows, cols))


def trace(input):
    """Sum of the main diagonal of a 2-d tensor."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, got shape {tuple(input.shape)}")
    from ..ops.reduce import sum as _sum
    return _sum(diagonal_(input))


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-d tensors (``indexing='ij'`` PyTorch's default, or ``'xy'``)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    ts = list(tensors)
    if indexing == "xy" and len(ts) >= 2:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(_size(t, 0) for t in ts)
    k = len(ts)
    grids = [M.broadcast_to(M.reshape(t, tuple(-1 if i == j else 1 for i in range(k))), shape)
             for j, t in enumerate(ts)]
    if indexing == "xy" and k >= 2:          # built 'ij' on (y, x, ...): hand them back as (x, y, ...)
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)
