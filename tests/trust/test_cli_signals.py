"""``qiflow train`` as a real process, killed, terminated, interrupted and piped into ``head``.

* kill -9 during training, then ``--resume OUT/last.npz`` (no other flag): the result is bit
  for bit the one of an unbroken run, and what the killed process left (its lock, a temporary
  file) is taken over or removed;
* SIGTERM: a clean message, exit status 143, a usable last checkpoint, no temporary file and
  no lock left, also when it lands inside a save; a second live run on the folder is refused;
* SIGINT from the moment qiflow starts loading: exit status 130 and a message, no traceback;
* a closed stdout (``| head -1``) never stops training.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import qiflow as qf

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Every setting differs from the recipe, so a resume that fell back to defaults would show.
# Ten short epochs (about 0.3 s each here), so a signal sent after the first lands mid-run.
EPOCHS = 10
RUN = ["--model", "mlp", "--epochs", str(EPOCHS), "--limit", "1500", "--lr", "0.05", "--batch-size", "100",
       "--seed", "7", "--valid-frequency", "5", "--no-progress", "--no-plot"]


def _env():
    return dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
                QIFLOW_OFFLINE="1", OMP_NUM_THREADS="1")


def _spawn(args, cwd):
    return subprocess.Popen([sys.executable, "-m", "qiflow", *args], cwd=cwd, env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _run(args, cwd, timeout=300):
    return subprocess.run([sys.executable, "-m", "qiflow", *args], cwd=cwd, env=_env(), text=True,
                          capture_output=True, timeout=timeout)


def _wait(cond, timeout=120, step=0.005):
    end = time.time() + timeout
    while not cond():
        if time.time() > end:
            raise AssertionError("timed out waiting")
        time.sleep(step)


def _epoch_of(path):
    try:
        return qf.load(path)["epoch"]
    except Exception:           # not there yet, or being replaced right now
        return 0


def _leftovers(folder):
    return sorted(f for f in os.listdir(folder) if f.endswith(".tmp") or f == ".lock")


@pytest.fixture(scope="module")
def unbroken(mnist_dir, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("unbroken")
    p = _run(["train", *RUN, "--data", mnist_dir, "--out", "full"], cwd)
    assert p.returncode == 0, p.stderr
    return cwd / "full"


def _same_run(a, b):
    for name, key in (("best.npz", "state"), ("last.npz", "model_state")):
        x, y = qf.load(a / name), qf.load(b / name)
        for k in x[key]:
            assert x[key][k].detach().numpy().tobytes() == y[key][k].detach().numpy().tobytes(), f"{name}: {k}"
    ha, hb = (json.load(open(f / "history.json")) for f in (a, b))
    for h in (ha, hb):
        for r in h["records"]:
            r.pop("seconds")
    assert ha["records"] == hb["records"] and ha["test"] == hb["test"]


def test_kill9_mid_training_then_resume_is_bit_identical(unbroken, mnist_dir, tmp_path):
    p = _spawn(["train", *RUN, "--data", mnist_dir, "--out", "cut"], tmp_path)
    _wait(lambda: _epoch_of(tmp_path / "cut" / "last.npz") >= 1)
    time.sleep(float(np.random.default_rng().uniform(0, 0.5)))      # somewhere in a later epoch
    p.send_signal(signal.SIGKILL)
    p.communicate()
    if p.returncode == 0:
        pytest.skip("the run finished before the kill (machine too fast for this timing)")
    assert p.returncode == -signal.SIGKILL
    assert ".lock" in os.listdir(tmp_path / "cut")                   # a killed process cannot clean up
    done = qf.load(tmp_path / "cut" / "last.npz")["epoch"]
    if done == EPOCHS:
        pytest.skip("the run finished before the kill (machine too fast for this timing)")
    r = _run(["train", "--resume", "cut/last.npz", "--no-progress", "--no-plot"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"resuming cut after epoch {done}" in r.stdout
    assert "note: took over the lock of a run that is no longer running" in r.stdout
    assert _leftovers(tmp_path / "cut") == []
    _same_run(unbroken, tmp_path / "cut")


def test_sigterm_exits_143_with_a_usable_checkpoint_and_a_live_run_keeps_its_folder(
        unbroken, mnist_dir, tmp_path):
    p = _spawn(["train", *RUN, "--data", mnist_dir, "--out", "t"], tmp_path)
    _wait(lambda: _epoch_of(tmp_path / "t" / "last.npz") >= 1)
    other = _run(["train", *RUN, "--data", mnist_dir, "--out", "t"], tmp_path)
    assert other.returncode == 1 and f"t is in use by a live run (PID {p.pid} on" in other.stderr
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=120)
    if p.returncode == 0:
        pytest.skip("the run finished before SIGTERM arrived")
    assert p.returncode == 143, err
    epoch = qf.load(tmp_path / "t" / "last.npz")["epoch"]
    assert err.strip() == (f"qiflow train: interrupted by SIGTERM; t/last.npz holds epoch {epoch}; "
                           "continue with: qiflow train --resume t/last.npz")
    assert _leftovers(tmp_path / "t") == []
    r = _run(["train", "--resume", "t/last.npz", "--no-progress", "--no-plot"], tmp_path)
    assert r.returncode == 0, r.stderr
    _same_run(unbroken, tmp_path / "t")


def test_sigterm_inside_a_save_leaves_no_temporary_file(mnist_dir, tmp_path):
    caught = 0
    for attempt in range(5):
        out = tmp_path / f"s{attempt}"
        p = _spawn(["train", *RUN, "--epochs", "30", "--data", mnist_dir, "--out", out.name], tmp_path)
        try:
            _wait(lambda: out.exists() and (out / "last.npz").exists()
                  and any(f.startswith(".last.npz.") for f in os.listdir(out)), timeout=120, step=0.0005)
        finally:
            p.send_signal(signal.SIGTERM)
            _, err = p.communicate(timeout=120)
        assert p.returncode == 143 and "Traceback" not in err, err
        assert _leftovers(out) == []
        assert qf.load(out / "last.npz")["epoch"] >= 1          # the previous checkpoint is whole
        caught += 1
        if caught >= 2:
            break


def _numpy_is_loading(pid):
    try:
        with open(f"/proc/{pid}/maps") as f:
            return "_multiarray_umath" in f.read()
    except FileNotFoundError:
        return True           # already gone


@pytest.mark.parametrize("when", ["numpy-loading", "0.3s", "training"])
def test_sigint_at_any_time_gives_a_clean_message_and_status_130(mnist_dir, tmp_path, when):
    p = _spawn(["train", *RUN, "--epochs", "30", "--data", mnist_dir, "--out", "i"], tmp_path)
    if when == "numpy-loading":
        if not os.path.exists(f"/proc/{p.pid}/maps"):
            pytest.skip("needs /proc to see the import start")
        _wait(lambda: _numpy_is_loading(p.pid), step=0.001)     # inside `import qiflow`
    elif when == "0.3s":
        time.sleep(0.3)
    else:
        assert p.stdout.readline().startswith("qiflow train: mlp")
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    # while importing, while parsing the arguments, or inside the command
    assert re.match(r"qiflow: interrupted while starting\n$|qiflow( train)?: interrupted by SIGINT", err), err
    if os.path.isdir(tmp_path / "i"):
        assert _leftovers(tmp_path / "i") == []


def test_a_closed_stdout_never_stops_training(mnist_dir, tmp_path):
    cmd = (f"{sys.executable} -m qiflow train {' '.join(RUN)} --epochs 2 --data {mnist_dir} --out p "
           "| head -1; echo \"status ${PIPESTATUS[0]}\"")
    r = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                       timeout=300)
    first, status = r.stdout.strip().splitlines()
    assert first.startswith("qiflow train: mlp") and status == "status 0", r.stderr
    assert "BrokenPipe" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    h = json.load(open(tmp_path / "p" / "history.json"))
    assert h["epochs"] == 2 and h["test"]["error"] < 0.5
    assert qf.load(tmp_path / "p" / "best.npz")["test"] == h["test"]
