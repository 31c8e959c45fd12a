"""Printing the harness's results: header, table, notes, checks and targets.

Pure functions of the result rows (nothing is measured here), so the smoke
tests can read the same figures from ``--json-file`` and from the table.
"""
FRAMEWORKS = ("qiflow", "compiled", "numpy", "torch")
RATIO_COLS = ("qiflow/torch", "compiled/torch", "qiflow/numpy", "compiled/numpy")
PEAK_COLS = tuple(f"{fw}%pk" for fw in FRAMEWORKS)
COLUMNS = ("case", "unit") + FRAMEWORKS + RATIO_COLS + ("MFLOP",) + PEAK_COLS


def fmt(v):
    """A median: three significant figures, no exponent above 1e-3."""
    if v is None:
        return "n/a"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}" if v >= 1e-3 else f"{v:.3g}"


def fmt_ratio(v):
    return "n/a" if v is None else f"{v:.3f}"


def fmt_sig(v):
    """Three significant figures (MFLOP and % of peak span ten decades); whole above 1000."""
    if v is None:
        return "n/a"
    return f"{v:.0f}" if v >= 1000 else f"{v:.3g}"


def target_mark(row, ratio):
    """'*' when the ratio meets its target, '!' when it misses, '' without one."""
    t, v = row["targets"].get(ratio), row["ratios"].get(ratio)
    if t is None or v is None:
        return ""
    return "*" if v <= t else "!"


def table(rows):
    """One line per case: medians, ratios (target marks), MFLOP per call, % of peak."""
    lines = [COLUMNS]
    for r in rows:
        cells = [r["case"], r["unit"]] + [fmt(r["median"].get(fw)) for fw in FRAMEWORKS]
        cells += [fmt_ratio(r["ratios"].get(c)) + target_mark(r, c) for c in RATIO_COLS]
        if r.get("flops"):
            cells.append(fmt_sig(r["flops"] / 1e6))
            pf = r.get("peak_fraction") or {}
            cells += [fmt_sig(100 * pf[fw]) if fw in pf else "n/a" for fw in FRAMEWORKS]
        else:
            cells += ["-"] * (1 + len(PEAK_COLS))
        lines.append(cells)
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(COLUMNS))]
    out = []
    for k, line in enumerate(lines):
        out.append("  ".join(str(c).ljust(widths[i]) if i < 2 else str(c).rjust(widths[i])
                             for i, c in enumerate(line)).rstrip())
        if k == 0:
            out.append("-" * len(out[0]))
    return "\n".join(out)


def header(env):
    """The lines above the table: machine, versions, BLAS and threads, peak, load, mode."""
    peak = env.get("peak") or {}
    lines = [
        f"# qiflow benchmarks: {env['machine']}, {env['cpus']} cpus; python {env['python']}, "
        f"numpy {env['numpy']}, torch {env['torch'] or 'not installed'}; mode {env['mode']}"
        + ("; QUICK (rough figures)" if env.get("quick") else ""),
        f"# threads asked: {env['threads']} for every framework; numpy BLAS: "
        f"{env.get('numpy_blas') or '?'}; torch: {env.get('torch_blas') or 'not run'}",
        f"# sgemm peak: {fmt_sig(peak.get('gflops'))} GFLOP/s (float32 np.matmul "
        f"{peak.get('n', '?')}^3, best of {len(peak.get('times', [])) or '?'}, own process; "
        f"before/after the cases: {' / '.join(fmt_sig(g) for g in env.get('peaks', []))})",
        f"# load average (1 min): {fmt_sig(env.get('load_start'))} at start, "
        f"{fmt_sig(env.get('load_end'))} at end, on {env['cpus']} cpus",
    ]
    load = max(v for v in (env.get("load_start"), env.get("load_end"), 0) if v is not None)
    if load > 0.5 * (env["cpus"] or 1):
        lines.append("# the machine is busy: absolute times are inflated and ratios noisy; "
                     "re-run on a quiet machine before quoting figures")
    return "\n".join(lines)


def thread_banner(rows, peak_mismatch=()):
    """A loud block naming every child whose thread pools differ from the count asked."""
    bad = [f"  {r['case']} [{fw}]: {'; '.join(msgs)}" for r in rows
           for fw, msgs in r.get("thread_mismatch", {}).items()]
    bad += [f"  sgemm peak child: {m}" for m in peak_mismatch]
    if not bad:
        return ""
    return ("!! THREAD MISMATCH: these processes did not run with the thread count asked for; "
            "their figures are not comparable:\n" + "\n".join(bad))


def checks(rows):
    """In-process vs solo medians, one line per framework that has both."""
    out = []
    for r in rows:
        for fw, c in r.get("check", {}).items():
            verdict = ("agree" if c["agree"] else
                       "DISAGREE: the in-process figure is a harness artefact")
            out.append(f"  {r['case']} {fw}: solo {fmt(c['solo'])} {r['unit']}, in-process "
                       f"{fmt(c['in_process'])} ({100 * c['gap']:+.0f} %): {verdict}")
    if not out:
        return ""
    return "in-process vs solo (medians; they must agree within 15 %):\n" + "\n".join(out)


NOISY = 1.5              # slowest / fastest process of a framework above this: say so


def spread(row):
    """'torch 2.10-81.6' for each framework whose processes' figures differ by more than NOISY."""
    out = []
    for fw, (lo, hi) in row.get("min_max", {}).items():
        if lo > 0 and hi / lo > NOISY:
            out.append(f"{fw} {fmt(lo)}-{fmt(hi)}")
    return out


def notes(rows):
    out = []
    for r in rows:
        bits = [r["note"]] if r["note"] else []
        noisy = spread(r)
        if noisy:
            bits.append(f"NOISY (fastest-slowest of {r['reps']} processes): " + ", ".join(noisy))
        if r["loss_mismatch"]:
            bits.append("LOSS MISMATCH (first two steps): " + ", ".join(
                f"{k}={v[0]:.6g},{v[1]:.6g}" for k, v in r["first_loss"].items() if v is not None))
        bits += [f"{fw} failed: {e[:200]}" for fw, e in r["errors"].items()]
        bits += list(r.get("warnings", []))
        if bits:
            out.append(f"  {r['case']}: " + "; ".join(bits))
    return "\n".join(out)


def targets(rows, extra=()):
    """Every target: the ratio, its bound, and met (*) or missed (!)."""
    out = []
    for r in rows:
        for ratio, bound in r["targets"].items():
            v = r["ratios"].get(ratio)
            mark = target_mark(r, ratio) or "?"
            shown = "n/a" if v is None else f"{v:.3f}"
            out.append(f"  {mark} {r['case']} {ratio} = {shown} (target <= {bound})")
    out += [f"  - {line}" for line in extra]
    return "" if not out else "targets (* met, ! missed, ? not measured):\n" + "\n".join(out)


def full(env, rows):
    """Everything the table mode prints, in order."""
    parts = [header(env), thread_banner(rows, env.get("peak_mismatch", ())), table(rows)]
    for title, body in (("notes:", notes(rows)), ("", checks(rows)),
                        ("", targets(rows, env.get("unmeasured_targets", ())))):
        if body:
            parts.append((title + "\n" if title else "") + body)
    banner = thread_banner(rows, env.get("peak_mismatch", ()))
    if banner:
        parts.append(banner)                    # again at the end: it must not scroll away
    return "\n\n".join(p for p in parts if p)
