"""The child side of the harness: one fresh process does one piece of work and reports it.

`benchmarks/run --child KIND ...` lands here with the thread count already in
its environment (set by the parent before this interpreter started).  It
imports NumPy, and torch only when torch is among its frameworks (a qiflow
child never loads torch's thread pool), sets ``torch.set_num_threads``, does
the work, asks ``_threads.inspect`` which thread pools it holds before and
after, and prints one line ``QIFLOW-BENCH-CHILD {json}`` on stdout.

Kinds: ``time`` (``_harness.measure`` of the given frameworks), ``memory``
(peak resident memory of training, ``memory.child``), ``peak`` (the sgemm peak,
``_peak.measure``), ``profile`` (qiflow's per-op totals, ``profiling``).
"""
import json
import os
import sys

SENTINEL = "QIFLOW-BENCH-CHILD "


def main(args, threads):
    import numpy  # noqa: F401  (NumPy's BLAS pool must exist for the first check)
    fws = [f for f in args.frameworks.split(",") if f]
    if "torch" in fws and args.child != "peak":
        from _common import torch
        th = torch()
        if th is not None:
            th.set_num_threads(threads)
    import _threads
    before = _threads.inspect()
    payload = _work(args, fws)
    after = _threads.inspect()
    found = _threads.mismatches(before, threads) + _threads.mismatches(after, threads)
    payload.update(pid=os.getpid(), kind=args.child, frameworks=fws,
                   torch_loaded="torch" in sys.modules,
                   threads={"requested": threads, "at_start": before, "at_end": after,
                            "mismatch": sorted(set(found))})
    print(SENTINEL + json.dumps(payload, default=str), flush=True)
    return 0


def _work(args, fws):
    if args.child == "peak":
        import _peak
        return _peak.measure(target_s=0.02 if args.quick else 0.1, reps=3 if args.quick else 5)
    import registry
    case = registry.get(args.cases)
    if args.child == "time":
        import _harness
        return _harness.measure(case, fws, args.quick, reps=1)
    if args.child == "memory":
        import memory
        return memory.child(case, fws[0])
    if args.child == "profile":
        import profiling
        return profiling.profile_case(case, args.quick)
    raise ValueError(f"unknown benchmark child kind {args.child!r}")


def parse(stdout):
    """The payload of a child's stdout, or None when it printed none."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(SENTINEL):
            return json.loads(line[len(SENTINEL):])
    return None
