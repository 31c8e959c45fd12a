"""Stabilize: replace expressions that overflow or lose all precision by safe forms.

* log(1 + exp x) -> softplus(x)
* log(sigmoid z) -> -softplus(-z);  log(1 - sigmoid z) -> -softplus(z);  1 - sigmoid z -> sigmoid(-z)
* exp(x - max x) / sum(exp(x - max x)) -> softmax(x) (the ``Softmax`` primitive)
* log(softmax x) -> log_softmax(x) (the ``LogSoftmax`` primitive), also when the
  log is taken after a transpose, reshape or the advanced indexing of a
  negative log-likelihood
* log(sum(exp x)) -> logsumexp(x) (the ``LogSumExp`` primitive)

Each promoted primitive of ``qiflow.ops.softmax`` is what its rewrite emits, so a
symbolic graph ends up with the same nodes as the eager functions make.
"""
from ...ops import elementwise as E
from ...ops import movement as M
from ...ops import reduce as R
from ...ops.indexing import GetItem
from ...ops.base import apply
from ...ops.movement import StopGradient
from ...ops.softmax import Softmax, LogSoftmax, LogSumExp
from ..ops import DynamicSlice
from . import register
from ._match import op_is, neutral


def _exp_plus_one(fg, v):
    """x when v is 1 + exp(x) (either order), else None."""
    add = op_is(fg, v, E.Add)
    if add is None:
        return None
    for c, ex in (add.inputs, add.inputs[::-1]):
        en = op_is(fg, ex, E.Exp)
        if en is not None and neutral(c, ex, v, 1):
            return en.inputs[0]
    return None


@register("stabilize", E.Log, E.Log1p)
def log1p_exp_to_softplus(fg, node):
    """log(1 + exp(x)) and log1p(exp(x)) are softplus(x), finite for large x."""
    v = node.inputs[0]
    if isinstance(node.op, E.Log1p):
        en = op_is(fg, v, E.Exp)
        x = en.inputs[0] if en is not None else None
    else:
        x = _exp_plus_one(fg, v)
    if x is None or x.dtype != node.outputs[0].dtype:
        return None
    return E.softplus(x)


@register("stabilize", E.Log)
def log_sigmoid(fg, node):
    """log(sigmoid(z)) is -softplus(-z)."""
    s = op_is(fg, node.inputs[0], E.Sigmoid)
    if s is None:
        return None
    return E.negative(E.softplus(E.negative(s.inputs[0])))


def _one_minus_sigmoid(fg, v):
    sub = op_is(fg, v, E.Subtract)
    if sub is None:
        return None
    c, s = sub.inputs
    sn = op_is(fg, s, E.Sigmoid)
    if sn is None or not neutral(c, s, v, 1):
        return None
    return sn.inputs[0]


@register("stabilize", E.Log)
def log_one_minus_sigmoid(fg, node):
    """log(1 - sigmoid(z)) is -softplus(z)."""
    z = _one_minus_sigmoid(fg, node.inputs[0])
    return None if z is None else E.negative(E.softplus(z))


@register("stabilize", E.Subtract)
def one_minus_sigmoid(fg, node):
    """1 - sigmoid(z) is sigmoid(-z) (exact where 1 - sigmoid rounds to 0)."""
    z = _one_minus_sigmoid(fg, node.outputs[0])
    return None if z is None else E.sigmoid(E.negative(z))


def _max_shifted(fg, a):
    """x when a == x - max(x) (possibly through stop_gradient / where(isfinite)), else None."""
    sub = op_is(fg, a, E.Subtract)
    if sub is None:
        return None
    x, s = sub.inputs
    w = op_is(fg, s, E.Where)
    if w is not None:
        fin = op_is(fg, w.inputs[0], E.IsFinite)
        if fin is None or fin.inputs[0] is not w.inputs[1]:
            return None
        s = w.inputs[1]
    sg = op_is(fg, s, StopGradient)
    if sg is not None:
        s = sg.inputs[0]
    m = op_is(fg, s, R.Max)
    if m is not None and m.inputs[0] is x and m.op.keepdims:
        return x
    return None


def _softmax_parts(fg, v):
    """(a, axis) when v is softmax(a) (the primitive) or exp(a) / sum(exp(a), axis,
    keepdims=True), else None."""
    sm = op_is(fg, v, Softmax)
    if sm is not None:
        return sm.inputs[0], sm.op.axis
    div = op_is(fg, v, E.Divide)
    if div is None:
        return None
    num, den = div.inputs
    en = op_is(fg, num, E.Exp)
    sn = op_is(fg, den, R.Sum)
    if en is None or sn is None or not sn.op.keepdims:
        return None
    e2 = op_is(fg, sn.inputs[0], E.Exp)
    if e2 is None or (e2 is not en and e2.inputs[0] is not en.inputs[0]):
        return None
    return en.inputs[0], sn.op.axis


def _unshifted(fg, a):
    """x when a is x - max(x) (the shift a stable composite adds), else a."""
    x = _max_shifted(fg, a)
    return a if x is None else x


@register("stabilize", E.Divide)
def softmax_composite(fg, node):
    """exp(a) / sum(exp(a), axis, keepdims=True) is the Softmax primitive."""
    if op_is(fg, node.outputs[0], Softmax) is not None:
        return None
    parts = _softmax_parts(fg, node.outputs[0])
    if parts is None or parts[0].dtype.kind != "f":
        return None
    a, axis = parts
    return apply(Softmax(axis), _unshifted(fg, a))


@register("stabilize", E.Log)
def log_softmax(fg, node):
    """log(softmax(x)) is the LogSoftmax primitive (x - logsumexp(x), stable)."""
    parts = _softmax_parts(fg, node.inputs[0])
    if parts is None or parts[0].dtype.kind != "f":
        return None
    a, axis = parts
    return apply(LogSoftmax(axis), _unshifted(fg, a))


_MOVEMENT = (M.Transpose, M.Reshape, M.ExpandDims, M.Squeeze, M.ReshapeLike, GetItem, DynamicSlice)


def _stabilizable(fg, v):
    return (op_is(fg, v, E.Sigmoid) is not None or _softmax_parts(fg, v) is not None
            or _one_minus_sigmoid(fg, v) is not None or _exp_plus_one(fg, v) is not None)


@register("stabilize", E.Log)
def log_through_movement(fg, node):
    """log(move(p)) is move(log(p)) when log(p) has a stable form (move: transpose,
    reshape, indexing such as the NLL's p[arange(n), y])."""
    mv = op_is(fg, node.inputs[0], _MOVEMENT)
    if mv is None or not _stabilizable(fg, mv.inputs[0]):
        return None
    return apply(mv.op, E.log(mv.inputs[0]), *mv.inputs[1:])


@register("stabilize", E.Log)
def log_sum_exp(fg, node):
    """log(sum(exp(x))) is the LogSumExp primitive (unless x is already shifted by its max)."""
    s = op_is(fg, node.inputs[0], R.Sum)
    if s is None:
        return None
    en = op_is(fg, s.inputs[0], E.Exp)
    if en is None or en.inputs[0].dtype.kind != "f":
        return None
    a = en.inputs[0]
    if _max_shifted(fg, a) is not None:
        return None
    axis = s.op.axis if s.op.axis is not None else tuple(range(a.ndim))
    return apply(LogSumExp(axis, s.op.keepdims), a)
