"""Which module made which tensor: the grouping behind ``draw(..., scopes=...)``.

Inside ``with qf.viz.module_scopes(model) as scopes:`` every sub-module's
``forward`` is wrapped; when it returns, the tensors it created (walking back
from its outputs to its inputs) are tagged with the module's path.  Inner
modules finish first, so each tensor gets the innermost module that made it.
Nothing in the core is touched and nothing is recorded outside the block.

>>> with qf.viz.module_scopes(net) as scopes:          # doctest: +SKIP
...     loss = loss_fn(net(x), y)
>>> qf.viz.draw(loss, scopes=scopes)                    # doctest: +SKIP
"""
import contextlib
import weakref

from ..tensor import Tensor


class Scopes:
    """id(tensor) -> module path, kept with a weak reference to guard against id reuse."""

    def __init__(self):
        self._map = {}
        self.titles = {}            # module path -> "fc1: Linear", the cluster's caption

    def path_of(self, t):
        hit = self._map.get(id(t))
        if hit is None or hit[0]() is not t:
            return ()
        return hit[1]

    def tag(self, t, path):
        self._map[id(t)] = (weakref.ref(t), path)

    def claim(self, outputs, path, stop):
        """Tag every untagged tensor between ``outputs`` and the ``stop`` ids."""
        stack = [o for o in _tensors(outputs)]
        seen = set()
        while stack:
            t = stack.pop()
            if id(t) in seen or id(t) in stop:
                continue
            seen.add(id(t))
            if not self.path_of(t):
                self.tag(t, path)
            for i in t._inputs or ():
                if isinstance(i, Tensor):
                    stack.append(i)

    def __len__(self):
        return sum(1 for r, _ in self._map.values() if r() is not None)


def _tensors(obj):
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)


def _named_modules(model):
    fn = getattr(model, "named_modules", None)
    if fn is None:
        raise TypeError(f"module_scopes: {type(model).__name__} has no named_modules(); pass a "
                        "qf.nn.Module")
    return list(fn())


@contextlib.contextmanager
def module_scopes(model, scopes=None):
    """Record, while the block runs, which sub-module of ``model`` made each tensor.

    Yields a :class:`Scopes` to pass to ``qf.viz.draw(..., scopes=scopes)``.
    Uses the modules' forward hooks when they have them (``qf.nn.Module``),
    else wraps ``forward`` on the instance for the duration of the block.
    """
    scopes = scopes if scopes is not None else Scopes()
    undo = []
    try:
        for name, mod in _named_modules(model):
            if name:
                path = tuple(name.split("."))
                scopes.titles[path] = f"{name}: {type(mod).__name__}"
                undo.append(_watch(mod, path, scopes))
        yield scopes
    finally:
        for fn in reversed(undo):
            fn()


def _watch(mod, path, scopes):
    if hasattr(mod, "register_forward_hook") and hasattr(mod, "register_forward_pre_hook"):
        pending = []

        def pre(m, args):
            pending.append({id(t) for t in _tensors(list(args))})

        def post(m, args, out):
            stop = pending.pop() if pending else set()
            scopes.claim(out, path, stop)

        handles = [mod.register_forward_pre_hook(pre), mod.register_forward_hook(post)]
        return lambda: [h.remove() for h in handles]
    orig = mod.forward
    had_own = "forward" in getattr(mod, "__dict__", {})

    def wrapped(*args, **kw):
        out = orig(*args, **kw)
        scopes.claim(out, path, {id(t) for t in _tensors(list(args) + list(kw.values()))})
        return out

    object.__setattr__(mod, "forward", wrapped)

    def restore():
        if had_own:
            object.__setattr__(mod, "forward", orig)
        else:
            object.__delattr__(mod, "forward")
    return restore
