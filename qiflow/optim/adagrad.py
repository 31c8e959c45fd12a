"""Adagrad: per-coordinate steps scaled by the root of the summed squared gradients.

>>> w = qf.nn.Parameter(qf.ones(1)); opt = qf.optim.Adagrad([w], lr=0.1)
>>> (w * w).sum().backward(); opt.step(); round(w.item(), 4)
0.9
"""
from .._state import QiflowError
from ..ops.elementwise import cast, sqrt
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """sum += g^2;  p -= lr / (1 + (step - 1) lr_decay) * g / (sqrt(sum) + eps)."""

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10, maximize=False):
        if lr < 0.0 or lr_decay < 0.0 or weight_decay < 0.0 or initial_accumulator_value < 0.0 or eps < 0:
            raise QiflowError(f"Adagrad: invalid hyperparameters lr={lr}, lr_decay={lr_decay}, "
                              f"weight_decay={weight_decay}, "
                              f"initial_accumulator_value={initial_accumulator_value}, eps={eps}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def _update(self, p, g, state, group):
        if not state:
            state["step"] = self.new_step()
            state["sum"] = self.new_state(p, group["initial_accumulator_value"])
        step = state["step"]
        step.add_(1)
        d = self._decayed(p, g, group)
        clr = cast(self.hyper(group, "lr", p) / (1 + (step - 1) * self.hyper(group, "lr_decay", p)),
                   p.dtype)
        acc = state["sum"]
        acc.addcmul_(d, d)
        p.addcdiv_(d, sqrt(acc) + self.hyper(group, "eps", p), value=-clr)
