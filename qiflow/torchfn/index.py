"""Indexing functions with PyTorch's meaning: ``gather``, ``scatter``,
``scatter_add``, ``index_select``, ``index_add``, ``masked_fill``, ``sort``,
``argsort``, ``topk``.  Values are gathered by indexing, so their gradients
come from indexing's; ``scatter``/``scatter_add`` are primitives
(``qiflow/ops/scatter.py``), the permutations come from ``ops/sorting.py``.

>>> x = qf.tensor([[1.0, 2.0], [3.0, 4.0]])
>>> qf.gather(x, 1, qf.tensor([[1], [0]])).tolist(), qf.sort(qf.tensor([2.0, 1.0])).indices.tolist()
([[2.0], [3.0]], [1, 0])
"""
import numpy as np

from ..ops import elementwise as E
from ..ops.indexing import getitem, take_along_axis
from ..ops.scatter import scatter as _scatter, scatter_add as _scatter_add, check_index
from ..ops.sorting import argsort as _argsort
from .._state import QiflowError
from .args import one_dim, index_array, is_array_like, is_tensor, return_types


def _fit(x, shape, dim):
    """x cut to ``shape`` off ``dim`` (PyTorch lets index be smaller than x there)."""
    if not all(isinstance(d, (int, np.integer)) for d in tuple(x.shape) + tuple(shape)):
        return x          # sizes known only at run time: the op's own indexing checks them
    if tuple(x.shape[:dim]) + tuple(x.shape[dim + 1:]) == tuple(shape[:dim]) + tuple(shape[dim + 1:]):
        return x
    cut = tuple(slice(None) if d == dim else slice(0, s) for d, s in enumerate(shape))
    return getitem(x, cut)


def _index(opname, index):
    """An index argument: a symbolic value stays one, everything else becomes an int64 array."""
    if is_tensor(index) or not is_array_like(index):
        return index_array(opname, index).astype(np.int64, copy=False)
    return index


def gather(input, dim, index):
    """``out[i][j] = input[index[i][j]][j]`` for dim 0 (and so on): values picked along ``dim``."""
    d = one_dim("gather", dim, input.ndim)
    index = _index("gather", index)
    check_index("gather", input.shape, index.shape, d)
    n = input.shape[d]
    if isinstance(n, (int, np.integer)) and isinstance(index, np.ndarray) and index.size \
            and (index.min() < -n or index.max() >= n):
        raise IndexError(f"gather: index out of range [{index.min()}, {index.max()}] for dim {d} "
                         f"of size {n}")
    return take_along_axis(_fit(input, index.shape, d), index, d)


take_along_dim = gather


def scatter_args(opname, input, dim, index, src):
    """(dim, index, src) checked as PyTorch does and src cut to index's shape."""
    d = one_dim(opname, dim, input.ndim)
    index = _index(opname, index)
    if src is None:
        raise TypeError(f"{opname}: give src (a tensor) or value (a number)")
    if is_array_like(src):
        check_index(opname, src.shape, index.shape, d)
        src = _fit(src, index.shape, d)
    return d, index, src


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """``input`` with ``src`` (a tensor, or a number ``value``) written at ``index``
    along ``dim``; ``reduce='add'`` adds instead."""
    d, index, src = scatter_args("scatter", input, dim, index, src if src is not None else value)
    if reduce is None:
        return _scatter(input, d, index, src)
    if reduce == "add":
        return _scatter_add(input, d, index, src)
    raise NotImplementedError(f"scatter: reduce={reduce!r} is not supported by qiflow yet (only 'add')")


def scatter_add(input, dim, index, src):
    """``input`` with ``src`` added at ``index`` along ``dim`` (repeats accumulate)."""
    return _scatter_add(input, *scatter_args("scatter_add", input, dim, index, src))


def _vector_index(opname, index):
    idx = _index(opname, index)
    if idx.ndim > 1:
        raise IndexError(f"{opname}: index must be 1-d, got shape {tuple(idx.shape)}")
    return idx.reshape(-1) if isinstance(idx, np.ndarray) else idx


def index_select(input, dim, index):
    """The entries ``index`` (1-d) of ``dim``."""
    d = one_dim("index_select", dim, input.ndim)
    return getitem(input, (slice(None),) * d + (_vector_index("index_select", index),))


def _expanded(index, shape, dim):
    view = [1] * len(shape)
    view[dim] = -1
    return np.broadcast_to(np.asarray(index).reshape(view), tuple(shape))


def index_add_args(input, dim, index, source, alpha):
    """(dim, index expanded to source's shape, alpha * source) for scatter_add."""
    d = one_dim("index_add", dim, input.ndim)
    idx = _vector_index("index_add", index)
    if source.ndim != input.ndim or source.shape[d] != idx.shape[0]:
        raise QiflowError(f"index_add: source of shape {tuple(source.shape)} does not match an "
                          f"index of {idx.shape[0]} entries along dim {d} of shape {tuple(input.shape)}")
    src = source if alpha == 1 else E.multiply(source, alpha)
    return d, _expanded(idx, source.shape, d), src


def index_add(input, dim, index, source, *, alpha=1):
    """``input`` with ``alpha * source[k]`` added at entry ``index[k]`` of ``dim``."""
    return _scatter_add(input, *index_add_args(input, dim, index, source, alpha))


def masked_fill_value(input, mask, value):
    """The fill value in input's dtype, after checking the mask is bool."""
    dt = mask.dtype if hasattr(mask, "dtype") else np.asarray(mask).dtype
    if np.dtype(dt) != np.bool_:
        raise QiflowError(f"masked_fill: the mask must be a bool tensor, got {np.dtype(dt)}")
    if is_array_like(value):
        if value.ndim != 0:
            raise QiflowError(f"masked_fill: value must be a number or a 0-d tensor, got shape "
                              f"{tuple(value.shape)}")
        return E.cast(value, input.dtype)
    return np.asarray(value).astype(input.dtype)


def masked_fill(input, mask, value):
    """``input`` with ``value`` where ``mask`` (bool, broadcast) is true; the dtype stays input's."""
    return E.where(mask, masked_fill_value(input, mask, value), input)


def argsort(input, dim=-1, descending=False, *, stable=False):
    """Indices that sort ``dim`` (ascending unless ``descending``; stable always)."""
    if input.ndim == 0:
        return E.cast(E.zeros_like(input), "int64")
    return _argsort(input, one_dim("argsort", dim, input.ndim), descending)


def sort(input, dim=-1, descending=False, *, stable=False):
    """The named tuple ``(values, indices)`` of ``input`` sorted along ``dim``."""
    if input.ndim == 0:
        return return_types.sort(input, E.cast(E.zeros_like(input), "int64"))
    d = one_dim("sort", dim, input.ndim)
    idx = _argsort(input, d, descending)
    return return_types.sort(take_along_axis(input, idx, d), idx)


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The named tuple ``(values, indices)`` of the ``k`` largest (or smallest) along ``dim``."""
    if input.ndim == 0:
        if k not in (0, 1):
            raise RuntimeError(f"topk: k={k} is out of range for a 0-d tensor")
        return return_types.topk(input, E.cast(E.zeros_like(input), "int64"))
    d = one_dim("topk", dim, input.ndim)
    n = input.shape[d]
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k={k} is out of range for dim {d} of size {n}")
    idx = getitem(_argsort(input, d, largest), (slice(None),) * d + (slice(0, k),))
    return return_types.topk(take_along_axis(input, idx, d), idx)


def kthvalue(input, k, dim=-1, keepdim=False):
    """The named tuple ``(values, indices)`` of the k-th smallest element along ``dim``."""
    d = one_dim("kthvalue", dim, input.ndim)
    idx = getitem(_argsort(input, d), (slice(None),) * d + (slice(k - 1, k),))
    v = take_along_axis(input, idx, d)
    if not keepdim:
        from ..ops.movement import squeeze
        v, idx = squeeze(v, d), squeeze(idx, d)
    return return_types.kthvalue(v, idx)


def _tensor(array):
    from ..ops.base import Tensor
    return Tensor(array)


def _concrete(opname, x):
    if not is_tensor(x) and not isinstance(x, np.ndarray):
        raise QiflowError(f"{opname}: its output shape depends on the values, so it needs a "
                          f"concrete tensor (not a symbolic or traced one)")
    return x._read() if is_tensor(x) else x


def nonzero(input, *, as_tuple=False):
    """Indices of the non-zero elements: an int64 (n, ndim) tensor, or one 1-d tensor per
    dim with ``as_tuple=True``."""
    a = _concrete("nonzero", input)
    idx = np.nonzero(a if a.ndim else a.reshape(1))
    if as_tuple:
        return tuple(_tensor(i.astype(np.int64)) for i in idx)
    return _tensor(np.stack(idx, 1).astype(np.int64) if idx else np.zeros((0, 0), np.int64))


def argwhere(input):
    """``nonzero(input)``: the (n, ndim) indices of the non-zero elements."""
    return nonzero(input)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct elements, sorted (PyTorch always sorts on the CPU); optionally the
    inverse indices and the counts."""
    if dim is not None:
        raise NotImplementedError("unique: dim= is not supported by qiflow yet")
    a = _concrete("unique", input)
    vals, inv, counts = np.unique(a, return_inverse=True, return_counts=True)
    out = [_tensor(vals)]
    if return_inverse:
        out.append(_tensor(inv.reshape(a.shape).astype(np.int64)))
    if return_counts:
        out.append(_tensor(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def masked_select(input, mask):
    """The elements where ``mask`` (broadcast) is true, as a 1-d tensor."""
    masked_fill_value(input, mask, 0)            # the same mask check
    m = mask._read() if is_tensor(mask) else np.asarray(mask)
    shape = np.broadcast_shapes(tuple(input.shape), m.shape)
    from ..ops.movement import broadcast_to
    return getitem(broadcast_to(input, shape), np.broadcast_to(m, shape))


def median(input, dim=None, keepdim=False):
    """The lower median (PyTorch's: of an even count, the smaller middle value); with
    ``dim``, the named tuple ``(values, indices)``."""
    if dim is None:
        from ..ops.movement import reshape
        flat = reshape(input, (-1,))
        n = flat.shape[0]
        if n == 0:
            raise RuntimeError("median: cannot compute the median of an empty tensor")
        idx = _argsort(flat, 0)
        return take_along_axis(flat, getitem(idx, (slice((n - 1) // 2, (n + 1) // 2),)), 0)[0]
    d = one_dim("median", dim, input.ndim)
    n = input.shape[d]
    idx = getitem(_argsort(input, d), (slice(None),) * d + (slice((n - 1) // 2, (n + 1) // 2),))
    v = take_along_axis(input, idx, d)
    if not keepdim:
        from ..ops.movement import squeeze
        v, idx = squeeze(v, d), squeeze(idx, d)
    return return_types.median(v, idx)
