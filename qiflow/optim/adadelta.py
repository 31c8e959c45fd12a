"""Adadelta (Zeiler 2012), PyTorch's variant step for step.

>>> w = qf.nn.Parameter(qf.ones(1)); opt = qf.optim.Adadelta([w])
>>> (w * w).sum().backward(); opt.step(); round(w.item(), 6)   # 1 - sqrt(1e-6) / sqrt(0.4 + 1e-6) * 2
0.996838
"""
from .._state import QiflowError
from ..ops.elementwise import sqrt
from .optimizer import Optimizer


class Adadelta(Optimizer):
    """sq = rho sq + (1 - rho) g^2;  delta = sqrt(acc + eps) / sqrt(sq + eps) * g;
    acc = rho acc + (1 - rho) delta^2;  p -= lr * delta.

    As in PyTorch, ``maximize`` negates the gradient before ``weight_decay * p`` is added.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        if lr < 0.0 or not 0.0 <= rho <= 1.0 or eps < 0.0 or weight_decay < 0.0:
            raise QiflowError(f"Adadelta: invalid hyperparameters lr={lr}, rho={rho}, eps={eps}, "
                              f"weight_decay={weight_decay}")
        if differentiable:
            raise QiflowError("Adadelta: differentiable=True is not supported by qiflow "
                              "(optimizer steps are never recorded for gradients)")
        # foreach / capturable choose PyTorch kernels; the update is the same, so they are kept
        # in the param groups (state_dict keys as PyTorch's) and change nothing here
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      foreach=foreach, capturable=capturable, maximize=maximize,
                                      differentiable=differentiable))

    def _update(self, p, g, state, group):
        if not state:
            state["step"] = self.new_step()
            state["square_avg"] = self.new_state(p)
            state["acc_delta"] = self.new_state(p)
        state["step"].add_(1)
        rho, eps = self.hyper(group, "rho", p), self.hyper(group, "eps", p)
        d = -g if group["maximize"] else g
        if group["weight_decay"]:
            d = d + p * self.hyper(group, "weight_decay", p)
        sq, acc = state["square_avg"], state["acc_delta"]
        sq.mul_(rho).addcmul_(d, d, value=1 - rho)
        delta = sqrt(acc + eps) / sqrt(sq + eps) * d
        acc.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        p.add_(delta, alpha=-self.hyper(group, "lr", p))
