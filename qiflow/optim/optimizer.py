"""The ``Optimizer`` base: parameter groups, per-parameter state, state dicts.

Subclasses implement ``_update(p, grad, state, group)`` on NumPy arrays and
update ``p`` in place with ufuncs writing into ``out=`` buffers: two scratch
buffers, shared by all parameters of a dtype, hold the intermediate values,
so a step allocates nothing once warm.

>>> w = qf.nn.Parameter(qf.ones(2))
>>> opt = qf.optim.SGD([w], lr=0.1)
>>> (w * w).sum().backward(); opt.step(); [round(v, 4) for v in w.tolist()]
[0.8, 0.8]
"""
import copy

import numpy as np

from .. import _state
from .._state import QiflowError
from ..tensor import Tensor


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class: ``params`` is an iterable of tensors or of dicts (parameter groups)."""

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}
        self._scratch = {}
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of tensors or dicts, "
                            "got a single Tensor (wrap it in a list)")
        groups = list(params)
        if not groups:
            raise QiflowError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group):
        """Add a dict with 'params' and optional per-group hyperparameters."""
        if not isinstance(group, dict):
            raise TypeError(f"add_param_group: expected a dict, got {type(group).__name__}")
        group = dict(group)
        ps = group["params"]
        ps = [ps] if isinstance(ps, Tensor) else list(ps)
        for p in ps:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, got {type(p).__name__}")
            if p.data.dtype.kind != "f":
                raise QiflowError(f"{type(self).__name__}: cannot optimize a {p.data.dtype} tensor")
            if not p.is_leaf:
                raise QiflowError(f"{type(self).__name__}: can only optimize leaf tensors "
                                  "(parameters), not results of operations")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in ps) or len({id(p) for p in ps}) != len(ps):
            raise QiflowError(f"{type(self).__name__}: some parameters appear in more than one group")
        group["params"] = ps
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise QiflowError(f"{type(self).__name__}: parameter group didn't specify a value of "
                                  f"required optimization parameter {k!r}")
            group.setdefault(k, v)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group):
        lr = group.get("lr")
        if lr is not None and lr is not required and lr < 0:
            raise QiflowError(f"{type(self).__name__}: invalid learning rate {lr}")

    def zero_grad(self, set_to_none=True):
        """Forget the gradients of every parameter (None, or zeros in place)."""
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad.data.fill(0)

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns closure's loss if given."""
        loss = None
        if closure is not None:
            prev = _state.grad_enabled
            _state.grad_enabled = True
            try:
                loss = closure()
            finally:
                _state.grad_enabled = prev
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group):
        """Update the parameters of one group (subclasses may specialise it)."""
        for p in group["params"]:
            if p.grad is None:
                continue
            g = p.grad.data
            if g.shape != p.data.shape:
                self._shape_error(g, p)
            st = self.state.get(p)
            if st is None:
                st = self.state[p] = {}
            self._update(p.data, g, st, group)
            p._version += 1

    def _shape_error(self, g, p):
        raise QiflowError(f"{type(self).__name__}: gradient of shape {g.shape} does not "
                          f"match its parameter of shape {p.data.shape}")

    def _update(self, p, g, state, group):
        raise NotImplementedError

    def _buf(self, p, k):
        """Scratch buffer k (0 or 1), shaped like p, shared by all parameters."""
        key = (p.dtype, k)
        buf = self._scratch.get(key)
        if buf is None or buf.size < p.size:
            buf = self._scratch[key] = np.empty(p.size, p.dtype)
        return buf[:p.size].reshape(p.shape)

    def _decayed(self, p, g, wd, maximize=False):
        """grad + wd * p (negated grad when maximizing), in scratch buffer 1; g is left alone."""
        if not wd and not maximize:
            return g
        s = self._buf(p, 1)
        if not wd:
            return np.negative(g, out=s)
        np.multiply(p, np.asarray(wd, p.dtype), out=s)
        return np.subtract(s, g, out=s) if maximize else np.add(s, g, out=s)

    # ------------------------------------------------------------ state dicts
    def state_dict(self):
        """``{'state': {index: {...}}, 'param_groups': [...]}`` with parameters as
        indices (PyTorch's layout); arrays are copied into tensors."""
        index = {}
        groups = []
        for g in self.param_groups:
            entry = {k: v for k, v in g.items() if k != "params"}
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            entry["params"] = ids
            groups.append(entry)
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: (Tensor(v.copy()) if isinstance(v, np.ndarray) else v)
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore state and hyperparameters saved by ``state_dict`` (group sizes must match)."""
        groups = state_dict.get("param_groups") if hasattr(state_dict, "get") else None
        if groups is None or "state" not in state_dict:
            raise QiflowError(f"{type(self).__name__}.load_state_dict: expected a dict with 'state' "
                              "and 'param_groups'")
        if len(groups) != len(self.param_groups):
            raise QiflowError(f"{type(self).__name__}.load_state_dict: the saved state has "
                              f"{len(groups)} parameter groups, this optimizer has {len(self.param_groups)}")
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise QiflowError(f"{type(self).__name__}.load_state_dict: group {i} has "
                                  f"{len(saved['params'])} parameters in the saved state, "
                                  f"{len(own['params'])} here")
        saved_state = {int(k): v for k, v in state_dict["state"].items()}
        new_state = {}
        for saved, own in zip(groups, self.param_groups):
            for idx, p in zip(saved["params"], own["params"]):
                if int(idx) not in saved_state:
                    continue
                st = {}
                for k, v in saved_state[int(idx)].items():
                    if isinstance(v, (Tensor, np.ndarray)):
                        arr = np.array(v.data if isinstance(v, Tensor) else v)
                        if arr.ndim and arr.shape != p.data.shape:
                            raise QiflowError(f"{type(self).__name__}.load_state_dict: state {k!r} "
                                              f"has shape {arr.shape}, its parameter {p.data.shape}")
                        st[k] = arr.astype(p.data.dtype) if arr.ndim else arr.item()
                    else:
                        st[k] = copy.deepcopy(v)
                new_state[p] = st
        self.state = new_state
        for saved, own in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    own[k] = copy.deepcopy(v)

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        return "\n".join(lines) + "\n)"

