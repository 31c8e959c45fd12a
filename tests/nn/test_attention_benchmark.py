"""Smoke test of benchmarks/attention.py at tiny sizes: it runs, each framework in its own
process, and qiflow's first losses equal PyTorch's from the same weights (no timing asserted).

Slow (six processes that each import PyTorch: ~35 s on the 2-core machine), so it is left out
of the default run: ``python -m pytest -m slow tests/nn/test_attention_benchmark.py``."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_attention_benchmark_runs_and_first_losses_agree():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "attention.py"), "--quick",
                           "--steps", "1", "--rounds", "1", "--threads", "1"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()
            if line.split() and line.split()[0] in ("lm", "mha", "mha_weights")}
    assert sorted(rows) == ["lm", "mha", "mha_weights"]
    for name, cells in rows.items():
        assert all(float(c) > 0 for c in cells[1:5]), cells
        q, t = float(cells[5]), float(cells[7])
        assert q == pytest.approx(t, rel=1e-3), name
        assert "MISMATCH" not in cells
