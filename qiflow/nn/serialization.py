"""Whole modules in ``qf.save`` / ``qf.load`` (``torch.save(model, f)``), without pickle.

A module is saved as its class's name and its attributes: parameters, buffers, submodules
and plain values (numbers, strings, tuples ..., tensors, qiflow's own functions such as an
activation).  Loading rebuilds it without running its ``__init__`` and without importing
anything named in the file: the class must be one of qiflow's ``nn`` modules or allowed
with ``qf.serialization.safe_globals`` / ``add_safe_globals`` (PyTorch's ``weights_only``
rule); anything else is a ``CheckpointError`` saying how to allow it.  A parameter shared
by two modules (tied weights) is one parameter again after loading.

>>> m = qf.nn.Sequential(qf.nn.Linear(3, 2), qf.nn.ReLU())
>>> import io
>>> buf = io.BytesIO(); qf.save(m, buf); _ = buf.seek(0)
>>> m2 = qf.load(buf); type(m2).__name__, m2[0].weight.shape
('Sequential', (2, 3))
"""
import importlib
import types
from collections import OrderedDict

from .. import io as _io
from .. import serialization
from ..tensor import Tensor
from .module import Module, Parameter

_STORES = ("_parameters", "_buffers", "_modules")
_HOOKS = ("_forward_hooks", "_forward_pre_hooks")


def _qualname(obj):
    return f"{obj.__module__}.{obj.__qualname__}"


def _encode_module(m, arrays, path, memo=None):
    memo = {} if memo is None else memo
    if id(m) in memo:
        return {"module": {"ref": memo[id(m)]}}
    memo[id(m)] = len(memo)
    node = {"id": memo[id(m)], "class": _qualname(type(m)), "attrs": []}
    for key, value in m.__dict__.items():
        where = path + [key]
        if key in _HOOKS:
            if value:
                raise TypeError(f"qf.save: {type(m).__name__} at {_io._where(path)} has {key[1:]}; "
                                "hooks are functions and cannot be saved without pickle (remove "
                                "them, or save the state_dict)")
            continue
        if key in _STORES:
            enc = [[k, _encode_value(v, arrays, where + [k], memo)] for k, v in value.items()]
            node["attrs"].append([key, {"store": enc}])
        elif key == "_non_persistent":
            node["attrs"].append([key, {"names": sorted(value)}])
        else:
            node["attrs"].append([key, _encode_value(value, arrays, where, memo)])
    return {"module": node}


def _encode_value(v, arrays, path, memo):
    if isinstance(v, Module):
        return _encode_module(v, arrays, path, memo)
    if isinstance(v, Tensor):
        if id(v) in memo:
            return {"param": {"ref": memo[id(v)]}}
        memo[id(v)] = len(memo)
        return {"param": {"id": memo[id(v)], "parameter": isinstance(v, Parameter),
                          "t": _io._encode(v, arrays, path)}}
    if isinstance(v, (types.FunctionType, types.BuiltinFunctionType)):
        name = _function_name(v)
        if name is None:
            raise TypeError(f"qf.save: the function {_qualname(v)} at {_io._where(path)} is not one "
                            "of qiflow's public functions; only those (or allowed ones) can be saved")
        return {"function": name}
    if isinstance(v, (list, tuple)) and any(isinstance(x, (Module, Tensor)) for x in v):
        kind = "list" if isinstance(v, list) else "tuple"
        return {"seq": [kind, [_encode_value(x, arrays, path + [i], memo) for i, x in enumerate(v)]]}
    return _io._encode(v, arrays, path)


_PUBLIC = ("qiflow.nn.functional", "qiflow", "qiflow.functional")


def _function_name(fn):
    """A name that resolves back to ``fn``: its own, or where qiflow exports it (functions
    made by a factory have no importable qualname), or the allowlist's."""
    name = _qualname(fn)
    if serialization.lookup(name) is fn:
        return name
    if not name.startswith("qiflow"):
        return None
    try:
        if _resolve(name, "function") is fn:
            return name
    except _io.CheckpointError:
        pass
    for home in _PUBLIC:
        mod = importlib.import_module(home)
        for k, v in vars(mod).items():
            if v is fn and not k.startswith("_"):
                return f"{home}.{k}"
    return None


def _resolve(name, what):
    """The class or function saved as ``name``: an allowed object, or qiflow's own."""
    obj = serialization.lookup(name)
    if obj is not None:
        return obj
    mod, _, attr = name.rpartition(".")
    if mod == "qiflow" or mod.startswith("qiflow."):
        try:
            obj = importlib.import_module(mod)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            obj = None
        if obj is not None and (isinstance(obj, type) and issubclass(obj, Module)
                                or what == "function" and callable(obj)):
            return obj
    raise _io.CheckpointError(
        f"qf.load: the file holds a {what} {name!r} that is not allowed; qiflow rebuilds only "
        f"its own nn modules and objects allowed with qf.serialization.add_safe_globals([...]) "
        f"or `with qf.serialization.safe_globals([...]):` (as torch.load with weights_only=True)")


class _Decoder:
    def __init__(self, read):
        self.read, self.seen = read, {}

    def value(self, node):
        if isinstance(node, dict) and len(node) == 1:
            (kind, body), = node.items()
            if kind == "module":
                return self.module(body)
            if kind == "param":
                if "ref" in body:
                    return self.seen[body["ref"]]
                t = self.read(body["t"])
                if body.get("parameter"):
                    t = Parameter(t, requires_grad=t.requires_grad)
                self.seen[body["id"]] = t
                return t
            if kind == "function":
                return _resolve(body, "function")
            if kind == "seq":
                seq = [self.value(x) for x in body[1]]
                return seq if body[0] == "list" else tuple(seq)
        return self.read(node)

    def module(self, body):
        if "ref" in body:
            return self.seen[body["ref"]]
        cls = _resolve(body["class"], "class")
        if not (isinstance(cls, type) and issubclass(cls, Module)):
            raise _io.CheckpointError(f"qf.load: {body['class']!r} is not an nn.Module")
        m = cls.__new__(cls)
        Module.__init__(m)
        self.seen[body["id"]] = m
        d = m.__dict__
        for key, node in body["attrs"]:
            if key in _STORES:
                d[key] = OrderedDict((k, self.value(v)) for k, v in node["store"])
            elif key == "_non_persistent":
                d[key] = set(node["names"])
            else:
                d[key] = self.value(node)
        return m


def _decode_module(body, read):
    return _Decoder(read).module(body)


_io.register(Module, "module", lambda m, arrays, path: _encode_module(m, arrays, path), _decode_module)
