"""The backward engine: one iterative reverse sweep shared by every front door.

``backward`` accumulates into leaves' ``.grad``; ``grad`` returns gradients of
any tensors (leaf or not).  Gradients of broadcast inputs are summed back to
the input's shape here, and only here.  Without ``create_graph`` the vjps run
on plain ndarrays (``_state.raw_mode``) for speed; with it they run on
Tensors, so the backward pass is itself recorded and differentiable.  The
symbolic ``sym.grad`` drives the same sweep with symbolic variables.

>>> x = qf.tensor(3.0, requires_grad=True)
>>> (g,) = qf.grad(x ** 3, x, create_graph=True)
>>> qf.grad(g, x)[0].item()   # d2/dx2 x**3 = 6x
18.0
"""
import contextlib

import numpy as np

from . import _state
from .ops.base import Symbolic
from .ops.movement import _sum_to_shape, sum_to_like
from .ops.elementwise import cast
from .tensor import Tensor, run_hooks, run_post_hooks


class no_grad(contextlib.ContextDecorator):
    """Record nothing inside (context manager or decorator).

    >>> with qf.no_grad():
    ...     y = qf.tensor(1.0, requires_grad=True) * 2
    >>> y.requires_grad
    False
    """

    def __enter__(self):
        self.prev = _state.grad_enabled
        _state.grad_enabled = False

    def __exit__(self, *exc):
        _state.grad_enabled = self.prev


class enable_grad(no_grad):
    """Re-enable recording inside a ``no_grad`` block."""

    def __enter__(self):
        self.prev = _state.grad_enabled
        _state.grad_enabled = True


class set_grad_enabled(no_grad):
    def __init__(self, mode):
        self.mode = bool(mode)

    def __enter__(self):
        self.prev = _state.grad_enabled
        _state.grad_enabled = self.mode


def is_grad_enabled():
    return _state.grad_enabled


def _toposort(roots):
    """Nodes reachable from roots through inputs that require grad, inputs first."""
    # the set holds the nodes themselves: Tensors and Variables hash by identity,
    # which is cheaper than calling id(); only inputs that require grad are hashed
    # (an input may be an unhashable ndarray)
    order, visited = [], set()
    add, append = visited.add, order.append
    for root in roots:
        if root in visited:
            continue
        add(root)
        # depth-first with an iterator per open node: no per-edge tuples
        stack = [(root, iter(root._inputs or ()))]
        while stack:
            node, it = stack[-1]
            for inp in it:
                if getattr(inp, "requires_grad", False) and inp not in visited:
                    add(inp)
                    ins = inp._inputs
                    if not ins:
                        append(inp)          # a leaf is finished as soon as it is found
                        continue
                    stack.append((inp, iter(ins)))
                    break
            else:
                stack.pop()
                append(node)
    return order


def _static_shape(x):
    return x.type.shape if isinstance(x, Symbolic) else x.shape


class _Wrapper:
    """How gradients are represented in one sweep: raw ndarrays or graph values."""

    def __init__(self, raw):
        self.raw = raw

    def unbroadcast(self, g, inp):
        if self.raw:
            if g.__class__ is not np.ndarray:
                g = np.asarray(g)
            shape = inp.data.shape
            if g.shape != shape:
                g = _sum_to_shape(g, shape)
            if g.dtype != inp.data.dtype:
                g = g.astype(inp.data.dtype)
            return g
        shape = _static_shape(inp)
        gshape = _static_shape(g)
        if gshape != shape or None in shape:
            g = sum_to_like(g, inp)
        if g.dtype != inp.dtype:
            g = cast(g, inp.dtype)
        return g

    def to_user(self, g):
        return Tensor._wrap(g) if self.raw else g

    def from_user(self, g):
        return g.data if self.raw and isinstance(g, Tensor) else g


def _sweep(roots, root_grads, retain_graph, create_graph, targets=None):
    """Run the reverse sweep.  With ``targets`` (a list of nodes) returns their
    gradients; otherwise accumulates into leaves."""
    if targets is None and not create_graph:
        return _sweep_raw(roots, root_grads, retain_graph)
    order = _toposort(roots)
    w = _Wrapper(raw=not create_graph)
    needed = None
    results = {}
    if targets is not None:
        tids = {id(t) for t in targets}
        needed = set()
        for node in order:
            if id(node) in tids or (node._inputs is not None and
                                    any(id(i) in needed for i in node._inputs)):
                needed.add(id(node))
    grads = {}
    for r, g in zip(roots, root_grads):
        k = id(r)
        grads[k] = g if k not in grads else grads[k] + g
    raw, want = w.raw, targets is not None
    # ids of arrays this sweep must not hand to a leaf without a copy: the
    # caller's gradients, and every array already stored in a leaf's .grad
    shared = set(map(id, root_grads))
    pop, get = grads.pop, grads.get
    # ids of sums this sweep made itself and nobody else holds: later
    # contributions are added into them in place (a weight used at every
    # step of an RNN gets one buffer, not one new array per use)
    owned = set()
    prev = _state.grad_enabled, _state.raw_mode
    _state.grad_enabled, _state.raw_mode = bool(create_graph), raw
    try:
        for node in reversed(order):
            g = pop(id(node), None)
            if g is None:
                continue
            if owned:
                owned.discard(id(g))       # from here on g may be shared (vjps pass it on)
            if node._hooks:
                g = w.from_user(run_hooks(node, g, w.to_user))
            if want and id(node) in tids:
                results[id(node)] = g
            op = node._op
            if op is None:
                if not want:
                    _accumulate_leaf(node, g, raw, shared)
                    if node._hooks:
                        run_post_hooks(node)
                continue
            if node._retain and not want:
                node.grad = w.to_user(g) if node.grad is None else node.grad + w.to_user(g)
            inputs = node._inputs
            if inputs is None:
                _freed_error(op)
            if raw:
                now = 0
                arrays = []
                partial = False
                for i in inputs:
                    if isinstance(i, Tensor):
                        now += i._version
                        arrays.append(i.data)
                        if not i.requires_grad:
                            partial = True
                    else:
                        arrays.append(i)
                        partial = True
                if now != node._vsum or node._version:
                    _modified_error(node, inputs)
                # tell vjps that can skip work (dense, conv) which gradients are wanted;
                # None means "all of them" and costs nothing to compute
                _state.needs_input_grad = _needs(inputs) if partial else None
                gin = op.vjp(arrays, node.data, g)
            else:
                _state.needs_input_grad = _needs(inputs)
                gin = op.vjp(inputs, node, g)
            if _state.anomaly:
                _state.anomaly_check_backward(node, gin)
            for inp, gi in zip(inputs, gin):
                if gi is None or not getattr(inp, "requires_grad", False):
                    continue
                if needed is not None and id(inp) not in needed:
                    continue
                if raw:     # w.unbroadcast, inlined: this loop runs once per graph edge
                    if gi.__class__ is not np.ndarray:
                        gi = np.asarray(gi)
                    d = inp.data
                    if gi.shape != d.shape:
                        gi = _sum_to_shape(gi, d.shape)
                    if gi.dtype is not d.dtype and gi.dtype != d.dtype:
                        gi = gi.astype(d.dtype)
                else:
                    gi = w.unbroadcast(gi, inp)
                k = id(inp)
                old = get(k)
                if old is None:
                    grads[k] = gi
                elif raw and id(old) in owned:
                    np.add(old, gi, out=old)
                else:
                    grads[k] = old = old + gi
                    if raw and old.__class__ is np.ndarray:
                        owned.add(id(old))
        if not retain_graph:
            if raw:                        # eager tensors only: leaves hold no inputs anyway
                for node in order:
                    node._inputs = None
            else:
                for node in order:
                    if node._op is not None and not isinstance(node, Symbolic):
                        node._inputs = None
    finally:
        _state.grad_enabled, _state.raw_mode = prev
        _state.needs_input_grad = None
    if targets is not None:
        return [results.get(id(t)) for t in targets]
    return None


def _sweep_raw(roots, root_grads, retain_graph):
    """``_sweep`` for the common case, ``backward()`` without ``create_graph``:
    eager tensors only, ndarray gradients, every leaf accumulated.  The same
    steps as the general sweep with its mode tests taken out of the loop."""
    order = _toposort(roots)
    grads = {}                     # keyed by the tensor itself: hashing it is cheaper than id()
    for r, g in zip(roots, root_grads):
        grads[r] = g if r not in grads else grads[r] + g
    shared = set(map(id, root_grads))   # as in _sweep
    owned = set()
    pop, get = grads.pop, grads.get
    T, nd, st = Tensor, np.ndarray, _state
    prev = st.grad_enabled, st.raw_mode
    st.grad_enabled, st.raw_mode = False, True
    try:
        for node in reversed(order):
            g = pop(node, None)
            if g is None:
                continue
            if owned:
                owned.discard(id(g))
            if node._hooks:
                g = run_hooks(node, g, T._wrap)
                if isinstance(g, T):
                    g = g.data
            op = node._op
            if op is None:
                # _accumulate_leaf, inlined: a leaf's .grad must own its array
                if g.__class__ is not nd:
                    g = np.asarray(g)
                if node.grad is None:
                    if g.base is not None or id(g) in shared or not g.flags.writeable:
                        g = np.array(g)
                    shared.add(id(g))
                    node.grad = T._wrap(g)
                else:
                    node.grad = T._wrap(node.grad.data + g)
                if node._hooks:
                    run_post_hooks(node)
                continue
            if node._retain:
                node.grad = T._wrap(g) if node.grad is None else node.grad + T._wrap(g)
            inputs = node._inputs
            if inputs is None:
                _freed_error(op)
            now = 0
            arrays = []
            partial = False
            for i in inputs:
                if isinstance(i, T):
                    now += i._version
                    arrays.append(i.data)
                    if not i.requires_grad:
                        partial = True
                else:
                    arrays.append(i)
                    partial = True
            if now != node._vsum or node._version:
                _modified_error(node, inputs)
            st.needs_input_grad = tuple([isinstance(i, T) and i.requires_grad for i in inputs]) \
                if partial else None
            gin = op.vjp(arrays, node.data, g)
            if st.anomaly:
                st.anomaly_check_backward(node, gin)
            for inp, gi in zip(inputs, gin):
                if gi is None or not getattr(inp, "requires_grad", False):
                    continue
                if gi.__class__ is not nd:
                    gi = np.asarray(gi)
                d = inp.data
                if gi.shape != d.shape:
                    gi = _sum_to_shape(gi, d.shape)
                if gi.dtype is not d.dtype and gi.dtype != d.dtype:
                    gi = gi.astype(d.dtype)
                old = get(inp)
                if old is None:
                    grads[inp] = gi
                elif id(old) in owned:
                    np.add(old, gi, out=old)
                else:
                    grads[inp] = old = old + gi
                    if old.__class__ is nd:    # 0-d sums are NumPy scalars
                        owned.add(id(old))
        if not retain_graph:
            for node in order:
                node._inputs = None
    finally:
        st.grad_enabled, st.raw_mode = prev
        st.needs_input_grad = None


def _freed_error(op):
    raise RuntimeError(
        f"backward through {op.name} a second time: its graph was freed by the first "
        "backward; pass retain_graph=True to the first call if you need to go again")


def _needs(inputs):
    return tuple(bool(getattr(i, "requires_grad", False)) for i in inputs)


def _modified_error(node, inputs):
    shapes = ", ".join(str(tuple(i.shape)) for i in inputs if isinstance(i, Tensor))
    raise RuntimeError(
        f"{node._op.name}: a tensor it saved for backward (inputs of shape {shapes}, or its "
        "output) was modified in place after it was used; compute the backward before "
        "modifying it, or modify a copy")


def _accumulate_leaf(leaf, g, raw, shared=None):
    if raw:
        if g.__class__ is not np.ndarray:
            g = np.asarray(g)
        if leaf.grad is None:
            # .grad must own its array: vjps pass gradients through (add gives
            # both inputs the same g) and views alias other arrays, and a user
            # may later modify one leaf's grad in place (zero_grad, clipping)
            if (shared is not None and id(g) in shared) or g.base is not None \
                    or not g.flags.writeable:
                g = np.array(g)
            if shared is not None:
                shared.add(id(g))
            leaf.grad = Tensor._wrap(g)
        else:
            leaf.grad = Tensor._wrap(leaf.grad.data + g)
    else:
        leaf.grad = g if leaf.grad is None else leaf.grad + g


def _root_grads(outputs, grad_outputs, create_graph, what):
    out = []
    for i, (y, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(y, Tensor):
            raise TypeError(f"{what}: output {i} is a {type(y).__name__}, not a Tensor")
        if not y.requires_grad:
            raise RuntimeError(f"{what}: output {i} does not require grad and has no graph "
                               "(was it computed under no_grad, or from tensors without requires_grad?)")
        if g is None:
            if y.data.size != 1:
                raise RuntimeError(f"{what}: output {i} has shape {y.shape}; a gradient can be implied "
                                   "only for a single-element output: pass grad (e.g. qf.ones_like(y))")
            g = np.ones(y.data.shape, y.data.dtype)
        else:
            g = g.data if isinstance(g, Tensor) and not create_graph else g
            g = np.asarray(g, dtype=y.dtype) if not isinstance(g, Tensor) else g
            if tuple(g.shape) != y.shape:
                raise RuntimeError(f"{what}: grad of shape {tuple(g.shape)} does not match output "
                                   f"{i} of shape {y.shape}")
        if create_graph and not isinstance(g, Tensor):
            g = Tensor._wrap(g)
        out.append(g)
    return out


def backward(tensors, grad_tensors=None, retain_graph=False, create_graph=False):
    """Accumulate gradients of ``tensors`` into the leaves' ``.grad``."""
    tensors = list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    roots = _root_grads(tensors, grad_tensors, create_graph, "backward")
    _sweep(tensors, roots, retain_graph or create_graph, create_graph)


def _tensor_backward(y, grad, retain_graph, create_graph):
    """``y.backward(...)``: a one-element output without ``create_graph`` (a loss)
    goes straight to the raw sweep; everything else through ``backward``."""
    if grad is None and not create_graph and y.requires_grad:
        d = y.data
        if d.size == 1:
            # np.array(1, dtype) costs a fifth of np.ones for the usual 0-d loss
            _sweep_raw([y], [np.array(1, d.dtype) if not d.ndim else np.ones(d.shape, d.dtype)],
                       retain_graph)
            return
    backward([y], None if grad is None else [grad], retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs`` (a tuple, one per input).

    Works for non-leaf inputs too and leaves ``.grad`` untouched.

    >>> x = qf.tensor([1.0, 2.0], requires_grad=True)
    >>> qf.grad((x * x).sum(), x)[0].tolist()
    [2.0, 4.0]
    """
    single = isinstance(outputs, Tensor)
    outputs = [outputs] if single else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor) or isinstance(grad_outputs, np.ndarray):
        grad_outputs = [grad_outputs]
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    roots = _root_grads(outputs, grad_outputs, create_graph, "grad")
    res = _sweep(outputs, roots, retain_graph, create_graph, targets=inputs)
    out = []
    for i, (x, g) in enumerate(zip(inputs, res)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: input {i} (shape {x.shape}) was not used to compute the "
                                   "outputs (or the graph linking them was freed by an earlier "
                                   "backward: pass retain_graph=True there); pass allow_unused=True "
                                   "to get None for it")
            out.append(None)
        else:
            out.append(Tensor._wrap(np.asarray(g)) if not create_graph else g)
    return tuple(out)


def jvp(fn, inputs, tangents):
    """Forward-mode product J(fn)(inputs) @ tangents, built from two vjps.

    Returns ``(outputs, jvp)``.
    """
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    tangents = [tangents] if isinstance(tangents, Tensor) else list(tangents)
    xs = [x.detach().requires_grad_() for x in inputs]
    y = fn(*xs)
    u = Tensor._wrap(np.zeros_like(y.data), requires_grad=True)
    gs = grad(y, xs, grad_outputs=u, create_graph=True, allow_unused=True)
    pairs = [(g, t) for g, t in zip(gs, tangents) if g is not None]
    from .ops.reduce import sum as _sum
    total = None
    for g, t in pairs:
        term = _sum(g * t)
        total = term if total is None else total + term
    (jv,) = grad(total, u)
    return y.detach(), jv


def hvp(fn, inputs, v):
    """Hessian-vector product of a scalar function: returns ``(fn(x), H @ v)``."""
    x = inputs.detach().requires_grad_()
    y = fn(x)
    (g,) = grad(y, x, create_graph=True)
    from .ops.reduce import sum as _sum
    (hv,) = grad(_sum(g * v), x)
    return y.detach(), hv
