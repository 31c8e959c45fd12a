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
import json
import os
import subprocess
import sys

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


def child(case_key, fw, registry):
    """Run in the subprocess: print one JSON line with the peak-memory figures.

    'cold': steps 1..N from a freshly built model (first-use initialisation,
    the first gradients and the allocator's growth included); 'warm': steps
    after two warm-up steps (what every later step of a long run needs on top
    of what the run already holds).
    """
    import gc
    cases = {c.key: c for c in registry.all_cases()}
    case = cases[case_key]
    step = case.setups[fw](False)
    if step is None:
        print(json.dumps({"error": "n/a"}))
        return 0
    out = {}
    for phase, n in (("cold", _STEPS), ("warm", _STEPS)):
        gc.collect()
        _trim()
        base = _read_status()["VmRSS"]
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            print(json.dumps({"error": "cannot reset the peak RSS (/proc/self/clear_refs)"}))
            return 0
        for _ in range(n):
            step()
        out[phase] = (_read_status()["VmHWM"] - base) / 2**20
        if phase == "cold":
            out["base_mb"] = base / 2**20
    print(json.dumps(out))
    return 0


class MemoryCase(Case):
    memory = True

    def __init__(self, key, of, title):
        super().__init__(key, title, "MB peak", 1, {}, note="")
        self.of = of


def run(case, frameworks, args):
    """Parent side: one fresh subprocess per framework; returns two result rows (cold, warm)."""
    from _harness import RATIOS
    here = os.path.dirname(os.path.abspath(__file__))
    figures, errors = {"cold": {}, "warm": {}}, {}
    for fw in frameworks:
        cmd = [sys.executable, os.path.join(here, "run"), "--mem-child", case.of, fw]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            line = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
            err = proc.stderr.strip().splitlines()
            data = json.loads(line) if line.startswith("{") else {"error": err[-1] if err else "?"}
        except (subprocess.TimeoutExpired, ValueError) as exc:
            data = {"error": str(exc)}
        if "cold" in data:
            for phase in figures:
                figures[phase][fw] = data[phase]
        elif data.get("error") != "n/a":
            errors[fw] = data.get("error", "?")
    rows = []
    for phase, medians in figures.items():
        ratios = {f"{a}/{b}": medians[a] / medians[b] for a, b in RATIOS
                  if a in medians and b in medians and medians[b] > 0}
        what = ("steps 1-%d of a fresh model" % _STEPS if phase == "cold" else
                "%d steps after 2 warm-up steps" % _STEPS)
        note = (f"extra resident memory (VmHWM - VmRSS before, peak reset by /proc/self/clear_refs) "
                f"over {what} of '{case.of}'; one fresh process per framework")
        rows.append({"case": case.key + "." + phase, "title": case.title + f" ({phase})",
                     "unit": case.unit, "note": note, "median": medians, "min_max": {}, "reps": 1,
                     "inner": _STEPS, "first_loss": {}, "loss_mismatch": False,
                     "errors": errors if phase == "cold" else {}, "ratios": ratios,
                     "targets": case.target if phase == "warm" else {}})
    return rows


def cases():
    mlp = MemoryCase("mem.mlp256", "mlp256", "peak memory of MLP 784-256-10 training, batch 128")
    mlp.target = {"qiflow/torch": 1.2}
    lenet = MemoryCase("mem.lenet5", "lenet5", "peak memory of LeNet-5 training, batch 500")
    return [mlp, lenet]
