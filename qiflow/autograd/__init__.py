"""``qiflow.autograd``: PyTorch's autograd front door — ``grad``, ``backward``,
user-defined differentiable functions (``Function``), ``functional`` (jacobian,
hessian, vjp, jvp, vhp, hvp), the grad modes and anomaly detection.

>>> x = qf.tensor([1.0, 2.0], requires_grad=True)
>>> qf.autograd.grad((x * x).sum(), x)[0].tolist()
[2.0, 4.0]
"""
from ..autodiff import (grad, backward, no_grad, enable_grad, set_grad_enabled, inference_mode,
                        is_grad_enabled, is_inference_mode_enabled)
from ..anomaly import detect_anomaly, set_detect_anomaly, is_anomaly_enabled
from ..gradcheck import gradcheck, gradgradcheck
from ..tensor import Tensor
from .function import Function, FunctionCtx, once_differentiable
from . import function
from . import functional


def Variable(data, requires_grad=False, volatile=False):
    """Old PyTorch's ``Variable(t)``: today simply a tensor (sharing ``t``'s data).

    >>> qf.autograd.Variable(qf.ones(2), requires_grad=True).requires_grad
    True
    """
    if volatile:
        raise TypeError("Variable: volatile=True was removed from PyTorch; use qf.no_grad() instead")
    t = data.detach() if isinstance(data, Tensor) else Tensor(data)
    return t.requires_grad_(requires_grad) if requires_grad else t


__all__ = ["grad", "backward", "Function", "FunctionCtx", "functional", "no_grad", "enable_grad",
           "set_grad_enabled", "inference_mode", "is_grad_enabled", "is_inference_mode_enabled",
           "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "gradcheck", "gradgradcheck",
           "Variable", "once_differentiable", "function"]
