"""The timing harness shared by every benchmark case.

A case gives, for each framework, a ``setup(quick)`` that builds the model and
data and returns a ``step`` callable (one unit of work: one op, one training
step, one batch ...) or None when that framework cannot run the case.  All
frameworks are set up in the same process on the same data; the harness then
interleaves them (rep 1 of every framework, rep 2 of every framework ...) so
that a burst of load from other processes hits them all alike, and reports the
median over repetitions.  Speed is reported, never asserted.
"""
import gc
import statistics
import time

FRAMEWORKS = ("qiflow", "compiled", "numpy", "torch")
# (numerator, denominator) pairs shown as ratio columns; lower is better.
RATIOS = (("qiflow", "torch"), ("compiled", "torch"), ("qiflow", "numpy"), ("compiled", "numpy"))


class Case:
    """One benchmark row.

    ``setups`` maps a framework name to ``setup(quick) -> step | None``; the
    step may return a loss (anything ``float()`` accepts): the losses of the
    first two calls (the warm-up, at least two) are compared across frameworks
    to catch unfair comparisons.
    ``scale`` turns seconds per call into the figure shown (e.g. 1e6 for
    microseconds, or the number of batches of an epoch for s/epoch).
    """

    def __init__(self, key, title, unit, scale, setups, inner=1, reps=5, quick_inner=None,
                 quick_reps=3, warmup=2, note="", target=None):
        self.key, self.title, self.unit, self.scale = key, title, unit, scale
        self.setups, self.inner, self.reps, self.warmup = setups, inner, reps, warmup
        self.quick_inner = quick_inner or max(1, inner // 5)
        self.quick_reps = quick_reps
        self.note, self.target = note, target or {}


def _loss_value(out):
    if out is None:
        return None
    try:
        if getattr(out, "size", 1) != 1 and not callable(getattr(out, "numel", None)):
            return None
        if callable(getattr(out, "numel", None)) and out.numel() != 1:
            return None
        if hasattr(out, "item"):
            return float(out.item())
        return float(out)
    except (TypeError, ValueError):
        return None


def run_case(case, quick, frameworks=FRAMEWORKS, log=None):
    """Set up every framework, warm up, time interleaved reps; return a result dict."""
    steps, losses, errors = {}, {}, {}
    for fw in frameworks:
        setup = case.setups.get(fw)
        if setup is None:
            continue
        try:
            step = setup(quick)
        except Exception as exc:          # a framework that cannot run this case shows n/a
            errors[fw] = f"{type(exc).__name__}: {exc}"
            step = None
        if step is None:
            continue
        try:
            # the first two losses (before and after one update) must agree across
            # frameworks: same weights, same data, same arithmetic, forward and backward
            first = _loss_value(step())
            second = _loss_value(step())
            losses[fw] = None if first is None else (first, second)
            for _ in range(case.warmup - 2):
                step()
        except Exception as exc:
            errors[fw] = f"{type(exc).__name__}: {exc}"
            continue
        steps[fw] = step
    inner = case.quick_inner if quick else case.inner
    reps = case.quick_reps if quick else case.reps
    times = {fw: [] for fw in steps}
    gc.collect()              # once per case: a full collection costs ~0.1 s with torch loaded
    for _ in range(reps):
        for fw, step in steps.items():
            t0 = time.perf_counter()
            for _ in range(inner):
                step()
            times[fw].append((time.perf_counter() - t0) / inner)
    medians = {fw: statistics.median(ts) * case.scale for fw, ts in times.items()}
    spread = {fw: (min(ts) * case.scale, max(ts) * case.scale) for fw, ts in times.items()}
    ratios = {}
    for a, b in RATIOS:
        if a in medians and b in medians and medians[b] > 0:
            ratios[f"{a}/{b}"] = medians[a] / medians[b]
    return {
        "case": case.key, "title": case.title, "unit": case.unit, "note": case.note,
        "median": medians, "min_max": spread, "reps": reps, "inner": inner,
        "first_loss": losses, "loss_mismatch": _mismatch(losses), "errors": errors,
        "ratios": ratios, "targets": case.target,
    }


def _mismatch(losses):
    vals = {k: v for k, v in losses.items() if v is not None}
    if len(vals) < 2:
        return False
    ref = vals.get("torch", vals.get("numpy", next(iter(vals.values()))))
    return any(abs(a - b) > 1e-3 * max(1.0, abs(b)) for v in vals.values() for a, b in zip(v, ref)
               if a is not None and b is not None)


# ----------------------------------------------------------------- printing
def _fmt(v):
    if v is None:
        return "n/a"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def _fmt_ratio(v):
    return "n/a" if v is None else f"{v:.3f}"


COLUMNS = ["case", "unit"] + list(FRAMEWORKS) + [f"{a}/{b}" for a, b in RATIOS]


def format_table(results):
    """A fixed-column text table: one row per case, medians then ratios."""
    rows = [COLUMNS]
    for r in results:
        row = [r["case"], r["unit"]]
        row += [_fmt(r["median"].get(fw)) for fw in FRAMEWORKS]
        row += [_fmt_ratio(r["ratios"].get(f"{a}/{b}")) + _target_mark(r, f"{a}/{b}") for a, b in RATIOS]
        rows.append(row)
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for k, row in enumerate(rows):
        cells = [str(c).ljust(widths[i]) if i < 2 else str(c).rjust(widths[i]) for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def _target_mark(r, ratio):
    t = r["targets"].get(ratio)
    v = r["ratios"].get(ratio)
    if t is None or v is None:
        return ""
    return "*" if v <= t else "!"


def format_notes(results):
    out = []
    for r in results:
        bits = []
        if r["note"]:
            bits.append(r["note"])
        if r["loss_mismatch"]:
            bits.append("LOSS MISMATCH (first two steps): " + ", ".join(
                f"{k}={v[0]:.6g},{v[1]:.6g}" for k, v in r["first_loss"].items() if v is not None))
        for fw, e in r["errors"].items():
            bits.append(f"{fw} failed: {e[:160]}")
        if r["targets"]:
            bits.append("targets: " + ", ".join(f"{k} <= {v}" for k, v in r["targets"].items()))
        if bits:
            out.append(f"  {r['case']}: " + "; ".join(bits))
    return "\n".join(out)
