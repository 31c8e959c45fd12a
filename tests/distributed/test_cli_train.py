"""``qiflow train`` under ``mpiexec -n 2``: one run written by rank 0, exact global
figures, the one-process error band, exact resume, and a failing rank that ends
the group.  Small runs (1000 images, 3 epochs): a few seconds each."""
import json
import os

import numpy as np
import pytest

import qiflow as qf
from qiflow.cli import main
from qiflow.cli.data import load
from qiflow.train import Trainer
from qiflow.data import DataLoader

from .mpirun import needs_mpi, run

pytestmark = needs_mpi

RUN = ["--model", "mlp", "--limit", "1000", "--epochs", "3", "--valid-frequency", "4",
       "--no-progress", "--no-plot"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("QIFLOW_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)


def mpi_train(*args, **kw):
    return run("cli_train.py", *args, extra_env={"QIFLOW_OFFLINE": "1"}, **kw)


def final_error(text):
    last = text.strip().splitlines()[-1]
    assert last.startswith("test error: "), last
    return float(last.split()[2])


def evaluate(folder, mnist_dir, split, limit=1000):
    """The error of best.npz's weights on a whole split, in this one process."""
    best = qf.load(os.path.join(folder, "best.npz"))
    model = qf.models.build("mlp", **best["config"])
    model.load_state_dict(best["state"])
    data = getattr(load(mnist_dir, limit), split)
    return Trainer(model, qf.optim.SGD(model.parameters(), lr=0.1)).evaluate(DataLoader(data, 1000))


def test_two_ranks_write_one_run_with_exact_figures_in_the_one_process_band(mnist_dir, tmp_path, capsys):
    assert main(["train", *RUN, "--data", mnist_dir, "--out", "one"]) == 0
    one = final_error(capsys.readouterr().out)
    res = mpi_train(*RUN, "--data", mnist_dir, "--out", str(tmp_path / "two"))
    assert res.rc == 0, res
    assert res.out.count("qiflow train: mlp") == 1, res          # only rank 0 speaks
    assert "distributed: 2 ranks x batch 64 = effective batch 128, lr 0.1" in res.out, res
    two = final_error(res.out)
    assert two < 40 and abs(two - one) <= 6.0, (one, two)       # chance is 90 %
    assert sorted(os.listdir(tmp_path / "two")) == ["best.npz", "history.json", "last.npz"]
    with open(tmp_path / "two" / "history.json") as f:
        h = json.load(f)
    assert [r["iteration"] for r in h["records"]] == [4, 8, 12, 16, 20, 24]   # 8 steps of 2 x 64
    # the recorded validation and test figures are those of the whole splits, not a mean of means
    best = qf.load(tmp_path / "two" / "best.npz")
    assert best["world_size"] == 2
    assert best["metrics"]["valid_error"] == pytest.approx(
        evaluate(tmp_path / "two", mnist_dir, "valid")["error"], abs=1e-12)
    assert h["test"]["error"] == pytest.approx(evaluate(tmp_path / "two", mnist_dir, "test")["error"],
                                               abs=1e-12)
    last = qf.load(tmp_path / "two" / "last.npz")
    assert len(last["rng"]["ranks"]) == 2 and last["rng"]["ranks"][0] != last["rng"]["ranks"][1]


def test_resume_under_mpiexec_continues_the_run_exactly(mnist_dir, tmp_path):
    # 599 test images: the ranks evaluate 300 and 299, where a mean of the two means would differ
    odd = [a if a != "1000" else "599" for a in RUN]
    full = mpi_train(*odd, "--data", mnist_dir, "--out", str(tmp_path / "full"))
    assert full.rc == 0 and "599 test images" in full.out, full
    with open(tmp_path / "full" / "history.json") as f:
        test = json.load(f)["test"]
    assert test["error"] == pytest.approx(evaluate(tmp_path / "full", mnist_dir, "test", 599)["error"],
                                          abs=1e-12)
    cut = mpi_train("--stop-after", "1", *odd, "--data", mnist_dir, "--out", str(tmp_path / "cut"))
    assert cut.rc == 130, cut
    last = tmp_path / "cut" / "last.npz"
    assert cut.err.count("interrupted by SIGINT") == 1, cut
    assert f"holds epoch 1; continue with: mpiexec -n 2 qiflow train --resume {last}" in cut.err, cut
    res = mpi_train("--resume", str(last), "--no-progress", "--no-plot")
    assert res.rc == 0 and "resuming" in res.out, res
    for name, key in (("best.npz", "state"), ("last.npz", "model_state")):
        a, b = qf.load(tmp_path / "full" / name)[key], qf.load(tmp_path / "cut" / name)[key]
        for k in a:
            assert a[k].numpy().tobytes() == b[k].numpy().tobytes(), f"{name} {k} differs"
    records = []
    for run_name in ("full", "cut"):
        with open(tmp_path / run_name / "history.json") as f:
            h = json.load(f)
        records.append([{k: v for k, v in r.items() if k != "seconds"} for r in h["records"]] + [h["test"]])
    assert records[0] == records[1]


def test_a_run_keeps_its_number_of_processes_and_a_batch_must_split_evenly(mnist_dir, tmp_path, capsys):
    res = mpi_train("--stop-after", "1", *RUN, "--data", mnist_dir, "--out", str(tmp_path / "cut"))
    assert res.rc == 130, res
    assert main(["train", "--resume", str(tmp_path / "cut" / "last.npz"), "--no-plot"]) == 1
    err = capsys.readouterr().err
    assert "was trained by 2 process(es) but this command runs 1" in err
    assert f"resume it with mpiexec -n 2 qiflow train --resume {tmp_path / 'cut' / 'last.npz'}" in err
    odd = mpi_train(*RUN, "--batch-size", "101", "--data", mnist_dir, "--out", str(tmp_path / "odd"))
    assert odd.rc == 1, odd
    assert odd.err.count("--batch-size 101 cannot be split evenly over 2 ranks") == 1, odd
    assert not (tmp_path / "odd").exists()


def test_a_failing_rank_ends_the_group_naming_it(mnist_dir, tmp_path):
    res = mpi_train("--fail-rank", "1", "3", *RUN, "--data", mnist_dir, "--out", str(tmp_path / "r"),
                    timeout=60)
    assert res.rc != 0, res
    assert "qiflow train: rank 1 of 2 failed with RuntimeError: injected failure in epoch 3" in res.err, res
    assert res.seconds < 30, res
    # the last checkpoint is whole (rank 0 may have been stopped while writing epoch 2's,
    # which then leaves epoch 1's), and a resume takes over the dead run's lock
    assert qf.load(tmp_path / "r" / "last.npz")["epoch"] in (1, 2)
    again = mpi_train("--resume", str(tmp_path / "r" / "last.npz"), "--no-progress", "--no-plot")
    assert again.rc == 0 and "took over the lock" in again.out, again


def test_evaluate_and_predict_under_mpiexec_run_and_print_once(mnist_dir, tmp_path):
    assert main(["train", *RUN, "--epochs", "1", "--data", mnist_dir, "--out", str(tmp_path / "r")]) == 0
    best = str(tmp_path / "r" / "best.npz")
    ev = run("cli_main.py", "evaluate", best, "--data", mnist_dir, "--limit", "1000")
    assert ev.rc == 0, ev
    assert ev.out.count("test error: ") == 1 and ev.err == "", ev
    single = float(ev.out.split("test error: ")[1].split()[0])
    assert single == pytest.approx(100 * evaluate(str(tmp_path / "r"), mnist_dir, "test")["error"], abs=0.005)
    pr = run("cli_main.py", "predict", best, "--index", "3", "--data", mnist_dir)
    assert pr.rc == 0 and pr.out.count("test image 3: predicted") == 1, pr
    # rank 0's failure is still the command's failure, said once
    bad = run("cli_main.py", "evaluate", str(tmp_path / "missing.npz"))
    assert bad.rc != 0 and bad.err.count("no such checkpoint") == 1, bad
