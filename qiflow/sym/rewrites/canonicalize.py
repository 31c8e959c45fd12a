"""Canonicalize: merge duplicates, fold constants, simplify algebra.

Every rewrite keeps the value (up to rounding) and the output type.
"""
import numpy as np

from ...ops import elementwise as E
from ...ops import movement as M
from ...ops import reduce as R
from ...ops.indexing import GetItem
from ...ops.base import apply
from ..graph import Constant
from ...ops.dynamic import Shape
from .registry import register, register_global
from ._match import op_is, const, is_scalar_const, neutral, same_static_shape
from ..dims import dims_of, fits, broadcast
from .fusion import Fused

_FOLD_LIMIT = 1 << 16          # fold only results up to this many elements


# ----------------------------------------------------------------- global
@register_global("canonicalize")
def merge(fg):
    """Merge equal constants and nodes with the same op and the same inputs
    (inputs and shared variables are distinct by identity: never merged).

    Incremental: the first call hash-conses every node in topological order and
    keeps its tables on ``fg``; later calls look only at the nodes changed since
    (``fg.changed``: new nodes and users given a new input), so a pass over an
    unchanged graph costs nothing and one after k changes costs O(k)."""
    state = fg.merge_state
    if state is None:
        state = fg.merge_state = ({}, {})
        fg.changed = []
        todo = fg.toposort()
    else:
        todo, fg.changed = fg.changed, []
    consts, seen = state
    n = 0
    while todo:
        fg.work["merge_visits"] += len(todo)
        for node in todo:
            if not fg.alive(node):
                continue
            ins = node.inputs
            for i in ins:
                if isinstance(i, Constant) and i.data.size <= 4096:
                    key = (i.data.dtype.str, i.data.shape, i.data.tobytes())
                    c = consts.setdefault(key, i)
                    if c is not i:
                        fg.replace(i, c)
                        n += 1
            # keyed by op class and inputs (cheap to hash); the op itself is hashed only
            # when a second node has the same class and inputs (a Fused kernel's
            # parameters are costly to hash)
            key = (node.op.__class__, tuple(map(id, ins)))
            entry = seen.get(key)
            if entry is None:
                seen[key] = node
                continue
            if entry is node:
                continue
            if not isinstance(entry, dict):
                first, entry = entry, {}
                seen[key] = entry
                if _same_inputs(fg, first, ins):
                    try:
                        entry[first.op] = first
                    except TypeError:      # an op with unhashable parameters is never merged
                        pass
            try:
                other = entry.get(node.op)
            except TypeError:
                continue
            if other is node:
                continue
            # an entry is stale when its node left the graph or has other inputs now
            if other is None or not _same_inputs(fg, other, ins):
                entry[node.op] = node
            elif other.outputs[0].type == node.outputs[0].type:
                fg.replace(node.outputs[0], other.outputs[0])
                n += 1
        todo, fg.changed = fg.changed, []
    return n


def _same_inputs(fg, node, ins):
    """node is still in the graph and its inputs are the variables ``ins``."""
    return fg.alive(node) and len(node.inputs) == len(ins) and \
        all(a is b for a, b in zip(node.inputs, ins))


# ----------------------------------------------------------- constants
#: ops whose results are folded only as the graph's own nodes (a folded broadcast
#: would materialise a big constant; a fused kernel is folded through its parts)
_NO_FOLD = (M.BroadcastLike, M.BroadcastTo, E.OnesLike, E.ZerosLike, Fused)


@register("canonicalize")
def constant_fold(fg, node):
    """An op whose inputs are all constants becomes a constant (small results only)."""
    if not node.inputs:
        return None
    for i in node.inputs:              # (a loop: this runs on every node)
        if not isinstance(i, Constant):
            return None
    if isinstance(node.op, _NO_FOLD):
        return None
    t = node.outputs[0].type
    if None not in t.shape and int(np.prod(t.shape, dtype=np.int64)) > _FOLD_LIMIT:
        return None
    with np.errstate(all="ignore"):
        val = np.asarray(node.op.forward(*[i.data for i in node.inputs]))
    if val.size > _FOLD_LIMIT or val.ndim != t.ndim:
        return None
    return Constant(val.astype(t.dtype, copy=False))


@register("canonicalize", Shape)
def shape_known(fg, node):
    """shape(x) of a statically known shape is a constant."""
    s = node.inputs[0].type.shape
    if None in s:
        return None
    return Constant(np.array(s, dtype=np.int64))


@register("canonicalize", GetItem)
def shape_item_known(fg, node):
    """shape(x)[i] is a constant when dimension i is known."""
    sh = op_is(fg, node.inputs[0], Shape)
    if sh is None or len(node.inputs) != 1:
        return None
    tpl = node.op.template
    if len(tpl) != 1 or not isinstance(tpl[0], int):
        return None
    s = sh.inputs[0].type.shape
    d = s[tpl[0]]
    return None if d is None else Constant(np.array(d, dtype=np.int64))


@register("canonicalize", R.Count)
def count_known(fg, node):
    """The element count of a reduction over statically known axes is a constant."""
    s = node.inputs[0].type.shape
    axes = range(len(s)) if node.op.axis is None else node.op.axis
    dims = [s[a] for a in axes]
    if None in dims:
        return None
    return Constant(np.array(int(np.prod(dims, dtype=np.int64)), dtype=node.op.dtype))


@register("canonicalize", E.OnesLike, E.ZerosLike)
def fill_known(fg, node):
    """ones_like / zeros_like of a small statically known shape is a constant."""
    t = node.outputs[0].type
    if None in t.shape or int(np.prod(t.shape, dtype=np.int64)) > 4096:
        return None
    fill = np.ones if isinstance(node.op, E.OnesLike) else np.zeros
    return Constant(fill(t.shape, dtype=t.dtype))


@register("canonicalize", M.BroadcastLike)
def broadcast_const_known(fg, node):
    """broadcast_like(constant, x) for a small statically known shape of x is a constant."""
    g, x = node.inputs
    t = node.outputs[0].type
    if not isinstance(g, Constant) or None in t.shape or int(np.prod(t.shape, dtype=np.int64)) > 4096:
        return None
    return Constant(np.array(np.broadcast_to(g.data, t.shape), dtype=t.dtype))


# -------------------------------------------------------------- no-op nodes
@register("canonicalize", M.SumToLike, M.BroadcastLike, M.ReshapeLike)
def useless_like(fg, node):
    """sum_to_like / broadcast_like / reshape_like to an equal known shape does nothing."""
    g, x = node.inputs
    if g.dtype == node.outputs[0].dtype and (same_static_shape(g, x) or dims_of(fg, g) == dims_of(fg, x)):
        return g
    return None


@register("canonicalize")
def broadcast_like_in_elemwise(fg, node):
    """An elementwise op broadcasts by itself: op(broadcast_like(g, x), y) is op(g, y)
    when the result has the same shape."""
    if not node.op.elementwise or isinstance(node.op, Fused):
        return None
    for k, v in enumerate(node.inputs):
        bl = v.owner                   # (op_is inlined: this runs on every elementwise node)
        if bl is None or not isinstance(bl.op, M.BroadcastLike) or id(v) in fg.stop or \
                bl.inputs[0].type.dtype != v.type.dtype:
            continue
        g = bl.inputs[0]
        others = [dims_of(fg, i) for j, i in enumerate(node.inputs) if j != k]
        if broadcast(dims_of(fg, g), *others) == dims_of(fg, node.outputs[0]):
            ins = list(node.inputs)
            ins[k] = g
            return apply(node.op, *ins)
    return None


@register("canonicalize", E.Cast)
def useless_cast(fg, node):
    """cast(x, x.dtype) is x; cast(cast(x, a), b) is cast(x, b) when a widens x."""
    x = node.inputs[0]
    if x.dtype == node.op.dtype:
        return x
    inner = op_is(fg, x, E.Cast)
    if inner is not None and np.can_cast(inner.inputs[0].dtype, x.dtype, "safe") and \
            x.dtype.kind == inner.inputs[0].dtype.kind:
        return E.cast(inner.inputs[0], node.op.dtype)
    return None


@register("canonicalize", M.Reshape)
def useless_reshape(fg, node):
    """reshape(x) to x's own known shape is x; reshape(reshape(x)) is one reshape."""
    x, out = node.inputs[0], node.outputs[0]
    if same_static_shape(x, out):
        return x
    inner = op_is(fg, x, M.Reshape)
    if inner is not None:
        return apply(node.op, inner.inputs[0])
    return None


@register("canonicalize", M.Transpose)
def transpose_transpose(fg, node):
    """transpose(transpose(x)) is one transpose (or x)."""
    inner = op_is(fg, node.inputs[0], M.Transpose)
    if inner is None:
        return None
    axes = tuple(inner.op.axes[a] for a in node.op.axes)
    if axes == tuple(range(len(axes))):
        return inner.inputs[0]
    return apply(M.Transpose(axes), inner.inputs[0])


# ----------------------------------------------------------------- algebra
@register("canonicalize", E.Multiply)
def mul_one(fg, node):
    """x * 1 and 1 * x are x."""
    a, b = node.inputs
    out = node.outputs[0]
    if neutral(b, a, out, 1):
        return a
    if neutral(a, b, out, 1):
        return b
    return None


@register("canonicalize", E.Add)
def add_zero(fg, node):
    """x + 0 and 0 + x are x."""
    a, b = node.inputs
    out = node.outputs[0]
    if neutral(b, a, out, 0):
        return a
    if neutral(a, b, out, 0):
        return b
    return None


@register("canonicalize", E.Subtract)
def sub_zero(fg, node):
    """x - 0 is x; 0 - x is -x."""
    a, b = node.inputs
    out = node.outputs[0]
    if neutral(b, a, out, 0):
        return a
    if neutral(a, b, out, 0):
        return E.negative(b)
    return None


@register("canonicalize", E.Subtract)
def sub_self(fg, node):
    """x - x is zeros like x."""
    a, b = node.inputs
    if a is b and node.outputs[0].dtype == a.dtype:
        return E.zeros_like(a)
    return None


@register("canonicalize", E.Divide)
def div_one(fg, node):
    """x / 1 is x."""
    a, b = node.inputs
    return a if neutral(b, a, node.outputs[0], 1) else None


@register("canonicalize", E.Divide)
def mul_div_cancel(fg, node):
    """x * y / y and y * x / y are x (when y cannot change x's shape)."""
    num, y = node.inputs
    m = op_is(fg, num, E.Multiply)
    if m is None:
        return None
    a, b = m.inputs
    out = node.outputs[0]
    for x, other in ((a, b), (b, a)):
        if other is y and x.dtype == out.dtype and fits(dims_of(fg, y), dims_of(fg, x)):
            return x
    return None


@register("canonicalize", E.Multiply)
def div_mul_cancel(fg, node):
    """x / y * y is x (when y cannot change x's shape)."""
    out = node.outputs[0]
    for d, y in ((node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])):
        dv = op_is(fg, d, E.Divide)
        if dv is not None and dv.inputs[1] is y:
            x = dv.inputs[0]
            if x.dtype == out.dtype and fits(dims_of(fg, y), dims_of(fg, x)):
                return x
    return None


@register("canonicalize", E.Negative)
def neg_neg(fg, node):
    """-(-x) is x."""
    inner = op_is(fg, node.inputs[0], E.Negative)
    return inner.inputs[0] if inner is not None else None


@register("canonicalize", E.Exp)
def exp_log(fg, node):
    """exp(log(x)) is x."""
    inner = op_is(fg, node.inputs[0], E.Log)
    return inner.inputs[0] if inner is not None and inner.inputs[0].dtype == node.outputs[0].dtype \
        else None


@register("canonicalize", E.Log)
def log_exp(fg, node):
    """log(exp(x)) is x."""
    inner = op_is(fg, node.inputs[0], E.Exp)
    return inner.inputs[0] if inner is not None and inner.inputs[0].dtype == node.outputs[0].dtype \
        else None


@register("canonicalize", E.PowerScalar, E.Power)
def pow_specialize(fg, node):
    """x ** 1 is x; x ** 2 is x * x; x ** 0 is ones like x."""
    x = node.inputs[0]
    out = node.outputs[0]
    if isinstance(node.op, E.PowerScalar):
        p = node.op.p
    else:
        e = node.inputs[1]
        if not neutral(e, x, out, const(e).item() if is_scalar_const(e) else None):
            return None
        p = const(e).item()
    if x.dtype != out.dtype:
        return None
    if p == 1:
        return x
    if p == 2:
        return E.multiply(x, x)
    if p == 0:
        return E.ones_like(x)
    return None


def negated(fg, e):
    """z such that e == -z, built cheaply from e's structure, or None."""
    n = op_is(fg, e, E.Negative)
    if n is not None:
        return n.inputs[0]
    s = op_is(fg, e, E.Subtract)
    if s is not None:
        a, b = s.inputs
        na = op_is(fg, a, E.Negative)
        if na is not None:                 # -a - b == -(a + b)
            return E.add(na.inputs[0], b)
        if is_scalar_const(a, 0) and a.ndim <= b.ndim:
            return b
        return E.subtract(b, a)            # a - b == -(b - a)
    m = op_is(fg, e, E.Multiply)
    if m is not None:
        a, b = m.inputs
        if is_scalar_const(a, -1) and a.ndim <= b.ndim:
            return b
        if is_scalar_const(b, -1) and b.ndim <= a.ndim:
            return a
    d = const(e)
    if d is not None and d.dtype.kind in "fc":
        return Constant(-d)
    return None


@register("canonicalize", E.Divide)
def sigmoid_from_exp(fg, node):
    """1 / (1 + exp(-z)) is sigmoid(z) (and 1 / (1 + exp(z)) is sigmoid(-z))."""
    one, den = node.inputs
    out = node.outputs[0]
    add = op_is(fg, den, E.Add)
    if add is None or not is_scalar_const(one, 1):
        return None
    for c, ex in (add.inputs, add.inputs[::-1]):
        en = op_is(fg, ex, E.Exp)
        if en is None or not is_scalar_const(c, 1) or not neutral(one, ex, out, 1) or \
                not neutral(c, ex, den, 1):
            continue
        e = en.inputs[0]
        z = negated(fg, e)
        return E.sigmoid(z if z is not None else E.negative(e))
    return None
