"""Adam and AdamW (decoupled weight decay), with optional AMSGrad.

>>> w = qf.nn.Parameter(qf.ones(2)); opt = qf.optim.Adam([w], lr=0.1)
>>> (w * w).sum().backward(); opt.step(); [round(v, 4) for v in w.tolist()]
[0.9, 0.9]
"""
from .._state import QiflowError
from ..ops.elementwise import cast, power, sqrt, maximum
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
        lr = self.hyper(group, "lr", p)
        b1, b2 = self.hyper(group, "betas", p, 0), self.hyper(group, "betas", p, 1)
        if not state:
            state["step"] = self.new_step()
            state["exp_avg"] = self.new_state(p)
            state["exp_avg_sq"] = self.new_state(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = self.new_state(p)
        step = state["step"]
        step.add_(1)
        if self._decoupled:
            if group["weight_decay"]:
                p.mul_(1 - lr * self.hyper(group, "weight_decay", p))
            d = -g if group["maximize"] else g
        else:
            d = self._decayed(p, g, group)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.lerp_(d, 1 - b1)
        v.mul_(b2).addcmul_(d, d, value=1 - b2)
        # bias corrections in double precision, then rounded to p's dtype (as PyTorch's scalars)
        bc1 = 1 - power(_f64(b1), step)
        bc2_sqrt = cast(sqrt(1 - power(_f64(b2), step)), p.dtype)
        step_size = cast(lr / bc1, p.dtype)
        if group["amsgrad"]:
            vmax = state["max_exp_avg_sq"]
            vmax.copy_(maximum(vmax, v))
            v = vmax
        denom = sqrt(v) / bc2_sqrt + self.hyper(group, "eps", p)
        p.addcdiv_(m, denom, value=-step_size)


def _f64(b):
    return cast(b, "float64") if not isinstance(b, (int, float)) else b


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
