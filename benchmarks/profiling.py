"""``--profile``: where qiflow's time goes in one case, op by op (qiflow.profiler)."""
import time


def profile_case(case, quick, fw="qiflow"):
    from qiflow.profiler import profile
    setup = case.setups.get(fw)
    step = setup(quick) if setup else None
    if step is None:
        return {"what": "n/a", "table": "  (qiflow cannot run this case)", "totals": {}}
    for _ in range(case.warmup):
        step()
    n = case.quick_inner if quick else case.inner
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    plain = (time.perf_counter() - t0) / n
    with profile() as prof:
        for _ in range(n):
            step()
    per_call = prof.wall / n
    what = (f"{n} calls; us per call; unprofiled {1e6 * plain:.1f} us/call, profiled "
            f"{1e6 * per_call:.1f} (the timers add the difference)")
    totals = {f"{k[0]}.{k[1]}": {"s_per_call": v[0] / n, "calls_per_call": v[1] / n}
              for k, v in prof.totals().items()}
    totals["(outside ops)"] = {"s_per_call": (prof.wall - prof.op_time()) / n}
    return {"what": what, "table": prof.table(top=25, per=n), "totals": totals}
