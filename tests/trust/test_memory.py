"""Memory stays flat over 10,000 training steps: nothing (history, metrics, a list
of losses) keeps a graph or its activations alive.

Three measures: the number of live Tensor objects (exact: a retained graph
keeps several tensors per step), traced Python/NumPy allocations per step over
a window (tracemalloc), and the resident set size (coarse).
"""
import gc
import tracemalloc

import numpy as np
import pytest

import qiflow as qf
from qiflow import nn, optim


def _tensors():
    return sum(1 for o in gc.get_objects() if isinstance(o, qf.Tensor))


def _rss():
    try:
        with open("/proc/self/statm") as f:
            import os
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _setup():
    qf.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(0)
    X = qf.tensor(rng.standard_normal((8, 4)).astype(np.float32))
    y = rng.integers(0, 3, 8)
    return model, opt, X, y, nn.CrossEntropyLoss()


def _steps(n, model, opt, X, y, loss_fn, losses, metrics, retain=False):
    for _ in range(n):
        opt.zero_grad()
        out = model(X)
        loss = loss_fn(out, y)
        loss.backward(retain_graph=retain)
        opt.step()
        losses.append(loss)                          # the classic: a list of loss tensors
        metrics["loss_sum"] += loss.item()
        metrics["correct"] += int((out.detach().numpy().argmax(1) == y).sum())


def test_10000_steps_keep_memory_flat_with_losses_kept_in_a_list():
    model, opt, X, y, loss_fn = _setup()
    losses, metrics = [], {"loss_sum": 0.0, "correct": 0}
    _steps(1000, model, opt, X, y, loss_fn, losses, metrics)
    gc.collect()
    t0, r0 = _tensors(), _rss()
    _steps(8000, model, opt, X, y, loss_fn, losses, metrics)
    tracemalloc.start()
    try:
        m0 = tracemalloc.get_traced_memory()[0]
        _steps(1000, model, opt, X, y, loss_fn, losses, metrics)
        per_step = (tracemalloc.get_traced_memory()[0] - m0) / 1000
    finally:
        tracemalloc.stop()
    gc.collect()
    assert len(losses) == 10_000
    # exactly one more live tensor per step: the stored 0-d loss, with its graph freed
    assert _tensors() - t0 == 9000
    assert all(loss._inputs is None for loss in losses)
    # a stored 0-d loss is ~300-500 bytes; this model's retained graph would be ~2.3 KB per step
    assert per_step < 1200, f"{per_step:.0f} bytes retained per step"
    if r0 is not None:
        assert _rss() - r0 < 8 * 2 ** 20
    assert np.isfinite(metrics["loss_sum"])


def test_memory_measure_detects_a_retained_graph():
    # the positive control: retain_graph=True keeps every step's activations alive
    model, opt, X, y, loss_fn = _setup()
    losses, metrics = [], {"loss_sum": 0.0, "correct": 0}
    _steps(100, model, opt, X, y, loss_fn, losses, metrics)
    t0 = _tensors()
    _steps(200, model, opt, X, y, loss_fn, losses, metrics, retain=True)
    assert _tensors() - t0 > 200 * 4


def test_10000_steps_with_trainer_history_and_metrics_keep_memory_flat():
    train = pytest.importorskip("qiflow.train")
    from qiflow.data import DataLoader, TensorDataset
    qf.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = optim.SGD(model.parameters(), lr=0.05)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5000, 4)).astype(np.float32)
    y = rng.integers(0, 3, 5000)
    loader = DataLoader(TensorDataset(X, y), batch_size=10, shuffle=True)     # 500 steps per epoch
    valid = DataLoader(TensorDataset(X[:200], y[:200]), batch_size=100)
    seen = []

    def log(line):
        gc.collect()
        seen.append((_tensors(), _rss()))

    history = train.fit(model, opt, loader, valid_loader=valid, epochs=20, progress=False, log=log)
    assert len(seen) == 20 and len(history) == 20                           # 10,000 steps
    assert history.records[-1]["iteration"] == 10_000
    tensors = [t for t, _ in seen]
    assert max(tensors[2:]) - min(tensors[2:]) <= 2, tensors
    if seen[2][1] is not None:
        assert seen[-1][1] - seen[2][1] < 8 * 2 ** 20
