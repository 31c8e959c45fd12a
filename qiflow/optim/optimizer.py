"""The ``Optimizer`` base: parameter groups, per-parameter state, state dicts.

Subclasses implement ``_update(p, grad, state, group)`` with qiflow's own
operations: in-place methods (``p.add_(d, alpha=-lr)``, ``buf.mul_(m).add_(d)``)
on the parameter and on its state tensors, under ``no_grad``.  So a step is
ordinary qiflow code: ``qf.compile`` traces it like any other (its writes
become updates of the compiled function), and ``self.hyper(group, key, p)``
gives a hyperparameter that a traced step reads again on every call (a
learning-rate scheduler changes it between calls).  State tensors are made
concretely on a parameter's first step (``self.new_state``), never from a
gradient's value, so the same update runs on the first step and every later
one.

>>> w = qf.nn.Parameter(qf.ones(2))
>>> opt = qf.optim.SGD([w], lr=0.1)
>>> (w * w).sum().backward(); opt.step(); [round(v, 4) for v in w.tolist()]
[0.8, 0.8]
"""
import copy

import numpy as np

from .. import _state
from .._state import QiflowError
from ..ops import base as _base
from ..tensor import Tensor


class _Item:
    """``group[key]`` (or ``group[key][index]``), read when a compiled step is
    called; equal items compare equal."""
    __slots__ = ("group", "key", "index")

    def __init__(self, group, key, index):
        self.group, self.key, self.index = group, key, index

    def __call__(self):
        v = self.group[self.key]
        return v if self.index is None else v[self.index]

    def __eq__(self, other):
        return (isinstance(other, _Item) and other.group is self.group and other.key == self.key
                and other.index == self.index)

    def __hash__(self):
        return hash((id(self.group), self.key, self.index))


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
            if p._data.dtype.kind != "f":
                raise QiflowError(f"{type(self).__name__}: cannot optimize a {p._data.dtype} tensor")
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
        eager = _base._top is None
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none:             # (not read first: a traced step does not depend on it)
                    if eager:
                        p._grad = None      # what the .grad property does without an interpreter
                    else:
                        p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

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
        prev = _state.grad_enabled
        _state.grad_enabled = False
        try:
            for group in self.param_groups:
                self._step_group(group)
        finally:
            _state.grad_enabled = prev
        return loss

    def _step_group(self, group):
        """Update the parameters of one group (subclasses may specialise it)."""
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            if g.shape != p.shape:
                self._shape_error(g, p)
            st = self.state.get(p)
            if st is None:
                st = self.state[p] = {}
            self._update(p, g, st, group)

    def _shape_error(self, g, p):
        raise QiflowError(f"{type(self).__name__}: gradient of shape {tuple(g.shape)} does not "
                          f"match its parameter of shape {p.shape}")

    def _update(self, p, g, state, group):
        raise NotImplementedError

    # --------------------------------------------------- for the subclasses
    def hyper(self, group, key, p, index=None):
        """``group[key]`` (``[index]``) as a number to compute with: read on every
        call of a traced step, so schedulers may change it between calls."""
        v = group[key] if index is None else group[key][index]
        if _base._top is None:
            return v
        return _base._top.scalar(v, _Item(group, key, index), p.dtype)

    @staticmethod
    def new_state(p, fill=0.0, dtype=None):
        """A state tensor shaped like p (made concretely, also while tracing)."""
        return Tensor._wrap(np.full(p.shape, fill, dtype or p.dtype))

    @staticmethod
    def new_step():
        """A step counter: a float64 0-d tensor (bias corrections in double precision)."""
        return Tensor._wrap(np.zeros((), np.float64))

    def _decayed(self, p, g, group):
        """(-g when maximizing) + weight_decay * p, in PyTorch's order: the decay is added
        after the negation, so it still pulls p towards 0.  A new tensor, g is left alone."""
        if group.get("maximize"):
            g = -g
        if group["weight_decay"]:
            g = g + p * self.hyper(group, "weight_decay", p)
        return g

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
                    state[index[id(p)]] = {k: _saved(v) for k, v in self.state[p].items()}
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
                        arr = np.array(v._data if isinstance(v, Tensor) else v)
                        if arr.ndim and arr.shape != p._data.shape:
                            raise QiflowError(f"{type(self).__name__}.load_state_dict: state {k!r} "
                                              f"has shape {arr.shape}, its parameter {p._data.shape}")
                        if arr.ndim:
                            arr = arr.astype(p._data.dtype)
                        elif arr.dtype.kind != "f":
                            arr = arr.astype(np.float64)
                        st[k] = Tensor._wrap(arr)
                    elif k == "step" and isinstance(v, (int, float)):
                        st[k] = Tensor._wrap(np.array(float(v)))
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


def _saved(v):
    """A state value for a state dict: tensors are copied."""
    if isinstance(v, Tensor):
        return Tensor._wrap(v._data.copy())
    if isinstance(v, np.ndarray):
        return Tensor._wrap(v.copy())
    return v
