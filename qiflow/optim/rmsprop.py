"""RMSprop (optionally centred, with momentum), PyTorch's variant step for step.

>>> w = qf.nn.Parameter(qf.ones(1)); opt = qf.optim.RMSprop([w], lr=0.01)
>>> (w * w).sum().backward(); opt.step(); round(w.item(), 4)
0.9
"""
import numpy as np

from .._state import QiflowError
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """sq = alpha sq + (1 - alpha) g^2;  p -= lr * g / (sqrt(sq [- mean(g)^2]) + eps)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, maximize=False):
        if lr < 0.0 or eps < 0.0 or momentum < 0.0 or weight_decay < 0.0 or not 0.0 <= alpha:
            raise QiflowError(f"RMSprop: invalid hyperparameters lr={lr}, alpha={alpha}, eps={eps}, "
                              f"momentum={momentum}, weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _update(self, p, g, state, group):
        lr, alpha, eps, mom = group["lr"], group["alpha"], group["eps"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p)
            if mom > 0:
                state["momentum_buffer"] = np.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p)
        state["step"] += 1
        d = self._decayed(p, g, group["weight_decay"], group["maximize"])
        sq, s = state["square_avg"], self._buf(p, 0)
        sq *= alpha
        np.multiply(d, d, out=s)
        s *= 1 - alpha
        sq += s
        if group["centered"]:
            ga = state["grad_avg"]
            np.subtract(d, ga, out=s)
            s *= 1 - alpha
            ga += s
            np.multiply(ga, ga, out=s)
            np.subtract(sq, s, out=s)
            np.sqrt(s, out=s)
        else:
            np.sqrt(sq, out=s)
        s += eps
        np.divide(d, s, out=s)
        if mom > 0:
            buf = state["momentum_buffer"]
            buf *= mom
            buf += s
            np.multiply(buf, -lr, out=s)
        else:
            s *= -lr
        p += s
