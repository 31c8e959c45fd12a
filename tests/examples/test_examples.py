"""Every example program runs in --quick mode as a subprocess; its key printed numbers are checked."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")


def run(name, tmp_path, *extra, timeout=240):
    env = dict(os.environ, QIFLOW_OFFLINE="1", MPLBACKEND="Agg", PYTHONHASHSEED="0")
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), "--quick",
                           "--out", str(tmp_path), *extra],
                          capture_output=True, text=True, timeout=timeout, cwd=str(tmp_path), env=env)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def floats(pattern, text):
    found = re.findall(pattern, text)
    return [float(v) for m in found for v in (m if isinstance(m, tuple) else (m,))]


def has_matplotlib():
    try:
        import matplotlib  # noqa: F401
        return True
    except ImportError:
        return False


def test_seed000_framework(tmp_path):
    out = run("seed000_framework.py", tmp_path)
    assert "= 26 parameters" in out
    assert "hidden pre-activation o1 = [ 1.8000, -1.6000,  4.0000, -1.4000]" in out
    assert "initial output       os2 = [ 0.7225, -0.8779]" in out
    (hand,) = floats(r"over 26 gradients: max \|difference\| = (\S+)", out)
    assert hand < 1e-12
    assert "order: X -> y -> W1 -> b1 -> W2 -> b2 -> l1 -> s1 -> l2 -> t1 -> cost" in out
    (mf,) = floats(r"its gradients vs qiflow autodiff: max \|difference\| = (\S+)", out)
    assert mf < 1e-12
    losses = floats(r"epoch +\d+: loss (\S+),", out)
    assert losses[0] == pytest.approx(2.513019, abs=1e-6)
    assert all(b < a for a, b in zip(losses, losses[1:]))      # the output moves towards y
    final = floats(r"to \[ ?(\S+), +(\S+)\]; target", out)
    assert final == pytest.approx([-0.85, 0.72], abs=0.1)
    if has_matplotlib():
        assert (tmp_path / "seed000_heatmaps.png").stat().st_size > 1000
    assert any(p.name.startswith("seed000_graph.") for p in tmp_path.iterdir())


def test_seed001_handmade(tmp_path):
    out = run("seed001_handmade.py", tmp_path)
    assert "a.grad, b.grad, x.grad = 6.0, 4.0, 2.0" in out
    assert "accumulated dz/dx = 2" in out and "Result: dz/da = 6, dz/db = 4" in out
    assert "Y = [17.0, 36.0, 15.0]" in out
    sections = out.split("== ")
    lin = floats(r"epoch\d+, loss (\S+)", sections[2])
    mlp = floats(r"epoch\d+, loss (\S+)", sections[3])
    assert len(lin) == 3 and lin[0] > lin[1] > lin[2] and lin[2] < 1.0
    assert len(mlp) == 10 and mlp[-1] < 0.1 * mlp[0]
    assert "synthetic MNIST-shaped set" in out
    assert re.search(r"read_idx\(train-labels-idx1-ubyte\): first labels \[(\d, ){9}\d\]", out)
    assert "train (2000, 784), test (500, 784)" in out
    acc = floats(r"test accuracy (\S+)", out)
    assert acc[-1] > 0.6                                      # chance is 0.1


def test_seed002_operators(tmp_path):
    out = run("seed002_operators.py", tmp_path)
    assert "Logistic([[0, 1], [-1, -2]]) = [[0.5, 0.731059], [0.268941, 0.119203]]" in out
    assert "gradcheck(Logistic) against central differences: True" in out
    assert "add: forward 1.0, backward grads_x = 1.0, grads_y = 1.0" in out
    (diff,) = floats(r"hand-written backward vs autodiff, max \|difference\| = (\S+)", out)
    assert diff < 1e-12
    assert "Tensor a's grad is: 5.0\nTensor b's grad is: None\nTensor c's grad is: 1.0" in out
    assert "d/dx [x * stop_gradient(x)] at 3 = 3.0" in out
    (auto_err,) = floats(r"automatic: +\S+ +error (\S+)", out)
    errs = floats(r"h = 1e-\d+: \S+ +error (\S+)", out)
    assert auto_err < 1e-14 and min(errs) < 1e-9
    assert errs[0] > min(errs) and errs[-1] > min(errs)      # truncation vs rounding
    bce = floats(r"BCE loss (\S+)", out)
    assert bce[-1] < bce[0] and bce[-1] < 0.35
    (acc,) = floats(r"test accuracy (\S+) on", out)
    assert acc > 0.75


def test_seed004_boston(tmp_path):
    out = run("seed004_boston.py", tmp_path)
    assert ("Boston housing: X (506, 13), y (506,), features standardised" in out
            or "synthetic 506 x 13 regression set" in out)
    assert "graph: X -> y -> W1 -> b1 -> W2 -> b2 -> l1 -> s1 -> l2 -> cost" in out
    assert "Total number of examples = 506, 46 steps of 11 per epoch" in out
    mf, modern = (floats(r"Epoch: \d+, Loss: (\S+)", part) for part in out.split("== ")[1:3])
    for losses in (mf, modern):
        assert len(losses) == 5 and min(losses[1:]) < 0.5 * losses[0]


def test_seed003_theano(tmp_path):
    out = run("seed003_theano.py", tmp_path)
    assert "f(2, 3) = array(5.)" in out
    assert "x.type = TensorType(float64, scalar)" in out
    assert "[[0.5        0.73105858]\n [0.26894142 0.11920292]]" in out
    assert "equal to (1 + tanh(x/2)) / 2: True" in out
    assert "accumulator(1) -> 0, accumulator(300) -> 1, state = 301" in out
    assert "after set_value(-1): accumulator(3) -> -1, state = 2" in out
    assert "decrementor(2) -> 2, state = 0" in out
    assert "skip_shared(1, 3) -> 7, state still 0" in out
    assert "pp(gy) = " in out and "f(4) = 8.0, allclose(f(94.2), 188.4): True" in out
    first, last, acc = floats(r"cross-entropy (\S+) -> (\S+), accuracy on D (\S+)", out)
    assert last < first and acc > 0.6
    assert "f([0, 1, 2]) = [   0.    2. 1026.]" in out
    assert "rewrites: <rewrite report: 2 -> 1 nodes; fired: elemwise_fusion x1>" in out
    assert any(p.name.startswith("seed003_graph_opt.") for p in tmp_path.iterdir())
    assert "synthetic MNIST-shaped set" in out
    val = floats(r"validation error (\S+) %", out)
    assert val[-1] < val[0]
    best, test = floats(r"best validation score of (\S+) %, with test performance (\S+) %", out)
    assert best == min(val) and test < 10.0
    (epochs,) = floats(r"The code run for (\d+) epochs", out)
    assert epochs < 30                                   # patience ran out before n_epochs
    assert (tmp_path / "seed003_best_model.npz").exists()
    pred = re.search(r"first 10 examples in test set:\n\[([\d ]+)\]\ntrue labels: +\[([\d ]+)\]", out)
    assert pred and sum(a == b for a, b in zip(pred.group(1).split(), pred.group(2).split())) >= 8


def test_seed003_lstm(tmp_path):
    out = run("seed003_lstm.py", tmp_path)
    (floor,) = floats(r"the grammar's own entropy: (\S+) nats", out)
    losses = floats(r"epoch +\d+: loss (\S+) ", out)
    assert len(losses) == 8 and 0.3 < floor < losses[-1]
    assert losses[-1] < 0.6 * losses[0]                   # training with the scan's BPTT works
    assert "windows of 12 steps" in out and "windows of 30 steps" in out
    (acc,) = floats(r"predicted next symbols the grammar allows: (\S+) %", out)
    assert acc > 90.0
