"""This machine's sgemm peak, measured with one large float32 ``np.matmul``.

Runs in a benchmark child of its own, with the same thread count as every
framework.  The size doubles from 512 until one product takes at least
`target_s` (or reaches 4096); the figure is the best of `reps` products of that
size, 2*n**3 FLOPs each, into a preallocated output.  It is NumPy's BLAS: the
roofline every case's fraction is taken against.

    >>> r = measure(target_s=0.0, reps=1)
    >>> r["n"], r["gflops"] > 0
    (512, True)
"""
import time

import numpy as np


def measure(target_s=0.1, reps=5, max_n=4096):
    """{'n', 'best_s', 'gflops', 'times'} for the best of `reps` n x n float32 products."""
    g = np.random.default_rng(0)
    n = 512
    while True:
        a = g.standard_normal((n, n), dtype=np.float32)
        b = g.standard_normal((n, n), dtype=np.float32)
        c = np.empty((n, n), np.float32)
        np.matmul(a, b, out=c)                 # first call: thread start-up, page faults
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        if time.perf_counter() - t0 >= target_s or n >= max_n:
            break
        n *= 2
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        times.append(time.perf_counter() - t0)
    best = min(times)
    return {"n": n, "best_s": best, "gflops": 2.0 * n ** 3 / best / 1e9, "times": times}
