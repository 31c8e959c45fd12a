"""Adam and AdamW (decoupled weight decay), with optional AMSGrad.

>>> w = qf.nn.Parameter(qf.ones(2)); opt = qf.optim.Adam([w], lr=0.1)
>>> (w * w).sum().backward(); opt.step(); [round(v, 4) for v in w.tolist()]
[0.9, 0.9]
"""
import math

import numpy as np

from .._state import QiflowError
from .optimizer import Optimizer


class Adam(Optimizer):
    """PyTorch's Adam, step for step (``weight_decay`` adds ``wd * p`` to the gradient)."""

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, maximize=False):
        name = type(self).__name__
        if lr < 0.0 or eps < 0.0 or weight_decay < 0.0:
            raise QiflowError(f"{name}: lr {lr}, eps {eps} and weight_decay {weight_decay} must be >= 0")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise QiflowError(f"{name}: betas must be in [0, 1), got {betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _update(self, p, g, state, group):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        step = state["step"]
        if self._decoupled:
            p *= 1 - lr * wd
            d = self._decayed(p, g, 0.0, group["maximize"])
        else:
            d = self._decayed(p, g, wd, group["maximize"])
        m, v, s = state["exp_avg"], state["exp_avg_sq"], self._buf(p, 0)
        np.subtract(d, m, out=s)          # m.lerp_(d, 1 - b1)
        s *= 1 - b1
        m += s
        v *= b2                           # v = b2 v + (1 - b2) d^2
        np.multiply(d, d, out=s)
        s *= 1 - b2
        v += s
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        step_size = lr / (1 - b1 ** step)
        np.sqrt(v, out=s)
        s /= math.sqrt(1 - b2 ** step)
        s += eps
        np.divide(m, s, out=s)
        s *= -step_size
        p += s


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
