"""Elementwise primitives: arithmetic, transcendental, activation and comparison ops.

Every op broadcasts like NumPy; the engine sums gradients back to each input's
shape, so the vjps below return gradients of the broadcast shape.

>>> x = qf.tensor([1.0, 2.0], requires_grad=True)
>>> (x * x).sum().backward(); x.grad.tolist()
[2.0, 4.0]
"""
import math

import numpy as np

from .base import Op, apply, _snake


class Elementwise(Op):
    """An op that broadcasts its inputs like NumPy and makes a fresh array.

    ``ufunc``: the NumPy ufunc computing it, when there is one; ``symbol``: the
    infix operator it prints as.  ``emit(args, result, out, env)`` (optional)
    writes the op as source lines for the compiler's kernels (into buffer
    ``out`` when given and ``writes_out`` is set).
    """
    __slots__ = ()
    elementwise = True
    view_map = {}
    symbol = None
    #: ``emit`` can write the result into a given buffer
    writes_out = False

    def format(self, args):
        if self.symbol is not None and len(args) == 2:
            return f"({args[0]} {self.symbol} {args[1]})"
        return Op.format(self, args)


class Unary(Elementwise):
    __slots__ = ()

    def vjp(self, ctx, inputs, output, grad):
        return (self.dx(inputs[0], output, grad),)


class NonDiff(Elementwise):
    """Elementwise ops with no useful gradient: outputs never require grad."""
    __slots__ = ()
    differentiable = False


class ZeroGrad(Unary):
    """Piecewise-constant ops (floor, sign ...): gradient zero, as in PyTorch."""
    __slots__ = ()

    def dx(self, x, y, g):
        return zeros_like(g)


# ---------------------------------------------------------------- arithmetic
class Add(Elementwise):
    __slots__ = ()
    commutative = True
    ufunc, symbol = np.add, "+"
    def forward(self, a, b): return a + b
    def vjp(self, ctx, inputs, output, g): return g, g


class Subtract(Elementwise):
    __slots__ = ()
    ufunc, symbol = np.subtract, "-"
    def forward(self, a, b): return a - b
    def vjp(self, ctx, inputs, output, g): return g, -g


class Multiply(Elementwise):
    __slots__ = ()
    commutative = True
    ufunc, symbol = np.multiply, "*"
    def forward(self, a, b): return a * b

    def vjp(self, ctx, inputs, output, g):
        a, b = inputs
        need = ctx.needs_input_grad
        return (g * b if need[0] else None), (g * a if need[1] else None)


class Divide(Elementwise):
    __slots__ = ()
    ufunc, symbol = np.divide, "/"
    def forward(self, a, b): return a / b

    def vjp(self, ctx, inputs, output, g):
        a, b = inputs
        ga = g / b
        return ga, (-ga * a / b if ctx.needs_input_grad[1] else None)


class Negative(Unary):
    __slots__ = ()
    ufunc = np.negative
    def forward(self, a): return -a
    def dx(self, x, y, g): return -g
    def format(self, args): return f"(-{args[0]})"


class Power(Elementwise):
    """a ** b with a tensor exponent. The gradient wrt b is taken as 0 where a == 0."""
    __slots__ = ()
    ufunc, symbol = np.power, "**"
    def forward(self, a, b): return np.power(a, b)

    def vjp(self, ctx, inputs, output, g):
        a, b = inputs
        ga = g * b * power(a, b - 1) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            safe = where(a > 0, a, 1)
            gb = g * where(a > 0, output * log(safe), 0)
        return ga, gb


class PowerScalar(Unary):
    """a ** p for a fixed Python number p."""
    __slots__ = ("p",)
    writes_out = True
    props = ("p",)

    def __init__(self, p): self.p = p
    def forward(self, a):
        # a * a is faster than np.power, but int ** 2.0 must still give a float (NumPy's rule)
        if self.p == 2 and (self.p.__class__ is int or a.dtype.kind in "fc"):
            return a * a
        return np.power(a, self.p)

    def dx(self, x, y, g):
        p = self.p
        if p == 2:
            return g * 2 * x
        if p == 1:
            return g
        return g * p * power(x, p - 1)

    def emit(self, args, result, out, env):
        o = f", out={out}" if out else ""
        if self.p == 2:
            return [f"{result} = _np.multiply({args[0]}, {args[0]}{o})"]
        return [f"{result} = _np.power({args[0]}, {self.p!r}{o})"]

    def format(self, args): return f"({args[0]} ** {self.p!r})"


class FloorDivide(NonDiff):
    __slots__ = ()
    ufunc, symbol = np.floor_divide, "//"
    def forward(self, a, b): return a // b


class Mod(Elementwise):
    __slots__ = ()
    ufunc, symbol = np.mod, "%"
    def forward(self, a, b): return np.mod(a, b)

    def vjp(self, ctx, inputs, output, g):
        return g, (-g * floor_divide(inputs[0], inputs[1]) if ctx.needs_input_grad[1] else None)


class Maximum(Elementwise):
    """Elementwise max; on ties the gradient is split evenly (as in PyTorch)."""
    __slots__ = ()
    commutative = True
    ufunc = np.maximum
    def forward(self, a, b): return np.maximum(a, b)

    def vjp(self, ctx, inputs, output, g):
        a, b = inputs
        half = where(equal(a, b), g * 0.5, 0)
        return where(a > b, g, half), where(b > a, g, half)


class Minimum(Elementwise):
    __slots__ = ()
    commutative = True
    ufunc = np.minimum
    def forward(self, a, b): return np.minimum(a, b)

    def vjp(self, ctx, inputs, output, g):
        a, b = inputs
        half = where(equal(a, b), g * 0.5, 0)
        return where(a < b, g, half), where(b < a, g, half)


class Where(Elementwise):
    """where(cond, a, b): the gradient flows only to the chosen branch.

    The unselected branch is still computed, and its local derivative still
    enters the chain rule multiplied by zero: ``where(x > 0, sqrt(x), 0)`` at
    x = 0 has a finite value but gradient 0 * inf = NaN.  The safe pattern
    sanitises the input of the unsafe branch so that it is finite everywhere:
    ``where(x > 0, sqrt(where(x > 0, x, 1)), 0)``.
    """
    __slots__ = ()
    def infer(self, cond, a, b):
        from .shapes import broadcast_shapes, result_dtype
        shape = broadcast_shapes(self.name, cond.shape, a.shape, b.shape)
        return shape, result_dtype(self, (cond, a, b))

    def forward(self, c, a, b): return np.where(c, a, b)

    def vjp(self, ctx, inputs, output, g):
        c = inputs[0]
        need = ctx.needs_input_grad
        return None, (where(c, g, 0) if need[1] else None), (where(c, 0, g) if need[2] else None)

    def emit(self, args, result, out, env):
        return [f"{result} = _np.where({', '.join(args)})"]


class Clip(Unary):
    """clip(x, lo, hi) with fixed bounds; gradient 1 inside [lo, hi], 0 outside."""
    __slots__ = ("lo", "hi")
    props = ("lo", "hi")

    def __init__(self, lo, hi): self.lo, self.hi = lo, hi
    def forward(self, a): return np.clip(a, self.lo, self.hi)

    def dx(self, a, y, g):
        inside = ones_like(a, dtype=bool)
        if self.lo is not None:
            inside = inside * (a >= self.lo)
        if self.hi is not None:
            inside = inside * (a <= self.hi)
        return where(inside, g, 0)


# -------------------------------------------------------------- transcendental
class Exp(Unary):
    __slots__ = ()
    ufunc = np.exp
    def forward(self, a): return np.exp(a)
    def dx(self, x, y, g): return g * y


class Log(Unary):
    __slots__ = ()
    ufunc = np.log
    def forward(self, a): return np.log(a)
    def dx(self, x, y, g): return g / x


class Log1p(Unary):
    __slots__ = ()
    ufunc = np.log1p
    def forward(self, a): return np.log1p(a)
    def dx(self, x, y, g): return g / (x + 1)


class Expm1(Unary):
    __slots__ = ()
    ufunc = np.expm1
    def forward(self, a): return np.expm1(a)
    def dx(self, x, y, g): return g * (y + 1)


class Sqrt(Unary):
    __slots__ = ()
    ufunc = np.sqrt
    def forward(self, a): return np.sqrt(a)
    def dx(self, x, y, g): return g * 0.5 / y


class Square(Unary):
    __slots__ = ()
    ufunc = np.square
    def forward(self, a): return a * a
    def dx(self, x, y, g): return g * 2 * x


class Abs(Unary):
    __slots__ = ()
    ufunc = np.absolute
    def forward(self, a): return np.abs(a)
    def dx(self, x, y, g): return g * sign(x)


class Sin(Unary):
    __slots__ = ()
    ufunc = np.sin
    def forward(self, a): return np.sin(a)
    def dx(self, x, y, g): return g * cos(x)


class Cos(Unary):
    __slots__ = ()
    ufunc = np.cos
    def forward(self, a): return np.cos(a)
    def dx(self, x, y, g): return -g * sin(x)


class Tanh(Unary):
    __slots__ = ()
    ufunc = np.tanh
    def forward(self, a): return np.tanh(a)
    def dx(self, x, y, g): return g * (1 - y * y)


class Sigmoid(Unary):
    __slots__ = ()
    writes_out = True

    def forward(self, a):
        # 0.5 * (1 + tanh(a/2)) is exact and never overflows.
        c = _HALF_ONE.get(a.dtype) if a.__class__ is np.ndarray else None
        if c is None:
            out = np.tanh(a * 0.5)
            out += 1
            out *= 0.5
            return out
        half, one = c      # the same values as 0.5 and 1, at half the cost per ufunc call
        out = np.tanh(a * half)
        out += one
        out *= half
        return out

    def dx(self, x, y, g): return g * y * (1 - y)

    def emit(self, args, result, out, env):
        if not out:
            return None
        # 0.5 * (1 + tanh(x / 2)) in one buffer
        return [f"{result} = _np.multiply({args[0]}, 0.5, out={out})",
                f"_np.tanh({result}, out={result})",
                f"_np.add({result}, 1, out={result})",
                f"_np.multiply({result}, 0.5, out={result})"]


#: 0-d constants in a float dtype: a Python scalar rounds to the array's dtype
#: anyway (NumPy 2's weak scalars), but a ufunc call with one costs twice as much
_HALF_ONE = {np.dtype(t): (np.array(0.5, t), np.array(1, t))
             for t in (np.float16, np.float32, np.float64)}


def sigmoid_(a):
    """The logistic function of a float array, in place (as ``Sigmoid``; for kernels)."""
    a *= 0.5
    np.tanh(a, out=a)
    a += 1
    a *= 0.5
    return a


class Softplus(Unary):
    """log(1 + exp(x)), computed without overflow."""
    __slots__ = ()
    def forward(self, a): return np.logaddexp(0, a).astype(np.result_type(a, 1.0), copy=False)
    def dx(self, x, y, g): return g * sigmoid(x)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _erf(x):
    # Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, enough for float32 and
    # for gradcheck of gelu (its vjp uses the exact Gaussian density).
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return (s * (1.0 - poly * np.exp(-a * a))).astype(np.result_type(x, 1.0), copy=False)


class Erf(Unary):
    __slots__ = ()
    def forward(self, a): return _erf(a)
    def dx(self, x, y, g): return g * (2.0 / math.sqrt(math.pi)) * exp(-x * x)


class Relu(Unary):
    __slots__ = ()
    writes_out = True
    def forward(self, a): return np.maximum(a, 0)
    def dx(self, x, y, g): return g * (y > 0)

    def emit(self, args, result, out, env):
        o = f", out={out}" if out else ""
        return [f"{result} = _np.maximum({args[0]}, 0{o})"]


class Hardtanh(Unary):
    """x clipped to [lo, hi]; gradient 1 strictly inside, 0 at and beyond the bounds
    (PyTorch's hardtanh; ``Clip`` counts the bounds as inside)."""
    __slots__ = ("lo", "hi")
    props = ("lo", "hi")
    writes_out = True

    def __init__(self, lo, hi): self.lo, self.hi = lo, hi
    def forward(self, a): return np.clip(a, self.lo, self.hi)
    def dx(self, x, y, g): return where(logical_and(x > self.lo, x < self.hi), g, 0)

    def emit(self, args, result, out, env):
        o = f", out={out}" if out else ""
        return [f"{result} = _np.clip({args[0]}, {self.lo!r}, {self.hi!r}{o})"]


class LeakyRelu(Unary):
    __slots__ = ("slope",)
    props = ("slope",)

    def __init__(self, slope): self.slope = slope
    def forward(self, a): return np.where(a > 0, a, a * self.slope)
    def dx(self, x, y, g): return where(x > 0, g, g * self.slope)


class Elu(Unary):
    __slots__ = ("alpha",)
    props = ("alpha",)

    def __init__(self, alpha): self.alpha = alpha
    def forward(self, a): return np.where(a > 0, a, self.alpha * np.expm1(np.minimum(a, 0)))
    def dx(self, x, y, g): return where(x > 0, g, g * (y + self.alpha))


# ----------------------------------------------------------- zero-gradient ops
class Sign(ZeroGrad):
    __slots__ = ()
    ufunc = np.sign
    def forward(self, a): return np.sign(a)


class Floor(ZeroGrad):
    __slots__ = ()
    ufunc = np.floor
    def forward(self, a): return np.floor(a)


class Ceil(ZeroGrad):
    __slots__ = ()
    ufunc = np.ceil
    def forward(self, a): return np.ceil(a)


class Round(ZeroGrad):
    __slots__ = ()
    def forward(self, a): return np.round(a)


class ZerosLike(Op):
    """Zeros with x's shape (and its dtype unless given); no gradient."""
    __slots__ = ("dtype",)
    props = ("dtype",)
    differentiable = False
    view_map = {}
    shape_inputs = (0,)

    def __init__(self, dtype=None): self.dtype = dtype
    def infer(self, t): return t.shape, t.dtype if self.dtype is None else self.dtype
    def forward(self, a): return np.zeros_like(a, dtype=self.dtype)


class OnesLike(ZerosLike):
    """Ones with x's shape (and its dtype unless given); no gradient."""
    __slots__ = ()
    def forward(self, a): return np.ones_like(a, dtype=self.dtype)


class Cast(Elementwise):
    """x converted to ``dtype`` (the input itself when it already has it)."""
    __slots__ = ("dtype",)
    props = ("dtype",)
    view_map = {0: [0]}       # astype(copy=False) returns the input when nothing changes

    def __init__(self, dtype): self.dtype = np.dtype(dtype)
    def infer(self, t): return t.shape, self.dtype
    def forward(self, a): return np.asarray(a).astype(self.dtype, copy=False)

    def vjp(self, ctx, inputs, output, g):
        return (cast(g, inputs[0].dtype),)

    def emit(self, args, result, out, env):
        name = f"_dt_{self.dtype.name}"
        env[name] = self.dtype
        return [f"{result} = _np.asarray({args[0]}).astype({name}, copy=False)"]


# ------------------------------------------------------- comparisons and logic
def _nondiff(name, uf, symbol=None, commutative=False):
    return type(name, (NonDiff,), {"__slots__": (), "forward": staticmethod(uf), "ufunc": uf,
                                   "symbol": symbol, "commutative": commutative,
                                   "__module__": __name__})


Equal = _nondiff("Equal", np.equal, "==", True)
NotEqual = _nondiff("NotEqual", np.not_equal, "!=", True)
Less = _nondiff("Less", np.less, "<")
LessEqual = _nondiff("LessEqual", np.less_equal, "<=")
Greater = _nondiff("Greater", np.greater, ">")
GreaterEqual = _nondiff("GreaterEqual", np.greater_equal, ">=")
LogicalAnd = _nondiff("LogicalAnd", np.logical_and, None, True)
LogicalOr = _nondiff("LogicalOr", np.logical_or, None, True)
LogicalXor = _nondiff("LogicalXor", np.logical_xor, None, True)
LogicalNot = _nondiff("LogicalNot", np.logical_not)
IsNan = _nondiff("IsNan", np.isnan)
IsFinite = _nondiff("IsFinite", np.isfinite)
IsInf = _nondiff("IsInf", np.isinf)


# ------------------------------------------------------------ public functions
#: name -> the one instance of each parameterless op (ops are immutable)
SINGLETONS = {}


def _singleton_fn(cls, doc):
    op = cls()
    f = cls.forward
    nin = f.nin if hasattr(f, "nin") else f.__code__.co_argcount - 1
    if nin == 1:
        def fn(x):
            return apply(op, x)
    else:
        def fn(a, b):
            return apply(op, a, b)
    fn.__doc__ = doc
    SINGLETONS[_snake(cls.__name__)] = op
    return fn


add = _singleton_fn(Add, "a + b, broadcasting. ``qf.add(x, 1)``")
subtract = _singleton_fn(Subtract, "a - b, broadcasting.")
multiply = _singleton_fn(Multiply, "a * b, broadcasting.")
divide = _singleton_fn(Divide, "a / b (true division), broadcasting.")
true_divide = divide
floor_divide = _singleton_fn(FloorDivide, "a // b (no gradient).")
mod = _singleton_fn(Mod, "a % b with NumPy's sign rule.")
remainder = mod
negative = _singleton_fn(Negative, "-x.")
maximum = _singleton_fn(Maximum, "Elementwise max of a and b; ties split the gradient.")
minimum = _singleton_fn(Minimum, "Elementwise min of a and b; ties split the gradient.")
exp = _singleton_fn(Exp, "e ** x. ``qf.exp(qf.tensor(0.0))`` -> 1.0")
log = _singleton_fn(Log, "Natural logarithm.")
log1p = _singleton_fn(Log1p, "log(1 + x), accurate near 0.")
expm1 = _singleton_fn(Expm1, "exp(x) - 1, accurate near 0.")
sqrt = _singleton_fn(Sqrt, "Square root.")
square = _singleton_fn(Square, "x * x.")
abs = _singleton_fn(Abs, "|x|; gradient sign(x) (0 at 0).")
absolute = abs
sign = _singleton_fn(Sign, "Sign of x (zero gradient).")
sin = _singleton_fn(Sin, "Sine.")
cos = _singleton_fn(Cos, "Cosine.")
tanh = _singleton_fn(Tanh, "Hyperbolic tangent.")
sigmoid = _singleton_fn(Sigmoid, "Logistic function 1 / (1 + exp(-x)), overflow-free.")
softplus = _singleton_fn(Softplus, "log(1 + exp(x)), overflow-free.")
erf = _singleton_fn(Erf, "Gauss error function (|error| < 1.5e-7).")
relu = _singleton_fn(Relu, "max(x, 0); gradient 0 at 0.")
floor = _singleton_fn(Floor, "Round down (zero gradient).")
ceil = _singleton_fn(Ceil, "Round up (zero gradient).")
equal = _singleton_fn(Equal, "a == b as a bool tensor.")
not_equal = _singleton_fn(NotEqual, "a != b as a bool tensor.")
less = _singleton_fn(Less, "a < b as a bool tensor.")
less_equal = _singleton_fn(LessEqual, "a <= b as a bool tensor.")
greater = _singleton_fn(Greater, "a > b as a bool tensor.")
greater_equal = _singleton_fn(GreaterEqual, "a >= b as a bool tensor.")
logical_and = _singleton_fn(LogicalAnd, "Elementwise and.")
logical_or = _singleton_fn(LogicalOr, "Elementwise or.")
logical_xor = _singleton_fn(LogicalXor, "Elementwise xor.")
logical_not = _singleton_fn(LogicalNot, "Elementwise not.")
isnan = _singleton_fn(IsNan, "True where x is NaN.")
isfinite = _singleton_fn(IsFinite, "True where x is finite.")
isinf = _singleton_fn(IsInf, "True where x is +-inf.")

_round = Round()
_power = Power()
_where = Where()


def round(x, decimals=0):
    """Round half to even, like NumPy (zero gradient)."""
    if decimals:
        s = 10.0 ** decimals
        return apply(_round, x * s) / s
    return apply(_round, x)


def power(a, b):
    """a ** b; a Python-number exponent gives a simpler op (x**2 is x*x)."""
    if isinstance(b, (int, float)) and not isinstance(b, bool):
        key = (b.__class__, b)     # 2 and 2.0 are different ops (int powers stay int)
        op = _power_ops.get(key)
        if op is None:
            op = PowerScalar(b)
            if b and b == b and len(_power_ops) < 64:     # not -0.0 == 0.0, nor NaN
                _power_ops[key] = op
        return apply(op, a)
    return apply(_power, a, b)


_power_ops = {}     # exponent -> its PowerScalar: ops are immutable, x ** 2 needs only one


pow = power


def where(cond, a, b):
    """Choose a where cond is true, else b; the gradient follows the choice.

    >>> qf.where(qf.tensor([True, False]), 1.0, 2.0).tolist()
    [1.0, 2.0]
    """
    return apply(_where, cond, a, b)


def clip(x, lo=None, hi=None):
    """Limit x to [lo, hi]; gradient 1 inside, 0 outside."""
    return apply(Clip(lo, hi), x)


clamp = clip


def hardtanh(x, min_val=-1.0, max_val=1.0):
    """x clipped to [min_val, max_val]; gradient 0 at and beyond the bounds (PyTorch's).

    >>> qf.hardtanh(qf.tensor([-3.0, 0.5, 2.0])).tolist()
    [-1.0, 0.5, 1.0]
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} is above max_val {max_val}")
    return apply(Hardtanh(float(min_val), float(max_val)), x)


def leaky_relu(x, negative_slope=0.01):
    """x if x > 0 else negative_slope * x."""
    return apply(LeakyRelu(negative_slope), x)


def elu(x, alpha=1.0):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return apply(Elu(alpha), x)


def gelu(x, approximate="none"):
    """Gaussian error linear unit, exact (erf) or with ``approximate='tanh'``."""
    if approximate == "tanh":
        return 0.5 * x * (1 + tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * x * (1 + erf(x * _INV_SQRT_2))


def cast(x, dtype):
    """x converted to ``dtype``; the gradient is cast back."""
    return apply(Cast(dtype), x)


def zeros_like(x, dtype=None):
    """An array of zeros with x's shape (and dtype unless given)."""
    return apply(ZerosLike(None if dtype is None else np.dtype(dtype)), x)


def ones_like(x, dtype=None):
    """An array of ones with x's shape (and dtype unless given)."""
    return apply(OnesLike(None if dtype is None else np.dtype(dtype)), x)
