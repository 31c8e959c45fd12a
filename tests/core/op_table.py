"""The one table of op rows that drives the generic operator tests.

Each row names an operator and gives: the qiflow callable (taking Tensors), a
NumPy reference (taking ndarrays), the input shapes, the input domain, the
dtypes to run forward in, the gradient order to check (0: none, 1: first,
2: first and second) and optionally a PyTorch equivalent (taking torch
tensors).  ``test_op_table.py`` turns every row into forward, gradcheck,
gradgradcheck, PyTorch and (for ``broadcast`` rows) Hypothesis tests; other
test suites (symbolic, compiled) may import ``ROWS`` and ``make_inputs`` too.

Domains keep inputs away from the points where an op is not differentiable,
so central differences are meaningful:

* ``real``: |x| in [0.2, 2] with random signs; ``pos``: [0.5, 2];
* ``offint``: at least 0.1 away from integers and half-integers (floor, round);
* ``distinct``: drawn without replacement from a grid with step 0.25, shared
  by every ``distinct`` input of the row (max, min, maximum: no ties);
* ``int``: small integers in [-4, 4] without 0 (int dtypes only);
* a callable ``(rng, shapes) -> list of float64 arrays`` for joint domains.
"""
import math
from dataclasses import dataclass
from typing import Callable, Optional, Tuple, Union

import numpy as np

import qiflow as qf
from qiflow import functional as QF
from qiflow.ops import join as J
from qiflow.ops.linalg import einsum


class _LazyTorch:
    """``th.exp`` imports torch on first use, so the table loads without it."""

    def __getattr__(self, name):
        import torch
        return getattr(torch, name)


th = _LazyTorch()


@dataclass(frozen=True)
class Row:
    name: str                       # "op" or "op/variant"; the op is the part before "/"
    fn: Callable                    # qiflow, on Tensors
    ref: Callable                   # NumPy, on float64 ndarrays
    shapes: Tuple[tuple, ...]       # one shape per input
    domain: Union[str, tuple, Callable] = "real"
    dtypes: Tuple[str, ...] = ("float32", "float64")
    order: int = 2
    torch: Optional[Callable] = None
    broadcast: bool = False         # binary elementwise: Hypothesis broadcast pairs
    out_dtype: Optional[str] = None  # None: same as the input dtype
    rtol32: float = 2e-5
    rtol64: float = 1e-12           # also used against PyTorch

    @property
    def op(self):
        return self.name.split("/")[0]

    def __repr__(self):
        return self.name


# ------------------------------------------------------------------ domains
def _real(rng, shape):
    return rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def _offint(rng, shape):
    frac = rng.choice([0.15, 0.35, 0.65, 0.85], shape) + rng.uniform(-0.04, 0.04, shape)
    return rng.integers(-3, 3, shape) + frac


def _int(rng, shape):
    return (rng.integers(1, 5, shape) * rng.choice([-1, 1], shape)).astype(np.float64)


_DOMAINS = {
    "real": _real,
    "pos": lambda rng, s: rng.uniform(0.5, 2.0, s),
    "offint": _offint,
    "int": _int,
}


def make_inputs(row, rng, shapes=None):
    """Float64 ndarrays for the row's inputs (``shapes`` overrides the row's)."""
    shapes = row.shapes if shapes is None else shapes
    dom = row.domain
    if callable(dom):
        return [np.asarray(a, dtype=np.float64) for a in dom(rng, shapes)]
    doms = (dom,) * len(shapes) if isinstance(dom, str) else dom
    out = [None] * len(shapes)
    distinct = [i for i, d in enumerate(doms) if d == "distinct"]
    if distinct:
        sizes = [int(np.prod(shapes[i], dtype=np.int64)) for i in distinct]
        pool = (rng.permutation(sum(sizes)) - sum(sizes) / 2) * 0.25 + 0.1
        start = 0
        for i, n in zip(distinct, sizes):
            out[i] = pool[start:start + n].reshape(shapes[i])
            start += n
    for i, (d, s) in enumerate(zip(doms, shapes)):
        if out[i] is None:
            out[i] = np.asarray(_DOMAINS[d](rng, s), dtype=np.float64)
    return out


def _mod_domain(rng, shapes):
    # a % b jumps where a / b is an integer: keep a / b at least 0.2 away from one.
    b = rng.uniform(0.5, 1.5, shapes[1])
    k = rng.integers(-3, 3, shapes[0]) + rng.uniform(0.2, 0.8, shapes[0])
    return [k * b, b]


_erf = np.vectorize(math.erf, otypes=[np.float64])
_COND = np.array([[True, False, True], [False, False, True]])
_MASK = np.array([[True, False, True], [False, True, True]])
_ALONG = np.array([[[1], [0], [1]], [[0], [0], [1]]])


def _rows_unary():
    R = []
    u = [
        ("negative", qf.negative, np.negative, "real", lambda x: -x),
        ("exp", qf.exp, np.exp, "real", lambda x: th.exp(x)),
        ("log", qf.log, np.log, "pos", lambda x: th.log(x)),
        ("log1p", qf.log1p, np.log1p, "pos", lambda x: th.log1p(x)),
        ("expm1", qf.expm1, np.expm1, "real", lambda x: th.expm1(x)),
        ("sqrt", qf.sqrt, np.sqrt, "pos", lambda x: th.sqrt(x)),
        ("square", qf.square, np.square, "real", lambda x: th.square(x)),
        ("abs", qf.abs, np.abs, "real", lambda x: th.abs(x)),
        ("sign", qf.sign, np.sign, "real", lambda x: th.sign(x)),
        ("sin", qf.sin, np.sin, "real", lambda x: th.sin(x)),
        ("cos", qf.cos, np.cos, "real", lambda x: th.cos(x)),
        ("tanh", qf.tanh, np.tanh, "real", lambda x: th.tanh(x)),
        ("sigmoid", qf.sigmoid, lambda x: 1 / (1 + np.exp(-x)), "real", lambda x: th.sigmoid(x)),
        ("softplus", qf.softplus, lambda x: np.logaddexp(0, x), "real",
         lambda x: th.nn.functional.softplus(x)),
        ("erf", qf.erf, _erf, "real", lambda x: th.erf(x)),
        ("relu", qf.relu, lambda x: np.maximum(x, 0), "real", lambda x: th.relu(x)),
        ("leaky_relu", lambda x: qf.leaky_relu(x, 0.1), lambda x: np.where(x > 0, x, 0.1 * x), "real",
         lambda x: th.nn.functional.leaky_relu(x, 0.1)),
        ("elu", lambda x: qf.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)), "real",
         lambda x: th.nn.functional.elu(x, 0.7)),
        ("gelu", qf.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))), "real",
         lambda x: th.nn.functional.gelu(x)),
        ("gelu/tanh", lambda x: qf.gelu(x, approximate="tanh"),
         lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))), "real",
         lambda x: th.nn.functional.gelu(x, approximate="tanh")),
        ("clip", lambda x: qf.clip(x, -1.0, 1.1), lambda x: np.clip(x, -1.0, 1.1), "real",
         lambda x: th.clamp(x, -1.0, 1.1)),
        ("clip/lo", lambda x: qf.clip(x, lo=0.5), lambda x: np.maximum(x, 0.5), "real",
         lambda x: th.clamp(x, min=0.5)),
        ("floor", qf.floor, np.floor, "offint", lambda x: th.floor(x)),
        ("ceil", qf.ceil, np.ceil, "offint", lambda x: th.ceil(x)),
        ("round", qf.round, np.round, "offint", lambda x: th.round(x)),
        ("power/scalar2", lambda x: x ** 2, lambda x: x ** 2, "real", lambda x: x ** 2),
        ("power/scalar3", lambda x: qf.power(x, 3), lambda x: x ** 3, "real", lambda x: x ** 3),
        ("power/sqrt", lambda x: x ** 0.5, np.sqrt, "pos", lambda x: x ** 0.5),
        ("power/neg", lambda x: x ** -1.5, lambda x: x ** -1.5, "pos", lambda x: x ** -1.5),
        ("power/rscalar", lambda x: 2.0 ** x, lambda x: 2.0 ** x, "real", lambda x: 2.0 ** x),
        ("divide/rscalar", lambda x: 2.0 / x, lambda x: 2.0 / x, "real", lambda x: 2.0 / x),
        ("subtract/rscalar", lambda x: 2.0 - x, lambda x: 2.0 - x, "real", lambda x: 2.0 - x),
    ]
    for name, f, ref, dom, tf in u:
        # qiflow's erf is a rational approximation with |error| < 1.5e-7
        tol = 5e-7 if name.startswith(("erf", "gelu")) and name != "gelu/tanh" else 1e-12
        R.append(Row(name, f, ref, ((2, 3),), dom, torch=tf, rtol64=tol))
    return R


def _rows_binary():
    R = []
    b = [
        ("add", qf.add, np.add, "real", lambda a, b: a + b),
        ("subtract", qf.subtract, np.subtract, "real", lambda a, b: a - b),
        ("multiply", qf.multiply, np.multiply, "real", lambda a, b: a * b),
        ("divide", qf.divide, np.divide, "real", lambda a, b: a / b),
        ("power", qf.power, np.power, ("pos", "real"), lambda a, b: a ** b),
        ("maximum", qf.maximum, np.maximum, "distinct", lambda a, b: th.maximum(a, b)),
        ("minimum", qf.minimum, np.minimum, "distinct", lambda a, b: th.minimum(a, b)),
    ]
    for name, f, ref, dom, tf in b:
        R.append(Row(name, f, ref, ((2, 3), (3,)), dom, torch=tf, broadcast=True))
    R += [
        Row("mod", qf.mod, np.mod, ((2, 3), (2, 3)), _mod_domain, torch=lambda a, b: th.remainder(a, b)),
        Row("where", lambda a, b: qf.where(_COND, a, b), lambda a, b: np.where(_COND, a, b),
            ((2, 3), (2, 1)), torch=lambda a, b: th.where(th.tensor(_COND), a, b)),
        Row("floor_divide", qf.floor_divide, np.floor_divide, ((2, 3), (3,)), order=0),
    ]
    # integer arithmetic and comparisons: forward only
    for name, f, ref in [("add/int", qf.add, np.add), ("multiply/int", qf.multiply, np.multiply),
                         ("floor_divide/int", qf.floor_divide, np.floor_divide),
                         ("mod/int", qf.mod, np.mod)]:
        R.append(Row(name, f, ref, ((2, 3), (3,)), "int", dtypes=("int32", "int64"), order=0))
    for name, f, ref in [("equal", qf.equal, np.equal), ("not_equal", qf.not_equal, np.not_equal),
                         ("less", qf.less, np.less), ("less_equal", qf.less_equal, np.less_equal),
                         ("greater", qf.greater, np.greater),
                         ("greater_equal", qf.greater_equal, np.greater_equal)]:
        R.append(Row(name, f, ref, ((2, 3), (3,)), "int", dtypes=("float32", "int64"), order=0,
                     out_dtype="bool"))
    return R


def _rows_reduce():
    R = []
    S = ((2, 3, 2),)
    for axis, keep in [(None, False), (1, False), ((0, 2), False), (-1, True)]:
        tag = f"axis={axis},keepdims={keep}"
        tdim = axis if axis is not None else tuple(range(3))
        R += [
            Row(f"sum/{tag}", lambda x, a=axis, k=keep: qf.sum(x, a, k),
                lambda x, a=axis, k=keep: np.sum(x, a, keepdims=k), S,
                torch=lambda x, d=tdim, k=keep: th.sum(x, d, keepdim=k)),
            Row(f"mean/{tag}", lambda x, a=axis, k=keep: qf.mean(x, a, k),
                lambda x, a=axis, k=keep: np.mean(x, a, keepdims=k), S,
                torch=lambda x, d=tdim, k=keep: th.mean(x, d, keepdim=k)),
            Row(f"max/{tag}", lambda x, a=axis, k=keep: qf.max(x, a, k),
                lambda x, a=axis, k=keep: np.max(x, a, keepdims=k), S, "distinct",
                torch=lambda x, d=tdim, k=keep: th.amax(x, d, keepdim=k)),
            Row(f"min/{tag}", lambda x, a=axis, k=keep: qf.min(x, a, k),
                lambda x, a=axis, k=keep: np.min(x, a, keepdims=k), S, "distinct",
                torch=lambda x, d=tdim, k=keep: th.amin(x, d, keepdim=k)),
            Row(f"logsumexp/{tag}", lambda x, a=axis, k=keep: QF.logsumexp(x, a, k),
                lambda x, a=axis, k=keep: np.log(np.sum(np.exp(x), a, keepdims=k)), S,
                torch=lambda x, d=tdim, k=keep: th.logsumexp(x, d, keepdim=k)),
        ]
        for ddof in (0, 1):
            R += [
                Row(f"var/{tag},ddof={ddof}", lambda x, a=axis, k=keep, dd=ddof: qf.var(x, a, k, dd),
                    lambda x, a=axis, k=keep, dd=ddof: np.var(x, a, keepdims=k, ddof=dd), S,
                    torch=lambda x, d=tdim, k=keep, dd=ddof: th.var(x, d, keepdim=k, correction=dd)),
                Row(f"std/{tag},ddof={ddof}", lambda x, a=axis, k=keep, dd=ddof: qf.std(x, a, k, dd),
                    lambda x, a=axis, k=keep, dd=ddof: np.std(x, a, keepdims=k, ddof=dd), S,
                    torch=lambda x, d=tdim, k=keep, dd=ddof: th.std(x, d, keepdim=k, correction=dd)),
            ]
    R += [
        Row("prod/all", lambda x: qf.prod(x), np.prod, S, torch=lambda x: th.prod(x)),
        Row("prod/axis=1", lambda x: qf.prod(x, 1), lambda x: np.prod(x, 1), S,
            torch=lambda x: th.prod(x, 1)),
        Row("prod/zero", lambda x: qf.prod(qf.where(_ZERO, 0.0, x), 1),
            lambda x: np.prod(np.where(_ZERO, 0.0, x), 1), S,
            torch=lambda x: th.prod(th.where(th.tensor(_ZERO), 0.0, x), 1)),
        Row("argmax", lambda x: qf.argmax(x, 1), lambda x: np.argmax(x, 1), S, "distinct", order=0,
            out_dtype="int64"),
        Row("argmin/all", lambda x: qf.argmin(x), np.argmin, S, "distinct", order=0, out_dtype="int64"),
    ]
    return R


_ZERO = np.zeros((2, 3, 2), dtype=bool)
_ZERO[0, 1, 1] = True       # prod's gradient at an exact zero (product of the others)


def _rows_shape():
    x23, x232 = ((2, 3),), ((2, 3, 2),)
    return [
        Row("reshape", lambda x: qf.reshape(x, (3, -1)), lambda x: x.reshape(3, -1), x232,
            torch=lambda x: x.reshape(3, -1)),
        Row("transpose", lambda x: qf.transpose(x), np.transpose, x232, torch=lambda x: x.permute(2, 1, 0)),
        Row("transpose/axes", lambda x: qf.transpose(x, (1, 0, 2)), lambda x: np.transpose(x, (1, 0, 2)),
            x232, torch=lambda x: x.permute(1, 0, 2)),
        Row("permute", lambda x: qf.permute(x, 2, 0, 1), lambda x: np.transpose(x, (2, 0, 1)), x232),
        Row("swapaxes", lambda x: qf.swapaxes(x, 0, -1), lambda x: np.swapaxes(x, 0, -1), x232),
        Row("expand_dims", lambda x: qf.expand_dims(x, (0, 3)), lambda x: np.expand_dims(x, (0, 3)), x23),
        Row("unsqueeze", lambda x: qf.unsqueeze(x, -1), lambda x: x[..., None], x23),
        Row("squeeze", lambda x: qf.squeeze(x, 1), lambda x: np.squeeze(x, 1), ((2, 1, 3),)),
        Row("squeeze/all", lambda x: qf.squeeze(x), np.squeeze, ((1, 3, 1),)),
        Row("broadcast_to", lambda x: qf.broadcast_to(x, (4, 2, 3)), lambda x: np.broadcast_to(x, (4, 2, 3)),
            ((2, 1),), torch=lambda x: x.expand(4, 2, 3)),
        Row("expand", lambda x: qf.expand(x, 2, -1, 3), lambda x: np.broadcast_to(x, (2, 2, 3)), ((2, 1),)),
        Row("flatten", lambda x: qf.flatten(x, 1), lambda x: x.reshape(2, -1), x232),
        Row("ravel", qf.ravel, np.ravel, x232),
        # joining (qiflow.ops.join)
        Row("concatenate", lambda a, b: J.concatenate([a, b, a], axis=1),
            lambda a, b: np.concatenate([a, b, a], axis=1), ((2, 3), (2, 1)),
            torch=lambda a, b: th.cat([a, b, a], 1)),
        Row("concatenate/axis=None", lambda a, b: J.concatenate([a, b], axis=None),
            lambda a, b: np.concatenate([a, b], axis=None), ((2, 3), (4,))),
        Row("stack", lambda a, b: J.stack([a, b], axis=-1), lambda a, b: np.stack([a, b], -1),
            ((2, 3), (2, 3)), torch=lambda a, b: th.stack([a, b], -1)),
        Row("split", lambda x: J.split(x, [1, 3], axis=1), lambda x: np.split(x, [1, 3], 1), ((2, 4),)),
        Row("split/sections", lambda x: J.split(x, 2, axis=0), lambda x: np.split(x, 2, 0), ((4, 3),)),
        Row("pad", lambda x: J.pad(x, ((1, 0), (2, 1)), constant_values=0.5),
            lambda x: np.pad(x, ((1, 0), (2, 1)), constant_values=0.5), x23),
        *[Row(f"pad/{m}", lambda x, m=m: J.pad(x, ((1, 2), (2, 1)), mode=m),
              lambda x, m=m: np.pad(x, ((1, 2), (2, 1)), mode=m), x23)
          for m in ("edge", "reflect", "symmetric", "wrap")],
        Row("flip", lambda x: J.flip(x, 1), lambda x: np.flip(x, 1), x232, torch=lambda x: th.flip(x, (1,))),
        Row("flip/all", lambda x: J.flip(x), np.flip, x232),
        Row("repeat", lambda x: J.repeat(x, 2), lambda x: np.repeat(x, 2), x23),
        Row("repeat/axis", lambda x: J.repeat(x, [2, 0, 1], axis=1), lambda x: np.repeat(x, [2, 0, 1], 1), x23),
        Row("repeat/int_axis", lambda x: J.repeat(x, 3, axis=0), lambda x: np.repeat(x, 3, 0), x23,
            torch=lambda x: th.repeat_interleave(x, 3, 0)),
        Row("tile", lambda x: J.tile(x, (2, 1, 2)), lambda x: np.tile(x, (2, 1, 2)), x23,
            torch=lambda x: x.repeat(2, 1, 2)),
        Row("tile/int", lambda x: J.tile(x, 2), lambda x: np.tile(x, 2), x23),
        # indexing
        Row("getitem/int", lambda x: x[1], lambda x: x[1], x232),
        Row("getitem/negstep", lambda x: x[::-1, 2:0:-1], lambda x: x[::-1, 2:0:-1], x232,
            torch=lambda x: th.flip(x, (0,))[:, [2, 1]]),
        Row("getitem/none_ellipsis", lambda x: x[None, ..., 0], lambda x: x[None, ..., 0], x232),
        Row("getitem/intarray", lambda x: x[[0, 1, 0, 0]], lambda x: x[[0, 1, 0, 0]], x23,
            torch=lambda x: x[[0, 1, 0, 0]]),
        Row("getitem/mask", lambda x: x[_MASK], lambda x: x[_MASK], x23, torch=lambda x: x[th.tensor(_MASK)]),
        Row("getitem/mixed", lambda x: x[np.array([1, 0, 1]), :, np.array([0, 0, 1])],
            lambda x: x[np.array([1, 0, 1]), :, np.array([0, 0, 1])], x232),
        Row("take_along_axis", lambda x: qf.take_along_axis(x, _ALONG, 2),
            lambda x: np.take_along_axis(x, _ALONG, 2), x232,
            torch=lambda x: th.take_along_dim(x, th.tensor(_ALONG), 2)),
    ]


def _rows_linalg():
    mm = lambda a, b: a @ b  # noqa: E731
    return [
        Row("matmul", qf.matmul, np.matmul, ((2, 3), (3, 4)), torch=mm),
        Row("matmul/vec_mat", qf.matmul, np.matmul, ((3,), (3, 2)), torch=mm),
        Row("matmul/mat_vec", qf.matmul, np.matmul, ((2, 3), (3,)), torch=mm),
        Row("matmul/vec_vec", qf.matmul, np.matmul, ((3,), (3,)), torch=mm),
        Row("matmul/batched", qf.matmul, np.matmul, ((2, 1, 2, 3), (3, 3, 2)), torch=mm),
        Row("matmul/operator", lambda a, b: a @ b, np.matmul, ((2, 2, 3), (3, 2)), torch=mm),
        Row("dot", qf.dot, np.dot, ((2, 3), (3, 2)), torch=mm),
        Row("outer", qf.outer, np.outer, ((3,), (2,)), torch=lambda a, b: th.outer(a, b)),
        Row("inner", qf.inner, np.inner, ((2, 3), (4, 3)), torch=lambda a, b: th.inner(a, b)),
        Row("einsum/matmul", lambda a, b: einsum("ij,jk->ik", a, b),
            lambda a, b: np.einsum("ij,jk->ik", a, b), ((2, 3), (3, 2)),
            torch=lambda a, b: th.einsum("ij,jk->ik", a, b)),
        Row("einsum/batch_ellipsis", lambda a, b: einsum("...ij,...jk", a, b),
            lambda a, b: np.einsum("...ij,...jk", a, b), ((2, 2, 3), (3, 2))),
        Row("einsum/trace", lambda a: einsum("ii", a), lambda a: np.einsum("ii", a), ((3, 3),),
            torch=lambda a: th.einsum("ii", a)),
        Row("einsum/diag_sum", lambda a, b: einsum("iij,k->jk", a, b),
            lambda a, b: np.einsum("iij,k->jk", a, b), ((2, 2, 3), (2,))),
        Row("einsum/three", lambda a, b, c: einsum("ij,jk,k->i", a, b, c),
            lambda a, b, c: np.einsum("ij,jk,k->i", a, b, c), ((2, 3), (3, 2), (2,)),
            torch=lambda a, b, c: th.einsum("ij,jk,k->i", a, b, c)),
    ]


def _rows_functional():
    def np_softmax(x, axis):
        e = np.exp(x - x.max(axis, keepdims=True))
        return e / e.sum(axis, keepdims=True)
    return [
        Row("softmax", lambda x: QF.softmax(x), lambda x: np_softmax(x, -1), ((2, 3),),
            torch=lambda x: th.softmax(x, -1)),
        Row("softmax/axis0", lambda x: QF.softmax(x, 0), lambda x: np_softmax(x, 0), ((2, 3),),
            torch=lambda x: th.softmax(x, 0)),
        Row("log_softmax", lambda x: QF.log_softmax(x), lambda x: np.log(np_softmax(x, -1)), ((2, 3),),
            torch=lambda x: th.log_softmax(x, -1)),
    ]


ROWS = (_rows_unary() + _rows_binary() + _rows_reduce() + _rows_shape() + _rows_linalg()
        + _rows_functional())

#: Operators the issue asks for; the table must cover every one of them.
REQUIRED_OPS = """add subtract multiply divide negative power exp log log1p expm1 sqrt square abs sign
sin cos tanh sigmoid relu leaky_relu elu gelu softplus clip maximum minimum where floor ceil round
sum mean var std max min prod logsumexp argmax argmin reshape transpose permute swapaxes
broadcast_to expand squeeze expand_dims unsqueeze flatten concatenate stack split pad flip repeat
tile getitem matmul dot outer einsum softmax log_softmax""".split()
