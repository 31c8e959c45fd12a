"""A benchmark case, and how one process times the steps of its frameworks.

A case gives, for each framework, a ``setup(quick)`` that builds the model and
data and returns a ``step`` callable (one unit of work: one op, one training
step ...) or None when that framework cannot run the case.  ``measure`` runs
inside one benchmark child: it sets up the frameworks it is given, records the
losses of their first two steps, warms up, and times ``reps`` interleaved
repetitions of ``inner`` calls.  The parent (``_parent``) decides which
frameworks share a process: one (the honest default) or all (``--in-process``).
Speed is reported, never asserted.
"""
import gc
import time

FRAMEWORKS = ("qiflow", "compiled", "numpy", "torch")
REFERENCES = ("numpy", "torch")
# (numerator, denominator) pairs shown as ratio columns; lower is better.
RATIOS = (("qiflow", "torch"), ("compiled", "torch"), ("qiflow", "numpy"), ("compiled", "numpy"))


class Case:
    """One benchmark row.

    ``setups`` maps a framework name to ``setup(quick) -> step | None``; the
    step may return a loss (anything ``float()`` accepts): the losses of the
    first two calls are compared across frameworks to catch unfair comparisons.
    ``scale`` turns seconds per call into the figure shown (1e6 for
    microseconds, the batches of an epoch for s/epoch).  ``flops`` is the GEMM
    and convolution work of one call (see ``_flops``), None where there is none.
    ``target`` maps a ratio column to the value it must not exceed.
    """

    def __init__(self, key, title, unit, scale, setups, inner=1, reps=5, quick_inner=None,
                 quick_reps=3, warmup=2, note="", target=None, flops=None):
        self.key, self.title, self.unit, self.scale = key, title, unit, scale
        self.setups, self.inner, self.reps, self.warmup = setups, inner, reps, warmup
        self.quick_inner = quick_inner or max(1, inner // 5)
        self.quick_reps = quick_reps
        self.note, self.target, self.flops = note, target or {}, flops


def loss_value(out):
    """A step's result as a float when it is one number, else None."""
    if out is None:
        return None
    try:
        numel = getattr(out, "numel", None)
        if callable(numel):
            if numel() != 1:
                return None
        elif getattr(out, "size", 1) != 1:
            return None
        return float(out.item()) if hasattr(out, "item") else float(out)
    except (TypeError, ValueError):
        return None


def measure(case, frameworks, quick, reps=1):
    """Set up `frameworks` in this process, warm up, time `reps` interleaved repetitions.

    Returns {"times": {fw: [seconds per call, one per rep]}, "losses": {fw: [first, second]},
    "errors": {fw: message}, "unavailable": [fw ...], "setup_s": {fw: seconds}}.
    """
    steps, out = {}, {"times": {}, "losses": {}, "errors": {}, "unavailable": [], "setup_s": {}}
    for fw in frameworks:
        setup = case.setups.get(fw)
        if setup is None:
            out["unavailable"].append(fw)
            continue
        t0 = time.perf_counter()
        try:
            step = setup(quick)
            if step is not None:
                # the first two losses (before and after one update) must agree across
                # frameworks: same weights, same data, same arithmetic
                first, second = loss_value(step()), loss_value(step())
                out["losses"][fw] = None if first is None else [first, second]
                for _ in range(case.warmup - 2):
                    step()
        except Exception as exc:          # a framework that cannot run this case shows n/a
            out["errors"][fw] = f"{type(exc).__name__}: {exc}"
            continue
        out["setup_s"][fw] = time.perf_counter() - t0
        if step is None:
            out["unavailable"].append(fw)
        else:
            steps[fw] = step
    inner = case.quick_inner if quick else case.inner
    times = {fw: [] for fw in steps}
    gc.collect()              # once, before timing: a full collection costs ~0.1 s with torch loaded
    for _ in range(reps):
        for fw, step in steps.items():
            t0 = time.perf_counter()
            for _ in range(inner):
                step()
            times[fw].append((time.perf_counter() - t0) / inner)
    out["times"], out["inner"] = times, inner
    return out


def loss_mismatch(losses, rel=1e-3):
    """True when two frameworks' first losses differ by more than `rel` (relative, floor 1)."""
    vals = {k: v for k, v in losses.items() if v is not None}
    if len(vals) < 2:
        return False
    ref = vals.get("torch", vals.get("numpy", next(iter(vals.values()))))
    return any(abs(a - b) > rel * max(1.0, abs(b)) for v in vals.values() for a, b in zip(v, ref)
               if a is not None and b is not None)
