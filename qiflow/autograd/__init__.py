"""``qiflow.autograd``: PyTorch's autograd front door — ``grad``, ``backward`` and
user-defined differentiable functions (``Function``).

>>> x = qf.tensor([1.0, 2.0], requires_grad=True)
>>> qf.autograd.grad((x * x).sum(), x)[0].tolist()
[2.0, 4.0]
"""
from ..autodiff import grad, backward
from .function import Function, FunctionCtx

__all__ = ["grad", "backward", "Function", "FunctionCtx"]
