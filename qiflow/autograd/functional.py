"""``qiflow.autograd.functional``: PyTorch's higher-level derivatives of a function —
``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``vhp``, ``hvp`` — with PyTorch's
signatures and return structure (a tensor for a tensor, tuples for tuples).

Everything is built on the one backward engine: a Jacobian is one backward
pass per output element (``vectorize`` and ``strategy`` are accepted; the
result is the same), a forward-mode product is the derivative of a vjp with
respect to its (linear) cotangent, and second derivatives come from
``create_graph``.  Without ``create_graph`` the results are detached.

>>> from qiflow.autograd.functional import jacobian
>>> jacobian(lambda x: x ** 2, qf.tensor([1.0, 3.0], dtype="float64")).tolist()
[[2.0, 0.0], [0.0, 6.0]]
"""
import numpy as np

from ..autodiff import grad, enable_grad
from ..ops.join import stack
from ..ops.movement import reshape
from ..ops.reduce import sum as _sum
from ..tensor import Tensor

__all__ = ["jacobian", "hessian", "vjp", "jvp", "vhp", "hvp"]


def _as_tuple(x, what, fn):
    is_tuple = isinstance(x, (tuple, list))
    xs = tuple(x) if is_tuple else (x,)
    for i, e in enumerate(xs):
        if not isinstance(e, Tensor):
            where = f" (element {i})" if is_tuple else ""
            raise TypeError(f"{fn}: {what} must be a tensor or a tuple of tensors, got a "
                            f"{type(e).__name__}{where}")
    return is_tuple, xs


def _prepare(xs, create_graph, fn):
    """Inputs the function is run on: connected to the caller's graph only with create_graph."""
    out = []
    for i, x in enumerate(xs):
        if not x.is_floating_point():
            raise TypeError(f"{fn}: input {i} is {x.dtype}; derivatives need floating-point inputs")
        out.append(x.clone() if create_graph and x.requires_grad else x.detach().requires_grad_(True))
    return tuple(out)


def _finish(ts, create_graph):
    return tuple(t.detach() if not create_graph and isinstance(t, Tensor) else t for t in ts)


def _zeros(x):
    return Tensor._wrap(np.zeros_like(x._data))


def _fill(gs, xs, strict, fn, what):
    out = []
    for j, (g, x) in enumerate(zip(gs, xs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{fn}: {what} is independent of input {j}; strict=True does not "
                                   "allow this (pass strict=False to get zeros)")
            g = _zeros(x)
        out.append(g)
    return out


def _grads(ys, xs, gys, create_graph, retain_graph):
    """Gradients of the ys that have a graph (None for inputs they do not reach)."""
    pairs = [(y, g) for y, g in zip(ys, gys) if y.requires_grad]
    if not pairs:
        return [None] * len(xs)
    return list(grad([y for y, _ in pairs], xs, grad_outputs=[g for _, g in pairs],
                     retain_graph=retain_graph, create_graph=create_graph, allow_unused=True))


def _cotangents(v, ys, fn, what):
    if v is None:
        for i, y in enumerate(ys):
            if y.numel() != 1:
                raise RuntimeError(f"{fn}: v can be None only when the {what} has a single element; "
                                   f"{what} {i} has shape {tuple(y.shape)}")
        return [Tensor._wrap(np.ones_like(y._data)) for y in ys]
    _, vs = _as_tuple(v, "v", fn)
    if len(vs) != len(ys):
        raise RuntimeError(f"{fn}: v has {len(vs)} tensors, the {what} {len(ys)}")
    for i, (a, y) in enumerate(zip(vs, ys)):
        if tuple(a.shape) != tuple(y.shape):
            raise RuntimeError(f"{fn}: v[{i}] has shape {tuple(a.shape)}, the {what} {tuple(y.shape)}")
    return list(vs)


def _shape_result(rows, out_tuple, in_tuple):
    if not out_tuple:
        rows = rows[0]
        return rows if in_tuple else rows[0]
    return tuple(r if in_tuple else r[0] for r in rows)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for a tensor output y and input x, a tensor of
    shape ``y.shape + x.shape``; tuples of them for tuples (outer: outputs, inner: inputs).

    >>> from qiflow.autograd.functional import jacobian
    >>> jacobian(lambda x, y: x * y, (qf.tensor([2.0]), qf.tensor([5.0])))
    (tensor([[5.]], dtype=float32), tensor([[2.]], dtype=float32))
    """
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f"jacobian: strategy must be 'reverse-mode' or 'forward-mode', got {strategy!r}")
    in_tuple, xs = _as_tuple(inputs, "inputs", "jacobian")
    with enable_grad():
        xs = _prepare(xs, create_graph, "jacobian")
        out_tuple, ys = _as_tuple(func(*xs), "the outputs of func", "jacobian")
        rows = []
        for i, y in enumerate(ys):
            cols = [[] for _ in xs]
            n = y.numel()
            for k in range(n):
                e = np.zeros(y._data.size, y._data.dtype)
                e[k] = 1
                gs = _grads([y], xs, [e.reshape(y.shape)], create_graph, True)
                for j, g in enumerate(_fill(gs, xs, strict, "jacobian", f"output {i} of func")):
                    cols[j].append(g)
            row = []
            for j, x in enumerate(xs):
                shape = tuple(y.shape) + tuple(x.shape)
                if n == 0:
                    row.append(Tensor._wrap(np.zeros(shape, x._data.dtype)))
                else:
                    row.append(reshape(stack(cols[j], 0), shape))
            rows.append(_finish(row, create_graph))
    return _shape_result(rows, out_tuple, in_tuple)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar ``func`` at ``inputs``: shape ``x.shape + x.shape`` for one
    input; a tuple of tuples (block ``[i][j]`` = d2f/dxi dxj) for a tuple of inputs.

    >>> from qiflow.autograd.functional import hessian
    >>> hessian(lambda x: (x ** 3).sum(), qf.tensor([1.0, 2.0], dtype="float64")).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    in_tuple, xs = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*ins):
        out = func(*ins)
        if not isinstance(out, Tensor) or out.numel() != 1:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise RuntimeError(f"hessian: func must return a single-element tensor, got {shape}")
        gs = _grads([out], ins, [None], True, True)
        return tuple(_fill(gs, ins, strict, "hessian", "the output of func"))

    res = jacobian(gradient, xs, create_graph=create_graph, strict=strict,
                   strategy=outer_jacobian_strategy)
    return res if in_tuple else res[0][0]


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product; ``v`` may be None for a
    single-element output.

    >>> from qiflow.autograd.functional import vjp
    >>> vjp(lambda x: x * 3, qf.tensor([1.0, 2.0]), qf.tensor([1.0, 10.0]))[1].tolist()
    [3.0, 30.0]
    """
    in_tuple, xs = _as_tuple(inputs, "inputs", "vjp")
    with enable_grad():
        xs = _prepare(xs, create_graph, "vjp")
        out = func(*xs)
        out_tuple, ys = _as_tuple(out, "the outputs of func", "vjp")
        vs = _cotangents(v, ys, "vjp", "output")
        gs = _fill(_grads(ys, xs, vs, create_graph, create_graph), xs, strict, "vjp", "the output of func")
    ys, gs = _finish(ys, create_graph), _finish(gs, create_graph)
    return (ys if out_tuple else ys[0]), (gs if in_tuple else gs[0])


def _jvp(ys, xs, vs, create_graph, strict, fn):
    """J v, as the derivative of the (linear) vjp u -> J^T u with respect to u."""
    us = [Tensor._wrap(np.zeros_like(y._data), requires_grad=y.is_floating_point()) for y in ys]
    gs = _grads(ys, xs, us, True, True)
    total = None
    for j, (g, t) in enumerate(zip(gs, vs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{fn}: the output of func is independent of input {j}; "
                                   "strict=True does not allow this")
            continue
        term = _sum(g * t)
        total = term if total is None else total + term
    if total is None or not total.requires_grad:
        return [_zeros(y) for y in ys]
    jv = grad(total, us, create_graph=create_graph, allow_unused=True)
    return [_zeros(y) if g is None else g for y, g in zip(ys, jv)]


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``: the Jacobian-vector product; ``v`` may be None for a
    single-element input.

    >>> from qiflow.autograd.functional import jvp
    >>> jvp(lambda x: x ** 2, qf.tensor([1.0, 2.0]), qf.tensor([1.0, 1.0]))[1].tolist()
    [2.0, 4.0]
    """
    in_tuple, xs = _as_tuple(inputs, "inputs", "jvp")
    with enable_grad():
        xs = _prepare(xs, create_graph, "jvp")
        vs = _cotangents(v, xs, "jvp", "input")
        out_tuple, ys = _as_tuple(func(*xs), "the outputs of func", "jvp")
        jv = _jvp(ys, xs, vs, create_graph, strict, "jvp")
    ys, jv = _finish(ys, create_graph), _finish(jv, create_graph)
    return (ys if out_tuple else ys[0]), (jv if out_tuple else jv[0])


def _scalar_gradient(func, xs, strict, fn):
    out = func(*xs)
    if not isinstance(out, Tensor) or out.numel() != 1:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise RuntimeError(f"{fn}: func must return a single-element tensor, got {shape}")
    gs = _fill(_grads([out], xs, [None], True, True), xs, strict, fn, "the output of func")
    return out, gs


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)`` for a scalar ``func``.

    >>> from qiflow.autograd.functional import vhp
    >>> vhp(lambda x: (x ** 3).sum(), qf.tensor([1.0, 2.0]), qf.tensor([1.0, 1.0]))[1].tolist()
    [6.0, 12.0]
    """
    in_tuple, xs = _as_tuple(inputs, "inputs", "vhp")
    with enable_grad():
        xs = _prepare(xs, create_graph, "vhp")
        vs = _cotangents(v, xs, "vhp", "input")
        out, gs = _scalar_gradient(func, xs, strict, "vhp")
        res = _fill(_grads(gs, xs, vs, create_graph, create_graph), xs, strict, "vhp", "the gradient")
    (out,), res = _finish([out], create_graph), _finish(res, create_graph)
    return out, (res if in_tuple else res[0])


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)`` for a scalar ``func`` (forward-over-reverse).

    >>> from qiflow.autograd.functional import hvp
    >>> hvp(lambda x: (x ** 3).sum(), qf.tensor([1.0, 2.0]), qf.tensor([1.0, 0.0]))[1].tolist()
    [6.0, 0.0]
    """
    in_tuple, xs = _as_tuple(inputs, "inputs", "hvp")
    with enable_grad():
        xs = _prepare(xs, create_graph, "hvp")
        vs = _cotangents(v, xs, "hvp", "input")
        out, gs = _scalar_gradient(func, xs, strict, "hvp")
        res = _jvp(gs, xs, vs, create_graph, strict, "hvp")
    (out,), res = _finish([out], create_graph), _finish(res, create_graph)
    return out, (res if in_tuple else res[0])
