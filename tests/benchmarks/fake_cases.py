"""Test-only benchmark cases, each built to trip one check of the harness.

Loaded by ``benchmarks/registry.py`` when QIFLOW_BENCH_EXTRA_CASES names this
file (the smoke tests set it); ``_harness`` is importable because every
benchmark process has ``benchmarks/`` on its path.
"""
import time

import numpy as np

from _harness import Case

OVERSUBSCRIBED = 3          # NumPy's BLAS threads the 'fake.threads' numpy step switches to


def _gemm(quick):
    a = np.ones((32, 32), np.float32)
    return lambda: float((a @ a)[0, 0]) * 0.0


def _changes_threads(quick):
    # behind the harness's back, as a library that resizes its pool would
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=OVERSUBSCRIBED, user_api="blas")
    return _gemm(quick)


def _constant_loss(value):
    def setup(quick):
        return lambda: value
    return setup


_SET_UP = [0]


def _crowded(quick):
    """Sleeps 20 ms alone and 80 ms beside another framework set up in this process, like two
    thread pools that share the cores (a gap wide enough that a loaded machine's late
    wake-ups, which lengthen the solo figure most, cannot hide it)."""
    _SET_UP[0] += 1

    def step():
        time.sleep(0.020 * 4 ** (_SET_UP[0] - 1))
        return 0.0
    return step


def cases():
    common = dict(inner=2, reps=2, quick_inner=2, quick_reps=2, warmup=2)
    return [
        Case("fake.threads", "the numpy step resizes its BLAS pool", "ms/step", 1e3,
             {"qiflow": _gemm, "numpy": _changes_threads}, **common),
        Case("fake.loss", "the two frameworks report different losses", "ms/step", 1e3,
             {"qiflow": _constant_loss(1.5), "numpy": _constant_loss(1.0)}, **common),
        Case("fake.artefact", "a step that slows down beside another framework", "ms/step", 1e3,
             {"qiflow": _crowded, "numpy": _crowded}, **common),
    ]
