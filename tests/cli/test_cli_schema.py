"""Tampered checkpoint metadata is refused before anything is built: a clear message naming the
file and the entry, exit status 1, no traceback, no allocation, nothing written."""
import copy
import json
import os
import tracemalloc

import numpy as np
import pytest

import qiflow as qf
from qiflow.cli import main

QUIET = ["--no-progress", "--no-plot"]


@pytest.fixture(scope="module")
def run(mnist_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("run") / "r"
    with pytest.MonkeyPatch.context() as m:
        m.setenv("QIFLOW_OFFLINE", "1")
        assert main(["train", "--model", "mlp", "--data", mnist_dir, "--out", str(folder), "--limit", "500",
                     "--epochs", "2", *QUIET]) == 0
    return {"best": qf.load(folder / "best.npz"), "last": qf.load(folder / "last.npz"), "data": mnist_dir}


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("QIFLOW_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)


def _tampered(ckpt, path, change):
    c = copy.deepcopy(ckpt)
    change(c)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    qf.save(c, path)
    return path


def _set(key, value):
    def change(c):
        target = c
        *parents, last = key.split(".")
        for p in parents:
            target = target[p]
        target[last] = value
    return change


def _refused(argv, needle, capsys):
    tracemalloc.start()
    try:
        rc = main(argv)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert rc == 1, err
    assert needle in err, err
    assert "Traceback" not in err
    assert peak < 200 * 2 ** 20, f"{peak / 2 ** 20:.0f} MiB allocated before refusing"
    return err


BEST_CASES = [
    ("config", {"bogus": 1}, "mlp: unknown config entry 'bogus'; the model takes n_in, hidden, n_out"),
    ("config", {"hidden": 5_000_000}, "mlp: hidden=5000000 is out of range: expected an integer in [1, 16384]"),
    ("config", {"n_out": 5}, "the mlp model has n_out=5, but MNIST needs n_out=10"),
    ("config", [500], "mlp: the config must be a dict of sizes, got list"),
    ("model", "resnet", "holds an unknown model 'resnet'"),
    ("kind", "qiflow-other", "not a model checkpoint written by `qiflow train`"),
    ("state", {"0.weight": "x"}, "state['0.weight'] must be a float array, got str"),
    ("state", {}, "state must be a non-empty dict of weights"),
    ("state", {"1.weight": np.zeros((3, 3), np.int64)}, "must be a float array, got ndarray of int64"),
    ("metrics", [1, 2], "metrics must be a dict of named values"),
]


@pytest.mark.parametrize("key,value,needle", BEST_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(BEST_CASES)])
def test_tampered_best_npz_is_refused_by_evaluate_and_predict(run, key, value, needle, capsys):
    path = _tampered(run["best"], "t/best.npz", _set(key, value))
    for cmd in (["evaluate", path, "--data", run["data"]], ["predict", path, "--data", run["data"]]):
        err = _refused(cmd, needle, capsys)
        assert "t/best.npz" in err


LAST_CASES = [
    ("config", {"hidden": 5_000_000}, "hidden=5000000 is out of range"),
    ("run.bogus", 1, "unknown run setting 'bogus'"),
    ("run.lr", "fast", "run setting lr: expected a positive number, got 'fast'"),
    ("run.lr", float("nan"), "run setting lr: expected a positive number, got nan"),
    ("run.batch_size", 10 ** 9, "run setting batch_size: expected an integer of at most 1000000"),
    ("run.model", "lenet", "its run settings say model='lenet' but it holds a 'mlp' model"),
    ("run", {"lr": 0.1}, "the run settings lack model, epochs"),
    ("epoch", -1, "epoch must be a positive integer, got -1"),
    ("epoch", "2", "epoch must be a positive integer, got '2'"),
    ("history", "{not json", "history is not valid JSON"),
    ("history", json.dumps({"records": 5}), "records are a list of dicts"),
    ("scheduler.T_max", 3, "scheduler T_max is 3, but the run's settings give 2"),
    ("scheduler.junk", 1, "scheduler has unknown entries ['junk']"),
    ("early_stopping", {"patience": 0}, "early_stopping has the entries ['patience']"),
    ("optimizer_state", {"state": {}}, "optimizer_state must hold 'state' and 'param_groups'"),
    ("rng", None, "rng must hold the random generators' states"),
    ("data", {}, "data must describe the data the run trains on"),
    ("run_id", "x" * 1000, "run_id must be a short string"),
    ("kind", "qiflow-model", "is not a resumable checkpoint (resume from the run's last.npz"),
]


@pytest.mark.parametrize("key,value,needle", LAST_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(LAST_CASES)])
def test_tampered_last_npz_is_refused_by_resume_and_nothing_is_written(run, key, value, needle, capsys):
    path = _tampered(run["last"], "t/last.npz", _set(key, value))
    before = sorted(os.listdir("t"))
    _refused(["train", "--resume", path, *QUIET], needle, capsys)
    assert sorted(os.listdir("t")) == before


def test_a_nan_learning_rate_in_the_saved_optimizer_is_refused(run, capsys):
    def change(c):
        c["optimizer_state"]["param_groups"][0]["lr"] = float("nan")
    path = _tampered(run["last"], "t/last.npz", change)
    _refused(["train", "--resume", path, *QUIET], "optimizer_state param group 0 has lr=nan", capsys)


def test_a_checkpoint_without_run_settings_is_refused_for_resume_but_still_evaluates(run, capsys):
    path = _tampered(run["last"], "old/last.npz", lambda c: c.pop("run"))
    _refused(["train", "--resume", path, *QUIET], "older qiflow that did not save the run's settings", capsys)
    assert main(["evaluate", path, "--data", run["data"], "--limit", "100"]) == 0
