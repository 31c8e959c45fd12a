"""``ifelse``: Theano's lazy conditional.

``T.switch`` (``where``) computes both branches elementwise; ``ifelse(cond,
then, else)`` takes a scalar condition and, in a compiled function, runs only
the branch it picks.  Each branch is compiled into a function of its own, and
the ``IfElse`` node calls one of them: what a branch computes is inside the
node, from the branch's inputs (the variables without owner it reads, or the
cut given by the gradient).  Its gradient is again an ``ifelse`` of the two
branches' gradients, so it is lazy too and can be differentiated again.

>>> from qiflow import sym as T
>>> a, b = T.dscalar('a'), T.dscalar('b')
>>> f = T.function([a, b], T.ifelse(T.lt(a, b), a * 2, b * 3))
>>> float(f(1.0, 5.0)), float(f(5.0, 1.0))
(2.0, 3.0)
"""
from .. import autodiff
from .._state import QiflowError
from ..ops import elementwise as E
from ..ops.base import Op, apply
from . import graph as _graph
from .graph import Variable, Constant, TensorType, as_variable, ancestors
from .fgraph import clone


class Branches:
    """The two branches of one IfElse node (compared by identity): their graphs
    on the node's inputs (``inputs``: stand-ins), compiled on first use."""

    def __init__(self, inputs, then, other, name=None):
        self.inputs, self.then, self.other, self.name = inputs, then, other, name
        self._fns = [None, None]

    def fn(self, which):
        f = self._fns[which]
        if f is None:
            function = _graph.compiler         # T.function (registered by function.py)
            out = self.then if which else self.other
            f = self._fns[which] = function(self.inputs, out, on_unused_input="ignore",
                                            name=f"{self.name or 'ifelse'} {'then' if which else 'else'}")
        return f

    def __repr__(self):
        return f"<ifelse {self.name or ''}: {len(self.inputs)} inputs>"


class IfElse(Op):
    """``then if cond else other``: inputs (cond, *branch inputs); only the chosen
    branch is computed."""

    __slots__ = ("branches",)
    props = ("branches",)
    view_map = {}
    tested_in = "tests/sym/test_ifelse.py"

    def __init__(self, branches):
        self.branches = branches

    def infer(self, cond, *types):
        a, b = self.branches.then.type, self.branches.other.type
        shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape))
        return shape, a.dtype

    def forward(self, cond, *arrays):
        return self.branches.fn(1 if cond else 0)(*arrays)

    def vjp(self, ctx, inputs, output, g):
        cond, ins = inputs[0], list(inputs[1:])
        br = self.branches
        subst = dict(zip(br.inputs, ins))
        wanted = [k for k, v in enumerate(ins) if ctx.needs_input_grad[1 + k] and v.dtype.kind in "fc"]
        targets = [ins[k] for k in wanted]
        grads = []
        for branch in (br.then, br.other):
            (y,), _ = clone([branch], replace=subst, keep=ins)
            if y.requires_grad and targets:
                res = autodiff._sweep([y], [g], retain_graph=True, create_graph=True, targets=targets)
            else:
                res = [None] * len(targets)
            grads.append([E.zeros_like(t) if r is None else r for t, r in zip(targets, res)])
        out = [None] * len(inputs)
        cut = ins + [g]
        for k, gt, ge in zip(wanted, *grads):
            out[1 + k] = _ifelse_one(cond, gt, ge, cut, f"grad of {br.name or 'ifelse'}")
        return tuple(out)

    def format(self, args):
        return f"ifelse({args[0]}, ...)"


def _ifelse_one(cond, then, other, cut=None, name=None):
    """One IfElse node; ``cut``: variables read as inputs of the branches (default:
    the branches' leaves that are not constants)."""
    stop = {id(v) for v in cut} if cut is not None else set()
    ins, seen = [], set()
    for v in ancestors([then, other], stop=stop):
        if id(v) in seen or isinstance(v, Constant):
            continue
        if v.owner is None or id(v) in stop:
            seen.add(id(v))
            ins.append(v)
    phs = [Variable(TensorType(v.type.dtype, v.type.shape), name=v.name) for v in ins]
    (t2, o2), _ = clone([then, other], replace=dict(zip(ins, phs)))
    node = IfElse(Branches(phs, t2, o2, name))
    return apply(node, cond, *ins)


def ifelse(condition, then_branch, else_branch, name=None):
    """``then_branch`` when the scalar ``condition`` is true, else ``else_branch``,
    computing only the branch taken.  The branches are variables or lists of the
    same length (then a list is returned); each pair must have the same dtype and
    ndim.

    >>> x = T.dvector('x'); k = T.iscalar('k')
    >>> y, z = T.ifelse(k, [x.sum(), x * 2], [x.max(), x])
    >>> T.function([x, k], [y, z])([1.0, 4.0], 0)[0].item()
    4.0
    """
    c = as_variable(condition)
    if c.ndim != 0:
        raise QiflowError(f"ifelse: the condition must be a scalar, got {c!r} ({c.type}); use "
                          "T.switch for an elementwise choice")
    many = isinstance(then_branch, (list, tuple))
    if many != isinstance(else_branch, (list, tuple)):
        raise QiflowError("ifelse: give both branches as variables or both as lists")
    thens = list(then_branch) if many else [then_branch]
    elses = list(else_branch) if many else [else_branch]
    if len(thens) != len(elses):
        raise QiflowError(f"ifelse: the then branch has {len(thens)} outputs and the else branch "
                          f"{len(elses)}")
    outs = []
    for k, (t, e) in enumerate(zip(thens, elses)):
        ev = e if isinstance(e, Variable) else None
        t = as_variable(t, (ev.dtype,) if ev is not None else ())
        e = as_variable(e, (t.dtype,))
        if t.dtype != e.dtype or t.ndim != e.ndim:
            raise QiflowError(f"ifelse: output {k}: the branches differ in type, then {t.type} and "
                              f"else {e.type} (cast one of them; qiflow, like Theano, does not "
                              "convert silently)")
        outs.append(_ifelse_one(c, t, e, name=name))
    return outs if many else outs[0]

