"""Python source for elementwise steps, shared by fused kernels and the linker.

Each elementwise op says how it is computed: by one NumPy ufunc (``op.ufunc``,
which can write into a dead buffer with ``out=``), by its own ``emit`` lines,
by its ``forward_into`` (into a dead buffer) or by a call of its ``forward``.  ``emit`` here turns that into source lines,
so a chain of elementwise ops allocates once.  In-place NumPy was chosen by
measurement (numexpr and numba are not dependencies).
"""


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
