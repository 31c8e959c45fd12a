"""PyTorch's ``torch.serialization`` allowlist: the classes ``qf.load`` may rebuild when a
file holds a whole module (``qf.save(model, f)``).

Nothing is imported to rebuild an object: a class saved by name is looked up among the
classes allowed here (or qiflow's own ``nn`` modules, always allowed), so loading a file
cannot run code that the program did not already hold.

>>> class Net(qf.nn.Module):
...     def __init__(self):
...         super().__init__(); self.fc = qf.nn.Linear(2, 1)
>>> import io
>>> buf = io.BytesIO(); qf.save(Net(), buf); _ = buf.seek(0)
>>> with qf.serialization.safe_globals([Net]):
...     type(qf.load(buf)).__name__
'Net'
"""
import contextlib

_allowed = {}


def _name(obj):
    return f"{obj.__module__}.{obj.__qualname__}"


def add_safe_globals(safe_globals):
    """Allow these classes (or functions) to be rebuilt by ``qf.load``, from now on."""
    for g in safe_globals:
        if isinstance(g, tuple):            # PyTorch's (object, "name") form
            g, name = g
            _allowed[name] = g
        else:
            _allowed[_name(g)] = g


def get_safe_globals():
    """The allowed objects, as a list."""
    return list(_allowed.values())


def clear_safe_globals():
    """Forget every allowed object."""
    _allowed.clear()


@contextlib.contextmanager
def safe_globals(safe_globals):
    """Allow these objects inside a ``with`` block only."""
    saved = dict(_allowed)
    add_safe_globals(safe_globals)
    try:
        yield
    finally:
        _allowed.clear()
        _allowed.update(saved)


def lookup(name):
    """The allowed object saved under ``name``, or None."""
    return _allowed.get(name)
