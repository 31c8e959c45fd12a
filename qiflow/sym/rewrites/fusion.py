"""Elementwise fusion: a chain of elementwise ops becomes one ``Fused`` node whose
kernel runs the chain with NumPy, writing each step into a dead buffer
(``out=``) so the chain allocates once instead of once per op.
"""
import numpy as np

from ...ops.base import Op, apply
from ...ops.shapes import broadcast_shapes, known
from ..graph import Constant
from ..kernels import can_write_out, emit
from .registry import register_global

MAX_STEPS = 48


class Fused(Op):
    """Several elementwise ops run as one kernel.

    ``program``: steps ``(op, refs)`` where a ref is ``("i", k)`` (kernel input
    k), ``("s", j)`` (result of step j) or ``("c", k)`` (constant k); the last
    step is the output.  ``types``: the static type of every step's result.
    """
    __slots__ = ("program", "consts", "types", "in_types", "_kernel")
    props = ("program", "consts")

    def __init__(self, program, consts, types, in_types):
        self.program, self.consts = program, list(consts)
        self.types, self.in_types = tuple(types), tuple(in_types)
        self._kernel = None

    elementwise = True

    @property
    def view_map(self):
        # fresh, unless a step may hand an input through (a cast to its own dtype)
        return None if any(op.view_map for op, _ in self.program) else {}

    def infer(self, *types):
        # run the program on the shapes, so that sizes known only as tokens (dims.py)
        # pass through a fused kernel too
        shapes = step_shapes(self, [t.shape for t in types])
        t = self.types[-1]
        if len(shapes[-1]) != t.ndim:
            return t.shape, t.dtype
        return tuple(s if known(s) else d for s, d in zip(t.shape, shapes[-1])), t.dtype

    def forward(self, *arrays):
        if self._kernel is None:
            env = {"_np": np}
            args = [f"i{k}" for k in range(len(self.in_types))]
            lines = program_lines(self, args, "r", (), env)
            src = f"def kernel({', '.join(args)}):\n" + "\n".join("    " + ln for ln in lines) + \
                "\n    return r\n"
            exec(compile(src, f"<qiflow fused {id(self)}>", "exec"), env)
            self._kernel = env["kernel"]
        return self._kernel(*arrays)

    @property
    def name(self):
        return "Fused{" + ",".join(op.name for op, _ in self.program) + "}"

    def __repr__(self):
        return self.name

    def format(self, args):
        """The expression the kernel computes, over the given input texts."""
        steps = []
        for sop, refs in self.program:
            texts = []
            for kind, k in refs:
                if kind == "i":
                    texts.append(args[k])
                elif kind == "s":
                    texts.append(steps[k])
                else:
                    c = np.asarray(self.consts[k])
                    texts.append(repr(c.item()) if c.size == 1 else f"<const {c.shape}>")
            steps.append(sop.format(texts))
        return steps[-1] if steps else ""


class _Single:
    """A one-node program, so single elementwise nodes share the fused code path."""
    __slots__ = ("program", "consts", "types", "in_types")

    def __init__(self, node):
        self.program = ((node.op, tuple(("i", k) for k in range(len(node.inputs)))),)
        self.consts = []
        self.types = (node.outputs[0].type,)
        self.in_types = tuple(i.type for i in node.inputs)


def single_program(node):
    """An elementwise node as a one-step program (for ``program_lines``)."""
    return _Single(node)


def step_shapes(fop, in_shapes):
    """The shape of each step of ``fop``'s program, from its inputs' shapes (sizes or
    tokens): every step broadcasts its operands."""
    shapes = []
    for op, refs in fop.program:
        shapes.append(broadcast_shapes(op.name, *[
            in_shapes[r[1]] if r[0] == "i" else
            shapes[r[1]] if r[0] == "s" else tuple(fop.consts[r[1]].shape) for r in refs]))
    return shapes


def program_lines(fop, args, result, destroyable, env, in_dims=None):
    """Source lines running ``fop``'s program on ``args`` into variable ``result``.

    ``destroyable``: indices of kernel inputs whose buffers may be overwritten;
    ``in_dims``: dimension tokens of the inputs (see ``dims.py``), used to prove
    that an output has the shape of the buffer it is written into.
    """
    from ..dims import fits
    prog = fop.program
    if in_dims is None:
        in_dims = [tuple(d if d is not None else ("k", k, a) for a, d in enumerate(t.shape))
                   for k, t in enumerate(fop.in_types)]
    sdims = step_shapes(fop, in_dims)

    def dims(r):
        if r[0] == "i":
            return in_dims[r[1]]
        if r[0] == "s":
            return sdims[r[1]]
        return tuple(fop.consts[r[1]].shape)
    last = {}
    for j, (_, refs) in enumerate(prog):
        for r in refs:
            if r[0] in "is":
                last[r] = j
    names = {}
    for k, c in enumerate(fop.consts):
        nm = f"_c{id(fop)}_{k}"
        env[nm] = c
        names[("c", k)] = nm
    for k, a in enumerate(args):
        names[("i", k)] = a

    def typ(r):
        if r[0] == "i":
            return fop.in_types[r[1]]
        if r[0] == "s":
            return fop.types[r[1]]
        return _ConstType(fop.consts[r[1]])

    lines = []
    for j, (op, refs) in enumerate(prog):
        res = result if j == len(prog) - 1 else f"{result}_{j}"
        names[("s", j)] = res
        t = fop.types[j]
        target, proven = None, False
        if can_write_out(op) and t.ndim > 0:
            for r in refs:
                if r[0] == "c" or last.get(r) != j or (r[0] == "i" and r[1] not in destroyable):
                    continue
                rt = typ(r)
                if rt.dtype != t.dtype or rt.ndim != t.ndim:
                    continue
                target = r
                proven = all(fits(dims(o), dims(r)) for o in refs if o != r)
                break
        argn = [names[r] for r in refs]
        if target is None:
            lines += emit(op, argn, res, None, env)
        elif proven:
            lines += emit(op, argn, res, names[target], env)
        else:
            lines.append("try:")
            lines += ["    " + ln for ln in emit(op, argn, res, names[target], env)]
            lines.append("except ValueError:")
            lines += ["    " + ln for ln in emit(op, argn, res, None, env)]
    return lines


class _ConstType:
    __slots__ = ("shape", "dtype")

    def __init__(self, c):
        self.shape, self.dtype = c.shape, c.dtype

    @property
    def ndim(self):
        return len(self.shape)


def _fusable(node):
    return node.op.elementwise and not isinstance(node.op, Fused)


@register_global("specialize", name="elemwise_fusion", late=True)
def fuse(fg):
    """Group chains of elementwise ops (each intermediate used only inside the chain)."""
    order = fg.toposort()
    pos = {id(n): k for k, n in enumerate(order)}
    done = set()
    n_fused = 0
    for node in reversed(order):
        if id(node) in done or not fg.alive(node) or not _fusable(node):
            continue
        group = {id(node): node}
        frontier = [node]
        while frontier and len(group) < MAX_STEPS:
            nd = frontier.pop()
            for v in nd.inputs:
                o = fg.owner(v)
                if o is None or id(o) in group or id(o) in done or not _fusable(o) or fg.is_output(v):
                    continue
                if fg.used_only_by(v, group):
                    group[id(o)] = o
                    frontier.append(o)
        if len(group) < 2:
            continue
        nodes = sorted(group.values(), key=lambda n: pos[id(n)])
        new = _build(nodes)
        if new is None:
            continue
        done.update(group)
        fg.replace(node.outputs[0], new)
        n_fused += 1
    return n_fused


def _build(nodes):
    step_of = {id(n.outputs[0]): j for j, n in enumerate(nodes)}
    inputs, in_index, consts, cindex = [], {}, [], {}
    program = []
    for n in nodes:
        refs = []
        for v in n.inputs:
            if id(v) in step_of:
                refs.append(("s", step_of[id(v)]))
            elif isinstance(v, Constant) and v.data.size <= 64:
                if id(v) not in cindex:
                    cindex[id(v)] = len(consts)
                    consts.append(v.data)
                refs.append(("c", cindex[id(v)]))
            else:
                if id(v) not in in_index:
                    in_index[id(v)] = len(inputs)
                    inputs.append(v)
                refs.append(("i", in_index[id(v)]))
        program.append((n.op, tuple(refs)))
    if not inputs:
        return None
    op = Fused(tuple(program), consts, [n.outputs[0].type for n in nodes], [v.type for v in inputs])
    return apply(op, *inputs)
