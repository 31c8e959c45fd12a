"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

>>> w = qf.nn.Parameter(qf.ones(1)); opt = qf.optim.SGD([w], lr=0.1, momentum=0.9)
>>> for _ in range(2):
...     opt.zero_grad(); (w * 1).sum().backward(); opt.step()
>>> round(w.item(), 4)   # 1 - 0.1 - 0.1 * 1.9
0.71
"""
import numpy as np

from .._state import QiflowError
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
        # plain SGD, the common case, without the per-parameter calls of the
        # general loop: p -= lr * g
        lr, state = group["lr"], self.state
        for p in group["params"]:
            gt = p.grad
            if gt is None:
                continue
            g, d = gt.data, p.data
            if g.shape != d.shape:
                self._shape_error(g, p)
            if p not in state:
                state[p] = {}
            p._version += 1
            if d.size <= 4096:
                t = g * lr
                if t.dtype is d.dtype:       # else round as the general path does
                    d -= t
                    continue
            s = self._buf(d, 0)              # large: no temporary array per step
            np.multiply(g, -lr, out=s)
            d += s

    def _update(self, p, g, state, group):
        lr, mom, damp = group["lr"], group["momentum"], group["dampening"]
        d = self._decayed(p, g, group["weight_decay"], group["maximize"])
        s = self._buf(p, 0)
        if mom:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(d, copy=True)
            else:
                buf *= mom
                if damp:
                    np.multiply(d, 1 - damp, out=s)
                    buf += s
                else:
                    buf += d
            if group["nesterov"]:
                np.multiply(buf, mom, out=s)
                d = np.add(s, d, out=s)
            else:
                d = buf
        np.multiply(d, -lr, out=s)
        p += s
