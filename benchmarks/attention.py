#!/usr/bin/env python
"""Attention and Transformer speed, qiflow against PyTorch; prints qiflow/torch ratios.

Cases (float32, training steps: forward, backward and an optimizer step):

* ``lm``:  a causal Transformer language model: embedding (vocab 256), a
  TransformerEncoder of 2 layers (d_model 128, 4 heads, feed-forward 512,
  dropout 0.1, batch_first), a linear head, cross-entropy and Adam;
  batch 16 of 64 tokens;
* ``mha``: MultiheadAttention alone (self-attention, causal mask,
  need_weights=False), forward + backward of sum(out * g) on (16, 64, 128);
* ``mha_weights``: the same with need_weights=True (the attention-weights path).

Each framework runs in its own process with the same thread count (in one
process their thread pools fight and the figures lie).  Both start from the
same weights (torch's initialisation, handed to qiflow through an .npz
file), so the first losses (without dropout) must agree; the script checks that.

    python benchmarks/attention.py                   # every case, 2 threads
    python benchmarks/attention.py --case lm --profile   # where qiflow's time goes
    python benchmarks/attention.py --quick --steps 1 --rounds 1   # tiny sizes: a smoke test
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

V, E, H, FF, LAYERS, T, N = 256, 128, 4, 512, 2, 64, 16
CASES = ("lm", "mha", "mha_weights")


def _quick():
    """Tiny sizes for the smoke test: the same code paths in a fraction of a second."""
    global V, E, H, FF, LAYERS, T, N
    V, E, H, FF, LAYERS, T, N = 17, 8, 2, 16, 2, 6, 3


def _limit_threads(n):
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n)
    except ImportError:       # the environment variables set by the parent still apply
        pass


def _data(seed=0):
    g = np.random.default_rng(seed)
    tokens = g.integers(0, V, (N, T + 1))
    x = g.standard_normal((N, T, E)).astype(np.float32)
    gout = g.standard_normal((N, T, E)).astype(np.float32)
    return tokens, x, gout


def _causal():
    return np.triu(np.full((T, T), -np.inf, np.float32), 1)


# ------------------------------------------------------------------- the two frameworks
def _torch_case(case, weights_path):
    import torch
    import torch.nn as nn
    torch.manual_seed(0)
    tokens, x, gout = _data()
    mask = torch.tensor(_causal())
    if case == "lm":
        layer = nn.TransformerEncoderLayer(E, H, FF, dropout=0.1, batch_first=True)
        model = nn.ModuleDict({"emb": nn.Embedding(V, E), "enc": nn.TransformerEncoder(layer, LAYERS,
                                                                                         enable_nested_tensor=False),
                               "head": nn.Linear(E, V)})
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        xi, yi = torch.tensor(tokens[:, :-1]), torch.tensor(tokens[:, 1:]).reshape(-1)

        def loss_of():
            h = model["enc"](model["emb"](xi), mask=mask, is_causal=True)
            return nn.functional.cross_entropy(model["head"](h).reshape(-1, V), yi)

        def step():
            loss = loss_of()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.item()

        def check():      # the first loss without dropout, to compare the frameworks
            model.eval()
            with torch.no_grad():
                v = loss_of().item()
            model.train()
            return v
    else:
        model = nn.MultiheadAttention(E, H, batch_first=True)
        xt, gt = torch.tensor(x, requires_grad=True), torch.tensor(gout)
        need = case == "mha_weights"

        def step():
            out = model(xt, xt, xt, attn_mask=mask, need_weights=need)[0]
            loss = (out * gt).sum()
            model.zero_grad()
            xt.grad = None
            loss.backward()
            return loss.item()
        check = step
    np.savez(weights_path, **{k: v.detach().numpy() for k, v in model.state_dict().items()})
    return step, check


def _qiflow_case(case, weights_path):
    import qiflow as qf
    from qiflow import nn
    import qiflow.nn.functional as F
    qf.manual_seed(0)
    tokens, x, gout = _data()
    mask = qf.tensor(_causal())
    if case == "lm":
        layer = nn.TransformerEncoderLayer(E, H, FF, dropout=0.1, batch_first=True)
        model = nn.ModuleDict({"emb": nn.Embedding(V, E), "enc": nn.TransformerEncoder(layer, LAYERS),
                               "head": nn.Linear(E, V)})
        xi, yi = qf.tensor(tokens[:, :-1]), tokens[:, 1:].reshape(-1)

        def loss_of():
            h = model["enc"](model["emb"](xi), mask=mask, is_causal=True)
            return F.cross_entropy(model["head"](h).reshape(-1, V), yi)

        def step():
            loss = loss_of()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.item()

        def check():
            model.eval()
            with qf.no_grad():
                v = loss_of().item()
            model.train()
            return v
    else:
        model = nn.MultiheadAttention(E, H, batch_first=True)
        xt, gt = qf.tensor(x, requires_grad=True), qf.tensor(gout)
        need = case == "mha_weights"

        def step():
            out = model(xt, xt, xt, attn_mask=mask, need_weights=need)[0]
            loss = (out * gt).sum()
            model.zero_grad()
            xt.grad = None
            loss.backward()
            return loss.item()
        check = step
    with np.load(weights_path) as w:
        model.load_state_dict({k: w[k] for k in w.files})
    opt = qf.optim.Adam(model.parameters(), lr=1e-3)
    return step, check


def child(fw, case, weights_path, steps, threads, profile):
    _limit_threads(threads)
    step, check = (_torch_case if fw == "torch" else _qiflow_case)(case, weights_path)
    if fw == "torch":
        import torch
        torch.set_num_threads(threads)
    first = check()
    for _ in range(2):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    out = {"median_s": float(np.median(times)), "min_s": float(np.min(times)), "first_loss": first}
    if profile and fw == "qiflow":
        from qiflow.profiler import profile as prof_ctx
        with prof_ctx() as prof:
            for _ in range(steps):
                step()
        out["profile"] = prof.table(top=20, per=steps)
    print(json.dumps(out))


def run_child(fw, case, weights_path, steps, threads, profile, quick):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    cmd = [sys.executable, __file__, "--child", fw, "--case", case, "--weights", weights_path,
           "--steps", str(steps), "--threads", str(threads)] + (["--profile"] if profile else []) + \
        (["--quick"] if quick else [])
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"{fw} {case} failed:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", choices=CASES, action="append")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per process (median)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="torch/qiflow process pairs per case; the ratio is the median over rounds")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--profile", action="store_true", help="also print qiflow's time per op")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test, not a measurement)")
    ap.add_argument("--child", choices=("qiflow", "torch"), help=argparse.SUPPRESS)
    ap.add_argument("--weights", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.quick:
        _quick()
    if a.child:
        return child(a.child, a.case[0], a.weights, a.steps, a.threads, a.profile)
    cases = a.case or list(CASES)
    print(f"attention benchmarks{' (quick: tiny sizes)' if a.quick else ''}: threads={a.threads}, "
          f"{a.rounds} rounds of {a.steps} timed steps; load average before: {_load()}")
    print(f"{'case':<12} {'qiflow ms':>10} {'torch ms':>10} {'qiflow/torch':>13} {'min ratio':>10}  "
          f"first loss (qiflow / torch)")
    profiles = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            w = os.path.join(tmp, f"{case}.npz")
            rq, rt = [], []
            for r in range(a.rounds):   # alternate, so both frameworks see the same load drift
                t = run_child("torch", case, w, a.steps, a.threads, False, a.quick)
                q = run_child("qiflow", case, w, a.steps, a.threads, a.profile and r == 0, a.quick)
                rq.append(q)
                rt.append(t)
                if "profile" in q:
                    profiles.append((case, q["profile"]))
            qm, tm = np.median([q["median_s"] for q in rq]), np.median([t["median_s"] for t in rt])
            ratio = np.median([q["median_s"] / t["median_s"] for q, t in zip(rq, rt)])
            best = min(q["min_s"] for q in rq) / min(t["min_s"] for t in rt)
            loss = f"{rq[0]['first_loss']:.6g} / {rt[0]['first_loss']:.6g}"
            if not np.isclose(rq[0]["first_loss"], rt[0]["first_loss"], rtol=1e-3):
                loss += "  MISMATCH"
            print(f"{case:<12} {1e3 * qm:>10.1f} {1e3 * tm:>10.1f} {ratio:>13.2f} {best:>10.2f}  {loss}")
    print(f"load average after: {_load()}  (qiflow/torch: median over rounds of the ratio of medians; "
          f"min ratio: fastest step against fastest step)")
    for case, table in profiles:
        print(f"\nqiflow profile, {case} (per step):\n{table}")


def _load():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
