"""Seeded random number generation.

All randomness in qiflow (initialisation, dropout, shuffling) draws from a
``numpy.random.Generator``: the global one set by :func:`manual_seed`, or one
passed explicitly as ``generator=``.

>>> _ = qf.manual_seed(0); a = qf.randn(2)
>>> _ = qf.manual_seed(0); bool((qf.randn(2) == a).all())
True
"""
import numpy as np

_global = np.random.default_rng(0)


def manual_seed(seed):
    """Reseed the global generator; returns it."""
    global _global
    _global = np.random.default_rng(seed)
    return _global


def default_generator():
    return _global


def Generator(seed=None):
    """A new independent generator (``numpy.random.Generator``)."""
    return np.random.default_rng(seed)


def get_rng_state():
    """The global generator's state as a JSON-friendly dict (for checkpoints)."""
    return _global.bit_generator.state


def set_rng_state(state):
    _global.bit_generator.state = state


def _gen(generator):
    return _global if generator is None else generator
