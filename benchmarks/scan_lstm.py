#!/usr/bin/env python3
"""A scan-based LSTM training step (``T.nnet.lstm`` in a compiled ``T.function``)
against the eager LSTM primitive (``qf.nn.LSTM`` + ``backward`` + ``optim.SGD``).

The same work for both: the ``lstm35`` case of ``benchmarks/run`` (an LSTM 200->200
over 35 steps, batch 20, MSE against a fixed target, one SGD step), from the same
float32 weights; the first two losses of each are printed and must agree.  Each
repetition of each side is a fresh process with the same thread count (as in
``benchmarks/run``) that times each of its steps and reports the median step; the
parent prints the medians over the processes and the ratio scan / eager
(lower is better), by wall-clock time and by the process's CPU time (steadier when
other jobs share the cores).

    python benchmarks/scan_lstm.py [--reps 5] [--steps 20] [--threads 1] [--quick]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SENTINEL = "QIFLOW-SCAN-LSTM "


def _scan_step():
    import numpy as np
    from qiflow import sym as T
    from case_nn import _lstm_arrays, _LR_LSTM, _N, _H
    (wi, wh, bi, bh), x, y = _lstm_arrays()
    p = [T.shared(a.copy(), name=n) for a, n in zip((wi, wh, bi, bh), ("w_ih", "w_hh", "b_ih", "b_hh"))]
    xs, ys = T.ftensor3("x"), T.ftensor3("y")
    z = T.constant(np.zeros((_N, _H), np.float32))
    hs, _ = T.nnet.lstm(xs, z, z, *p)
    loss = ((hs - ys) ** 2).mean()
    lr = np.float32(_LR_LSTM)
    f = T.function([xs, ys], loss, updates=[(v, v - lr * g) for v, g in zip(p, T.grad(loss, p))])
    return lambda: f(x, y)


def _eager_step():
    from case_nn import _lstm_qiflow
    return _lstm_qiflow(False)


def child(kind, steps):
    sys.path[:0] = [ROOT, HERE]
    step = {"scan": _scan_step, "eager": _eager_step}[kind]()
    losses = [float(step()) for _ in range(2)]
    for _ in range(2):
        step()
    walls, cpus = [], []
    for _ in range(steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    # the median step: a burst of other work on a shared machine moves it less than the mean
    per, cpu = statistics.median(walls), statistics.median(cpus)
    print(SENTINEL + json.dumps({"kind": kind, "s_per_step": per, "cpu_s_per_step": cpu,
                                 "losses": losses}), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5, help="processes per side (default 5)")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per process (default 20)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads (default 1)")
    ap.add_argument("--quick", action="store_true", help="2 processes per side, 3 steps each")
    ap.add_argument("--child", choices=("scan", "eager"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        return child(a.child, a.steps)
    reps, steps = (2, 3) if a.quick else (a.reps, a.steps)
    sys.path.insert(0, HERE)
    import _threads
    env = _threads.set_env(a.threads, dict(os.environ))
    env["PYTHONPATH"] = os.pathsep.join([ROOT, HERE, env.get("PYTHONPATH", "")])
    res = {"scan": [], "eager": []}
    cpu = {"scan": [], "eager": []}
    losses = {}
    for r in range(reps):
        for kind in (("scan", "eager") if r % 2 == 0 else ("eager", "scan")):     # interleaved
            proc = subprocess.run([sys.executable, __file__, "--child", kind, "--steps", str(steps)],
                                  capture_output=True, text=True, env=env, timeout=1800)
            line = [l for l in proc.stdout.splitlines() if l.startswith(SENTINEL)]
            if not line:
                print(f"{kind} child failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
                return 1
            p = json.loads(line[-1][len(SENTINEL):])
            res[kind].append(p["s_per_step"])
            cpu[kind].append(p["cpu_s_per_step"])
            losses[kind] = p["losses"]
    med = {k: statistics.median(v) for k, v in res.items()}
    cmed = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"LSTM 200->200, 35 steps, batch 20, MSE + SGD; {reps} processes per side, {steps} steps "
          f"each, {a.threads} thread(s)")
    for k, name in (("scan", "compiled scan (T.nnet.lstm)"), ("eager", "eager LSTM primitive")):
        print(f"  {name:30s} {med[k] * 1e3:8.2f} ms/step wall, {cmed[k] * 1e3:8.2f} ms/step CPU   "
              f"first losses {losses[k][0]:.6f} {losses[k][1]:.6f}   "
              f"(wall: {', '.join(f'{t * 1e3:.1f}' for t in res[k])})")
    agree = all(abs(s - e) <= 1e-4 * max(1.0, abs(e)) for s, e in zip(losses["scan"], losses["eager"]))
    print(f"  same losses: {'yes' if agree else 'NO'}")
    print(f"  ratio scan / eager: {med['scan'] / med['eager']:.3f} wall, "
          f"{cmed['scan'] / cmed['eager']:.3f} CPU (the CPU figure is the steadier one on a loaded machine)")
    return 0 if agree else 2


if __name__ == "__main__":
    sys.exit(main())
