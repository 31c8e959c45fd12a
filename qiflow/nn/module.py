"""``Module`` and ``Parameter``: PyTorch's way of holding a model's state.

Assigning a ``Parameter`` or a ``Module`` to an attribute registers it;
``named_parameters`` and ``state_dict`` use PyTorch's dotted names.

>>> class Net(qf.nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.fc = qf.nn.Linear(3, 2)
...     def forward(self, x):
...         return self.fc(x)
>>> [n for n, _ in Net().named_parameters()]
['fc.weight', 'fc.bias']
"""
from collections import OrderedDict, namedtuple

import numpy as np

from ..tensor import Tensor
from ..backend import as_dtype, get_default_dtype
from .._state import QiflowError


class Parameter(Tensor):
    """A tensor that a ``Module`` registers as trainable (requires_grad by default).

    Wrapping an ndarray shares its memory; wrapping a Tensor shares its data.

    >>> p = qf.nn.Parameter(qf.zeros(3)); p.requires_grad
    True
    """
    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty(0, get_default_dtype())
        super().__init__(data._data if isinstance(data, Tensor) else data)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of layers and models: override ``forward``; call the module itself.

    Parameters, buffers (non-trained state such as BatchNorm's running
    statistics) and submodules are kept in insertion order.
    """

    training = True

    def __init__(self):
        d = self.__dict__
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["training"] = True

    # ------------------------------------------------------------ attributes
    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._discard(name)
            params[name] = value
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign a submodule before Module.__init__() call")
            self._discard(name)
            d["_modules"][name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                "(a qf.nn.Parameter or None is expected)")
            params[name] = None
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r} "
                                "(a Module or None is expected)")
            d["_modules"][name] = None
        elif params is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                value = Tensor(np.asarray(value))
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def _discard(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            d[store].pop(name, None)
        d.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if name in d.get(store, ()):
                del d[store][name]
                d["_non_persistent"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        d = self.__dict__
        return sorted(set(super().__dir__()) | set(d["_parameters"]) | set(d["_buffers"])
                      | set(d["_modules"]))

    def register_parameter(self, name, param):
        """Add a parameter (or None, a placeholder that is skipped)."""
        _check_name(self, name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, "
                            f"got {type(param).__name__}")
        self._discard(name)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add state that is saved in ``state_dict`` (unless not persistent) but not trained."""
        _check_name(self, name)
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(np.asarray(tensor))
        self._discard(name)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        """Add a child module under ``name`` (what attribute assignment does)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        if not isinstance(name, str) or "." in name or not name:
            raise KeyError(f"add_module: module name must be a non-empty string without '.', got {name!r}")
        self._discard(name)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        """The submodule at a dotted path, e.g. ``'features.0'``."""
        mod = self
        for part in target.split(".") if target else ():
            if part not in mod._modules:
                raise AttributeError(f"{type(mod).__name__} has no submodule {part!r} (path {target!r})")
            mod = mod._modules[part]
        return mod

    # ----------------------------------------------------------------- calls
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks:
            for hook in list(self._forward_pre_hooks.values()):
                r = hook(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                r = hook(self, args, out)
                if r is not None:
                    out = r
        return out

    def register_forward_hook(self, hook):
        """Call ``hook(module, inputs, output)`` after forward; returns a handle with ``remove()``."""
        return _Handle(self._forward_hooks, hook)

    def register_forward_pre_hook(self, hook):
        """Call ``hook(module, inputs)`` before forward; returns a handle with ``remove()``."""
        return _Handle(self._forward_pre_hooks, hook)

    # ------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(dotted name, module) for self and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate=True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for mp, m in mods:
            for name, v in m.__dict__[store].items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield mp + ("." if mp else "") + name, v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter), e.g. ``('0.weight', ...)`` in a Sequential.
        A parameter shared by two modules is listed once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, trainable_only=False):
        """How many numbers the parameters hold (shared ones counted once).

        >>> qf.nn.Linear(784, 10).num_parameters()
        7850
        """
        return sum(p._data.size for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn):
        """Call ``fn(module)`` on every submodule, then on self; returns self.

        >>> net = qf.nn.Sequential(qf.nn.Linear(2, 2))
        >>> _ = net.apply(lambda m: qf.nn.init.zeros_(m.bias) if isinstance(m, qf.nn.Linear) else None)
        """
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ modes
    def train(self, mode=True):
        """Training mode (dropout active, batch statistics); returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(): mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self):
        """Evaluation mode (no dropout, running statistics); returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Forget accumulated gradients (set to None, or zero them in place)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None           # (without reading it: a traced step does not depend on it)
            elif p.grad is not None:
                p.grad.zero_()

    def to(self, *args, **kwargs):
        """PyTorch's ``Module.to``: ``to(dtype)``, ``to(device, dtype=None)``, ``to(tensor)``
        (``non_blocking=`` accepted).  Floating parameters and buffers (and their
        ``.grad``) are converted in place, so optimizers keep holding the same
        parameters; returns self.

        >>> qf.nn.Linear(2, 2).to("cpu", qf.float64).weight.dtype
        dtype('float64')
        """
        from ..tensor import parse_to
        from ..backend import check_device
        dev, dtype, _non_blocking, _copy = parse_to(args, kwargs, "Module.to")
        check_device(dev, "Module.to")
        if dtype is None:
            return self
        if dtype.name == "bfloat16":
            raise TypeError("Module.to: qiflow cannot train bfloat16 parameters yet; use float16, "
                            "float32 or float64")
        if dtype.kind != "f":
            raise TypeError(f"Module.to: only floating dtypes can be given, got {dtype} "
                            "(integer buffers keep their dtype)")
        for t in list(self.parameters()) + list(self.buffers()):
            if t._data.dtype.kind == "f" and t._data.dtype != dtype:
                t._data = t._data.astype(dtype)
                t._version += 1
                if t.grad is not None:
                    t.grad = Tensor._wrap(t.grad._data.astype(dtype))
        return self

    def cpu(self):
        """This module (it already lives on the CPU)."""
        return self

    def cuda(self, device=None):
        """Always an error: qiflow has no CUDA backend."""
        from ..backend import check_device
        check_device("cuda" if device is None or isinstance(device, int) else device, "Module.cuda")

    def float(self):
        """Floating parameters and buffers to float32."""
        return self.to("float32")

    def double(self):
        """Floating parameters and buffers to float64."""
        return self.to("float64")

    def half(self):
        """Floating parameters and buffers to float16."""
        return self.to("float16")

    # ------------------------------------------------------------ state
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """Parameters and persistent buffers by dotted name, as tensors that share
        memory with the module (copy them to keep a snapshot).

        >>> list(qf.nn.BatchNorm1d(3).state_dict())
        ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
        """
        out = OrderedDict() if destination is None else destination
        for mp, m in self.named_modules(prefix=prefix.rstrip(".")):
            dot = mp + "." if mp else ""
            for name, p in m._parameters.items():
                if p is not None:
                    out[dot + name] = p if keep_vars else p.detach()
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    out[dot + name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values (tensors, arrays or numbers) into the existing parameters and buffers.

        Shapes must match exactly.  With ``strict`` any missing or unexpected key
        is an error listing them all; otherwise they are returned as
        ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"load_state_dict: expected a dict, got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and (missing or unexpected):
            if missing:
                errors.append("missing keys: " + ", ".join(repr(k) for k in missing))
            if unexpected:
                errors.append("unexpected keys: " + ", ".join(repr(k) for k in unexpected))
        updates = []
        for k, target in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = v._data if isinstance(v, Tensor) else np.asarray(v)
            if arr.shape != target._data.shape:
                errors.append(f"size mismatch for {k!r}: the checkpoint has shape {arr.shape}, "
                              f"the model has {target._data.shape}")
                continue
            if arr.dtype.kind not in "biuf" or (arr.dtype.kind == "f" and target._data.dtype.kind in "biu"):
                errors.append(f"dtype mismatch for {k!r}: cannot load {arr.dtype} into {target._data.dtype}")
                continue
            updates.append((target, arr))
        if errors:
            raise QiflowError(f"load_state_dict into {type(self).__name__}: " + "; ".join(errors))
        for target, arr in updates:   # nothing is written unless everything fits
            np.copyto(target._data, arr, casting="unsafe")
            target._version += 1
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ printing
    def extra_repr(self):
        """The text inside the parentheses of this module's repr line."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, m in self._modules.items():
            text = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


class _Handle:
    _next = 0

    def __init__(self, store, hook):
        _Handle._next += 1
        self.store, self.id = store, _Handle._next
        store[self.id] = hook

    def remove(self):
        self.store.pop(self.id, None)


def _check_name(module, name):
    if "_parameters" not in module.__dict__:
        raise AttributeError("call Module.__init__() before registering parameters or buffers")
    if not isinstance(name, str) or not name or "." in name:
        raise KeyError(f"name must be a non-empty string without '.', got {name!r}")
    if hasattr(type(module), name):
        raise KeyError(f"attribute {name!r} already exists on {type(module).__name__}")
