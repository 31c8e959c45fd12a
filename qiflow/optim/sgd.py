"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

>>> w = qf.nn.Parameter(qf.ones(1)); opt = qf.optim.SGD([w], lr=0.1, momentum=0.9)
>>> for _ in range(2):
...     opt.zero_grad(); (w * 1).sum().backward(); opt.step()
>>> round(w.item(), 4)   # 1 - 0.1 - 0.1 * 1.9
0.71
"""
from .._state import QiflowError
from ..ops import base as _base
from ..ops.base import apply_into
from ..ops.elementwise import cast
from ..ops.inplace import Axpy
from .optimizer import Optimizer, required


class SGD(Optimizer):
    """PyTorch's SGD, step for step:

    d = g + weight_decay * p;  buf = momentum * buf + (1 - dampening) * d (buf = d at first);
    d = d + momentum * buf if nesterov else buf;  p -= lr * d.
    """

    def __init__(self, params, lr=required, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False):
        if lr is not required and lr < 0.0:
            raise QiflowError(f"SGD: invalid learning rate {lr}")
        if momentum < 0.0 or weight_decay < 0.0:
            raise QiflowError(f"SGD: momentum {momentum} and weight_decay {weight_decay} must be >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise QiflowError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def _step_group(self, group):
        if group["momentum"] or group["weight_decay"] or group["maximize"] \
                or type(self)._update is not SGD._update:      # a subclass's own update rule
            return super()._step_group(group)
        # plain SGD, the common case, one in-place op per parameter: p -= lr * g
        state = self.state
        eager = _base._top is None
        alpha = -group["lr"]
        into = _axpy.forward_into
        fresh = _base.FRESH
        for p in group["params"]:
            g = p._grad if eager else p.grad
            if g is None:
                continue
            d = p._data
            if g._data.shape != d.shape:
                self._shape_error(g, p)
            if p not in state:
                state[p] = {}
            if eager:       # what apply_into does without an interpreter, its dispatch skipped
                into(d, d, g._data, alpha)
                vc = p._vc              # own_counter(p), inlined: the update bumps p's version
                if vc is fresh:
                    vc = p._vc = [0]
                vc[0] += 1
            else:
                apply_into(_axpy, p, p, g, -self.hyper(group, "lr", p))

    def _update(self, p, g, state, group):
        lr = self.hyper(group, "lr", p)
        d = self._decayed(p, g, group)
        if group["momentum"]:
            mom = self.hyper(group, "momentum", p)
            buf = state.get("momentum_buffer")
            if buf is None:
                # zeros: the first step's mom * 0 + d is PyTorch's buf = d, exactly
                buf = state["momentum_buffer"] = self.new_state(p)
            buf.mul_(mom)
            if group["dampening"]:
                # the first step takes d undamped, as PyTorch does
                step = state.get("step")
                if step is None:
                    step = state["step"] = self.new_step()
                keep = 1 - self.hyper(group, "dampening", p) * cast(step > 0, p.dtype)
                buf.add_(d * keep)
                step.add_(1)
            else:
                buf.add_(d)
            d = d + buf * mom if group["nesterov"] else buf
        p.add_(d, alpha=-lr)


_axpy = Axpy()
