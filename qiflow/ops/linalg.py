"""Linear algebra: matmul (1-D, 2-D and batched with NumPy broadcasting), dot, outer.

>>> a = qf.ones((2, 3)); b = qf.ones((3, 4))
>>> (a @ b).shape
(2, 4)
"""
import numpy as np

from . import base as _base
from .base import Op, apply
from .shapes import broadcast_shapes, known
from .movement import swapaxes, expand_dims, squeeze, reshape, FlattenHead
from .._state import QiflowError


class MatMul(Op):
    """The primitive: both operands have ndim >= 2; batch dims broadcast."""
    __slots__ = ()
    view_map = {}
    symbol = "@"

    def format(self, args):
        return f"({args[0]} @ {args[1]})"

    def infer(self, a, b):
        if len(a.shape) < 2 or len(b.shape) < 2:
            raise QiflowError(f"MatMul: needs ndim >= 2, got {tuple(a.shape)} and {tuple(b.shape)}")
        k1, k2 = a.shape[-1], b.shape[-2]
        if known(k1) and known(k2) and k1 != k2:
            raise QiflowError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned "
                              f"({k1} != {k2})")
        batch = broadcast_shapes("matmul", a.shape[:-2], b.shape[:-2])
        return batch + (a.shape[-2], b.shape[-1]), np.result_type(a.dtype, b.dtype)

    def forward(self, a, b):
        if a.__class__ is np.ndarray and b.__class__ is np.ndarray and a.ndim == 2 and b.ndim == 2:
            # matrices: ndarray.dot makes the same BLAS call as np.matmul (the same
            # result, bit for bit) with a third of its overhead on small operands
            return a.dot(b)
        if b.ndim == 2 and a.ndim > 2 and a.__class__ is np.ndarray and b.__class__ is np.ndarray:
            # a stack of matrices times one matrix is one GEMM (np.matmul runs one per matrix)
            return a.reshape(-1, a.shape[-1]).dot(b).reshape(a.shape[:-1] + (b.shape[1],))
        return np.matmul(a, b)

    def vjp(self, ctx, inputs, output, g):
        a, b = inputs
        need = ctx.needs_input_grad          # skip a GEMM nobody wants (x @ W on data)
        nd = np.ndarray
        if a.__class__ is nd and b.__class__ is nd and g.__class__ is nd and a.ndim == 2 \
                and b.ndim == 2:
            # ndarray values (a first-order backward): forward's own matrix kernel, called
            # directly (``apply`` would hand these arrays to the same a.dot(b))
            return (g.dot(b.T) if need[0] else None), (a.T.dot(g) if need[1] else None)
        if a.ndim == 2 and b.ndim == 2:
            # (.T of a matrix means the same on arrays, tensors and variables)
            return (apply(_matmul, g, b.T) if need[0] else None,
                    apply(_matmul, a.T, g) if need[1] else None)
        if b.ndim == 2 and need[1]:
            # the sum over the stack of a_i.T @ g_i is one GEMM of the stacks laid flat
            gb = apply(_matmul, apply(_flatten_head, a).T, apply(_flatten_head, g))
        else:
            gb = matmul(swapaxes(a, -1, -2), g) if need[1] else None
        return (matmul(g, swapaxes(b, -1, -2)) if need[0] else None, gb)


_matmul = MatMul()
_flatten_head = FlattenHead()


def _ndim(x):
    try:
        return x.ndim           # one lookup (a Tensor's ndim is a property)
    except AttributeError:
        return np.ndim(x)


def matmul(a, b):
    """Matrix product with NumPy's rules: 1-D operands are promoted and the
    added axis removed; leading (batch) axes broadcast.

    >>> qf.matmul(qf.ones(3), qf.ones((3, 2))).shape
    (2,)
    """
    T = _base.Tensor
    if a.__class__ is T and b.__class__ is T and a._data.ndim >= 2 and b._data.ndim >= 2:
        return apply(_matmul, a, b)         # two plain matrices: no ndim property calls
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        raise QiflowError(f"matmul: operands must be at least 1-D, got ndim {na} and {nb}")
    if na >= 2 and nb >= 2:
        return apply(_matmul, a, b)
    if na == 1 and nb == 1:
        return squeeze(apply(_matmul, expand_dims(a, 0), expand_dims(b, 1)), (0, 1))
    if na == 1:
        return squeeze(apply(_matmul, expand_dims(a, 0), b), -2)
    return squeeze(apply(_matmul, a, expand_dims(b, 1)), -1)


def dot(a, b):
    """NumPy's (and Theano's) dot: scalars multiply; otherwise the sum over the
    last axis of ``a`` and the second-to-last axis of ``b`` (the last when ``b``
    is 1-D), with shape ``a.shape[:-1] + b.shape[:-2] + b.shape[-1:]``.

    (``qf.dot`` is PyTorch's 1-D dot product; this is the primitive behind ``T.dot``.)

    >>> from qiflow.ops.linalg import dot
    >>> dot(qf.ones((5, 2, 3)), qf.ones((3, 4))).shape
    (5, 2, 4)
    """
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return a * b
    if nb <= 2:
        # b a vector or a matrix: matmul's broadcasting over a's leading axes is dot
        return matmul(a, b)
    ta = _LETTERS[:na - 1]
    tb = _LETTERS[na - 1:na + nb - 2]
    return apply(Einsum((ta + "Z", tb[:-1] + "Z" + tb[-1]), ta + tb), a, b)


def outer(a, b):
    """Outer product of two vectors (inputs are flattened)."""
    return matmul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def inner(a, b):
    """NumPy's inner: sums over the last axes; the result has shape
    ``a.shape[:-1] + b.shape[:-1]`` (scalars multiply).

    >>> qf.inner(qf.ones((2, 3)), qf.ones((4, 3))).shape
    (2, 4)
    """
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return a * b
    ta, tb = _LETTERS[:na - 1], _LETTERS[na - 1:na + nb - 2]
    return apply(Einsum((ta + "Z", tb + "Z"), ta + tb), a, b)


# ------------------------------------------------------------------- einsum
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(subscripts, ndims):
    """Explicit form: one letter string per operand and the output, with '...'
    replaced by letters and the implicit output (no '->') made explicit."""
    s = subscripts.replace(" ", "")
    if "->" in s:
        lhs, out = s.split("->")
    else:
        lhs, out = s, None
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise QiflowError(f"einsum: {subscripts!r} names {len(terms)} operands, {len(ndims)} given")
    used = set(c for c in s if c.isalpha())
    for c in s:
        if not (c.isalpha() or c in ",.->"):
            raise QiflowError(f"einsum: invalid character {c!r} in {subscripts!r}")
    free = [c for c in _LETTERS if c not in used]
    n_ell = 0
    for t, nd in zip(terms, ndims):
        if "..." in t:
            n_ell = max(n_ell, nd - (len(t) - 3))
    ell = "".join(free[:n_ell])
    explicit = []
    for k, (t, nd) in enumerate(zip(terms, ndims)):
        if "..." in t:
            head, tail = t.split("...")
            t = head + ell[n_ell - (nd - len(head) - len(tail)):] + tail
        if len(t) != nd or not t.isalpha():
            raise QiflowError(f"einsum: term {terms[k]!r} of {subscripts!r} does not match operand {k} "
                              f"of ndim {nd}")
        explicit.append(t)
    if out is None:
        counts = {}
        for t in explicit:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
        seen = "".join(explicit)
        for c in out:
            if c not in seen:
                raise QiflowError(f"einsum: output letter {c!r} of {subscripts!r} is in no operand")
        if len(set(out)) != len(out):
            raise QiflowError(f"einsum: output {out!r} of {subscripts!r} repeats a letter")
    return tuple(explicit), out


class Einsum(Op):
    """Einstein summation over explicit subscripts (no '...' left, output given).

    The gradient of operand k is an einsum of the output gradient with the other
    operands; letters summed only inside operand k are broadcast back with a
    ones array, and letters repeated in operand k (diagonals) are put back with
    an identity matrix, both made by ``EinsumAux`` from operand k's shape.
    """
    __slots__ = ("terms", "out")
    props = ("terms", "out")

    def __init__(self, terms, out): self.terms, self.out = terms, out

    @property
    def spec(self):
        return ",".join(self.terms) + "->" + self.out

    def infer(self, *types):
        sizes = {}
        for term, t in zip(self.terms, types):
            for c, d in zip(term, t.shape):
                old = sizes.get(c)
                if known(d) and known(old) and old != 1 and d not in (1, old):
                    raise QiflowError(f"einsum {self.spec}: letter {c!r} has sizes {old} and {d} "
                                      f"(shapes {', '.join(str(tuple(u.shape)) for u in types)})")
                if old is None or old == 1 or not known(old):
                    sizes[c] = d
        return tuple(sizes[c] for c in self.out), np.result_type(*[t.dtype for t in types])

    def forward(self, *arrays):
        return np.einsum(self.spec, *arrays, optimize=len(arrays) > 2)

    def vjp(self, ctx, inputs, output, g):
        grads = []
        for k, term in enumerate(self.terms):
            others = [t for j, t in enumerate(self.terms) if j != k]
            elsewhere = set(self.out).union(*others)
            uniq = "".join(dict.fromkeys(term))
            present = "".join(c for c in uniq if c in elsewhere)
            ops = [g] + [x for j, x in enumerate(inputs) if j != k]
            h = apply(Einsum((self.out,) + tuple(others), present), *ops)
            absent = "".join(c for c in uniq if c not in elsewhere)
            if absent:
                axes = tuple(term.index(c) for c in absent)
                ones = apply(EinsumAux("ones", axes), inputs[k])
                h = apply(Einsum((present, absent), uniq), h, ones)
            if len(uniq) != len(term):
                h = _undiagonal(h, uniq, term, inputs[k])
            grads.append(h)
        return tuple(grads)


def _undiagonal(h, uniq, term, x):
    """Place h (letters ``uniq``) on the diagonals of an array indexed by ``term``."""
    free = [c for c in _LETTERS if c not in term]
    renamed, eyes, terms = [], [], [uniq]
    seen = set()
    for i, c in enumerate(term):
        if c in seen:
            new = free.pop(0)
            renamed.append(new)
            eyes.append(apply(EinsumAux("eye", (term.index(c), i)), x))
            terms.append(c + new)
        else:
            seen.add(c)
            renamed.append(c)
    return apply(Einsum(tuple(terms), "".join(renamed)), h, *eyes)


class EinsumAux(Op):
    """Constants for einsum's gradient, sized from an operand's shape: ones over
    ``axes`` or an identity matrix over a pair of axes (no gradient)."""
    __slots__ = ("kind", "axes")
    props = ("kind", "axes")
    differentiable = False
    view_map = {}

    def __init__(self, kind, axes): self.kind, self.axes = kind, axes

    def infer(self, t):
        shape = tuple(t.shape[a] for a in self.axes)
        return shape, t.dtype

    def forward(self, a):
        shape = tuple(np.shape(a)[i] for i in self.axes)
        if self.kind == "ones":
            return np.ones(shape, dtype=a.dtype)
        return np.eye(shape[0], shape[1], dtype=a.dtype)


def einsum(subscripts, *operands):
    """Einstein summation with NumPy's notation (implicit output, '...', diagonals).

    >>> a = qf.ones((2, 3)); b = qf.ones((3, 4))
    >>> qf.einsum("ij,jk->ik", a, b).shape
    (2, 4)
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise QiflowError("einsum: needs at least one operand")
    terms, out = _parse_einsum(subscripts, [_ndim(x) for x in operands])
    op = Einsum(terms, out)
    try:
        return apply(op, *operands)
    except QiflowError:
        op.infer(*[x if hasattr(x, "dtype") else np.asarray(x) for x in operands])  # clearer message
        raise
