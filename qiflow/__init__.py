"""qiflow: a deep-learning framework you can read, on NumPy.

Two front doors onto one set of operators: eager tensors (``qf.tensor``,
``backward``) and the symbolic compiler (``from qiflow import sym as T``).

>>> import qiflow as qf
>>> x = qf.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x ** 2).sum().backward(); x.grad.tolist()
[2.0, 4.0, 6.0]
"""
from .cli.signals import guard_startup as _guard_startup
_guard_startup()      # only for the `qiflow` command: Ctrl-C while NumPy loads exits quietly
import importlib  # noqa: E402

from ._state import QiflowError
from .backend import (float16, float32, float64, int8, int16, int32, int64, uint8, bool_,
                      get_default_dtype, set_default_dtype, device, finfo, iinfo,
                      get_default_device, set_default_device)
# PyTorch's dtype names (NumPy dtypes underneath; qf.float is float32 as in PyTorch, not NumPy's float64)
from .backend import (float32 as float, float64 as double, float16 as half, int64 as long,  # noqa: E402
                      int32 as int, int16 as short, bool_ as bool)
from .random import manual_seed, seed, initial_seed, Generator, get_rng_state, set_rng_state
from .tensor import Tensor, tensor, as_tensor
from .ops.base import Op, apply
from .ops.elementwise import (
    negative, power, mod, exp, log, log1p, expm1, sqrt, square, abs, absolute, sign, sin, cos, tanh,
    sigmoid, softplus, erf, relu, hardtanh, leaky_relu, elu, gelu, floor,
    ceil, round, logical_and, logical_or, logical_xor, logical_not, isnan, isfinite, isinf, cast)
from .ops.movement import (reshape, expand_dims, broadcast_to, expand, flatten, ravel)
from .ops.indexing import getitem, take_along_axis
from .ops.linalg import outer, inner
from .functional import stop_gradient
# the eager dialect: PyTorch's meanings where PyTorch and NumPy differ (qiflow/torchfn)
from .torchfn import (
    return_types, sum, nansum, mean, prod, max, min, amax, amin, argmax, argmin, var, std, var_mean,
    std_mean, any, all, count_nonzero, norm, cumsum, logsumexp, softmax, log_softmax,
    transpose, swapaxes, swapdims, t, permute, movedim, split, tensor_split, chunk, unbind, cat,
    concat, concatenate, stack, hstack, vstack, flip, repeat_interleave, squeeze, unsqueeze, tril,
    triu, narrow, roll, diag, diagonal, meshgrid, nonzero, argwhere, unique, masked_select,
    gather, take_along_dim, scatter, scatter_add, index_select, index_add, masked_fill,
    argsort, sort, topk, kthvalue, median, add, sub, subtract, mul, multiply, div, divide,
    true_divide, pow,
    floor_divide, remainder, fmod, clamp, clip, eq, ne, lt, le, gt, ge, not_equal, less, less_equal,
    greater, greater_equal, equal, isclose, allclose, mm, bmm, mv, matmul, dot, multinomial,
    bernoulli, maximum, minimum, where)
from .tensor_methods import Size
from .creation import (zeros, ones, empty, full, arange, linspace, eye, zeros_like, ones_like,
                       full_like, empty_like, rand, randn, randint, normal, uniform, randperm,
                       rand_like, randn_like, randint_like, from_numpy, numel, is_tensor)
from .autodiff import (no_grad, enable_grad, set_grad_enabled, is_grad_enabled, inference_mode,
                       is_inference_mode_enabled, grad, jvp, hvp)
from .gradcheck import gradcheck, gradgradcheck, numerical_grad, GradcheckError
from . import functional

__version__ = "0.1.0"
clone = Tensor.clone          # qf.clone(x), as torch.clone
# (torch.trace(x) is x.trace() here: qiflow.trace is the tracing compiler's package)


def is_floating_point(x):
    """True when the tensor's dtype is a floating one (PyTorch's ``torch.is_floating_point``)."""
    return x.is_floating_point()

# Sub-packages and late-bound names load on first use, keeping `import qiflow` light.
_lazy = {
    "nn": "qiflow.nn", "optim": "qiflow.optim", "data": "qiflow.data",
    "datasets": "qiflow.datasets", "sym": "qiflow.sym", "viz": "qiflow.viz",
    "ops": "qiflow.ops", "losses": "qiflow.losses", "autograd": "qiflow.autograd", "profiler": "qiflow.profiler",
    "cuda": "qiflow.cuda", "utils": "qiflow.utils", "backends": "qiflow.backends",
    "accelerator": "qiflow.accelerator", "serialization": "qiflow.serialization",
    "train": "qiflow.train", "models": "qiflow.models", "io": "qiflow.io", "autodiff": "qiflow.autodiff", "backend": "qiflow.backend",
}
_lazy_attrs = {
    "save": ("qiflow.io", "save"), "Trainer": ("qiflow.train", "Trainer"), "fit": ("qiflow.train", "fit"), "load": ("qiflow.io", "load"),
    "compile": ("qiflow.trace", "compile"), "jit": ("qiflow.trace", "jit"),
    "detect_anomaly": ("qiflow.anomaly", "detect_anomaly"),
    "set_detect_anomaly": ("qiflow.anomaly", "set_detect_anomaly"),
    "is_anomaly_enabled": ("qiflow.anomaly", "is_anomaly_enabled"),
    "AnomalyError": ("qiflow.anomaly", "AnomalyError"),
    "profile": ("qiflow.profiler", "profile"),
    "pad": ("qiflow.ops.join", "pad"),
    "repeat": ("qiflow.ops.join", "repeat"), "tile": ("qiflow.ops.join", "tile"),
    "einsum": ("qiflow.ops.linalg", "einsum"),
}


def __getattr__(name):
    if name == "bfloat16":      # through the optional ml_dtypes: an AttributeError naming it if absent
        from .backend import bfloat16_dtype
        return bfloat16_dtype()
    if name in _lazy:
        return importlib.import_module(_lazy[name])
    if name in _lazy_attrs:
        mod, attr = _lazy_attrs[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'qiflow' has no attribute {name!r}")
