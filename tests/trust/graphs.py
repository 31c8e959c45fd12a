"""Random expression programs that run on several back ends (qiflow eager or
symbolic, NumPy, PyTorch) through a small namespace adapter.

A program is a list of steps ``(op, i, j, k)`` over a growing list of nodes
(the leaves first): ``i`` and ``j`` pick operands (so nodes get reused, making
diamonds), ``k`` picks a reduction axis.  Every op keeps its operands inside
its domain with a guard written from the same namespace (``log(x*x + 0.5)``),
so all back ends compute the same function.  The program's output is a scalar:
every node, weighted by a fixed pattern, summed.
"""
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import numpy as np

import qiflow as qf
from qiflow.ops import reduce as _R, movement as _Mv, softmax as _S


# ------------------------------------------------------------------ namespaces
class NP:
    """NumPy with qiflow's function signatures (the value oracle)."""
    exp, log, sqrt, tanh, sin, cos, abs = np.exp, np.log, np.sqrt, np.tanh, np.sin, np.cos, np.abs
    maximum, minimum, where = np.maximum, np.minimum, np.where

    @staticmethod
    def sigmoid(x): return 1.0 / (1.0 + np.exp(-x))
    @staticmethod
    def softplus(x): return np.logaddexp(0.0, x)
    @staticmethod
    def relu(x): return np.maximum(x, 0.0)
    @staticmethod
    def sum(x, axis=None, keepdims=False): return np.sum(x, axis, keepdims=keepdims)
    @staticmethod
    def mean(x, axis=None, keepdims=False): return np.mean(x, axis, keepdims=keepdims)
    @staticmethod
    def max(x, axis=None, keepdims=False): return np.max(x, axis, keepdims=keepdims)
    @staticmethod
    def min(x, axis=None, keepdims=False): return np.min(x, axis, keepdims=keepdims)
    @staticmethod
    def logsumexp(x, axis=None, keepdims=False):
        m = np.max(x, axis, keepdims=True)
        out = np.log(np.sum(np.exp(x - m), axis, keepdims=True)) + m
        return out if keepdims else np.squeeze(out, axis) if axis is not None else out.reshape(())

    @staticmethod
    def softmax(x, axis=-1):
        e = np.exp(x - np.max(x, axis, keepdims=True))
        return e / e.sum(axis, keepdims=True)

    @staticmethod
    def log_softmax(x, axis=-1): return x - NP.logsumexp(x, axis, keepdims=True)
    @staticmethod
    def const(a): return np.asarray(a, np.float64)
    @staticmethod
    def shape(x): return np.shape(x)
    @staticmethod
    def flip0(x): return x[::-1]
    @staticmethod
    def transpose(x): return np.transpose(x)
    @staticmethod
    def slice_pad(x): return np.concatenate([x[:1] * 2.0, x[1:]], 0)


class QF:
    """qiflow's functions with NumPy's meanings (the primitives of ``qiflow.ops``, which work
    on Tensors and on symbolic variables; the eager ``qf.max``/``qf.transpose`` ... follow
    PyTorch and are tested in tests/torchcompat)."""
    exp, log, sqrt, tanh, sin, cos, abs = qf.exp, qf.log, qf.sqrt, qf.tanh, qf.sin, qf.cos, qf.abs
    maximum, minimum, where = qf.maximum, qf.minimum, qf.where
    sigmoid, softplus, relu = qf.sigmoid, qf.softplus, qf.relu
    sum, mean, max, min, logsumexp = _R.sum, _R.mean, _R.max, _R.min, _S.logsumexp
    softmax, log_softmax = _S.softmax, _S.log_softmax

    @staticmethod
    def const(a): return np.asarray(a, np.float64)

    @staticmethod
    def shape(x):
        from qiflow.ops.base import static_shape
        return tuple(static_shape(x))

    @staticmethod
    def flip0(x): return x[::-1]
    transpose = _Mv.transpose

    @staticmethod
    def slice_pad(x):
        from qiflow.ops.join import concatenate
        return concatenate([x[:1] * 2.0, x[1:]], 0)


def torch_ns(torch):
    """The same namespace on PyTorch (the value and gradient oracle)."""

    def dims(x, axis):
        if axis is None:
            return tuple(range(x.ndim))
        return (axis,) if isinstance(axis, int) else tuple(axis)

    class T:
        exp, log, sqrt, tanh, sin, cos, abs = (torch.exp, torch.log, torch.sqrt, torch.tanh, torch.sin,
                                               torch.cos, torch.abs)
        maximum, minimum, sigmoid, relu = torch.maximum, torch.minimum, torch.sigmoid, torch.relu

        @staticmethod
        def where(c, a, b): return torch.where(c, a, b)
        @staticmethod
        def softplus(x): return torch.nn.functional.softplus(x)
        @staticmethod
        def sum(x, axis=None, keepdims=False):
            return x.sum(dims(x, axis), keepdim=keepdims) if x.ndim else x
        @staticmethod
        def mean(x, axis=None, keepdims=False):
            return x.mean(dims(x, axis), keepdim=keepdims) if x.ndim else x
        @staticmethod
        def max(x, axis=None, keepdims=False): return torch.amax(x, dims(x, axis), keepdim=keepdims)
        @staticmethod
        def min(x, axis=None, keepdims=False): return torch.amin(x, dims(x, axis), keepdim=keepdims)
        @staticmethod
        def logsumexp(x, axis=None, keepdims=False):
            return torch.logsumexp(x, dims(x, axis), keepdim=keepdims) if x.ndim else x
        @staticmethod
        def softmax(x, axis=-1): return torch.softmax(x, axis)
        @staticmethod
        def log_softmax(x, axis=-1): return torch.log_softmax(x, axis)
        @staticmethod
        def const(a): return torch.tensor(np.asarray(a, np.float64))
        @staticmethod
        def shape(x): return tuple(x.shape)
        @staticmethod
        def flip0(x): return torch.flip(x, (0,))
        @staticmethod
        def transpose(x): return x.permute(*reversed(range(x.ndim))) if x.ndim else x
        @staticmethod
        def slice_pad(x): return torch.cat([x[:1] * 2.0, x[1:]], 0)

    return T


# --------------------------------------------------------------------- op lists
UNARY = {
    "neg": lambda ns, x: -x,
    "exp": lambda ns, x: ns.exp(ns.tanh(x) * 2.0),
    "log": lambda ns, x: ns.log(x * x + 0.5),
    "sqrt": lambda ns, x: ns.sqrt(x * x + 0.25),
    "tanh": lambda ns, x: ns.tanh(x),
    "sin": lambda ns, x: ns.sin(x),
    "cos": lambda ns, x: ns.cos(x),
    "sigmoid": lambda ns, x: ns.sigmoid(x),
    "softplus": lambda ns, x: ns.softplus(x),
    "abs": lambda ns, x: ns.abs(x),
    "relu": lambda ns, x: ns.relu(x),
    "square": lambda ns, x: x * ns.tanh(x),
    "rsub": lambda ns, x: 2.0 - x,
    "rdiv": lambda ns, x: 1.0 / (x * x + 1.0),
    "scale": lambda ns, x: x * 0.5 + 0.25,
    # movement ops whose gradients are views of the incoming gradient (aliasing bugs live here)
    "flip0": lambda ns, x: ns.flip0(x) if len(ns.shape(x)) else x,
    "reshape_rt": lambda ns, x: ns.tanh(x.reshape(-1)).reshape(ns.shape(x)),
    "transpose_rt": lambda ns, x: ns.transpose(ns.sin(ns.transpose(x))),
    "slice_pad": lambda ns, x: ns.slice_pad(x) if len(ns.shape(x)) else x,
}

BINARY = {
    "add": lambda ns, a, b: a + b,
    "subtract": lambda ns, a, b: a - b,
    "multiply": lambda ns, a, b: a * ns.tanh(b),
    "divide": lambda ns, a, b: a / (b * b + 0.5),
    "power": lambda ns, a, b: (a * a + 0.5) ** ns.tanh(b),
    "maximum": lambda ns, a, b: ns.maximum(a, b),
    "minimum": lambda ns, a, b: ns.minimum(a, b),
    "where": lambda ns, a, b: ns.where(a > b, a, b * 0.5),
}


@dataclass(frozen=True)
class Reduction:
    qf: Callable                      # (tensor, axis, keepdims)
    np: Callable                      # (ndarray, axis, keepdims)
    torch: Optional[Callable]         # (torch, tensor, axis, keepdims)
    graph: Optional[Callable] = None  # (ns, x, axis) in expression graphs (keeps dims)
    min_count: int = 1                # fewest reduced elements with a defined gradient

    @property
    def in_graphs(self):
        return self.graph is not None


def _tdims(x, axis):
    if axis is None:
        return tuple(range(x.ndim))
    return (axis,) if isinstance(axis, int) else tuple(axis)


def _tprod(torch, x, axis, keepdims):
    out = x
    for d in sorted((a % x.ndim for a in _tdims(x, axis)), reverse=True):
        out = out.prod(d, keepdim=keepdims)
    return out


def _treduce(name, **kw):
    def f(torch, x, axis, keepdims):
        if x.ndim == 0:
            return getattr(torch, name)(x, **kw) if name in ("var", "std") else x
        return getattr(torch, name)(x, _tdims(x, axis), keepdim=keepdims, **kw)
    return f


REDUCE = {
    "sum": Reduction(_R.sum, lambda a, x, k: np.sum(a, x, keepdims=k), _treduce("sum"),
                     lambda ns, v, ax: ns.sum(v, ax, True)),
    "mean": Reduction(_R.mean, lambda a, x, k: np.mean(a, x, keepdims=k), _treduce("mean"),
                      lambda ns, v, ax: ns.mean(v, ax, True)),
    "max": Reduction(_R.max, lambda a, x, k: np.max(a, x, keepdims=k), _treduce("amax"),
                     lambda ns, v, ax: ns.max(v, ax, True)),
    "min": Reduction(_R.min, lambda a, x, k: np.min(a, x, keepdims=k), _treduce("amin"),
                     lambda ns, v, ax: ns.min(v, ax, True)),
    "prod": Reduction(_R.prod, lambda a, x, k: np.prod(a, x, keepdims=k), _tprod),
    "logsumexp": Reduction(_S.logsumexp, lambda a, x, k: NP.logsumexp(a, x, k), _treduce("logsumexp"),
                           lambda ns, v, ax: ns.logsumexp(v, ax, True)),
    "var": Reduction(_R.var, lambda a, x, k: np.var(a, x, keepdims=k), _treduce("var", correction=0)),
    "var/ddof1": Reduction(lambda t, x, k: _R.var(t, x, k, ddof=1),
                           lambda a, x, k: np.var(a, x, keepdims=k, ddof=1),
                           _treduce("var", correction=1), min_count=2),
    "std": Reduction(_R.std, lambda a, x, k: np.std(a, x, keepdims=k), _treduce("std", correction=0),
                     min_count=2),
    "softmax": Reduction(None, None, None, lambda ns, v, ax: ns.softmax(v, -1 if ax is None else ax)),
    "log_softmax": Reduction(None, None, None,
                             lambda ns, v, ax: ns.log_softmax(v, -1 if ax is None else ax)),
}
REDUCE_GRAPH = {k: v for k, v in REDUCE.items() if v.in_graphs}
# the reductions test draws from REDUCE; graphs from REDUCE_GRAPH (softmax-like ops included)
REDUCE = {k: v for k, v in REDUCE.items() if v.qf is not None}


# ---------------------------------------------------------------------- programs
@dataclass(frozen=True)
class Program:
    out_shape: Tuple[int, ...]
    leaf_shapes: Tuple[Tuple[int, ...], ...]
    steps: Tuple[Tuple[str, int, int, Optional[int]], ...]   # (op, i, j, axis) resolved


def build_program(out_shape, leaf_shapes, raw_steps):
    """Resolve raw steps (op name, three free integers) against the node shapes."""
    shapes = [tuple(s) for s in leaf_shapes]
    steps = []
    for name, i, j, k in raw_steps:
        i, j = i % len(shapes), j % len(shapes)
        if name in UNARY:
            steps.append((name, i, i, None))
            shapes.append(shapes[i])
        elif name in BINARY:
            steps.append((name, i, j, None))
            shapes.append(tuple(np.broadcast_shapes(shapes[i], shapes[j])))
        else:
            nd = len(shapes[i])
            if name in ("softmax", "log_softmax") and nd == 0:
                continue
            axis = None if k % (nd + 1) == nd else k % (nd + 1) - (nd if k % 2 else 0)
            if name in ("softmax", "log_softmax") and axis is None:
                axis = -1
            steps.append((name, i, i, axis))
            shapes.append(tuple(1 for _ in shapes[i]) if axis is None and name not in (
                "softmax", "log_softmax") else _keep(shapes[i], axis, name))
    return Program(tuple(out_shape), tuple(tuple(s) for s in leaf_shapes), tuple(steps))


def _keep(shape, axis, name):
    if name in ("softmax", "log_softmax"):
        return shape
    return tuple(1 if d == axis % len(shape) else s for d, s in enumerate(shape))


def _weights(shape, n):
    size = int(np.prod(shape, dtype=np.int64))
    return np.cos(np.arange(size) * 0.7 + n).reshape(shape) / (n + 1)


def run_program(prog, ns, leaves):
    """The program's scalar output, computed with namespace ``ns`` (qf, QF, NP or torch_ns)."""
    if ns is qf:
        ns = QF
    nodes = list(leaves)
    for name, i, j, axis in prog.steps:
        if name in UNARY:
            nodes.append(UNARY[name](ns, nodes[i]))
        elif name in BINARY:
            nodes.append(BINARY[name](ns, nodes[i], nodes[j]))
        else:
            nodes.append(REDUCE_GRAPH[name].graph(ns, nodes[i], axis))
    total = None
    for n, v in enumerate(nodes):
        term = ns.sum(v * ns.const(_weights(ns.shape(v), n)))
        total = term if total is None else total + term
    return total
