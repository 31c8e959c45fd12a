"""The array namespace, the devices and the dtype policy.

Every array qiflow computes with is a NumPy ``ndarray``; ``xp`` names the
namespace so that a CuPy backend can be dropped in later without touching the
operators.  The default float (like Theano's ``floatX``) is float32 and can be
changed with :func:`set_default_dtype`.

Devices are spelled as in PyTorch (``qf.device('cpu')``, ``'cpu:0'``); the
only one qiflow computes on is the CPU, and asking for any other (``'cuda'``)
raises an error that says so (:func:`check_device`).

>>> import qiflow as qf
>>> qf.get_default_dtype(), qf.device('cpu:0')
(dtype('float32'), device(type='cpu', index=0))
"""
import numpy as np

xp = np

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")

_BF16_MISSING = ("bfloat16 needs the optional package ml_dtypes (pip install ml_dtypes), which NumPy "
                 "uses for that dtype; it is not installed")


def bfloat16_dtype():
    """NumPy's bfloat16 dtype from ``ml_dtypes``; an AttributeError naming the package if absent."""
    try:
        import ml_dtypes
    except ImportError:
        raise AttributeError("qf.bfloat16: " + _BF16_MISSING) from None
    return np.dtype(ml_dtypes.bfloat16)


def is_floating(dtype):
    """True for float16/32/64 and bfloat16 (PyTorch's ``is_floating_point``)."""
    d = np.dtype(dtype)
    return d.kind == "f" or d.name == "bfloat16"


def finfo(dtype=None):
    """Machine limits of a float dtype (PyTorch's ``torch.finfo``: ``eps``, ``max``, ``min``,
    ``tiny``, ``resolution``, ``bits``); the default float when no dtype is given.

    >>> float(qf.finfo(qf.float32).eps)
    1.1920928955078125e-07
    """
    d = _default_float if dtype is None else as_dtype(dtype)
    if d.name == "bfloat16":
        import ml_dtypes
        return ml_dtypes.finfo(d)
    if d.kind != "f":
        raise TypeError(f"finfo: {d} is not a floating dtype (use qf.iinfo for integers)")
    return np.finfo(d)


def iinfo(dtype):
    """Limits of an integer dtype (PyTorch's ``torch.iinfo``: ``max``, ``min``, ``bits``)."""
    d = as_dtype(dtype)
    if d.kind not in "iub":
        raise TypeError(f"iinfo: {d} is not an integer dtype (use qf.finfo for floats)")
    return np.iinfo(np.uint8 if d.kind == "b" else d)


# ------------------------------------------------------------------- devices
#: the device types PyTorch names; qiflow computes on "cpu" only
DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "xla", "hpu", "mtia", "ipu", "lazy",
                "vulkan", "privateuseone")


class device:
    """Where a tensor lives, spelled as in PyTorch: ``device('cpu')``, ``device('cpu:0')``,
    ``device('cpu', 0)``.  Any type PyTorch knows can be named (so that
    ``device('cuda' if qf.cuda.is_available() else 'cpu')`` runs), but only the
    CPU can hold tensors: using another raises (see :func:`check_device`).

    >>> qf.device('cpu'), str(qf.device('cpu', 0)), qf.device('cpu').type == 'cpu'
    (device(type='cpu'), 'cpu:0', True)
    """
    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            if index is not None:
                raise TypeError(f"device: an index cannot be given with a device ({type!r})")
            index = type.index
            type = type.type
        elif isinstance(type, (int, np.integer)) and not isinstance(type, bool):
            type, index = "cuda", int(type)    # PyTorch: a bare ordinal means the accelerator
        elif isinstance(type, str):
            name, sep, idx = type.strip().partition(":")
            if sep:
                if index is not None:
                    raise RuntimeError(f"device: type {type!r} already has an index; got index={index!r} too")
                if not idx.isdigit():
                    raise RuntimeError(f"device: invalid device string {type!r} (expected 'TYPE' or "
                                       "'TYPE:INDEX', e.g. 'cpu' or 'cpu:0')")
                index = int(idx)
            type = name
        else:
            raise TypeError(f"device: expected a string, an int or a device, got {type.__class__.__name__}")
        if type not in DEVICE_TYPES:
            raise RuntimeError(f"device: unknown device type {type!r}; expected one of "
                               f"{', '.join(DEVICE_TYPES)}")
        if index is not None:
            if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or index < 0:
                raise RuntimeError(f"device: the index must be a non-negative int, got {index!r}")
            index = int(index)
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "index", index)

    def __setattr__(self, name, value):
        raise AttributeError("device objects are immutable")

    def __eq__(self, other):
        # as in PyTorch: a device never equals a string, and device('cpu') != device('cpu', 0)
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type={self.type!r})"
        return f"device(type={self.type!r}, index={self.index})"

    def __reduce__(self):
        return (device, (self.type, self.index))


CPU = device("cpu")


def check_device(dev, what):
    """Normalise ``dev`` (None, a string, an int or a device) and make sure qiflow can
    compute there; returns the device (None stays None).

    Any other type than "cpu" (``'cuda'``, ``'mps'``) raises a RuntimeError naming ``what``
    and saying that qiflow computes on the CPU only.

    >>> check_device('cpu:0', 'qf.zeros')
    device(type='cpu', index=0)
    """
    if dev is None:
        return None
    d = dev if isinstance(dev, device) else device(dev)
    if d.type != "cpu":
        extra = (" (qf.cuda.is_available() is False: qiflow has no CUDA backend yet; the usual "
                 "`device = 'cuda' if qf.cuda.is_available() else 'cpu'` picks the CPU)"
                 if d.type == "cuda" else "")
        raise RuntimeError(f"{what}: device {str(d)!r} is not available: qiflow computes on the CPU "
                           f"only, with NumPy{extra}")
    return d

_default_float = float32


def get_default_dtype():
    """The float dtype that Python floats and new float tensors get."""
    return _default_float


def set_default_dtype(dtype):
    """Set the default float dtype (float32 or float64).

    >>> qf.set_default_dtype("float64"); qf.tensor(1.0).dtype
    dtype('float64')
    """
    global _default_float
    d = np.dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {d}")
    _default_float = d


def as_dtype(dtype):
    """Normalise a dtype given as a string, NumPy type or dtype; None stays None."""
    if dtype is None:
        return None
    if isinstance(dtype, str) and dtype == "bfloat16":
        try:
            return bfloat16_dtype()
        except AttributeError as exc:
            raise TypeError(str(exc)) from None
    try:
        return np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"unknown dtype {dtype!r}") from exc


def is_float(dtype):
    return np.dtype(dtype).kind == "f"


def to_array(data, dtype=None):
    """Convert data to an ndarray with qiflow's rules.

    Python floats (and lists of them) become the default float, Python ints
    int64, bools bool; NumPy arrays keep their dtype unless ``dtype`` is given.
    """
    dtype = as_dtype(dtype)
    if isinstance(data, np.ndarray):
        return data.astype(dtype, copy=False) if dtype is not None else data
    arr = np.asarray(data)
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype.kind == "f" and not isinstance(data, np.generic):
        arr = arr.astype(_default_float, copy=False)
    elif arr.dtype.kind == "O":
        raise TypeError(f"cannot make an array from {type(data).__name__}: {data!r:.80}")
    return arr


def get_default_device():
    """The device new tensors go to: always the CPU."""
    return CPU


def set_default_device(dev):
    """Accepts the CPU (or None); any other device raises, as qiflow computes on the CPU only."""
    check_device(dev, "set_default_device")
