#!/usr/bin/env python
"""Data parallelism on this machine: threads against MPI processes, and the
all-reduce time against message size.

    python benchmarks/distributed.py            # about two minutes on 2 cores
    python benchmarks/distributed.py --quick    # rough figures, a few seconds per row

1. Training steps of the MLP 784-500-10 and LeNet-5 (SGD, float32, random
   MNIST-shaped data) with the same global batch run as 1 process x 1 thread,
   1 process x 2 threads, and 2 processes x 1 thread each under
   DistributedDataParallel (half the batch per rank), eager and compiled by
   ``qf.compile`` (the traced step holds the all-reduce).  Each configuration
   runs in processes of its own, so thread pools never compete.
2. ``all_reduce`` of 1 KB .. 64 MB float32 buffers on 2 ranks: qiflow's call
   (with and without the shape check) and mpi4py's Allreduce.

Scaling efficiency = speedup over 1 process x 1 thread / 2 (1.0: perfect).
"half" is one process at half the batch (one rank's compute alone); "DDP
cost" = the DDP step - half: communication, waiting and DDP's own work.
Needs mpi4py and mpiexec (pip install 'qiflow[mpi]').  Not part of
``benchmarks/run``.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = [1 << k for k in range(10, 27, 2)]          # 1 KB, 4 KB, ... 64 MB


# ------------------------------------------------------------------ workers
def _limit_threads(n):
    from threadpoolctl import threadpool_limits
    threadpool_limits(n)


def worker_step(args):
    """Time training steps; prints one JSON line (rank 0)."""
    _limit_threads(args.threads)
    import numpy as np
    import qiflow as qf
    import qiflow.nn.functional as F
    from qiflow import models

    ddp = args.ddp
    if ddp:
        from qiflow import distributed as dist
        from qiflow.nn.parallel import DistributedDataParallel
        dist.init_process_group("mpi")
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world = 0, 1
    qf.manual_seed(0)
    net = models.build(args.model)
    model = DistributedDataParallel(net) if ddp else net
    opt = qf.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    local = args.batch // world
    rng = np.random.default_rng(rank)
    X = rng.standard_normal((local, 784)).astype(np.float32)
    Y = rng.integers(0, 10, local)
    xb, yb = qf.tensor(X), qf.tensor(Y)

    def step(xb, yb):
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    if args.compiled:
        step = qf.compile(step, strict=True)

    for _ in range(args.warmup):
        step(xb, yb)
    times = []
    for _ in range(args.steps):
        if ddp:
            dist.barrier()                  # each step starts together: time the slowest rank's step
        t0 = time.perf_counter()
        step(xb, yb)
        times.append(time.perf_counter() - t0)
    if ddp:
        worst = np.array(times)
        dist.all_reduce(worst, op="max")
        times = worst.tolist()
    if rank == 0:
        print(json.dumps({"model": args.model, "params": net.num_parameters(),
                          "median_s": float(np.median(times)), "min_s": float(np.min(times))}))


def worker_allreduce(args):
    """Time all_reduce against size on every rank; prints one JSON line (rank 0)."""
    _limit_threads(1)
    import numpy as np
    from mpi4py import MPI
    from qiflow import distributed as dist
    from qiflow.distributed.group import ProcessGroup

    dist.init_process_group("mpi")
    unchecked = ProcessGroup(MPI.COMM_WORLD.Dup(), dist.DEFAULT_TIMEOUT, check_shapes=False)
    comm = MPI.COMM_WORLD.Dup()
    rows = []
    for size in SIZES:
        a = np.ones(size // 4, np.float32)
        reps = args.reps if size <= 1 << 20 else max(3, args.reps // 10)
        calls = {"qiflow": lambda: dist.all_reduce(a),
                 "unchecked": lambda: dist.all_reduce(a, group=unchecked),
                 "mpi4py": lambda: comm.Allreduce(MPI.IN_PLACE, a)}
        best = {}
        for name, fn in calls.items():
            fn()
            ts = []
            for _ in range(reps):
                comm.Barrier()
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
            best[name] = float(np.median(ts))
        rows.append({"bytes": size, **best})
    if comm.Get_rank() == 0:
        print(json.dumps({"world": comm.Get_size(), "rows": rows}))


# ------------------------------------------------------------------ driver
def _env(threads):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    return env


def _child(cmd, threads):
    p = subprocess.run(cmd, capture_output=True, text=True, env=_env(threads), timeout=1800)
    if p.returncode != 0:
        sys.exit(f"benchmarks/distributed.py: a run failed ({' '.join(cmd[:4])} ...):\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def _mpiexec():
    from qiflow.distributed.launch import find_mpiexec
    found = find_mpiexec()
    if found is None:
        sys.exit("benchmarks/distributed.py: mpiexec not found; pip install 'qiflow[mpi]'")
    return found


def _load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="few repetitions (rough figures)")
    p.add_argument("--part", choices=["all", "steps", "allreduce"], default="all",
                   help="run only the training steps or only the all-reduce sweep")
    p.add_argument("--worker", choices=["step", "allreduce"], help=argparse.SUPPRESS)
    p.add_argument("--model", default="mlp", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=256, help=argparse.SUPPRESS)
    p.add_argument("--ddp", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--compiled", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, default=20, help=argparse.SUPPRESS)
    p.add_argument("--warmup", type=int, default=3, help=argparse.SUPPRESS)
    p.add_argument("--reps", type=int, default=200, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker == "step":
        return worker_step(args)
    if args.worker == "allreduce":
        return worker_allreduce(args)

    me = [sys.executable, str(Path(__file__).resolve())]
    mpiexec = _mpiexec()
    steps = ["--steps", "5" if args.quick else "20", "--warmup", "1" if args.quick else "3"]
    print(f"load average before: {_load()}  (2 processes share the cores; figures are noisy when "
          "the machine is busy)")
    if args.part != "allreduce":
        print(f"\n{'model':8} {'params':>8} {'batch':>6} {'1p x 1t':>9} {'1p x 2t':>9} {'2p x 1t':>9}"
              f"  {'speedup 2t':>10} {'speedup 2p':>10} {'eff. 2t':>8} {'eff. 2p':>8} {'half':>7} "
              f"{'DDP cost':>8} {'2p cmp':>7} {'eff. cmp':>8}   (ms per step)")
    for model, batch in (("mlp", 256), ("lenet", 128)) if args.part != "allreduce" else ():
        common = ["--worker", "step", "--model", model, "--batch", str(batch), *steps]
        one = _child(me + common + ["--threads", "1"], 1)
        two = _child(me + common + ["--threads", "2"], 2)
        ddp = _child([mpiexec, "-n", "2", *me, *common, "--threads", "1", "--ddp"], 1)
        cmp_ = _child([mpiexec, "-n", "2", *me, *common, "--threads", "1", "--ddp", "--compiled"], 1)
        half = [a if a != str(batch) else str(batch // 2) for a in common]
        local = _child(me + half + ["--threads", "1"], 1)      # one rank's compute, alone
        t1, t2, tp, th = one["median_s"], two["median_s"], ddp["median_s"], local["median_s"]
        print(f"{model:8} {one['params']:>8} {batch:>6} {t1 * 1e3:9.1f} {t2 * 1e3:9.1f} {tp * 1e3:9.1f}"
              f"  {t1 / t2:10.2f} {t1 / tp:10.2f} {t1 / t2 / 2:8.2f} {t1 / tp / 2:8.2f} {th * 1e3:7.1f} "
              f"{(tp - th) * 1e3:8.1f} {cmp_['median_s'] * 1e3:7.1f} {t1 / cmp_['median_s'] / 2:8.2f}")
    if args.part == "steps":
        return print(f"\nload average after: {_load()}")
    res = _child([mpiexec, "-n", "2", *me, "--worker", "allreduce",
                  "--reps", "20" if args.quick else "200"], 1)
    p_ = res["world"]
    print(f"\nall_reduce (sum) of float32 on {p_} ranks, median time per call"
          f"\n{'bytes':>10} {'qiflow us':>10} {'no check us':>12} {'mpi4py us':>10} {'bus GB/s (mpi4py)':>18}")
    for row in res["rows"]:
        bus = 2 * (p_ - 1) / p_ * row["bytes"] / row["mpi4py"] / 1e9
        print(f"{_human(row['bytes']):>10} {row['qiflow'] * 1e6:10.1f} {row['unchecked'] * 1e6:12.1f} "
              f"{row['mpi4py'] * 1e6:10.1f} {bus:18.2f}")
    print(f"\nload average after: {_load()}")


def _human(n):
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n} {unit}"
        n //= 1024
    return f"{n} GB"


if __name__ == "__main__":
    main()
