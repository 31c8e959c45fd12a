"""The backward engine: one iterative reverse sweep shared by every front door.

``backward`` accumulates into leaves' ``.grad``; ``grad`` returns gradients of
any tensors (leaf or not).  Gradients of broadcast inputs are summed back to
the input's shape here, and only here.  Without ``create_graph`` the vjps run
on plain ndarrays (the ``ops.base.RawValues`` interpreter) for speed; with it they run
on Tensors, so the backward pass is itself recorded and differentiable.  The
symbolic ``sym.grad`` drives the same sweep with symbolic variables.

>>> x = qf.tensor(3.0, requires_grad=True)
>>> (g,) = qf.grad(x ** 3, x, create_graph=True)
>>> qf.grad(g, x)[0].item()   # d2/dx2 x**3 = 6x
18.0
"""
import contextlib

import numpy as np

from . import _state
from .ops import base as _base
from .ops.base import Symbolic
from .ops.movement import _sum_to_shape, sum_to_like
from .ops.elementwise import cast


def run_hooks(t, g, wrap):
    """Run t's gradient hooks on g (``wrap`` makes the value a user sees); returns g."""
    for h in list(t._hooks):
        if getattr(h, "post_accumulate", False):
            continue
        r = h(wrap(g))
        if r is not None:
            g = r
    return g


def run_post_hooks(t):
    """Run the hooks registered with ``register_post_accumulate_grad_hook``."""
    for h in list(t._hooks or ()):
        if getattr(h, "post_accumulate", False):
            h.fn(t)


class _GradMode:
    """A grad-mode switch usable as ``with m():``, ``@m()`` and (like PyTorch) bare ``@m``.

    Each use as a decorator enters a fresh copy, so recursion and threads of
    calls each restore the mode they found.
    """
    _mode = False

    def __new__(cls, *args, **kwargs):
        if cls._bare_ok and len(args) == 1 and not kwargs and callable(args[0]) \
                and not isinstance(args[0], type):
            return cls()(args[0])          # used as @no_grad without parentheses
        return super().__new__(cls)

    _bare_ok = True

    def _clone(self):
        return type(self)()

    def __enter__(self):
        self.prev = _state.grad_enabled
        _state.grad_enabled = self._mode
        return None

    def __exit__(self, *exc):
        _state.grad_enabled = self.prev
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._clone():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Record nothing inside (context manager or decorator, with or without parentheses).

    >>> with qf.no_grad():
    ...     y = qf.tensor(1.0, requires_grad=True) * 2
    >>> y.requires_grad
    False
    """
    _mode = False


class enable_grad(_GradMode):
    """Re-enable recording inside a ``no_grad`` block (context manager or decorator)."""
    _mode = True


class inference_mode(_GradMode):
    """PyTorch's ``inference_mode(mode=True)``: like ``no_grad`` (nothing is recorded);
    ``inference_mode(False)`` changes nothing.  Context manager or decorator.

    qiflow has no separate "inference tensors": tensors made inside are ordinary
    tensors that do not require grad, so code PyTorch accepts runs the same, and
    the few uses PyTorch forbids (an inference tensor saved for a later backward)
    simply work here.

    >>> @qf.inference_mode()
    ... def predict(x): return x * 2
    >>> predict(qf.tensor(1.0, requires_grad=True)).requires_grad
    False
    """

    def __init__(self, mode=True):
        if not isinstance(mode, bool):
            raise TypeError(f"inference_mode: mode must be a bool, got {type(mode).__name__}")
        self.mode = mode
        self._mode = False

    def _clone(self):
        return type(self)(self.mode)

    def __enter__(self):
        self.prev = _state.grad_enabled
        self.prev_inference = _state.inference
        if self.mode:
            _state.grad_enabled = False
            _state.inference = True

    def __exit__(self, *exc):
        _state.grad_enabled = self.prev
        _state.inference = self.prev_inference
        return False


def is_inference_mode_enabled():
    """True inside ``inference_mode()``."""
    return _state.inference


class set_grad_enabled(_GradMode):
    """Set grad mode to ``mode``: at once when called (``qf.set_grad_enabled(False)`` switches
    recording off, as in PyTorch), and back to the previous mode at the end of a
    ``with`` block or of a decorated call.

    >>> with qf.set_grad_enabled(False):
    ...     qf.is_grad_enabled()
    False
    """
    _bare_ok = False

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled: mode must be a bool, got {type(mode).__name__}")
        self.prev = _state.grad_enabled
        self.mode = mode
        _state.grad_enabled = mode

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        _state.grad_enabled = self.prev
        return False

    def __call__(self, fn):
        _state.grad_enabled = self.prev        # as a decorator it acts only during the calls
        import functools
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


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


_RAW = _base.RAW


def _sweep(roots, root_grads, retain_graph, create_graph, targets=None):
    """The reverse sweep.  With ``targets`` (a list of nodes) returns their
    gradients; otherwise accumulates into the leaves' ``.grad``.

    One loop for both value strategies: without ``create_graph`` the vjps get
    ndarrays (``RawValues``) and gradients are ndarrays; with it they get the
    nodes themselves (Tensors or symbolic Variables), grad mode is on, and the
    backward pass is recorded.  Every path checks the versions of what a node
    saved; broadcasting is undone and gradients accumulated here only.
    """
    T = _base.Tensor
    nd = np.ndarray
    order = _toposort(roots)
    raw = not create_graph
    want = targets is not None
    needed = results = tids = None
    if want:
        tids = set(targets)
        needed = set()
        for node in order:
            if node in tids or (node._inputs is not None and any(i in needed for i in node._inputs
                                                                 if getattr(i, "requires_grad", False))):
                needed.add(node)
        results = {}
    grads = {}                     # keyed by the node itself: hashing it is cheaper than id()
    for r, g in zip(roots, root_grads):
        grads[r] = g if r not in grads else grads[r] + g
    # ids of arrays this sweep must not hand to a leaf without a copy (see above): the
    # caller's gradients, and every array already stored in a leaf's .grad
    shared = set(map(id, root_grads))
    # ids of sums this sweep made itself and nobody else holds: later
    # contributions are added into them in place (a weight used at every
    # step of an RNN gets one buffer, not one new array per use)
    owned = set()
    pop, get = grads.pop, grads.get
    ctx = _base.VjpContext(create_graph=create_graph)
    all_needed = _base._ALL_TRUE
    hooked = bool(_base._stack) and any(i.intercepts_vjp for i in _base._stack)
    st = _state
    prev = st.grad_enabled
    st.grad_enabled = bool(create_graph)
    if raw:          # base.push(RAW), inlined (once per backward)
        _RAW.parent = _base._top if _base._top is not None else _base.EAGER
        _base._stack.append(_RAW)
        _base._top = _RAW
    free = not retain_graph        # each node's graph is let go as soon as its vjp has run
    try:
        for node in reversed(order):
            g = pop(node, None)
            if g is None:
                if free and node._op is not None and isinstance(node, T):
                    node._inputs = node._saved = None
                continue
            if owned:
                owned.discard(id(g))       # from here on g may be shared (vjps pass it on)
            if node._hooks:
                g = _user_hooks(node, g, raw)
            if want and node in tids:
                results[node] = g
            op = node._op
            if op is None:
                if not want:
                    if raw:    # the leaf's .grad must own its array (see _own)
                        if g.__class__ is not nd:
                            g = np.asarray(g)
                        if node._grad is None:
                            if g.base is not None or id(g) in shared or not g.flags.writeable:
                                g = np.array(g)
                            shared.add(id(g))
                            node._grad = _plain(T, g)
                        else:
                            node._grad = _plain(T, node._grad._data + g)
                    else:
                        node._grad = g if node._grad is None else node._grad + g
                    if node._hooks:
                        with _base.suspended():
                            run_post_hooks(node)
                continue
            if node._retain and not want:
                gu = T._wrap(g) if raw else g
                node._grad = gu if node._grad is None else node._grad + gu
            inputs = node._inputs
            if inputs is None:
                _freed_error(op)
            needs = None
            if raw:
                now = node._vc[0]
                arrays = []
                for i in inputs:
                    if isinstance(i, T):
                        now += i._vc[0]
                        arrays.append(i._data)
                        if not i.requires_grad:
                            needs = True
                    else:
                        arrays.append(i)
                        needs = True
                if now != node._vsum:
                    _modified_error(node, inputs)
                # which gradients are wanted; the all-True tuple costs nothing to make
                ctx.needs_input_grad = tuple([isinstance(i, T) and i.requires_grad for i in inputs]) \
                    if needs else all_needed[len(inputs)]
                ctx.saved = node._saved if op.saves else None
                if hooked:
                    gin = _base.current().vjp(op, ctx, arrays, node._data, g)
                else:
                    gin = op.vjp(ctx, arrays, node._data, g)
                if free:
                    node._inputs = node._saved = None
                # the broadcast sum-back of ndarray gradients; this loop runs once per graph
                # edge (``needs`` is None when every input is a tensor that requires grad)
                for inp, gi in zip(inputs, gin):
                    if gi is None or needs and not getattr(inp, "requires_grad", False):
                        continue
                    if needed is not None and inp not in needed:
                        continue
                    if gi.__class__ is not nd:
                        gi = np.asarray(gi)
                    d = inp._data
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
            else:
                if isinstance(node, T):
                    now = node._vc[0]
                    for i in inputs:
                        if isinstance(i, T):
                            now += i._vc[0]
                    if now != node._vsum:
                        _modified_error(node, inputs)
                ctx.needs_input_grad = _needs(inputs)
                ctx.saved = None
                if hooked:
                    gin = _base.current().vjp(op, ctx, inputs, node, g)
                else:
                    gin = op.vjp(ctx, inputs, node, g)
                if free and isinstance(node, T):
                    node._inputs = node._saved = None
                # the broadcast sum-back of graph-valued gradients
                for inp, gi in zip(inputs, gin):
                    if gi is None or not getattr(inp, "requires_grad", False):
                        continue
                    if needed is not None and inp not in needed:
                        continue
                    gi = _unbroadcast(gi, inp)
                    old = get(inp)
                    grads[inp] = gi if old is None else old + gi
    finally:
        if raw:
            _base.pop(_RAW)
        st.grad_enabled = prev
    if want:
        return [results.get(t) for t in targets]
    return None


def _plain(T, array):
    """A new tensor of array (a leaf's .grad); no interpreter is told (none traces a raw sweep)."""
    t = T.__new__(T)
    t._data = array
    t._grad = t._op = t._inputs = t._hooks = t.name = None
    t._vc = _base.FRESH
    t._retain = t.requires_grad = False
    return t


def _unbroadcast(g, inp):
    """Graph-valued gradient g summed back to inp's shape and cast to its dtype."""
    shape = _static_shape(inp)
    gshape = _static_shape(g)
    if gshape != shape or None in shape:
        g = sum_to_like(g, inp)
    if g.dtype != inp.dtype:
        g = cast(g, inp.dtype)
    return g


def _user_hooks(node, g, raw):
    """Run node's gradient hooks as user code (plain eager, no interpreter)."""
    T = _base.Tensor
    with _base.suspended():
        if raw:
            g = run_hooks(node, g, T._wrap)
            return g._data if isinstance(g, T) else g
        return run_hooks(node, g, lambda v: v)


# A leaf's .grad must own its array: vjps pass gradients through (add gives
# both inputs the same g) and views alias other arrays, and a user may later
# modify one leaf's grad in place (zero_grad, clipping); so a gradient that is
# a view, the caller's, already stored, or read-only is copied first.


def _freed_error(op):
    raise RuntimeError(
        f"backward through {op.name} a second time: its graph was freed by the first "
        "backward; pass retain_graph=True to the first call if you need to go again")


def _needs(inputs):
    return tuple(bool(getattr(i, "requires_grad", False)) for i in inputs)


def _modified_error(node, inputs):
    shapes = ", ".join(str(tuple(i.shape)) for i in inputs if isinstance(i, _base.Tensor))
    raise RuntimeError(
        f"{node._op.name}: a tensor it saved for backward (inputs of shape {shapes}, or its "
        "output) was modified in place after it was used; compute the backward before "
        "modifying it, or modify a copy")


def _root_grads(outputs, grad_outputs, create_graph, what):
    out = []
    for i, (y, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(y, _base.Tensor):
            raise TypeError(f"{what}: output {i} is a {type(y).__name__}, not a Tensor")
        if not y.requires_grad:
            raise RuntimeError(f"{what}: output {i} does not require grad and has no graph "
                               "(was it computed under no_grad, or from tensors without requires_grad?)")
        if g is None:
            if y._data.size != 1:
                raise RuntimeError(f"{what}: output {i} has shape {y.shape}; a gradient can be implied "
                                   "only for a single-element output: pass grad (e.g. qf.ones_like(y))")
            g = np.ones(y._data.shape, y._data.dtype)
        else:
            g = g._data if isinstance(g, _base.Tensor) and not create_graph else g
            g = np.asarray(g, dtype=y.dtype) if not isinstance(g, _base.Tensor) else g
            if tuple(g.shape) != y.shape:
                raise RuntimeError(f"{what}: grad of shape {tuple(g.shape)} does not match output "
                                   f"{i} of shape {y.shape}")
        if create_graph and not isinstance(g, _base.Tensor):
            g = _base.Tensor._wrap(g)
        out.append(g)
    return out


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None,
             inputs=None):
    """Accumulate gradients of ``tensors`` into the leaves' ``.grad`` (PyTorch's
    ``torch.autograd.backward``); with ``inputs``, into those tensors' ``.grad`` only.

    >>> x = qf.tensor([1.0, 2.0], requires_grad=True); y = qf.tensor(3.0, requires_grad=True)
    >>> qf.autograd.backward([(x * y).sum()], inputs=[x]); x.grad.tolist(), y.grad
    ([3.0, 3.0], None)
    """
    if grad_variables is not None:
        if grad_tensors is not None:
            raise TypeError("backward: grad_variables is the old name of grad_tensors; pass one of them")
        grad_tensors = grad_variables
    tensors = list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif isinstance(grad_tensors, (_base.Tensor, np.ndarray)):
        grad_tensors = [grad_tensors]
    grad_tensors = list(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"backward: got {len(grad_tensors)} gradients for {len(tensors)} tensors")
    if retain_graph is None:
        retain_graph = create_graph
    roots = _root_grads(tensors, grad_tensors, create_graph, "backward")
    if inputs is None:
        _sweep(tensors, roots, retain_graph or create_graph, create_graph)
        return
    inputs = [inputs] if isinstance(inputs, _base.Tensor) else list(inputs)
    if not inputs:
        raise RuntimeError("backward: inputs= was given but is empty")
    for i, x in enumerate(inputs):
        if not isinstance(x, _base.Tensor) or not x.requires_grad:
            raise RuntimeError(f"backward: inputs[{i}] does not require grad")
    res = _sweep(tensors, roots, retain_graph or create_graph, create_graph, targets=inputs)
    for x, g in zip(inputs, res):
        if g is None:
            continue
        if not isinstance(g, _base.Tensor):
            g = _base.Tensor._wrap(np.array(g, dtype=x.dtype))   # owned: a user may change .grad in place
        x._grad = g if x._grad is None else x._grad + g


def _tensor_backward(y, grad, retain_graph, create_graph):
    """``y.backward(...)``: a one-element output without ``create_graph`` (a loss)
    goes straight to the sweep; everything else through ``backward``."""
    if grad is None and not create_graph and y.requires_grad:
        d = y._data
        if d.size == 1:
            # np.array(1, dtype) costs a fifth of np.ones for the usual 0-d loss
            _sweep([y], [np.array(1, d.dtype) if not d.ndim else np.ones(d.shape, d.dtype)],
                   retain_graph, False)
            return
    backward([y], None if grad is None else [grad], retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs`` (a tuple, one per input), with
    ``torch.autograd.grad``'s signature.

    Works for non-leaf inputs too and leaves ``.grad`` untouched.  An input the
    outputs do not depend on is an error, or None with ``allow_unused=True``, or
    zeros with ``materialize_grads=True``.  ``only_inputs`` is accepted and
    ignored (as in PyTorch); ``is_grads_batched=True`` is not supported (an error).

    >>> x = qf.tensor([1.0, 2.0], requires_grad=True)
    >>> qf.grad((x * x).sum(), x)[0].tolist()
    [2.0, 4.0]
    """
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True is not supported by qiflow; loop over "
                                  "the batch of grad_outputs (or use qf.autograd.functional.jacobian)")
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError("grad: materialize_grads=True needs allow_unused=True (or not given)")
    single = isinstance(outputs, _base.Tensor)
    outputs = [outputs] if single else list(outputs)
    inputs = [inputs] if isinstance(inputs, _base.Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, _base.Tensor) or isinstance(grad_outputs, np.ndarray):
        grad_outputs = [grad_outputs]
    for i, x in enumerate(inputs):
        if not isinstance(x, _base.Tensor) or not x.requires_grad:
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
            if materialize_grads:
                z = _base.Tensor._wrap(np.zeros_like(x._data))
                out.append(z)
                continue
            out.append(None)
        else:
            out.append(_base.Tensor._wrap(np.asarray(g)) if not create_graph else g)
    return tuple(out)


def jvp(fn, inputs, tangents):
    """Forward-mode product J(fn)(inputs) @ tangents, built from two vjps.

    Returns ``(outputs, jvp)``.
    """
    single = isinstance(inputs, _base.Tensor)
    inputs = [inputs] if single else list(inputs)
    tangents = [tangents] if isinstance(tangents, _base.Tensor) else list(tangents)
    xs = [x.detach().requires_grad_() for x in inputs]
    y = fn(*xs)
    u = _base.Tensor._wrap(np.zeros_like(y._data), requires_grad=True)
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
