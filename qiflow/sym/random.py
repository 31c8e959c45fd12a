"""Symbolic random streams: Theano's ``RandomStreams`` and ``MRG_RandomStreams``.

Each draw (``srng.uniform((2, 3))``) is a node of a random primitive whose
first input is a *state*: a shared variable of its own holding a counter-based
generator state (NumPy's Philox: a 128-bit key and a 256-bit counter).  The
draw is a pure function of that state, and the state's ``default_update``
(Theano's mechanism) is the next state, so every call of a compiled function
that uses the draw advances it: each call gives new numbers, and the same seed
gives the same sequence of calls.  ``seed()`` resets every state of a stream.

The random primitives have no gradient: ``T.grad`` through a draw's parameters
raises, as in Theano (a draw's *value* may of course multiply differentiable
things: dropout masks, corruption).

>>> import numpy as np
>>> from qiflow import sym as T
>>> srng = T.RandomStreams(seed=234)
>>> u = srng.uniform((2,))
>>> f = T.function([], u)
>>> a, b = f(), f()
>>> bool((a != b).all()), bool(((0 <= a) & (a < 1)).all())
(True, True)
>>> srng.seed(234); bool((f() == a).all())
True

Differences from Theano: the numbers differ (Theano's generators were
``numpy.random.RandomState`` and MRG31k3p; qiflow's is Philox), so a program
reproduces its own runs, not Theano's digits.
"""
import numpy as np

from .._state import QiflowError
from ..backend import get_default_dtype
from ..ops.base import Op, apply, Symbolic
from ..ops.dynamic import _sizes, _shape_of
from ..ops.shapes import broadcast_shapes
from .shared import shared

#: a state: Philox key (2 words) then counter (4 words), uint64
STATE_SIZE = 6


def _generator(state):
    return np.random.Generator(np.random.Philox(key=state[:2], counter=state[2:]))


def initial_state(seed, k):
    """The state of the k-th draw of a stream seeded with ``seed``."""
    key = np.random.SeedSequence([int(seed) % (2 ** 63), int(k)]).generate_state(2, np.uint64)
    return np.concatenate([key, np.zeros(4, np.uint64)])


class NextState(Op):
    """The state after one call: the counter's top word advanced by one (each call
    draws from its own block of 2**192 Philox counters)."""
    tested_in = "tests/sym/test_random_streams.py"
    __slots__ = ()
    differentiable = False
    view_map = {}

    def infer(self, s):
        return s.shape, s.dtype

    def forward(self, s):
        out = np.array(s, copy=True)
        out[5] += np.uint64(1)
        return out


class RandomOp(Op):
    """Base of the draws: inputs (state, *params, *symbolic sizes).

    ``template`` is the output shape (ints and ('in', k) for symbolic sizes),
    or None: the parameters' broadcast shape.  Subclasses define ``n_params``,
    ``draw(generator, size, *params)`` and the shape of one draw (``event``).
    """
    __slots__ = ("template", "dtype")
    props = ("template", "dtype")
    differentiable = False
    #: T.grad through the parameters raises (as Theano's grad_undefined)
    grad_undefined = True
    view_map = {}
    n_params = 0

    def __init__(self, template, dtype):
        self.template, self.dtype = template, np.dtype(dtype)

    def _lead(self, params):
        if self.template is None:
            return broadcast_shapes(self.name, *[p.shape for p in params])
        return tuple(None if isinstance(p, tuple) else p for p in self.template)

    def event(self, params):
        return ()

    def infer(self, state, *rest):
        if tuple(state.shape) not in ((STATE_SIZE,), (None,)) or state.dtype != np.uint64:
            raise QiflowError(f"{self.name}: the first input must be a random state "
                              f"(uint64[{STATE_SIZE}]), got {state}")
        params = rest[:self.n_params]
        return tuple(self._lead(params)) + tuple(self.event(params)), self.dtype

    def forward(self, state, *rest):
        params, sizes = rest[:self.n_params], rest[self.n_params:]
        if self.template is None:
            size = np.broadcast_shapes(*[np.shape(p) for p in params])
        else:
            size = _shape_of(self.template, sizes)
        out = self.draw(_generator(state), size, *params)
        return np.asarray(out).astype(self.dtype, copy=False)

    def draw(self, g, size, *params):
        raise NotImplementedError


class Uniform(RandomOp):
    """Uniform in [low, high)."""
    tested_in = "tests/sym/test_random_streams.py"
    __slots__ = ()
    n_params = 2

    def draw(self, g, size, low, high):
        return g.uniform(low, high, size)


class Normal(RandomOp):
    """Gaussian with mean ``avg`` and standard deviation ``std``; ``truncate``:
    values beyond two standard deviations are drawn again (MRG's truncate)."""
    tested_in = "tests/sym/test_random_streams.py"
    __slots__ = ("truncate",)
    props = ("template", "dtype", "truncate")
    n_params = 2

    def __init__(self, template, dtype, truncate=False):
        super().__init__(template, dtype)
        self.truncate = bool(truncate)

    def draw(self, g, size, avg, std):
        z = g.standard_normal(size)
        if self.truncate:
            bad = np.abs(z) > 2
            while bad.any():
                z[bad] = g.standard_normal(int(bad.sum()))
                bad = np.abs(z) > 2
        return avg + std * z


class Binomial(RandomOp):
    """Successes in ``n`` trials of probability ``p`` (``n=1``: Bernoulli masks)."""
    tested_in = "tests/sym/test_random_streams.py"
    __slots__ = ()
    n_params = 2

    def draw(self, g, size, n, p):
        if np.any((p < 0) | (p > 1)):
            raise QiflowError(f"binomial: p must be in [0, 1], got values in "
                              f"[{np.min(p)}, {np.max(p)}]")
        return g.binomial(_counts("binomial", n), p, size)


def _counts(what, n):
    """n as int64 (a Python int in the graph may arrive as a float constant)."""
    c = np.asarray(n).astype(np.int64)
    if np.any(c != n) or np.any(c < 0):
        raise QiflowError(f"{what}: n must hold non-negative integers, got {n!r}")
    return c


class Multinomial(RandomOp):
    """Counts of ``n`` draws among the categories of ``pvals`` (last axis)."""
    tested_in = "tests/sym/test_random_streams.py"
    __slots__ = ()
    n_params = 2

    def _lead(self, params):
        if self.template is None:
            n, pv = params
            return broadcast_shapes(self.name, n.shape, pv.shape[:-1])
        return super()._lead(params)

    def event(self, params):
        return (params[1].shape[-1],)

    def forward(self, state, n, pvals, *sizes):
        if pvals.ndim < 1:
            raise QiflowError("multinomial: pvals must have a category axis (ndim >= 1)")
        lead = (np.broadcast_shapes(np.shape(n), pvals.shape[:-1]) if self.template is None
                else _shape_of(self.template, sizes))
        pv = np.broadcast_to(pvals, lead + pvals.shape[-1:]).astype(np.float64)
        pv = pv / pv.sum(axis=-1, keepdims=True)
        nn = np.broadcast_to(_counts("multinomial", n), lead)
        out = _generator(state).multinomial(nn, pv) if lead else \
            _generator(state).multinomial(int(nn), pv)
        return np.asarray(out).astype(self.dtype, copy=False)


class Choice(RandomOp):
    """Elements of ``a`` (or ``range(a)``) chosen with probabilities ``p``;
    with ``rows``, one choice of ``size`` elements per row of a 2-D ``p``."""
    tested_in = "tests/sym/test_random_streams.py"
    __slots__ = ("replace", "rows")
    props = ("template", "dtype", "replace", "rows")
    n_params = 2

    def __init__(self, template, dtype, replace=True, rows=False):
        super().__init__(template, dtype)
        self.replace, self.rows = bool(replace), bool(rows)

    def _lead(self, params):
        lead = super()._lead(params) if self.template is not None else ()
        return ((params[1].shape[0],) + tuple(lead)) if self.rows else lead

    def forward(self, state, a, p, *sizes):
        size = _shape_of(self.template, sizes) if self.template is not None else None
        g = _generator(state)
        pool = int(a) if np.ndim(a) == 0 else np.asarray(a)
        try:
            if self.rows:
                k = p.shape[1]
                out = np.stack([g.choice(k, size, self.replace, row / row.sum()) for row in p])
            else:
                pp = None if np.ndim(p) == 0 and np.isnan(p) else np.asarray(p) / np.sum(p)
                out = g.choice(pool, size, self.replace, pp)
        except ValueError as exc:
            raise QiflowError(f"choice: {exc}") from None
        return np.asarray(out).astype(self.dtype, copy=False)


class Permutation(RandomOp):
    """Random permutations of ``range(n)``, one per position of ``size``."""
    tested_in = "tests/sym/test_random_streams.py"
    __slots__ = ("n",)
    props = ("template", "dtype", "n")
    n_params = 0

    def __init__(self, template, dtype, n):
        super().__init__(template, dtype)
        self.n = int(n)

    def _lead(self, params):
        return super()._lead(params) if self.template is not None else ()

    def event(self, params):
        return (self.n,)

    def forward(self, state, *sizes):
        lead = _shape_of(self.template, sizes) if self.template is not None else ()
        g = _generator(state)
        m = int(np.prod(lead, dtype=np.int64))
        out = np.stack([g.permutation(self.n) for _ in range(m)]) if m else \
            np.zeros((0, self.n), np.int64)
        return out.reshape(tuple(lead) + (self.n,)).astype(self.dtype, copy=False)


# ----------------------------------------------------------------- streams
def _size_template(what, size, ndim):
    if size is None:
        return None, []
    template, inputs = _sizes(what, size)
    if ndim is not None and ndim != len(template):
        raise QiflowError(f"{what}: ndim={ndim} does not match size {size!r} "
                          f"({len(template)} dimensions)")
    return template, inputs


def _ndim(v):
    return v.ndim if isinstance(v, Symbolic) else np.ndim(v)


def _float_dtype(dtype, *params):
    if dtype is not None:
        return np.dtype(dtype)
    strong = [p.dtype for p in params if isinstance(p, Symbolic) and p.dtype.kind == "f"]
    return np.result_type(get_default_dtype(), *strong)


class RandomStreams:
    """Theano's ``shared_randomstreams.RandomStreams``: a factory of symbolic
    draws, each with its own state (a shared variable) that every compiled
    function using the draw advances.

    ``seed``: an int, or None to take one from qiflow's global generator
    (``qf.manual_seed`` makes that reproducible).
    """

    def __init__(self, seed=None):
        if seed is None:
            from .. import random as _random
            seed = int(_random.default_generator().integers(2 ** 31))
        self.default_seed = int(seed)
        #: [(state shared variable, its update)], as Theano's ``state_updates``
        self.state_updates = []

    # --------------------------------------------------------------- state
    def seed(self, seed=None):
        """Reset every draw made so far (and the ones to come) to ``seed``."""
        if seed is None:
            seed = self.default_seed
        self.default_seed = int(seed)
        for k, (state, _) in enumerate(self.state_updates):
            state.set_value(initial_state(self.default_seed, k), borrow=True)

    def updates(self):
        """The (state, next state) pairs: what compiled functions apply by default."""
        return list(self.state_updates)

    def _state(self):
        k = len(self.state_updates)
        state = shared(initial_state(self.default_seed, k), name=f"rstate{k}",
                       shape=(STATE_SIZE,))
        state.default_update = apply(NextState(), state)
        self.state_updates.append((state, state.default_update))
        return state

    def _draw(self, op, params, sizes):
        out = apply(op, self._state(), *params, *sizes)
        return out

    # -------------------------------------------------------- distributions
    def uniform(self, size=None, low=0.0, high=1.0, ndim=None, dtype=None):
        """Uniform in [low, high); ``dtype`` defaults to floatX."""
        template, sizes = _size_template("uniform", size, ndim)
        return self._draw(Uniform(template, _float_dtype(dtype, low, high)), (low, high), sizes)

    def normal(self, size=None, avg=0.0, std=1.0, ndim=None, dtype=None):
        """Gaussian with mean ``avg`` and standard deviation ``std``."""
        template, sizes = _size_template("normal", size, ndim)
        return self._draw(Normal(template, _float_dtype(dtype, avg, std)), (avg, std), sizes)

    def binomial(self, size=None, n=1, p=0.5, ndim=None, dtype="int64", prob=None):
        """Successes in ``n`` trials of probability ``p`` (masks with n=1)."""
        p = prob if prob is not None else p
        template, sizes = _size_template("binomial", size, ndim)
        return self._draw(Binomial(template, dtype), (n, p), sizes)

    def multinomial(self, size=None, n=1, pvals=(0.5, 0.5), ndim=None, dtype="int64"):
        """Counts of ``n`` draws among ``pvals``'s categories: shape ``size + (k,)``
        (``size`` None: pvals' leading shape)."""
        template, sizes = _size_template("multinomial", size, ndim)
        return self._draw(Multinomial(template, dtype), (n, pvals), sizes)

    def choice(self, size=None, a=2, replace=True, p=None, ndim=None, dtype="int64"):
        """Elements of ``a`` (an int: ``range(a)``) with probabilities ``p``,
        with or without replacement (NumPy's ``choice``)."""
        template, sizes = _size_template("choice", size, ndim)
        p = np.nan if p is None else p
        return self._draw(Choice(template, dtype, replace), (a, p), sizes)

    def permutation(self, size=None, n=1, ndim=None, dtype="int64"):
        """Permutations of ``range(n)``: shape ``size + (n,)``."""
        if isinstance(n, Symbolic):
            raise QiflowError("permutation: n must be a Python int in qiflow (the length of "
                              "each permutation is part of the result's type)")
        template, sizes = _size_template("permutation", size, ndim)
        return self._draw(Permutation(template, dtype, n), (), sizes)


class MRG_RandomStreams(RandomStreams):
    """Theano's ``sandbox.rng_mrg.MRG_RandomStreams``: the same streams with MRG's
    signatures (``seed`` defaults to 12345; ``multinomial`` and ``choice`` take
    a matrix of probabilities, one row per draw)."""

    def __init__(self, seed=12345):
        super().__init__(seed)

    def uniform(self, size, low=0.0, high=1.0, ndim=None, dtype=None, nstreams=None, **kw):
        return super().uniform(size, low, high, ndim, dtype)

    def normal(self, size, avg=0.0, std=1.0, ndim=None, dtype=None, nstreams=None,
               truncate=False, **kw):
        template, sizes = _size_template("normal", size, ndim)
        return self._draw(Normal(template, _float_dtype(dtype, avg, std), truncate),
                          (avg, std), sizes)

    def truncated_normal(self, size, avg=0.0, std=1.0, ndim=None, dtype=None, nstreams=None):
        return self.normal(size, avg, std, ndim, dtype, truncate=True)

    def binomial(self, size=None, n=1, p=0.5, ndim=None, dtype="int64", nstreams=None,
                 prob=None, **kw):
        return super().binomial(size, n, p, ndim, dtype, prob)

    def multinomial(self, size=None, n=1, pvals=None, ndim=None, dtype="int64",
                    nstreams=None, **kw):
        """One draw of ``n`` per row of the matrix ``pvals``: counts shaped like pvals."""
        if pvals is None:
            raise TypeError("multinomial: pvals must be given")
        if size is not None:
            raise QiflowError("multinomial: MRG_RandomStreams takes its shape from pvals; "
                              "size must be None (as in Theano)")
        if _ndim(pvals) != 2:
            raise QiflowError("multinomial: MRG_RandomStreams needs a matrix pvals "
                              "(one row of probabilities per draw)")
        return super().multinomial(None, n, pvals, ndim, dtype)

    def choice(self, size=1, a=None, replace=True, p=None, ndim=None, dtype="int64",
               nstreams=None, **kw):
        """``size`` category indices per row of the matrix ``p`` (shape
        ``(p.shape[0], size)``), with or without replacement."""
        if a is not None:
            raise TypeError("choice: MRG_RandomStreams samples indices 0..p.shape[1]-1; "
                            "a must be None (as in Theano)")
        if p is None or _ndim(p) != 2:
            raise QiflowError("choice: MRG_RandomStreams needs a matrix p (one row of "
                              "probabilities per draw)")
        template, sizes = _size_template("choice", size, None)
        return self._draw(Choice(template, dtype, replace, rows=True), (0, p), sizes)


def dropout(x, p, srng, rescale=True):
    """``x`` with each element zeroed with probability ``p`` by a binomial draw
    of ``srng`` (a new mask every call of the compiled function); kept elements
    are scaled by 1 / (1 - p) unless ``rescale=False``.

    >>> srng = T.RandomStreams(seed=1); x = T.dmatrix('x')
    >>> d = T.function([x], T.random.dropout(x, 0.5, srng))
    >>> sorted(set(d(np.ones((4, 4))).ravel().tolist()))
    [0.0, 2.0]
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if p == 1:
        return x * 0.0
    if p == 0:
        return x
    mask = srng.binomial(size=x.shape, n=1, p=1 - p, dtype=x.dtype)
    return x * mask / (1 - p) if rescale else x * mask


__all__ = ["RandomStreams", "MRG_RandomStreams", "dropout", "NextState", "Uniform", "Normal",
           "Binomial", "Multinomial", "Choice", "Permutation"]
