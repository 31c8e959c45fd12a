"""``qiflow train --resume`` continues the saved run exactly, or says why it will not.

Every setting comes from the checkpoint; a flag that contradicts one is an error naming the
setting, the saved and the new value; ``--override NAME=VALUE`` changes one on purpose and
``history.json`` records it; ``--epochs`` above the saved value stretches the cosine
schedule (it never cycles).
"""
import contextlib
import io
import json
import math
import os
import shutil

import numpy as np
import pytest

import qiflow as qf
from qiflow.cli import main
from qiflow.train import Trainer

# Every setting differs from the mlp recipe, so a resume that fell back to it would show.
RUN = ["--model", "mlp", "--epochs", "3", "--limit", "1000", "--lr", "0.05", "--batch-size", "100",
       "--shift", "1", "--seed", "7", "--weight-decay", "0.001", "--valid-frequency", "4",
       "--patience", "100000"]
QUIET = ["--no-progress", "--no-plot"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("QIFLOW_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)


def _stop_after(monkeypatch, epoch):
    """Make the run stop like a Ctrl-C right after it saved the checkpoint of ``epoch``."""
    real = Trainer.save_checkpoint

    def save_then_stop(self, path, loader=None):
        real(self, path, loader)
        if self.epoch == epoch:
            raise KeyboardInterrupt
    monkeypatch.setattr(Trainer, "save_checkpoint", save_then_stop)


def _records(folder):
    with open(os.path.join(folder, "history.json")) as f:
        h = json.load(f)
    for r in h["records"]:
        r.pop("seconds")
    return h


def _same_weights(a, b):
    for name in ("best.npz", "last.npz"):
        x, y = qf.load(os.path.join(a, name)), qf.load(os.path.join(b, name))
        sx = x["state"] if name == "best.npz" else x["model_state"]
        sy = y["state"] if name == "best.npz" else y["model_state"]
        assert sorted(sx) == sorted(sy)
        for k in sx:
            assert sx[k].detach().numpy().tobytes() == sy[k].detach().numpy().tobytes(), f"{name} {k} differs"


@pytest.fixture(scope="module")
def _runs(mnist_dir, tmp_path_factory):
    """An unbroken run 'full' and the same run stopped after epoch 1 in 'cut' (made once)."""
    root = tmp_path_factory.mktemp("runs")
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as m, contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(err):
        m.setenv("QIFLOW_OFFLINE", "1")
        m.chdir(root)
        assert main(["train", *RUN, "--data", mnist_dir, "--out", "full", *QUIET]) == 0
        _stop_after(m, 1)
        assert main(["train", *RUN, "--data", mnist_dir, "--out", "cut", *QUIET]) == 130
    return root, err.getvalue()


@pytest.fixture
def interrupted(_runs, mnist_dir, tmp_path):
    """Fresh copies of both runs in this test's folder; returns the data folder."""
    for name in ("full", "cut"):
        shutil.copytree(_runs[0] / name, tmp_path / name)
    return mnist_dir


def test_an_interrupted_run_says_what_its_checkpoint_holds(_runs):
    assert ("qiflow train: interrupted by SIGINT; cut/last.npz holds epoch 1; continue with: qiflow "
            "train --resume cut/last.npz") in _runs[1]
    assert sorted(os.listdir(_runs[0] / "cut")) == ["best.npz", "last.npz"]   # no lock, no temporaries


def test_resume_with_no_flags_continues_the_saved_run_exactly(interrupted, capsys):
    assert main(["train", "--resume", "cut/last.npz", *QUIET]) == 0
    out = capsys.readouterr().out
    assert "resuming" in out and "lr 0.05, batch 100, up to 3 epochs, shift 1, seed 7, limit 1000" in out
    assert "data: 1000 train / 500 validation / 600 test images" in out
    _same_weights("full", "cut")
    full, cut = _records("full"), _records("cut")
    assert full["records"] == cut["records"] and full["test"] == cut["test"]
    assert [r["iteration"] for r in full["records"]] == [4, 8, 12, 16, 20, 24, 28]   # every 4 iterations


@pytest.mark.parametrize("flag,value,saved", [
    ("--lr", "0.5", "lr=0.05"), ("--optimizer", "adam", "optimizer='sgd'"),
    ("--batch-size", "64", "batch_size=100"), ("--limit", "500", "limit=1000"),
    ("--seed", "1", "seed=7"), ("--model", "logreg", "model='mlp'"), ("--epochs", "2", "epochs=3"),
    ("--shift", "0", "shift=1"), ("--patience", "9", "patience=100000"),
    ("--weight-decay", "0.0", "weight_decay=0.001"), ("--valid-frequency", "3", "valid_frequency=4"),
])
def test_a_flag_that_contradicts_the_checkpoint_is_an_error(interrupted, flag, value, saved, capsys):
    before = open("cut/last.npz", "rb").read()
    assert main(["train", "--resume", "cut/last.npz", flag, value, *QUIET]) == 1
    err = capsys.readouterr().err
    assert f"{flag} {value} contradicts the run being resumed: cut/last.npz was saved with {saved}" in err
    assert "Traceback" not in err
    assert open("cut/last.npz", "rb").read() == before
    # the same value as saved is no contradiction
    same = {"--lr": "0.05", "--optimizer": "sgd", "--limit": "1000"}.get(flag)
    if same:
        assert main(["train", "--resume", "cut/last.npz", flag, same, "--epochs", "1", *QUIET]) == 1
        assert "--epochs 1 contradicts" in capsys.readouterr().err


def test_override_changes_a_setting_and_history_records_it(interrupted, capsys):
    assert main(["train", "--resume", "cut/last.npz", "--override", "lr=0.02",
                 "--override", "weight_decay=0", *QUIET]) == 0
    out = capsys.readouterr().out
    assert "change from epoch 2 on: lr 0.05 -> 0.02" in out
    h = _records("cut")
    assert h["changes"] == [{"setting": "lr", "saved": 0.05, "new": 0.02, "epoch": 1},
                            {"setting": "weight_decay", "saved": 0.001, "new": 0.0, "epoch": 1}]
    lrs = {r["epoch"]: r["lr"] for r in h["records"]}
    assert lrs[1] == 0.05
    for e in (2, 3):    # the same cosine, from the new base lr
        assert math.isclose(lrs[e], 0.02 * (1 + math.cos(math.pi * (e - 1) / 3)) / 2, rel_tol=1e-12)
    best = qf.load("cut/best.npz")
    assert best["run"]["lr"] == 0.02 and best["run"]["weight_decay"] == 0.0


def test_more_epochs_stretch_the_cosine_instead_of_cycling(interrupted, capsys):
    assert main(["train", "--resume", "full/last.npz", "--epochs", "6", *QUIET]) == 0
    assert "epochs 3 -> 6 (the cosine schedule is stretched to 6 epochs)" in capsys.readouterr().out
    h = _records("full")
    lrs = [next(r["lr"] for r in h["records"] if r["epoch"] == e) for e in range(1, 7)]
    want = [0.05 * (1 + math.cos(math.pi * (e - 1) / 3)) / 2 for e in (1, 2, 3)]
    want += [0.05 * (1 + math.cos(math.pi * (e - 1) / 6)) / 2 for e in (4, 5, 6)]
    np.testing.assert_allclose(lrs, want, rtol=1e-12)
    assert lrs[3] > lrs[4] > lrs[5] > 0         # decays once more, no climb back to 0.05
    assert h["changes"] == [{"setting": "epochs", "saved": 3, "new": 6, "epoch": 3}]
    assert qf.load("full/last.npz")["scheduler"]["T_max"] == 6


def test_resuming_a_finished_run_reports_its_saved_result(interrupted, capsys):
    before = {n: open(f"full/{n}", "rb").read() for n in ("best.npz", "last.npz", "history.json")}
    assert main(["train", "--resume", "full/last.npz", *QUIET]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    test = qf.load("full/best.npz")["test"]["error"]
    assert "is complete (3 of 3 epochs, epoch limit); nothing to train" in out[0]
    assert out[-1] == f"test error: {100 * test:.2f} %"
    assert {n: open(f"full/{n}", "rb").read() for n in before} == before


def test_override_is_refused_where_it_cannot_apply(interrupted, capsys):
    for argv, needle in [
        (["--resume", "cut/last.npz", "--override", "batch_size=10"], "batch_size cannot change on resume"),
        (["--resume", "cut/last.npz", "--override", "lr"], "expected NAME=VALUE"),
        (["--resume", "cut/last.npz", "--override", "lr=-1"], "expected a positive number, got -1.0"),
        (["--resume", "cut/last.npz", "--override", "momentum=0.5"], "momentum cannot change"),
        (["--override", "lr=0.1"], "--override only applies with --resume"),
        (["--resume", "cut/last.npz", "--override", "lr=0.1", "--override", "lr=0.2"], "gives lr twice"),
    ]:
        with pytest.raises(SystemExit) as exc:
            main(["train", *argv])
        assert exc.value.code == 2
        assert needle in capsys.readouterr().err, argv
    assert main(["train", "--resume", "cut/last.npz", "--lr", "0.5", "--override", "lr=0.2"]) == 1
    assert "--lr 0.5 and --override lr=0.2 disagree" in capsys.readouterr().err


def test_resume_refuses_other_data(interrupted, tmp_path, capsys, mnist_writer):
    other = mnist_writer(tmp_path / "other", seed=1)
    assert main(["train", "--resume", "cut/last.npz", "--data", other, *QUIET]) == 1
    err = capsys.readouterr().err
    assert "is not the data the run was trained on" in err and "(--data)" in err
    # moved data is fine
    shutil.copytree(interrupted, tmp_path / "moved")
    assert main(["train", "--resume", "cut/last.npz", "--data", str(tmp_path / "moved"), *QUIET]) == 0
    _same_weights("full", "cut")


def test_resume_stays_in_its_folder_and_never_goes_back_in_time(interrupted, capsys):
    assert main(["train", "--resume", "cut/last.npz", "--out", "elsewhere", *QUIET]) == 1
    assert "--out elsewhere contradicts the run being resumed" in capsys.readouterr().err
    shutil.copy("cut/last.npz", "cut/epoch1.npz")
    assert main(["train", "--resume", "cut/last.npz", *QUIET]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", "cut/epoch1.npz", *QUIET]) == 1
    assert "would overwrite cut/last.npz, which holds epoch 3 of the same run" in capsys.readouterr().err
    shutil.copy("full/last.npz", "cut/epoch1.npz")
    assert main(["train", "--resume", "cut/epoch1.npz", *QUIET]) == 1
    assert "cut holds another run" in capsys.readouterr().err


def test_a_run_that_stopped_early_needs_more_patience_to_go_on(mnist_dir, capsys):
    # a learning rate so small that nothing improves: patience runs out in epoch 3
    argv = ["train", "--model", "logreg", "--limit", "600", "--epochs", "20", "--patience", "12", "--lr", "1e-7",
            "--data", mnist_dir, "--out", "es", *QUIET]
    assert main(argv) == 0
    assert "stopped early" in capsys.readouterr().out
    ckpt = qf.load("es/last.npz")
    assert main(["train", "--resume", "es/last.npz", "--epochs", "30", *QUIET]) == 1
    assert f"--override patience={2 * ckpt['iteration']}" in capsys.readouterr().err
    assert main(["train", "--resume", "es/last.npz", "--override", "patience=1000", *QUIET]) == 0
    h = _records("es")
    assert h["epochs"] == 20 and not h["stopped_early"]
    assert h["changes"] == [{"setting": "patience", "saved": 12, "new": 1000, "epoch": ckpt["epoch"]}]


def test_a_run_killed_before_its_test_evaluation_is_finished_by_a_resume(interrupted, capsys):
    best = qf.load("full/best.npz")
    want = best.pop("test")
    qf.save(best, "full/best.npz")           # as if killed after the last epoch, before the test
    assert main(["train", "--resume", "full/last.npz", *QUIET]) == 0
    out = capsys.readouterr().out
    assert "is complete" not in out and out.strip().splitlines()[-1] == f"test error: {100 * want['error']:.2f} %"
    assert qf.load("full/best.npz")["test"] == want
