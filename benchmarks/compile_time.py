"""Compile time against graph size (issue 11, part 5): a script, not a test.

    python benchmarks/compile_time.py                 # chain and wide graphs, n = 1k ... 10k; deep MLP
    python benchmarks/compile_time.py --big           # also n = 100k
    python benchmarks/compile_time.py --sizes 1000,2000 --kinds chain
    python benchmarks/compile_time.py --profile chain:4000   # cProfile of one compile (top 25)

Each measurement runs in a fresh child process (no memory or caches left from
a previous size) and reports the seconds ``T.function`` (or the first call of
``qf.compile``, which traces and compiles) took, wall-clock and (in brackets)
the process's CPU time, which other jobs on the machine disturb less; the CPU
time of building the graph (for ``grad``: the chain and ``T.grad``) comes last
on the line.  Then it prints the exponent ``p`` of a
least-squares fit ``t ~ n^p`` over the sizes that were timed.  A size is skipped
once a smaller one took longer than ``--budget`` seconds (the next would only
take longer).  Each compiled function is called once and its result checked, so
a fast but wrong compile cannot pass for a fast one (``max err``: the largest
|result - NumPy reference| / max(1, |reference|)).

Graphs:

* ``chain``: n elementwise ops in one chain, y <- tanh(y) * 0.5 + x ... (depth n);
* ``grad``: the gradient of the chain's sum (T.grad: about 4n nodes before the rewrites);
* ``wide``: n/2 independent terms tanh(x * c_i) summed as a balanced tree (depth log n);
* ``mlp``: ``qf.compile`` of one SGD training step of n Linear(16, 16) + ReLU layers
  (forward, backward, update; n = ``--mlp-layers``, 200 by default).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _chain(n):
    import numpy as np
    from qiflow import sym as T
    x = T.dvector("x")
    y = x
    ops = 0
    while ops < n:
        k = ops % 3
        if k == 0:
            y = T.tanh(y)
        elif k == 1:
            y = y * 0.5
        else:
            y = y + x
        ops += 1
    xv = np.linspace(-1, 1, 5)

    def ref():
        v = xv.copy()
        for j in range(n):
            k = j % 3
            v = np.tanh(v) if k == 0 else (v * 0.5 if k == 1 else v + xv)
        return v
    return [x], y, [xv], ref


def _wide(n):
    import numpy as np
    from qiflow import sym as T
    x = T.dvector("x")
    terms = [T.tanh(x * (1.0 + 1e-3 * i)) for i in range(max(1, n // 2))]
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    xv = np.linspace(-1, 1, 5)

    def ref():
        return sum(np.tanh(xv * (1.0 + 1e-3 * i)) for i in range(max(1, n // 2)))
    return [x], terms[0], [xv], ref


def _chain_grad(n):
    import numpy as np
    from qiflow import sym as T
    (x,), y, (xv,), _ = _chain(n)
    g = T.grad(y.sum(), x)

    def ref():                   # forward-mode: every op is elementwise, dy/dx is diagonal
        v, dv = xv.copy(), np.ones_like(xv)
        for j in range(n):
            k = j % 3
            if k == 0:
                v = np.tanh(v)
                dv = dv * (1 - v * v)
            elif k == 1:
                v, dv = v * 0.5, dv * 0.5
            else:
                v, dv = v + xv, dv + 1
        return dv
    return [x], g, [xv], ref


def _one_sym(kind, n):
    import numpy as np
    from qiflow import sym as T
    build = {"chain": _chain, "wide": _wide, "grad": _chain_grad}[kind]
    t0, c0 = time.perf_counter(), time.process_time()
    ins, out, vals, ref = build(n)
    t_build, c_build = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    f = T.function(ins, out)
    t_compile, c_compile = time.perf_counter() - t0, time.process_time() - c0
    got = f(*vals)
    want = ref()
    err = float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))
    return {"kind": kind, "n": n, "build_s": t_build, "compile_s": t_compile,
            "build_cpu_s": c_build, "compile_cpu_s": c_compile,
            "nodes_before": f.report.nodes_before, "nodes_after": f.report.nodes_after,
            "max_err": err, "ok": err < 1e-9}


def _one_mlp(n):
    import numpy as np
    import qiflow as qf
    from qiflow import nn
    qf.manual_seed(0)
    layers = []
    for _ in range(n):
        layers += [nn.Linear(16, 16), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(16, 4))
    opt = qf.optim.SGD(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    rng = np.random.default_rng(0)
    x = qf.tensor(rng.standard_normal((8, 16)).astype(np.float32))
    y = qf.tensor(rng.integers(0, 4, 8))
    snapshot = [p.detach().clone() for p in model.parameters()]
    eager_loss = float(step(x, y))
    eager_params = [p.detach().numpy().copy() for p in model.parameters()]
    with qf.no_grad():
        for p, s in zip(model.parameters(), snapshot):
            p.copy_(s)
    compiled = qf.compile(step, strict=True)
    t0, c0 = time.perf_counter(), time.process_time()
    loss = float(compiled(x, y))
    t_compile, c_compile = time.perf_counter() - t0, time.process_time() - c0
    err = max(abs(loss - eager_loss), max(float(np.max(np.abs(p.detach().numpy() - e)))
                                          for p, e in zip(model.parameters(), eager_params)))
    t0 = time.perf_counter()
    compiled(x, y)
    t_call = time.perf_counter() - t0
    return {"kind": "mlp", "n": n, "compile_s": t_compile, "compile_cpu_s": c_compile, "call_s": t_call,
            "max_abs_err": err, "ok": err < 1e-4}


def _child(kind, n):
    sys.setrecursionlimit(1000)      # the default: deep graphs must not need more
    res = _one_mlp(n) if kind == "mlp" else _one_sym(kind, n)
    print(json.dumps(res))


def _run_child(kind, n, timeout):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONPATH=ROOT)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", f"{kind}:{n}"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"kind": kind, "n": n, "compile_s": float("inf"), "error": f"over {timeout:.0f} s"}
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-1:] or ["?"]
        return {"kind": kind, "n": n, "compile_s": float("nan"), "error": tail[0]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def fit_exponent(ns, ts):
    """Least-squares slope of log t against log n (None with fewer than two points)."""
    pts = [(math.log(n), math.log(t)) for n, t in zip(ns, ts) if t > 0 and math.isfinite(t)]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else None


def _profile(spec):
    import cProfile
    import pstats
    kind, n = spec.split(":")
    sys.path.insert(0, ROOT)
    prof = cProfile.Profile()
    prof.enable()
    res = _one_mlp(int(n)) if kind == "mlp" else _one_sym(kind, int(n))
    prof.disable()
    print(res)
    pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    pstats.Stats(prof).sort_stats("tottime").print_stats(15)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,2000,4000,10000")
    ap.add_argument("--big", action="store_true", help="also n = 100000")
    ap.add_argument("--kinds", default="chain,grad,wide,mlp")
    ap.add_argument("--mlp-layers", default="200")
    ap.add_argument("--budget", type=float, default=120.0,
                    help="skip larger sizes once one compile took longer than this (s)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--profile", metavar="KIND:N")
    a = ap.parse_args(argv)
    if a.child:
        kind, n = a.child.split(":")
        return _child(kind, int(n))
    if a.profile:
        return _profile(a.profile)
    sizes = [int(s) for s in a.sizes.split(",")] + ([100000] if a.big else [])
    results = []
    for kind in a.kinds.split(","):
        ns = [int(s) for s in a.mlp_layers.split(",")] if kind == "mlp" else sizes
        rows = []
        for n in ns:
            if rows and rows[-1]["compile_s"] > a.budget:
                rows.append({"kind": kind, "n": n, "compile_s": float("nan"),
                             "error": f"skipped (a smaller size took over {a.budget:.0f} s)"})
                continue
            r = _run_child(kind, n, timeout=max(10 * a.budget, 60))
            rows.append(r)
            if not a.json:
                extra = r.get("error") or (
                    f"nodes {r.get('nodes_before')} -> {r.get('nodes_after')}, "
                    f"max err {r['max_err']:.1e}{'' if r['ok'] else '  WRONG RESULT'}"
                    if kind != "mlp" else
                    f"first call {r['compile_s']:.2f} s, second {1e3 * r['call_s']:.1f} ms, "
                    f"max |err| vs eager {r['max_abs_err']:.1e}{'' if r['ok'] else '  WRONG'}")
                cpu = (f"(cpu {r['compile_cpu_s']:8.3f} s)" if "compile_cpu_s" in r else " " * 19)
                built = (f"   {'T.grad+build' if kind == 'grad' else 'build'} cpu {r['build_cpu_s']:.2f} s"
                         if "build_cpu_s" in r else "")
                print(f"{kind:6s} n={n:7d}  compile {r['compile_s']:9.3f} s {cpu}   {extra}{built}",
                      flush=True)
        good = [r for r in rows if "error" not in r]
        p = fit_exponent([r["n"] for r in good], [r["compile_s"] for r in good])
        q = fit_exponent([r["n"] for r in good], [r.get("compile_cpu_s", 0) for r in good])
        if not a.json and len(good) > 1:
            print(f"{kind:6s} fitted exponent: t ~ n^{p:.2f}" + (f" (cpu ~ n^{q:.2f})" if q else ""))
        results.append({"kind": kind, "rows": rows, "exponent": p, "cpu_exponent": q})
    if a.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
