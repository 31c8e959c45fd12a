"""Smoke test of the benchmark suite: it runs and its outputs parse.

Benchmarks are never timed tests: this checks structure (rows, columns, numbers
or 'n/a', JSON keys), not speed.
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN = os.path.join(ROOT, "benchmarks", "run")
TINY = ["tiny.add", "tiny.add+bwd", "tiny.mul", "tiny.mul+bwd", "tiny.matmul", "tiny.matmul+bwd"]


def _run(*args):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, RUN, "--quick", "--threads", "1", "--cases", "tiny", *args],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _number_or_na(cell):
    if cell == "n/a":
        return None
    v = float(cell.rstrip("*!"))
    assert v > 0, cell
    return v


def test_table_parses():
    out = _run()
    lines = [l for l in out.splitlines() if l.strip()]
    head = next(i for i, l in enumerate(lines) if l.startswith("case "))
    header = lines[head].split()
    assert header[:6] == ["case", "unit", "qiflow", "compiled", "numpy", "torch"]
    assert set(lines[head + 1]) == {"-"}
    rows = [l.split() for l in lines[head + 2:head + 2 + len(TINY)]]
    assert [r[0] for r in rows] == TINY
    for r in rows:
        assert len(r) == len(header), r
        assert r[1] == "us/op"
        vals = dict(zip(header[2:], map(_number_or_na, r[2:])))
        assert vals["qiflow"] is not None and vals["numpy"] is not None
        if vals["torch"] is not None:
            # a ratio column must be the quotient of the medians shown (to rounding)
            assert vals["qiflow/torch"] == pytest.approx(vals["qiflow"] / vals["torch"], rel=0.05)


def test_json_output():
    data = json.loads(_run("--json", "--frameworks", "qiflow,numpy"))
    assert data["env"]["threads"] == 1 and data["env"]["quick"] is True
    res = {r["case"]: r for r in data["results"]}
    assert list(res) == TINY
    for r in res.values():
        assert set(r["median"]) == {"qiflow", "numpy"}
        assert r["ratios"]["qiflow/numpy"] == pytest.approx(r["median"]["qiflow"] / r["median"]["numpy"])
        assert not r["loss_mismatch"] and not r["errors"]
