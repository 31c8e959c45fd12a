"""Collectives on qiflow Tensors and NumPy arrays: PyTorch's names, arguments
and in-place semantics, on MPI's non-blocking buffer calls (no copies for
contiguous arrays, no pickling).

Each call returns None, or with ``async_op=True`` a ``Work`` handle whose
``wait()`` finishes it.  A blocking call is the same call followed by
``wait()``, so every wait has the group's deadline.

>>> import numpy as np                                   # under mpiexec -n 2:
>>> t = qf.tensor([1.0, 2.0]) * (dist.get_rank() + 1)    # doctest: +SKIP
>>> dist.all_reduce(t, op=dist.ReduceOp.SUM); t.tolist() # doctest: +SKIP
[3.0, 6.0]
"""
import enum
import zlib

import numpy as np

from ._mpi import mpi
from ._arrays import as_buffer, raw
from .group import DistributedError, default_group
from .work import Work, wait_requests


class ReduceOp(str, enum.Enum):
    """How ``all_reduce``, ``reduce`` and ``reduce_scatter`` combine the ranks' values."""
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


_ALIASES = {"sum": ReduceOp.SUM, "avg": ReduceOp.AVG, "mean": ReduceOp.AVG,
            "product": ReduceOp.PRODUCT, "prod": ReduceOp.PRODUCT, "min": ReduceOp.MIN,
            "max": ReduceOp.MAX}


def reduce_op(op, what):
    """A ReduceOp from a ReduceOp or a name ('sum', 'mean'/'avg', 'product', 'min', 'max')."""
    if isinstance(op, ReduceOp):
        return op
    if isinstance(op, str) and op.lower() in _ALIASES:
        return _ALIASES[op.lower()]
    raise ValueError(f"qiflow.distributed.{what}: unknown reduction {op!r}; use ReduceOp.SUM, "
                     "ReduceOp.AVG ('mean'), ReduceOp.PRODUCT, ReduceOp.MIN or ReduceOp.MAX")


_MPI_OPS = {}


def mpi_op(op, dtype, what):
    kind = dtype.kind
    if kind in "fiu" and op in _MPI_OPS:        # the common case, without the checks below
        if op is not ReduceOp.AVG or kind == "f":
            return _MPI_OPS[op]
    MPI = mpi()
    if not _MPI_OPS:
        _MPI_OPS.update({ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
                         ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX})
    if kind == "b":
        if op in (ReduceOp.MIN, ReduceOp.MAX):
            return MPI.LAND if op is ReduceOp.MIN else MPI.LOR
        raise TypeError(f"qiflow.distributed.{what}: {op.name} of bool values is not defined; "
                        "use MIN (logical and) or MAX (logical or)")
    if op is ReduceOp.AVG and dtype.kind not in "fc":
        raise TypeError(f"qiflow.distributed.{what}: ReduceOp.AVG needs floating-point values, got "
                        f"{dtype} (an integer mean would be truncated); use SUM and divide")
    if op in (ReduceOp.MIN, ReduceOp.MAX) and dtype.kind == "c":
        raise TypeError(f"qiflow.distributed.{what}: {op.name} of complex values is not defined")
    return _MPI_OPS[op]


def describe(a):
    return f"{a.dtype}{list(a.shape)}"


def check_agreement(g, what, call, a):
    """Fail on every rank, naming each rank's call (``call`` of array ``a``), unless
    all ranks make the same call (MPI would silently combine buffers of different sizes)."""
    if not g.check_shapes or g.size == 1:
        return
    MPI = mpi()
    desc = f"{call} of {describe(a)}"
    fp = zlib.crc32(desc.encode())
    v = np.array([fp, -fp], np.int64)
    wait_requests([g.comm.Iallreduce(MPI.IN_PLACE, v, op=MPI.MAX)], g, f"qiflow.distributed.{what}")
    if v[0] != fp or v[1] != -fp:
        calls = g.comm.allgather(desc)
        listing = "; ".join(f"rank {r}: {c}" for r, c in enumerate(calls))
        raise DistributedError(f"qiflow.distributed.{what}: the ranks made different calls ({listing}); "
                               "every rank must pass the same shape, dtype and operation")


def _contiguous(a):
    """(an array MPI can use in place of a, a function copying it back or None)."""
    if a.flags.c_contiguous:
        return a, None
    tmp = np.ascontiguousarray(a)
    return tmp, lambda: np.copyto(a, tmp)


def _source(x, what):
    a = raw(x)
    if not isinstance(a, np.ndarray):
        raise TypeError(f"qiflow.distributed.{what}: expected a qiflow Tensor or a NumPy array, "
                        f"got {type(x).__name__}")
    return np.ascontiguousarray(a)


def _rank_arg(g, r, name, what):
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or not 0 <= r < g.size:
        raise ValueError(f"qiflow.distributed.{what}: {name}={r!r} is not a rank of this group of "
                         f"{g.size} (0 .. {g.size - 1})")
    return int(r)


def _targets(tensors, like, g, what, name):
    """The writable arrays of a list of world-size tensors, each shaped like ``like``."""
    if not isinstance(tensors, (list, tuple)) or len(tensors) != g.size:
        n = len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__
        raise ValueError(f"qiflow.distributed.{what}: {name} must be a list of {g.size} tensors "
                         f"(one per rank), got {n}")
    out = []
    for i, t in enumerate(tensors):
        a = as_buffer(t, what)
        if a.shape != like.shape or a.dtype != like.dtype:
            raise ValueError(f"qiflow.distributed.{what}: {name}[{i}] is {describe(a)} but the tensor "
                             f"is {describe(like)}")
        out.append(a)
    return out


def _run(g, what, requests, finish, keep, async_op):
    requests = [r for r in requests if r is not None]
    if async_op:
        return Work(g, what, requests, finish, keep)
    if requests:
        wait_requests(requests, g, "qiflow.distributed." + what)
    if finish is not None:
        finish()
    return None


def _then(*steps):
    steps = [s for s in steps if s is not None]
    if not steps:
        return None

    def finish():
        for s in steps:
            s()
    return finish


def _averaging(buf, op, g):
    if op is not ReduceOp.AVG or g.size == 1:
        return None
    return lambda: np.divide(buf, g.size, out=buf)


# --------------------------------------------------------------- collectives
def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` across all ranks, in place on every rank."""
    g = default_group(group)
    op = reduce_op(op, "all_reduce")
    a = as_buffer(tensor, "all_reduce")
    mop = mpi_op(op, a.dtype, "all_reduce")
    check_agreement(g, "all_reduce", f"all_reduce({op.value})", a)
    buf, back = _contiguous(a)
    req = g.comm.Iallreduce(mpi().IN_PLACE, buf, op=mop) if g.size > 1 else None
    return _run(g, "all_reduce", [req], _then(_averaging(buf, op, g), back), (buf,), async_op)


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank."""
    g = default_group(group)
    src = _rank_arg(g, src, "src", "broadcast")
    a = as_buffer(tensor, "broadcast")
    check_agreement(g, "broadcast", f"broadcast(src={src})", a)
    buf, back = _contiguous(a)
    req = g.comm.Ibcast(buf, root=src) if g.size > 1 else None
    return _run(g, "broadcast", [req], back if g.rank != src else None, (buf,), async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill ``tensor_list[r]`` with rank r's ``tensor`` on every rank."""
    g = default_group(group)
    a = _source(tensor, "all_gather")
    outs = _targets(tensor_list, a, g, "all_gather", "tensor_list")
    check_agreement(g, "all_gather", "all_gather", a)
    recv = np.empty((g.size,) + a.shape, a.dtype)
    req = g.comm.Iallgather(a, recv)

    def finish():
        for r, o in enumerate(outs):
            np.copyto(o, recv[r])
    return _run(g, "all_gather", [req], finish, (a, recv), async_op)


def _stacked(out, a, n, what, names):
    """out must hold n copies of a's shape, stacked (n, ...) or concatenated on axis 0."""
    ok = out.shape == (n,) + a.shape or (a.ndim > 0 and out.shape == (n * a.shape[0],) + a.shape[1:])
    if not ok or out.dtype != a.dtype:
        raise ValueError(f"qiflow.distributed.{what}: {names[0]} is {describe(out)} but must hold "
                         f"{n} of the {names[1]} {describe(a)} (shape ({n}, ...) or ({n} x dim 0, ...))")


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Every rank's ``input_tensor``, concatenated on axis 0 (or stacked), into ``output_tensor``."""
    g = default_group(group)
    a = _source(input_tensor, "all_gather_into_tensor")
    out = as_buffer(output_tensor, "all_gather_into_tensor")
    _stacked(out, a, g.size, "all_gather_into_tensor", ("output_tensor", "input"))
    check_agreement(g, "all_gather_into_tensor", "all_gather_into_tensor", a)
    buf, back = _contiguous(out)
    req = g.comm.Iallgather(a, buf)
    return _run(g, "all_gather_into_tensor", [req], back, (a, buf), async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Rank r gets the reduction over ranks of ``input_list[r]``, in ``output``."""
    g = default_group(group)
    op = reduce_op(op, "reduce_scatter")
    out = as_buffer(output, "reduce_scatter")
    mop = mpi_op(op, out.dtype, "reduce_scatter")
    if not isinstance(input_list, (list, tuple)) or len(input_list) != g.size:
        raise ValueError(f"qiflow.distributed.reduce_scatter: input_list must be a list of {g.size} "
                         "tensors (one per rank)")
    parts = [raw(t) for t in input_list]
    for i, p in enumerate(parts):
        if not isinstance(p, np.ndarray) or p.shape != out.shape or p.dtype != out.dtype:
            got = describe(p) if isinstance(p, np.ndarray) else type(p).__name__
            raise ValueError(f"qiflow.distributed.reduce_scatter: input_list[{i}] is {got} but the "
                             f"output is {describe(out)}")
    check_agreement(g, "reduce_scatter", f"reduce_scatter({op.value})", out)
    send = np.stack(parts)
    buf, back = _contiguous(out)
    req = g.comm.Ireduce_scatter_block(send, buf, op=mop)
    return _run(g, "reduce_scatter", [req], _then(_averaging(buf, op, g), back), (send, buf),
                async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """``reduce_scatter`` with the inputs as one tensor: rank r's share is the r-th block on axis 0."""
    g = default_group(group)
    op = reduce_op(op, "reduce_scatter_tensor")
    out = as_buffer(output, "reduce_scatter_tensor")
    a = _source(input, "reduce_scatter_tensor")
    mop = mpi_op(op, out.dtype, "reduce_scatter_tensor")
    _stacked(a, out, g.size, "reduce_scatter_tensor", ("input", "output"))
    check_agreement(g, "reduce_scatter_tensor", f"reduce_scatter_tensor({op.value})", a)
    buf, back = _contiguous(out)
    req = g.comm.Ireduce_scatter_block(a, buf, op=mop)
    return _run(g, "reduce_scatter_tensor", [req], _then(_averaging(buf, op, g), back), (a, buf),
                async_op)


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` across ranks into rank ``dst``'s ``tensor`` (the others keep theirs)."""
    g = default_group(group)
    dst = _rank_arg(g, dst, "dst", "reduce")
    op = reduce_op(op, "reduce")
    a = as_buffer(tensor, "reduce")
    mop = mpi_op(op, a.dtype, "reduce")
    check_agreement(g, "reduce", f"reduce({op.value}, dst={dst})", a)
    buf, back = _contiguous(a)
    req = None
    if g.size > 1:
        MPI = mpi()
        if g.rank == dst:
            req = g.comm.Ireduce(MPI.IN_PLACE, buf, op=mop, root=dst)
        else:
            req = g.comm.Ireduce(buf, None, op=mop, root=dst)
    finish = _then(_averaging(buf, op, g), back) if g.rank == dst else None
    return _run(g, "reduce", [req], finish, (buf,), async_op)


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """Rank ``dst`` gets every rank's ``tensor`` in ``gather_list`` (None on the other ranks)."""
    g = default_group(group)
    dst = _rank_arg(g, dst, "dst", "gather")
    a = _source(tensor, "gather")
    finish, recv = None, None
    if g.rank == dst:
        outs = _targets(gather_list, a, g, "gather", "gather_list")
        recv = np.empty((g.size,) + a.shape, a.dtype)

        def finish():
            for r, o in enumerate(outs):
                np.copyto(o, recv[r])
    elif gather_list is not None:
        raise ValueError(f"qiflow.distributed.gather: gather_list must be None on rank {g.rank}; only "
                         f"the destination rank {dst} receives")
    check_agreement(g, "gather", f"gather(dst={dst})", a)
    req = g.comm.Igather(a, recv, root=dst)
    return _run(g, "gather", [req], finish, (a, recv), async_op)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """Rank r gets rank ``src``'s ``scatter_list[r]`` in ``tensor``."""
    g = default_group(group)
    src = _rank_arg(g, src, "src", "scatter")
    out = as_buffer(tensor, "scatter")
    send = None
    if g.rank == src:
        if not isinstance(scatter_list, (list, tuple)) or len(scatter_list) != g.size:
            raise ValueError(f"qiflow.distributed.scatter: scatter_list must be a list of {g.size} "
                             f"tensors on the source rank {src}")
        parts = [raw(t) for t in scatter_list]
        for i, p in enumerate(parts):
            if not isinstance(p, np.ndarray) or p.shape != out.shape or p.dtype != out.dtype:
                got = describe(p) if isinstance(p, np.ndarray) else type(p).__name__
                raise ValueError(f"qiflow.distributed.scatter: scatter_list[{i}] is {got} but the "
                                 f"tensor is {describe(out)}")
        send = np.stack(parts)
    elif scatter_list is not None:
        raise ValueError(f"qiflow.distributed.scatter: scatter_list must be None on rank {g.rank}; "
                         f"only the source rank {src} sends")
    check_agreement(g, "scatter", f"scatter(src={src})", out)
    buf, back = _contiguous(out)
    req = g.comm.Iscatter(send, buf, root=src)
    return _run(g, "scatter", [req], back, (send, buf), async_op)


def barrier(group=None, async_op=False):
    """Wait until every rank has reached this call."""
    g = default_group(group)
    req = g.comm.Ibarrier() if g.size > 1 else None
    return _run(g, "barrier", [req], None, (), async_op)
