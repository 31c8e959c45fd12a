"""The parent side of the harness: which processes run, in what order, and what they mean.

Solo mode (the default): every repetition of every (case, framework) is a
fresh child process (``_child``), launched in interleaved order (rep 1 of
every framework, then rep 2 ..., the order rotated by one framework each rep)
so that a burst of load from other processes hits every framework alike.
``--in-process`` (the legacy harness): each repetition is one child holding
every framework, as all benchmarks once ran; the solo figures of the
references (NumPy, torch) are then taken beside it, to show what sharing a
process does to them.  A row gets a check wherever both figures of a
framework exist: they must agree within ``AGREE`` or the row says DISAGREE.
The parent never imports torch and runs no NumPy work of its own: it only
launches, collects and compares.
"""
import os
import statistics
import subprocess
import sys
import time

from _harness import RATIOS, REFERENCES, loss_mismatch

AGREE = 0.15              # in-process vs solo medians: a larger relative gap is an artefact
CHILD_TIMEOUT_S = 1800


class Runner:
    """Launches benchmark children with the thread count in their environment."""

    def __init__(self, run_path, threads, quick, log=None):
        self.run_path, self.threads, self.quick = run_path, threads, quick
        self.children = []                     # one record per child, for --json
        self.torch_blas = None                 # torch's BLAS as its first child saw it
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))

    def spawn(self, kind, case_key="", fws=()):
        import _child
        import _threads
        cmd = [sys.executable, self.run_path, "--child", kind, "--threads", str(self.threads),
               "--cases", case_key, "--frameworks", ",".join(fws)] + (["--quick"] if self.quick else [])
        env = _threads.set_env(self.threads, dict(os.environ))
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                                  timeout=CHILD_TIMEOUT_S)
            payload = _child.parse(proc.stdout)
            if payload is None:
                tail = [l for l in proc.stderr.strip().splitlines() if l.strip()]
                payload = {"failed": f"child exited with status {proc.returncode}: "
                                     f"{tail[-1] if tail else 'no output'}"}
        except subprocess.TimeoutExpired:
            payload = {"failed": f"child ran past {CHILD_TIMEOUT_S} s and was stopped"}
        except ValueError as exc:
            payload = {"failed": f"child printed an unreadable result: {exc}"}
        payload.setdefault("frameworks", list(fws))
        self.children.append({"kind": kind, "case": case_key, "frameworks": list(fws),
                              "pid": payload.get("pid"), "wall_s": time.perf_counter() - t0,
                              "failed": payload.get("failed"),
                              "thread_mismatch": payload.get("threads", {}).get("mismatch", [])})
        seen = payload.get("threads", {}).get("at_end") or {}
        if self.torch_blas is None and seen.get("torch"):
            self.torch_blas = _threads.describe_torch(seen)
        for msg in payload.get("threads", {}).get("mismatch", []):
            self.log(f"!! THREAD MISMATCH in the {kind} child of {case_key or 'peak'} "
                     f"[{','.join(fws)}]: asked for {self.threads}, {msg}")
        return payload


def _collect(runs):
    """Per-framework figures of a list of child payloads."""
    stats = {}
    for p in runs:
        for fw in p["frameworks"]:
            s = stats.setdefault(fw, {"times": [], "losses": None, "error": None,
                                      "unavailable": False, "mismatch": set(), "pids": []})
            if "failed" in p:
                s["error"] = s["error"] or p["failed"]
                continue
            s["pids"].append(p["pid"])
            s["times"].extend(p["times"].get(fw, []))
            if s["losses"] is None:
                s["losses"] = p["losses"].get(fw)
            if fw in p["errors"]:
                s["error"] = s["error"] or p["errors"][fw]
            if fw in p["unavailable"]:
                s["unavailable"] = True
            s["mismatch"].update(p["threads"]["mismatch"])
    return stats


def run_case(case, fws, runner, reps, in_process, check):
    """Launch a timed case's children; return its result row (before the peak is known)."""
    avail = [fw for fw in fws if fw in case.setups]
    solo_fws = avail if not in_process else ([f for f in avail if f in REFERENCES] if check else [])
    want_inproc = bool(avail) and (in_process or check)
    solo = {fw: [] for fw in solo_fws}
    inproc, dead = [], set()
    for r in range(reps):
        if want_inproc:
            inproc.append(runner.spawn("time", case.key, avail))
        k = r % len(solo_fws) if solo_fws else 0
        for fw in solo_fws[k:] + solo_fws[:k]:
            if fw in dead:
                continue
            p = runner.spawn("time", case.key, [fw])
            solo[fw].append(p)
            if fw not in p.get("times", {}):       # n/a or failed: the next reps would be too
                dead.add(fw)
    solo_stats = _collect([p for runs in solo.values() for p in runs])
    inproc_stats = _collect(inproc)
    primary = inproc_stats if in_process else solo_stats
    row = _row(case, primary, reps, "in-process" if in_process else "solo")
    row["check"] = _check(case, solo_stats, inproc_stats) if (in_process or check) else {}
    row["warnings"] = [f"{fw}'s solo child loaded torch (its process was not isolated from torch)"
                       for fw, runs in solo.items() if fw != "torch"
                       and any(p.get("torch_loaded") for p in runs)]
    # the figures not shown in the table still had to run with the threads asked for
    other, label = (solo_stats, "solo") if in_process else (inproc_stats, "in-process")
    for fw, s in other.items():
        if s["mismatch"]:
            row["thread_mismatch"][f"{fw} ({label})"] = sorted(s["mismatch"])
    return row


def _median_s(s):
    return statistics.median(s["times"]) if s and s["times"] else None


def _row(case, stats, reps, mode):
    med_s = {fw: _median_s(s) for fw, s in stats.items() if s["times"]}
    medians = {fw: v * case.scale for fw, v in med_s.items()}
    ratios = {f"{a}/{b}": medians[a] / medians[b] for a, b in RATIOS
              if a in medians and b in medians and medians[b] > 0}
    losses = {fw: s["losses"] for fw, s in stats.items() if s["losses"] is not None}
    return {
        "case": case.key, "title": case.title, "unit": case.unit, "note": case.note,
        "mode": mode, "flops": case.flops, "median": medians, "median_s": med_s,
        "min_max": {fw: [min(s["times"]) * case.scale, max(s["times"]) * case.scale]
                    for fw, s in stats.items() if s["times"]},
        "reps": reps, "processes": {fw: len(s["pids"]) for fw, s in stats.items()},
        "first_loss": losses, "loss_mismatch": loss_mismatch(losses),
        "errors": {fw: s["error"] for fw, s in stats.items() if s["error"]},
        "thread_mismatch": {fw: sorted(s["mismatch"]) for fw, s in stats.items() if s["mismatch"]},
        "ratios": ratios, "targets": case.target, "peak_fraction": {},
    }


def _check(case, solo, inproc):
    """In-process vs solo medians of every framework that has both."""
    out = {}
    for fw in solo:
        a, b = _median_s(solo.get(fw)), _median_s(inproc.get(fw))
        if a and b:
            gap = b / a - 1.0
            out[fw] = {"solo": a * case.scale, "in_process": b * case.scale, "gap": gap,
                       "agree": abs(gap) <= AGREE}
    return out


def add_peak_fractions(results, peak_gflops):
    """Fraction of the measured sgemm peak: FLOPs per call / seconds per call / peak."""
    for r in results:
        if r.get("flops") and peak_gflops:
            r["peak_fraction"] = {fw: r["flops"] / s / (peak_gflops * 1e9)
                                  for fw, s in r["median_s"].items() if s}


UNMEASURED = ("compile time: a 10k-op graph in < 5 s, a 100k-op graph in < 60 s "
              "(issue 11, part 5): not measured by this harness",)


DEFAULT_CHECK = "mlp256"


def _matches(key, prefixes):
    """'all', '=key' (exactly that case) or a key prefix, as --cases takes them."""
    for p in prefixes:
        if p == "all" or (key == p[1:] if p.startswith("=") else key.startswith(p)):
            return True
    return False


def environment(threads, args):
    """What the header reports, apart from what only the children can see."""
    import importlib.metadata as md
    import platform

    def version(name):
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return None
    return {"machine": _cpu_model(), "cpus": os.cpu_count(), "threads": threads,
            "python": platform.python_version(), "numpy": version("numpy"),
            "torch": version("torch"), "quick": args.quick,
            "mode": "in-process (legacy: all frameworks in one process)" if args.in_process
            else "solo (one fresh process per case, framework and rep)",
            "load_start": _load()}


def _load():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def main(args, threads, run_path):
    """Run the chosen cases in their processes; print the table (or JSON). Returns the exit code."""
    import json
    import _report
    import _threads
    import memory
    import registry
    all_cases = registry.all_cases()
    if args.list:
        for c in all_cases:
            print(f"{c.key:<16} {c.title}")
        return 0
    prefixes = [s.strip() for s in args.cases.split(",") if s.strip()]
    chosen = [c for c in all_cases if not prefixes or any(c.key.startswith(p) for p in prefixes)]
    if not chosen:
        print(f"benchmarks/run: no case matches {args.cases!r}; try --list", file=sys.stderr)
        return 2
    fws = tuple(f for f in args.frameworks.split(",") if f)
    unknown = [f for f in fws if f not in _report.FRAMEWORKS]
    if unknown:
        print(f"benchmarks/run: unknown framework(s) {', '.join(unknown)}; "
              f"choose from {','.join(_report.FRAMEWORKS)}", file=sys.stderr)
        return 2
    check = args.check_in_process
    if check is None:           # by default one case (exactly), where the artefact was found
        check = ["all"] if args.in_process else ["=" + DEFAULT_CHECK]
    else:
        check = [] if check == "none" else [s.strip() for s in check.split(",") if s.strip()]

    env = environment(threads, args)
    runner = Runner(run_path, threads, args.quick)
    peaks = [runner.spawn("peak")]
    results, profiles = [], {}
    for case in chosen:
        t0, n0 = time.perf_counter(), len(runner.children)
        if getattr(case, "memory", False):
            results.extend(memory.run(case, fws, runner))
        else:
            reps = args.reps or (case.quick_reps if args.quick else case.reps)
            results.append(run_case(case, fws, runner, reps, args.in_process,
                                    _matches(case.key, check)))
            if args.profile:
                profiles[case.key] = runner.spawn("profile", case.key, ["qiflow"])
        runner.log(f"  ran {case.key}: {len(runner.children) - n0} processes, "
                   f"{time.perf_counter() - t0:.0f} s")
    peaks.append(runner.spawn("peak"))

    good = [p for p in peaks if "gflops" in p]
    best = max(good, key=lambda p: p["gflops"]) if good else {}
    env.update(load_end=_load(), peak={k: best.get(k) for k in ("n", "gflops", "best_s", "times")},
               peaks=[p["gflops"] for p in good],
               peak_mismatch=sorted({m for p in peaks for m in p.get("threads", {}).get("mismatch", [])}),
               numpy_blas=_threads.describe_numpy_blas(best["threads"]["at_end"]) if best else None,
               torch_blas=runner.torch_blas, unmeasured_targets=UNMEASURED)
    add_peak_fractions(results, best.get("gflops"))
    data = {"env": env, "results": results, "children": runner.children}
    if args.profile:
        data["profiles"] = {k: p.get("totals", {}) for k, p in profiles.items()}
    if args.json_file:
        with open(args.json_file, "w") as f:
            json.dump(data, f, indent=1, default=str)
    if args.json:
        print(json.dumps(data, indent=1, default=str))
        return 0
    print(_report.full(env, results))
    for key, p in profiles.items():
        print(f"\n## profile of qiflow eager: {key} ({p.get('what', p.get('failed'))})\n"
              f"{p.get('table', '')}")
    return 0
