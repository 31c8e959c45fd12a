"""Seeded random number generation.

All randomness in qiflow (initialisation, dropout, shuffling) draws from a
``numpy.random.Generator``: the global one set by :func:`manual_seed`, or one
passed explicitly as ``generator=``.

>>> _ = qf.manual_seed(0); a = qf.randn(2)
>>> _ = qf.manual_seed(0); bool((qf.randn(2) == a).all())
True
"""
import numpy as np



class Generator(np.random.Generator):
    """A seeded generator: a ``numpy.random.Generator`` (PCG64, the stream of
    ``np.random.default_rng(seed)``) with PyTorch's methods ``manual_seed``,
    ``seed``, ``initial_seed``, ``get_state`` and ``set_state``.

    ``qf.Generator()`` (PyTorch's spelling; ``device='cpu'`` accepted) or
    ``qf.Generator(seed)``.

    >>> g = qf.Generator().manual_seed(0); a = qf.randn(2, generator=g)
    >>> bool((qf.randn(2, generator=qf.Generator(0)) == a).all())
    True
    """

    def __init__(self, seed=None, *, device=None):
        if isinstance(seed, str) or device is not None:
            dev = seed if isinstance(seed, str) else device
            if str(dev) != "cpu":
                raise RuntimeError(f"Generator: qiflow has only the 'cpu' device, got {dev!r}")
            seed = None
        self._seed = int(np.random.SeedSequence().entropy % (2 ** 63)) if seed is None else int(seed)
        super().__init__(np.random.PCG64(self._seed))

    def manual_seed(self, seed):
        """Reseed in place; returns the generator (``g = qf.Generator().manual_seed(1)``)."""
        self._seed = int(seed)
        self.bit_generator.state = np.random.PCG64(self._seed).state
        return self

    def seed(self):
        """Reseed from fresh entropy; returns the new seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy % (2 ** 63)))._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        return self.bit_generator.state

    def set_state(self, state):
        self.bit_generator.state = state
        return self


_global = Generator(0)


def manual_seed(seed):
    """Reseed the global generator in place (as PyTorch's default generator); returns it."""
    return _global.manual_seed(seed)


def seed():
    """Reseed the global generator from fresh entropy; returns the seed."""
    return _global.seed()


def initial_seed():
    return _global.initial_seed()


def default_generator():
    return _global


def get_rng_state():
    """The global generator's state as a JSON-friendly dict (for checkpoints)."""
    return _global.bit_generator.state


def set_rng_state(state):
    _global.bit_generator.state = state


def _gen(generator):
    return _global if generator is None else generator
