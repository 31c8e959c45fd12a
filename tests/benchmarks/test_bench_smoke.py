"""Smoke tests of the benchmark harness: its processes, its checks, its outputs.

Benchmarks are never timed tests: these check structure (one process per case,
framework and rep; threads verified; figures consistent with each other; the
checks firing on cases built to trip them), never speed.
"""
import json
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("threadpoolctl")   # the harness refuses to run without it (the [bench] extra)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN = os.path.join(ROOT, "benchmarks", "run")
FAKES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_cases.py")


def _launch(*args, extra_env=None, expect_rc=0):
    """Run the harness; return (stdout, stderr, the parent's pid)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(extra_env or {})
    proc = subprocess.Popen([sys.executable, RUN, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == expect_rc, err[-3000:]
    return out, err, proc.pid


def _cell(cell):
    """A table cell as a number; None for 'n/a' (missing) and '-' (not applicable)."""
    if cell in ("n/a", "-"):
        return None
    return float(cell.rstrip("*!"))


def _table(out):
    lines = [l for l in out.splitlines() if l.strip()]
    head = next(i for i, l in enumerate(lines) if l.startswith("case "))
    header = lines[head].split()
    assert set(lines[head + 1]) == {"-"}
    rows = {}
    for line in lines[head + 2:]:
        cells = line.split()
        if len(cells) != len(header):
            break
        rows[cells[0]] = dict(zip(header, cells))
    return header, rows


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "quick.json"
    out, err, pid = _launch("--quick", "--threads", "1", "--reps", "2", "--cases", "tiny.matmul",
                            "--frameworks", "qiflow,numpy", "--json-file", str(path))
    return out, json.loads(path.read_text()), pid


def test_table_figures_are_consistent_with_each_other(quick):
    out, data, _ = quick
    header, rows = _table(out)
    assert header[:6] == ["case", "unit", "qiflow", "compiled", "numpy", "torch"]
    assert header[-5:] == ["MFLOP", "qiflow%pk", "compiled%pk", "numpy%pk", "torch%pk"]
    assert list(rows) == ["tiny.matmul", "tiny.matmul+bwd"]
    peak = float(re.search(r"sgemm peak: ([\d.e+-]+) GFLOP/s", out).group(1))
    flops = {r["case"]: r["flops"] for r in data["results"]}
    # hand count: a 3x3 @ 3x3 product is 27 multiply-adds; +bwd adds one product per input
    assert flops == {"tiny.matmul": 2 * 27, "tiny.matmul+bwd": 3 * 2 * 27}
    for key, r in rows.items():
        assert r["unit"] == "us/op"
        q, n = _cell(r["qiflow"]), _cell(r["numpy"])
        assert q > 0 and n > 0 and _cell(r["torch"]) is None
        assert _cell(r["qiflow/numpy"]) == pytest.approx(q / n, rel=0.02)
        assert _cell(r["MFLOP"]) == pytest.approx(flops[key] / 1e6, rel=0.01)
        for fw, us in (("qiflow", q), ("numpy", n)):
            expect = 100 * flops[key] / (us * 1e-6) / (peak * 1e9)
            assert _cell(r[fw + "%pk"]) == pytest.approx(expect, rel=0.02)


def test_header_reports_the_blas_and_threads_this_machine_has(quick):
    out, data, _ = quick
    from threadpoolctl import threadpool_info
    import numpy  # noqa: F401  (loads the BLAS threadpoolctl reports)
    apis = {p["internal_api"] for p in threadpool_info() if p["user_api"] == "blas"}
    blas = re.search(r"numpy BLAS: (.*?);", out).group(1)
    assert any(api in blas for api in apis), (blas, apis)
    assert blas.endswith("1 threads")
    assert re.search(r"threads asked: 1 for every framework", out)
    assert re.search(r"load average \(1 min\): [\d.]+ at start, [\d.]+ at end", out)
    assert data["env"]["threads"] == 1 and data["env"]["quick"] is True
    assert "THREAD MISMATCH" not in out


def test_every_rep_of_every_framework_is_its_own_process_in_interleaved_order(quick):
    _, data, parent = quick
    timed = [c for c in data["children"] if c["kind"] == "time"]
    pids = [c["pid"] for c in timed]
    assert len(timed) == 2 * 2 * 2                 # cases x frameworks x reps
    assert len(set(pids)) == len(pids) and parent not in pids
    assert all(len(c["frameworks"]) == 1 and not c["thread_mismatch"] for c in timed)
    for case in ("tiny.matmul", "tiny.matmul+bwd"):
        order = [c["frameworks"][0] for c in timed if c["case"] == case]
        # rep 1 of both frameworks, then rep 2 of both (the order rotated by one)
        assert order == ["qiflow", "numpy", "numpy", "qiflow"], order
    for r in data["results"]:
        assert r["mode"] == "solo" and r["processes"] == {"qiflow": 2, "numpy": 2}
        assert not r["loss_mismatch"] and not r["errors"] and not r["thread_mismatch"]
        assert r["ratios"]["qiflow/numpy"] == pytest.approx(r["median"]["qiflow"] / r["median"]["numpy"])


@pytest.fixture(scope="module")
def fakes(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "fakes.json"
    out, err, _ = _launch("--quick", "--threads", "1", "--cases", "fake", "--frameworks",
                          "qiflow,numpy", "--check-in-process", "fake.artefact",
                          "--json-file", str(path), extra_env={"QIFLOW_BENCH_EXTRA_CASES": FAKES})
    return out, err, {r["case"]: r for r in json.loads(path.read_text())["results"]}


def test_a_thread_count_other_than_asked_is_reported_loudly(fakes):
    out, err, rows = fakes
    assert set(rows["fake.threads"]["thread_mismatch"]) == {"numpy"}
    assert "runs 3 threads" in rows["fake.threads"]["thread_mismatch"]["numpy"][0]
    assert not rows["fake.loss"]["thread_mismatch"] and not rows["fake.artefact"]["thread_mismatch"]
    banners = [b for b in out.split("\n\n") if b.startswith("!! THREAD MISMATCH")]
    assert len(banners) == 2                   # above the table and again at the end
    assert all("fake.threads [numpy]" in b and "fake.loss" not in b for b in banners)
    assert "THREAD MISMATCH in the time child of fake.threads [numpy]" in err


def test_different_first_losses_are_a_loss_mismatch(fakes):
    out, _, rows = fakes
    assert rows["fake.loss"]["loss_mismatch"]
    assert rows["fake.loss"]["first_loss"] == {"qiflow": [1.5, 1.5], "numpy": [1.0, 1.0]}
    assert not rows["fake.threads"]["loss_mismatch"] and not rows["fake.artefact"]["loss_mismatch"]
    assert re.search(r"fake\.loss: .*LOSS MISMATCH", out)


def test_an_in_process_figure_that_differs_from_the_solo_one_is_flagged(fakes):
    out, _, rows = fakes
    check = rows["fake.artefact"]["check"]
    assert set(check) == {"qiflow", "numpy"}
    for c in check.values():            # 80 ms beside another framework against 20 ms alone
        assert not c["agree"] and c["gap"] > 0.5
    assert not rows["fake.threads"]["check"] and not rows["fake.loss"]["check"]
    assert re.search(r"fake\.artefact numpy: solo .* DISAGREE", out)


def test_legacy_in_process_mode_times_all_frameworks_in_one_process():
    out, _, _ = _launch("--quick", "--threads", "1", "--in-process", "--cases", "fake.artefact",
                        "--frameworks", "qiflow,numpy", "--json",
                        extra_env={"QIFLOW_BENCH_EXTRA_CASES": FAKES})
    data = json.loads(out)
    (row,) = data["results"]
    assert row["mode"] == "in-process"
    timed = [c for c in data["children"] if c["kind"] == "time"]
    assert sorted(tuple(c["frameworks"]) for c in timed) == [("numpy",)] * 2 + [("qiflow", "numpy")] * 2
    # the table shows the shared-process figure; only the reference was also run alone
    assert row["median"]["numpy"] == pytest.approx(row["check"]["numpy"]["in_process"])
    assert set(row["check"]) == {"numpy"} and not row["check"]["numpy"]["agree"]


@pytest.mark.parametrize("args, message", [
    (["--cases", "no-such-case"], "no case matches 'no-such-case'"),
    (["--frameworks", "qiflow,jax"], "unknown framework(s) jax"),
    (["--threads", "0"], "--threads must be at least 1, got 0"),
])
def test_bad_arguments_get_a_clear_message_and_no_traceback(args, message):
    _, err, _ = _launch(*args, expect_rc=2)
    assert message in err and "Traceback" not in err


def test_a_wide_spread_between_processes_is_called_noisy():
    import importlib.util
    spec = importlib.util.spec_from_file_location("qiflow_bench_report",
                                                  os.path.join(ROOT, "benchmarks", "_report.py"))
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    row = {"case": "c", "note": "", "reps": 3, "loss_mismatch": False, "errors": {},
           "min_max": {"torch": [2.0, 80.0], "numpy": [1.0, 1.2]}}
    text = report.notes([row])
    assert "NOISY (fastest-slowest of 3 processes): torch 2.00-80.0" in text
    assert "numpy" not in text
    row["min_max"] = {"torch": [2.0, 2.5]}
    assert report.notes([row]) == ""


def test_every_case_sets_up_every_qiflow_framework_it_names():
    """A case whose qiflow or compiled setup returns None shows 'n/a': that must mean a
    framework is missing, never that the benchmark lost track of where qiflow keeps it."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import _common
        assert _common.qf_compile() is not None, "benchmarks cannot find qf.compile"
        assert _common.qf_sym() is not None and _common.qf_nn() is not None
    finally:
        sys.path.remove(os.path.join(ROOT, "benchmarks"))


@pytest.mark.slow
def test_scan_lstm_benchmark_runs_both_sides_on_the_same_work():
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run([sys.executable, os.path.join(here, "benchmarks", "scan_lstm.py"), "--quick"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "same losses: yes" in proc.stdout and "ratio scan / eager:" in proc.stdout
