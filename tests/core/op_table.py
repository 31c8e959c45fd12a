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
import dataclasses
import math
from dataclasses import dataclass
from typing import Callable, Optional, Tuple, Union

import numpy as np

import qiflow as qf
from qiflow import functional as QF
from qiflow.ops import join as J
from qiflow.ops.linalg import einsum
# the primitives' own functions (NumPy's meanings, shared with qiflow.sym); the eager
# dialect's qf.max/qf.std/qf.transpose ... follow PyTorch and are tested in tests/torchcompat
from qiflow.ops import elementwise as _E, reduce as _R, movement as _Mv, linalg as _L


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
    symbolic: bool = True           # False: eager-only (PyTorch's in-place methods)

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
        ("hardtanh", lambda x: qf.hardtanh(x, -1.3, 0.9), lambda x: np.clip(x, -1.3, 0.9), "real",
         lambda x: th.nn.functional.hardtanh(x, -1.3, 0.9)),
        ("leaky_relu", lambda x: qf.leaky_relu(x, 0.1), lambda x: np.where(x > 0, x, 0.1 * x), "real",
         lambda x: th.nn.functional.leaky_relu(x, 0.1)),
        ("elu", lambda x: qf.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)), "real",
         lambda x: th.nn.functional.elu(x, 0.7)),
        ("gelu", qf.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))), "real",
         lambda x: th.nn.functional.gelu(x)),
        ("gelu/tanh", lambda x: qf.gelu(x, approximate="tanh"),
         lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))), "real",
         lambda x: th.nn.functional.gelu(x, approximate="tanh")),
        ("clip", lambda x: _E.clip(x, -1.0, 1.1), lambda x: np.clip(x, -1.0, 1.1), "real",
         lambda x: th.clamp(x, -1.0, 1.1)),
        ("clip/lo", lambda x: _E.clip(x, lo=0.5), lambda x: np.maximum(x, 0.5), "real",
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
        ("add", _E.add, np.add, "real", lambda a, b: a + b),
        ("subtract", _E.subtract, np.subtract, "real", lambda a, b: a - b),
        ("multiply", _E.multiply, np.multiply, "real", lambda a, b: a * b),
        ("divide", _E.divide, np.divide, "real", lambda a, b: a / b),
        ("power", qf.power, np.power, ("pos", "real"), lambda a, b: a ** b),
        ("maximum", qf.maximum, np.maximum, "distinct", lambda a, b: th.maximum(a, b)),
        ("minimum", qf.minimum, np.minimum, "distinct", lambda a, b: th.minimum(a, b)),
    ]
    for name, f, ref, dom, tf in b:
        R.append(Row(name, f, ref, ((2, 3), (3,)), dom, torch=tf, broadcast=True))
    R += [
        Row("mod", _E.mod, np.mod, ((2, 3), (2, 3)), _mod_domain, torch=lambda a, b: th.remainder(a, b)),
        Row("where", lambda a, b: qf.where(_COND, a, b), lambda a, b: np.where(_COND, a, b),
            ((2, 3), (2, 1)), torch=lambda a, b: th.where(th.tensor(_COND), a, b)),
        Row("floor_divide", _E.floor_divide, np.floor_divide, ((2, 3), (3,)), order=0),
    ]
    # integer arithmetic and comparisons: forward only
    for name, f, ref in [("add/int", _E.add, np.add), ("multiply/int", _E.multiply, np.multiply),
                         ("floor_divide/int", _E.floor_divide, np.floor_divide),
                         ("mod/int", _E.mod, np.mod)]:
        R.append(Row(name, f, ref, ((2, 3), (3,)), "int", dtypes=("int32", "int64"), order=0))
    for name, f, ref in [("equal", _E.equal, np.equal), ("not_equal", _E.not_equal, np.not_equal),
                         ("less", _E.less, np.less), ("less_equal", _E.less_equal, np.less_equal),
                         ("greater", _E.greater, np.greater),
                         ("greater_equal", _E.greater_equal, np.greater_equal)]:
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
            Row(f"sum/{tag}", lambda x, a=axis, k=keep: _R.sum(x, a, k),
                lambda x, a=axis, k=keep: np.sum(x, a, keepdims=k), S,
                torch=lambda x, d=tdim, k=keep: th.sum(x, d, keepdim=k)),
            Row(f"mean/{tag}", lambda x, a=axis, k=keep: _R.mean(x, a, k),
                lambda x, a=axis, k=keep: np.mean(x, a, keepdims=k), S,
                torch=lambda x, d=tdim, k=keep: th.mean(x, d, keepdim=k)),
            Row(f"max/{tag}", lambda x, a=axis, k=keep: _R.max(x, a, k),
                lambda x, a=axis, k=keep: np.max(x, a, keepdims=k), S, "distinct",
                torch=lambda x, d=tdim, k=keep: th.amax(x, d, keepdim=k)),
            Row(f"min/{tag}", lambda x, a=axis, k=keep: _R.min(x, a, k),
                lambda x, a=axis, k=keep: np.min(x, a, keepdims=k), S, "distinct",
                torch=lambda x, d=tdim, k=keep: th.amin(x, d, keepdim=k)),
            Row(f"logsumexp/{tag}", lambda x, a=axis, k=keep: QF.logsumexp(x, a, k),
                lambda x, a=axis, k=keep: np.log(np.sum(np.exp(x), a, keepdims=k)), S,
                torch=lambda x, d=tdim, k=keep: th.logsumexp(x, d, keepdim=k)),
        ]
        for ddof in (0, 1):
            R += [
                Row(f"var/{tag},ddof={ddof}", lambda x, a=axis, k=keep, dd=ddof: _R.var(x, a, k, dd),
                    lambda x, a=axis, k=keep, dd=ddof: np.var(x, a, keepdims=k, ddof=dd), S,
                    torch=lambda x, d=tdim, k=keep, dd=ddof: th.var(x, d, keepdim=k, correction=dd)),
                Row(f"std/{tag},ddof={ddof}", lambda x, a=axis, k=keep, dd=ddof: _R.std(x, a, k, dd),
                    lambda x, a=axis, k=keep, dd=ddof: np.std(x, a, keepdims=k, ddof=dd), S,
                    torch=lambda x, d=tdim, k=keep, dd=ddof: th.std(x, d, keepdim=k, correction=dd)),
            ]
    R += [
        Row("prod/all", lambda x: _R.prod(x), np.prod, S, torch=lambda x: th.prod(x)),
        Row("prod/axis=1", lambda x: _R.prod(x, 1), lambda x: np.prod(x, 1), S,
            torch=lambda x: th.prod(x, 1)),
        Row("prod/zero", lambda x: _R.prod(qf.where(_ZERO, 0.0, x), 1),
            lambda x: np.prod(np.where(_ZERO, 0.0, x), 1), S,
            torch=lambda x: th.prod(th.where(th.tensor(_ZERO), 0.0, x), 1)),
        Row("argmax", lambda x: _R.argmax(x, 1), lambda x: np.argmax(x, 1), S, "distinct", order=0,
            out_dtype="int64"),
        Row("argmin/all", lambda x: _R.argmin(x), np.argmin, S, "distinct", order=0, out_dtype="int64"),
    ]
    return R


_ZERO = np.zeros((2, 3, 2), dtype=bool)
_ZERO[0, 1, 1] = True       # prod's gradient at an exact zero (product of the others)


def _rows_shape():
    x23, x232 = ((2, 3),), ((2, 3, 2),)
    return [
        Row("reshape", lambda x: qf.reshape(x, (3, -1)), lambda x: x.reshape(3, -1), x232,
            torch=lambda x: x.reshape(3, -1)),
        Row("transpose", lambda x: _Mv.transpose(x), np.transpose, x232, torch=lambda x: x.permute(2, 1, 0)),
        Row("transpose/axes", lambda x: _Mv.transpose(x, (1, 0, 2)), lambda x: np.transpose(x, (1, 0, 2)),
            x232, torch=lambda x: x.permute(1, 0, 2)),
        Row("permute", lambda x: _Mv.permute(x, 2, 0, 1), lambda x: np.transpose(x, (2, 0, 1)), x232),
        Row("swapaxes", lambda x: _Mv.swapaxes(x, 0, -1), lambda x: np.swapaxes(x, 0, -1), x232),
        Row("expand_dims", lambda x: qf.expand_dims(x, (0, 3)), lambda x: np.expand_dims(x, (0, 3)), x23),
        Row("unsqueeze", lambda x: _Mv.unsqueeze(x, -1), lambda x: x[..., None], x23),
        Row("squeeze", lambda x: _Mv.squeeze(x, 1), lambda x: np.squeeze(x, 1), ((2, 1, 3),)),
        Row("squeeze/all", lambda x: _Mv.squeeze(x), np.squeeze, ((1, 3, 1),)),
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
        Row("matmul", _L.matmul, np.matmul, ((2, 3), (3, 4)), torch=mm),
        Row("matmul/vec_mat", _L.matmul, np.matmul, ((3,), (3, 2)), torch=mm),
        Row("matmul/mat_vec", _L.matmul, np.matmul, ((2, 3), (3,)), torch=mm),
        Row("matmul/vec_vec", _L.matmul, np.matmul, ((3,), (3,)), torch=mm),
        Row("matmul/batched", _L.matmul, np.matmul, ((2, 1, 2, 3), (3, 3, 2)), torch=mm),
        Row("matmul/operator", lambda a, b: a @ b, np.matmul, ((2, 2, 3), (3, 2)), torch=mm),
        Row("dot", _L.dot, np.dot, ((2, 3), (3, 2)), torch=mm),
        Row("dot/tensor3_matrix", _L.dot, np.dot, ((2, 2, 3), (3, 2)), torch=mm),
        Row("dot/matrix_tensor3", _L.dot, np.dot, ((2, 3), (2, 3, 2)),
            torch=lambda a, b: th.tensordot(a, b, dims=([-1], [-2]))),
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


def _np_conv(x, w, b=None, stride=1, pad=0):
    """Cross-correlation over NCHW by sliding windows (NumPy)."""
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kh, kw = w.shape[2:]
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    y = np.einsum("ncxyij,ocij->noxy", win, w)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def _np_pool(x, k, how):
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::k, ::k]
    return win.max((-1, -2)) if how == "max" else win.mean((-1, -2))


def _sig(z):
    return 1 / (1 + np.exp(-z))


def _np_lstm(x, h0, c0, w_ih, w_hh, b):
    H = h0.shape[1]
    h, c, out = h0, c0, []
    for t in range(x.shape[0]):
        z = x[t] @ w_ih.T + h @ w_hh.T + b
        i, f, g, o = _sig(z[:, :H]), _sig(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), _sig(z[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        out.append(np.concatenate([h, c], axis=1))
    return np.stack(out)


def _np_rnn(x, h0, w_ih, w_hh, b):
    h, out = h0, []
    for t in range(x.shape[0]):
        h = np.tanh(x[t] @ w_ih.T + h @ w_hh.T + b)
        out.append(h)
    return np.stack(out)


def _np_gru(x, h0, w_ih, w_hh, b_ih, b_hh):
    H = h0.shape[1]
    h, out = h0, []
    for t in range(x.shape[0]):
        gi, gh = x[t] @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        r, z = _sig(gi[:, :H] + gh[:, :H]), _sig(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        h = (1 - z) * n + z * h
        out.append(h)
    return np.stack(out)


def _small(rng, shapes):
    return [rng.uniform(-0.8, 0.8, s) for s in shapes]


_TARGET = np.array([2, 0, 1])


def _rows_nn():
    import qiflow.nn.functional as F
    from qiflow.ops import rnn, gru, xent, safe_softmax
    return [
        Row("conv2d", lambda x, w, b: F.conv2d(x, w, b, padding=1), lambda x, w, b: _np_conv(x, w, b, 1, 1),
            ((2, 2, 5, 5), (3, 2, 3, 3), (3,)), torch=lambda x, w, b: th.nn.functional.conv2d(x, w, b, padding=1),
            rtol32=1e-4),
        Row("conv2d/stride", lambda x, w: F.conv2d(x, w, stride=2), lambda x, w: _np_conv(x, w, None, 2, 0),
            ((1, 2, 6, 6), (2, 2, 2, 2)), rtol32=1e-4),
        Row("max_pool2d", lambda x: F.max_pool2d(x, 2), lambda x: _np_pool(x, 2, "max"), ((1, 2, 4, 4),),
            "distinct", torch=lambda x: th.nn.functional.max_pool2d(x, 2)),
        Row("avg_pool2d", lambda x: F.avg_pool2d(x, 2), lambda x: _np_pool(x, 2, "avg"), ((1, 2, 4, 4),),
            torch=lambda x: th.nn.functional.avg_pool2d(x, 2)),
        Row("linear", F.linear, lambda x, w, b: x @ w.T + b, ((4, 3), (2, 3), (2,)),
            torch=lambda x, w, b: th.nn.functional.linear(x, w, b)),
        Row("lstm_seq", rnn.lstm_seq, _np_lstm, ((3, 2, 2), (2, 2), (2, 2), (8, 2), (8, 2), (8,)), _small,
            rtol32=1e-4),
        Row("rnn_seq", rnn.rnn_seq, _np_rnn, ((3, 2, 2), (2, 3), (3, 2), (3, 3), (3,)), _small, rtol32=1e-4),
        Row("gru_seq", gru.gru_seq, _np_gru, ((3, 2, 2), (2, 2), (6, 2), (6, 2), (6,), (6,)), _small,
            rtol32=1e-4),
        Row("softmax_cross_entropy", lambda x: xent.softmax_cross_entropy(x, _TARGET),
            lambda x: -np.log(np.exp(x) / np.exp(x).sum(1, keepdims=True))[np.arange(3), _TARGET],
            ((3, 4),), torch=lambda x: th.nn.functional.cross_entropy(x, th.tensor(_TARGET), reduction="none")),
        Row("safe_softmax", lambda x: safe_softmax.safe_softmax(x, -1),
            lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True), ((2, 3),), torch=lambda x: th.softmax(x, -1)),
    ]


def _rows_inplace():
    """In-place methods on a non-leaf: recorded (PyTorch's rules), so differentiable.
    Eager only: Theano's variables are immutable (``T.set_subtensor`` instead)."""
    rows = [
        Row("addcmul_", lambda x, a, b: (x * 1).addcmul_(a, b, value=0.5), lambda x, a, b: x + 0.5 * a * b,
            ((2, 3), (2, 3), (3,)), torch=lambda x, a, b: (x * 1).addcmul_(a, b, value=0.5)),
        Row("addcdiv_", lambda x, a, b: (x * 1).addcdiv_(a, b, value=0.5), lambda x, a, b: x + 0.5 * a / b,
            ((2, 3), (2, 3), (3,)), torch=lambda x, a, b: (x * 1).addcdiv_(a, b, value=0.5)),
        Row("lerp_", lambda x, e: (x * 1).lerp_(e, 0.3), lambda x, e: x + 0.3 * (e - x), ((2, 3), (2, 3)),
            torch=lambda x, e: (x * 1).lerp_(e, 0.3)),
        Row("add_/alpha", lambda x, y: (x * 1).add_(y, alpha=-0.5), lambda x, y: x - 0.5 * y, ((2, 3), (3,)),
            torch=lambda x, y: (x * 1).add_(y, alpha=-0.5)),
        Row("copy_", lambda x, y: (x * 1).copy_(y), lambda x, y: np.broadcast_to(y, x.shape).copy(),
            ((2, 3), (3,)), torch=lambda x, y: (x * 1).copy_(y)),
        Row("fill_", lambda x, v: (x * 1).fill_(v) * x, lambda x, v: v * x, ((2, 3), ())),
        Row("mul_", lambda x, y: (x * 1).mul_(y), np.multiply, ((2, 3), (2, 3)), torch=lambda x, y: (x * 1).mul_(y)),
    ]
    return [dataclasses.replace(r, symbolic=False) for r in rows]


def _rows_logic():
    return [
        # to a wider float and back: exact both ways, so central differences see the identity
        Row("cast", lambda x: qf.cast(qf.cast(x, np.longdouble), "float64") * x, lambda x: x * x,
            ((2, 3),), dtypes=("float64",)),
        Row("isfinite", lambda x: qf.isfinite(1 / (x * 0 + x)), lambda x: np.isfinite(1 / x), ((2, 3),),
            order=0, out_dtype="bool"),
        Row("isinf", lambda x: qf.isinf(x / (x - x)), lambda x: np.isinf(x / (x - x)), ((2, 3),),
            order=0, out_dtype="bool"),
        Row("isnan", lambda x: qf.isnan(qf.log(x)), lambda x: np.isnan(np.log(x)), ((2, 3),),
            order=0, out_dtype="bool"),
        Row("logical_not", lambda x: qf.logical_not(x > 0), lambda x: ~(x > 0), ((2, 3),), order=0,
            out_dtype="bool"),
        Row("logical_or", lambda a, b: qf.logical_or(a > 0, b > 0), lambda a, b: (a > 0) | (b > 0),
            ((2, 3), (3,)), order=0, out_dtype="bool"),
        Row("logical_xor", lambda a, b: qf.logical_xor(a > 0, b > 0), lambda a, b: (a > 0) ^ (b > 0),
            ((2, 3), (3,)), order=0, out_dtype="bool"),
        Row("stop_gradient", lambda x: x * qf.stop_gradient(x), lambda x: x * x, ((2, 3),), order=0),
    ]


# scatter/gather/sort (qiflow/ops/scatter.py, ops/sorting.py, through the eager dialect's functions)
_SC_IDX = np.array([[0, 2, 1, 0], [2, 0, 2, 1]])          # distinct per column: no write races
_GA_IDX = np.array([[2, 0, 0], [1, 1, 3]])                 # fewer rows than the input (PyTorch allows)


def _np_scatter(x, idx, src, add=False):
    out = x.copy()
    cols = np.broadcast_to(np.arange(idx.shape[1]), idx.shape)
    if add:
        np.add.at(out, (idx, cols), src)
    else:
        out[idx, cols] = src
    return out


def _rows_sorting():
    x34, x24 = (3, 4), (2, 4)
    one = (x34,)
    return [
        Row("scatter", lambda x, s: qf.scatter(x, 0, _SC_IDX, s), lambda x, s: _np_scatter(x, _SC_IDX, s),
            (x34, x24), torch=lambda x, s: th.scatter(x, 0, th.tensor(_SC_IDX), s), symbolic=True),
        Row("scatter/value", lambda x: qf.scatter(x, 0, _SC_IDX, value=0.5),
            lambda x: _np_scatter(x, _SC_IDX, 0.5), (x34,),
            torch=lambda x: th.scatter(x, 0, th.tensor(_SC_IDX), 0.5), symbolic=True),
        Row("scatter_add", lambda x, s: qf.scatter_add(x, 0, np.array([[0, 2, 0, 0]]), s),
            lambda x, s: _np_scatter(x, np.array([[0, 2, 0, 0]]), s, add=True), (x34, (1, 4)),
            torch=lambda x, s: th.scatter_add(x, 0, th.tensor([[0, 2, 0, 0]]), s), symbolic=True),
        Row("scatter_add/repeats", lambda x, s: qf.index_add(x, 1, np.array([0, 0, 3]), s),
            lambda x, s: x + np.stack([s[:, 0] + s[:, 1], 0 * s[:, 0], 0 * s[:, 0], s[:, 2]], 1),
            (x34, (3, 3)), torch=lambda x, s: x.index_add(1, th.tensor([0, 0, 3]), s), symbolic=False),
        Row("gather", lambda x: qf.gather(x, 1, _GA_IDX), lambda x: np.take_along_axis(x[:2], _GA_IDX, 1),
            (x34,), torch=lambda x: th.gather(x, 1, th.tensor(_GA_IDX)), symbolic=True),
        Row("sort", lambda x: qf.sort(x, 1).values, lambda x: np.sort(x, 1), one, "distinct",
            torch=lambda x: th.sort(x, 1).values, symbolic=False),
        Row("sort/descending", lambda x: qf.sort(x, 0, descending=True).values,
            lambda x: -np.sort(-x, 0), one, "distinct",
            torch=lambda x: th.sort(x, 0, descending=True).values, symbolic=False),
        Row("argsort", lambda x: qf.argsort(x, -1), lambda x: np.argsort(x, -1), one, "distinct",
            order=0, out_dtype="int64", symbolic=False),
        Row("cumsum", lambda x: qf.cumsum(x, 1), lambda x: np.cumsum(x, 1), one,
            torch=lambda x: th.cumsum(x, 1)),
        Row("cumsum/dim0", lambda x: qf.ops.cumulative.cumsum(x, -2), lambda x: np.cumsum(x, 0), one),
        Row("topk", lambda x: qf.topk(x, 2, dim=1).values, lambda x: -np.sort(-x, 1)[:, :2], one,
            "distinct", torch=lambda x: th.topk(x, 2, dim=1).values, symbolic=False),
    ]


ROWS = (_rows_unary() + _rows_binary() + _rows_reduce() + _rows_shape() + _rows_linalg()
        + _rows_functional() + _rows_nn() + _rows_inplace() + _rows_logic() + _rows_sorting())

def registered_primitives():
    """Every primitive class of ``qiflow.ops`` (all its modules imported), from the op
    registry: abstract bases (no forward of their own, names starting with ``_``) excluded."""
    import importlib
    import pkgutil
    from qiflow.ops import base
    for m in pkgutil.iter_modules(qf.ops.__path__):
        importlib.import_module(f"qiflow.ops.{m.name}")
    abstract = {base.Op, qf.ops.elementwise.Elementwise, qf.ops.elementwise.Unary,
                qf.ops.elementwise.NonDiff, qf.ops.elementwise.ZeroGrad}
    return sorted((c for k, c in base.REGISTRY.items() if k.startswith("qiflow.ops.")
                   and c not in abstract and not c.__name__.startswith("_")),
                  key=lambda c: (c.__module__, c.__name__))
