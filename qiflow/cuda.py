"""``qf.cuda``: PyTorch's CUDA namespace, answering truthfully that there is no GPU.

qiflow computes on the CPU with NumPy, so ``is_available()`` is False and
``device_count()`` is 0; the usual ``device = 'cuda' if qf.cuda.is_available()
else 'cpu'`` picks the CPU.  Seeding is silently ignored (as PyTorch does
without CUDA); anything that needs a GPU raises an error saying so.

>>> qf.cuda.is_available(), qf.cuda.device_count()
(False, 0)
"""
_MISSING = ("qiflow has no CUDA backend yet: it computes on the CPU only, with NumPy "
            "(qf.cuda.is_available() is False)")


def is_available():
    """False: qiflow has no GPU backend."""
    return False


def device_count():
    """0: qiflow sees no GPU."""
    return 0


def is_initialized():
    return False


def manual_seed(seed):
    """Ignored, as in PyTorch when CUDA is not available (seed the CPU with qf.manual_seed)."""


def manual_seed_all(seed):
    """Ignored, as in PyTorch when CUDA is not available."""


def empty_cache():
    """Nothing to free (no GPU memory)."""


def _unavailable(what):
    def f(*args, **kwargs):
        raise RuntimeError(f"qf.cuda.{what}: {_MISSING}")
    f.__name__ = what
    f.__doc__ = f"Always an error: {_MISSING}."
    return f


current_device = _unavailable("current_device")
set_device = _unavailable("set_device")
synchronize = _unavailable("synchronize")
get_device_name = _unavailable("get_device_name")
get_device_properties = _unavailable("get_device_properties")
memory_allocated = _unavailable("memory_allocated")
max_memory_allocated = _unavailable("max_memory_allocated")
