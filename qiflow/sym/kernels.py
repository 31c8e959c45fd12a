"""Python source for elementwise steps, shared by fused kernels and the linker.

Each elementwise op says how it is computed: by one NumPy ufunc (``op.ufunc``,
which can write into a dead buffer with ``out=``), by its own ``emit`` lines,
by its ``forward_into`` (into a dead buffer) or by a call of its ``forward``.  ``emit`` here turns that into source lines,
so a chain of elementwise ops allocates once.  In-place NumPy was chosen by
measurement (numexpr and numba are not dependencies).
"""
from time import perf_counter as _perf_counter

from ..ops.inplace import Axpy, axpy_chunks, chunkable

#: op type -> a kernel ``fn(op, out, *arrays)`` writing into ``out``, used instead of
#: the op's own ``forward_into`` (exact types: a subclass may compute something else)
_INTO = {}


def into_kernel(*types):
    """Register ``fn(op, out, *arrays)`` as the in-place kernel of ops of these types."""
    def deco(fn):
        for t in types:
            _INTO[t] = fn
        return fn
    return deco


_BLOCK = 1 << 16
_TRIALS = 4                  # timed calls of each form before one is chosen
#: (size, dtype) -> the chosen form (True: 64K chunks, False: 128K), or
#: [calls, best 128K, best 64K] while both are still being timed
AXPY_FORM = {}


@into_kernel(Axpy)
def _axpy_blocked(op, out, x, y, a):
    """out = x + y * a on large arrays, chunk by chunk, with chunks of 128K elements
    (``Axpy.forward_into``'s) or of 64K.  Which is faster depends on the machine's
    caches: the SGD update of a 500 x 784 float32 weight took 216 us in two whole-array
    passes against 131 us in 64K chunks on one machine, and 85 (two passes), 81 (128K)
    against 95 us (64K) on another.  So the first calls for each size time both
    chunkings, and the faster is kept (``AXPY_FORM``); both do the same float32
    operations, so the result does not depend on the choice."""
    dt = out.dtype
    if out.size < 4 * _BLOCK or not (x.dtype == y.dtype == dt and getattr(a, "dtype", None) == dt
                                     and chunkable(out, x, y, a)):
        return op.forward_into(out, x, y, a)
    key = (out.size, dt)
    form = AXPY_FORM.get(key)
    if form is True:
        return _axpy_chunks(out, x, y, a)
    if form is False:
        return op.forward_into(out, x, y, a)
    if form is None:
        form = AXPY_FORM[key] = [0, float("inf"), float("inf")]
    chunked = form[0] % 2 == 1
    t = _perf_counter()
    if chunked:
        _axpy_chunks(out, x, y, a)
    else:
        op.forward_into(out, x, y, a)
    t = _perf_counter() - t
    form[2 if chunked else 1] = min(form[2 if chunked else 1], t)
    form[0] += 1
    if form[0] >= 2 * _TRIALS:
        AXPY_FORM[key] = form[2] < form[1]


def _axpy_chunks(out, x, y, a):
    axpy_chunks(out, x, y, a, _BLOCK)


def is_elementwise(op):
    """The op broadcasts its inputs elementwise (it may join a fused kernel)."""
    return op.elementwise


def can_write_out(op):
    """Whether ``emit`` can direct this op's result into a given buffer."""
    return (op.ufunc is not None or getattr(op, "writes_out", False)
            or getattr(op, "forward_into", None) is not None)


def emit(op, args, result, out, env):
    """Lines computing ``result`` = op(args) (code strings); into buffer ``out`` if given.

    ``env``: dict of names the generated code needs (filled in here).
    """
    o = f", out={out}" if out else ""
    uf = op.ufunc
    if uf is not None:
        name = f"_uf_{uf.__name__}"
        env[name] = uf
        return [f"{result} = {name}({', '.join(args)}{o})"]
    writes = getattr(op, "writes_out", False)
    into = getattr(op, "forward_into", None)
    if out and not writes and into is not None:
        name = f"_opi{id(op)}"
        kernel = _INTO.get(type(op))
        if kernel is not None:
            env[name] = kernel
            env[f"{name}op"] = op
            return [f"{name}({name}op, {out}, {', '.join(args)})", f"{result} = {out}"]
        env[name] = into
        return [f"{name}({out}, {', '.join(args)})", f"{result} = {out}"]
    own = getattr(op, "emit", None)
    if own is not None:
        lines = own(args, result, out if writes else None, env)
        if lines is not None:
            return lines
    name = f"_op{id(op)}"
    env[name] = op.forward
    return [f"{result} = {name}({', '.join(args)})"]
