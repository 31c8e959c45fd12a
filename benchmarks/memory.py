"""Peak memory of training, measured the same way for every framework.

Method: each framework runs in a fresh subprocess of its own (so one's
allocator state, caches and imports cannot hide in another's figure).  The
child imports its framework and builds model and data with the case's
ordinary setup.  Then, twice ('cold': the first steps of the fresh model;
'warm': the next steps), it returns the C heap's free pages to the kernel
(glibc malloc_trim, so memory freed and reused shows up again), records its
resident set size (VmRSS), resets the kernel's high-water mark (writing 5 to
/proc/self/clear_refs), trains for a few steps and reads VmHWM.  The figure is
VmHWM minus the baseline: the extra physical memory those steps needed at
their peak (activations, gradients, workspaces, allocator slack), whichever
allocator made it.  'cold' also counts one-time costs (first gradients,
lazy initialisation: torch's is about 10 MB); 'warm' is what every later step
of a long run needs, and carries the target.  tracemalloc is not used: it
sees NumPy's allocations but not torch's, so it cannot compare the two.
"""
from _harness import Case

_STEPS = 5


def _read_status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                out[k] = int(v.split()[0]) * 1024
    return out


def _trim():
    """Give the C heap's free pages back to the kernel (glibc malloc_trim), so that
    memory freed by earlier steps is not silently reused without showing in RSS."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def child(case, fw):
    """Run in the benchmark child: the peak-memory figures of `fw` training `case.of`.

    'cold': steps 1..N from a freshly built model (first-use initialisation,
    the first gradients and the allocator's growth included); 'warm': steps
    after two warm-up steps (what every later step of a long run needs on top
    of what the run already holds).
    """
    import gc
    import registry
    step = registry.get(case.of).setups[fw](False)
    if step is None:
        return {"error": "n/a"}
    out = {}
    for phase, n in (("cold", _STEPS), ("warm", _STEPS)):
        gc.collect()
        _trim()
        base = _read_status()["VmRSS"]
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            return {"error": "cannot reset the peak RSS (/proc/self/clear_refs)"}
        for _ in range(n):
            step()
        out[phase] = (_read_status()["VmHWM"] - base) / 2**20
        if phase == "cold":
            out["base_mb"] = base / 2**20
    return out


class MemoryCase(Case):
    memory = True

    def __init__(self, key, of, title):
        super().__init__(key, title, "MB peak", 1, {}, note="")
        self.of = of


def run(case, frameworks, runner):
    """Parent side: one fresh child per framework; returns two result rows (cold, warm)."""
    from _harness import RATIOS
    figures, errors, threads = {"cold": {}, "warm": {}}, {}, {}
    for fw in frameworks:
        if fw not in registry_setups(case):
            continue
        data = runner.spawn("memory", case.key, [fw])
        if data.get("threads", {}).get("mismatch"):
            threads[fw] = data["threads"]["mismatch"]
        if "cold" in data:
            for phase in figures:
                figures[phase][fw] = data[phase]
        elif data.get("error") != "n/a":
            errors[fw] = data.get("error") or data.get("failed", "?")
    rows = []
    for phase, medians in figures.items():
        ratios = {f"{a}/{b}": medians[a] / medians[b] for a, b in RATIOS
                  if a in medians and b in medians and medians[b] > 0}
        what = ("steps 1-%d of a fresh model" % _STEPS if phase == "cold" else
                "%d steps after 2 warm-up steps" % _STEPS)
        note = (f"extra resident memory (VmHWM - VmRSS before, peak reset by /proc/self/clear_refs) "
                f"over {what} of '{case.of}'; one fresh process per framework")
        rows.append({"case": case.key + "." + phase, "title": case.title + f" ({phase})",
                     "unit": case.unit, "note": note, "mode": "solo", "flops": None,
                     "median": medians, "median_s": {}, "min_max": {}, "reps": 1,
                     "processes": {fw: 1 for fw in medians}, "first_loss": {},
                     "loss_mismatch": False, "errors": errors if phase == "cold" else {},
                     "thread_mismatch": threads if phase == "cold" else {}, "ratios": ratios,
                     "targets": case.target if phase == "warm" else {}, "peak_fraction": {},
                     "check": {}, "warnings": []})
    return rows


def registry_setups(case):
    import registry
    return registry.get(case.of).setups


def cases():
    mlp = MemoryCase("mem.mlp256", "mlp256", "peak memory of MLP 784-256-10 training, batch 128")
    mlp.target = {"qiflow/torch": 1.2}
    lenet = MemoryCase("mem.lenet5", "lenet5", "peak memory of LeNet-5 training, batch 500")
    return [mlp, lenet]
