"""One run per folder: new runs never overwrite another, a lock keeps live runs apart, and
``best.npz`` carries its own numbers."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import qiflow as qf
from qiflow.cli import main, rundir

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUICK = ["--limit", "600", "--epochs", "1", "--no-progress", "--no-plot"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("QIFLOW_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)


def _digest(folder):
    return {f: hashlib.sha256(open(os.path.join(folder, f), "rb").read()).hexdigest()
            for f in sorted(os.listdir(folder))}


def test_a_new_run_takes_a_fresh_folder_instead_of_overwriting(mnist_dir, capsys):
    assert main(["train", "--data", mnist_dir, *QUICK]) == 0
    assert "output: runs/logreg\n" in capsys.readouterr().out
    first = _digest("runs/logreg")
    for n in (2, 3):
        assert main(["train", "--data", mnist_dir, "--lr", "1e-5", *QUICK]) == 0
        out = capsys.readouterr().out
        assert f"output: runs/logreg-{n} (runs/logreg holds another run)" in out
        assert f"wrote runs/logreg-{n}/best.npz" in out
    assert _digest("runs/logreg") == first
    assert qf.load("runs/logreg-3/best.npz")["run"]["lr"] == 1e-5


def test_an_out_that_holds_a_run_is_refused_and_left_alone(mnist_dir, capsys):
    assert main(["train", "--data", mnist_dir, "--out", "mine", *QUICK]) == 0
    capsys.readouterr()
    first = _digest("mine")
    assert main(["train", "--data", mnist_dir, "--out", "mine", "--model", "mlp", *QUICK]) == 1
    err = capsys.readouterr().err
    assert "--out mine already holds a run (best.npz, last.npz, history.json); continue it with " \
           "--resume mine/last.npz, or choose another --out" in err
    assert _digest("mine") == first


HOLDER = """
    import sys, time
    from qiflow.cli.rundir import RunLock
    RunLock(sys.argv[1]).acquire()
    print("locked", flush=True)
    time.sleep(120)
"""


def _hold_lock(tmp_path, folder):
    script = tmp_path / "holder.py"
    script.write_text(textwrap.dedent(HOLDER))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.Popen([sys.executable, str(script), str(folder)], env=env, text=True,
                         stdout=subprocess.PIPE)
    assert p.stdout.readline().strip() == "locked"
    return p


def test_a_live_run_keeps_its_folder_and_a_dead_ones_lock_is_taken_over(mnist_dir, tmp_path, capsys):
    os.makedirs("busy")
    holder = _hold_lock(tmp_path, "busy")
    try:
        assert main(["train", "--data", mnist_dir, "--out", "busy", *QUICK]) == 1
        err = capsys.readouterr().err
        assert f"busy is in use by a live run (PID {holder.pid} on " in err
        assert sorted(os.listdir("busy")) == [".lock"]
        # without --out, a default folder in use is skipped like one that holds a run
        os.makedirs("runs")
        os.rename("busy", "runs/logreg")
        assert main(["train", "--data", mnist_dir, *QUICK]) == 0
        assert "output: runs/logreg-2" in capsys.readouterr().out
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the holder died without cleaning up: its lock file is left, and taken over
    record = json.load(open("runs/logreg/.lock"))
    assert record["pid"] == holder.pid
    assert main(["train", "--data", mnist_dir, "--out", "runs/logreg", *QUICK]) == 0
    out = capsys.readouterr().out
    assert f"note: took over the lock of a run that is no longer running (PID {holder.pid} on " in out
    assert not os.path.exists("runs/logreg/.lock")          # released at the end


def test_the_lock_is_held_while_training_and_names_its_owner(mnist_dir, monkeypatch, capsys):
    from qiflow.train import Trainer
    seen = []
    real = Trainer.save_checkpoint

    def look(self, path, loader=None):
        seen.append(json.load(open(os.path.join(os.path.dirname(path), ".lock"))))
        with pytest.raises(rundir.RunBusy):
            rundir.RunLock(os.path.dirname(path)).acquire()    # a second claim fails
        real(self, path, loader)
    monkeypatch.setattr(Trainer, "save_checkpoint", look)
    assert main(["train", "--data", mnist_dir, "--out", "r", *QUICK]) == 0
    assert seen and seen[0]["pid"] == os.getpid() and not os.path.exists("r/.lock")


def test_best_npz_carries_its_own_metrics_settings_and_run(mnist_dir, capsys):
    assert main(["train", "--model", "mlp", "--data", mnist_dir, "--out", "r", "--lr", "0.03",
                 "--limit", "1000", "--epochs", "2", "--no-progress", "--no-plot"]) == 0
    out = capsys.readouterr().out
    best, last = qf.load("r/best.npz"), qf.load("r/last.npz")
    hist = json.load(open("r/history.json"))
    assert best["run_id"] == last["run_id"] and len(best["run_id"]) == 32
    assert best["run"] == last["run"] and best["run"]["lr"] == 0.03 and best["run"]["limit"] == 1000
    assert best["config"] == {"n_in": 784, "hidden": 500, "n_out": 10}
    assert best["metrics"]["epoch"] == hist["best"]["epoch"]
    assert best["metrics"]["valid_error"] == hist["best"]["valid_error"]
    assert best["test"] == hist["test"]
    assert out.strip().splitlines()[-1] == f"test error: {100 * best['test']['error']:.2f} %"
    # the stored test error is the one of the stored weights
    assert main(["evaluate", "r/best.npz", "--data", mnist_dir, "--limit", "1000"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == out.strip().splitlines()[-1]


def _unwritable(tmp_path):
    if os.geteuid() == 0:                 # root writes anywhere a mode bit forbids
        if os.path.isdir("/sys/kernel") and not os.access("/sys/kernel/.qiflow-probe", os.F_OK):
            try:
                open("/sys/kernel/.qiflow-probe", "w")
            except OSError:
                return "/sys/kernel"
        pytest.skip("no read-only folder available to root")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    return str(ro)


def test_an_unwritable_out_is_reported_before_the_data_is_loaded(tmp_path, monkeypatch, capsys):
    from qiflow import datasets
    monkeypatch.setattr(datasets, "mnist", lambda *a, **k: pytest.fail("data loaded before the check"))
    ro = _unwritable(tmp_path)
    assert main(["train", "--out", ro, *QUICK]) == 1
    err = capsys.readouterr().err
    assert f"cannot write in the output folder {ro}: Permission denied; choose a writable --out" in err
    (tmp_path / "file").write_text("x")
    assert main(["train", "--out", "file/sub", *QUICK]) == 1
    assert "cannot create the output folder file/sub" in capsys.readouterr().err


def test_a_resume_waits_for_no_one_while_the_run_is_live(mnist_dir, tmp_path, capsys):
    assert main(["train", "--data", mnist_dir, "--out", "r", *QUICK]) == 0
    capsys.readouterr()
    before = _digest("r")
    holder = _hold_lock(tmp_path, "r")
    try:
        assert main(["train", "--resume", "r/last.npz", "--epochs", "2", "--no-progress"]) == 1
        assert f"r is in use by a live run (PID {holder.pid} on " in capsys.readouterr().err
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    after = _digest("r")
    assert after.pop(".lock") and after == before          # only the holder's lock was added
