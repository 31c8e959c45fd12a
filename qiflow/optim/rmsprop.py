"""RMSprop (optionally centred, with momentum), PyTorch's variant step for step.

>>> w = qf.nn.Parameter(qf.ones(1)); opt = qf.optim.RMSprop([w], lr=0.01)
>>> (w * w).sum().backward(); opt.step(); round(w.item(), 4)
0.9
"""
from .._state import QiflowError
from ..ops.elementwise import sqrt
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
        lr, alpha = self.hyper(group, "lr", p), self.hyper(group, "alpha", p)
        if not state:
            state["step"] = self.new_step()
            state["square_avg"] = self.new_state(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = self.new_state(p)
            if group["centered"]:
                state["grad_avg"] = self.new_state(p)
        state["step"].add_(1)
        d = self._decayed(p, g, group)
        sq = state["square_avg"]
        sq.mul_(alpha).addcmul_(d, d, value=1 - alpha)
        if group["centered"]:
            ga = state["grad_avg"]
            ga.lerp_(d, 1 - alpha)
            avg = sqrt(sq - ga * ga)
        else:
            avg = sqrt(sq)
        avg = avg + self.hyper(group, "eps", p)
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf.mul_(self.hyper(group, "momentum", p)).addcdiv_(d, avg)
            p.add_(buf, alpha=-lr)
        else:
            p.addcdiv_(d, avg, value=-lr)
