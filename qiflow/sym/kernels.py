"""Python source for elementwise steps, shared by fused kernels and the linker.

Each elementwise op becomes one NumPy call written into the generated code;
``emit`` can direct the result into a dead buffer (``out=``) so a chain of
elementwise ops allocates once.  In-place NumPy was chosen by measurement:
see ``benchmarks/sym_fusion.py`` in the report (numexpr and numba are not
dependencies).
"""
import numpy as np

from ..ops import elementwise as E

_UFUNC = {
    E.Add: "add", E.Subtract: "subtract", E.Multiply: "multiply", E.Divide: "divide",
    E.Negative: "negative", E.Exp: "exp", E.Log: "log", E.Log1p: "log1p", E.Expm1: "expm1",
    E.Sqrt: "sqrt", E.Abs: "absolute", E.Sin: "sin", E.Cos: "cos", E.Tanh: "tanh",
    E.Maximum: "maximum", E.Minimum: "minimum", E.Sign: "sign", E.Floor: "floor", E.Ceil: "ceil",
    E.Equal: "equal", E.NotEqual: "not_equal", E.Less: "less", E.LessEqual: "less_equal",
    E.Greater: "greater", E.GreaterEqual: "greater_equal", E.LogicalAnd: "logical_and",
    E.LogicalOr: "logical_or", E.LogicalXor: "logical_xor", E.LogicalNot: "logical_not",
    E.IsNan: "isnan", E.IsFinite: "isfinite", E.IsInf: "isinf", E.Power: "power",
}

#: elementwise ops run through their own forward (no out=), still fusable
_FORWARD = (E.Sigmoid, E.Softplus, E.Where, E.Cast, E.Clip, E.LeakyRelu, E.Elu, E.Mod, E.Erf,
            E.FloorDivide, E.Round)


def is_elementwise(op):
    t = type(op)
    return (t in _UFUNC or t in (E.Square, E.PowerScalar, E.Relu) or isinstance(op, _FORWARD)
            or t.__name__ == "Fused")


def can_write_out(op):
    """Whether ``emit`` can direct this op's result into a given buffer."""
    t = type(op)
    return t in _UFUNC or t in (E.Square, E.PowerScalar, E.Relu, E.Sigmoid)


def emit(op, args, result, out, env):
    """Lines computing ``result`` = op(args) (code strings); into buffer ``out`` if given.

    ``env``: dict of names the generated code needs (filled in here).
    """
    t = type(op)
    o = f", out={out}" if out else ""
    if t in _UFUNC:
        return [f"{result} = _np.{_UFUNC[t]}({', '.join(args)}{o})"]
    if t is E.Square:
        return [f"{result} = _np.multiply({args[0]}, {args[0]}{o})"]
    if t is E.PowerScalar:
        if op.p == 2:
            return [f"{result} = _np.multiply({args[0]}, {args[0]}{o})"]
        return [f"{result} = _np.power({args[0]}, {op.p!r}{o})"]
    if t is E.Relu:
        return [f"{result} = _np.maximum({args[0]}, 0{o})"]
    if t is E.Sigmoid and out:
        # 0.5 * (1 + tanh(x / 2)): exact, never overflows; all in one buffer
        return [f"{result} = _np.multiply({args[0]}, 0.5{o})",
                f"_np.tanh({result}, out={result})",
                f"_np.add({result}, 1, out={result})",
                f"_np.multiply({result}, 0.5, out={result})"]
    if t is E.Cast:
        name = f"_dt_{np.dtype(op.dtype).name}"
        env[name] = np.dtype(op.dtype)
        return [f"{result} = _np.asarray({args[0]}).astype({name}, copy=False)"]
    if t is E.Where:
        return [f"{result} = _np.where({', '.join(args)})"]
    name = f"_op{id(op)}"
    env[name] = op.forward
    return [f"{result} = {name}({', '.join(args)})"]
