"""The qiflow command line: a smoke run on a small subset, evaluate, predict, error exits."""
import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

import qiflow as qf
from qiflow.cli import main

FINAL = re.compile(r"^test error: (\d+\.\d\d) %$")


def _write_idx(path, arr):
    arr = np.ascontiguousarray(arr, np.uint8)
    raw = bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
    with open(path, "wb") as f:
        f.write(raw)


@pytest.fixture(scope="module")
def synthetic_mnist(tmp_path_factory):
    """MNIST-shaped IDX files: 3000 training and 600 test images of 10 learnable classes."""
    d = tmp_path_factory.mktemp("mnist")
    x, y = qf.datasets.make_images(3600, seed=0)
    _write_idx(d / "train-images-idx3-ubyte", x[:3000])
    _write_idx(d / "train-labels-idx1-ubyte", y[:3000])
    _write_idx(d / "t10k-images-idx3-ubyte", x[3000:])
    _write_idx(d / "t10k-labels-idx1-ubyte", y[3000:])
    return str(d)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch, tmp_path):
    monkeypatch.setenv("QIFLOW_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)


def _train(capsys, *extra):
    rc = main(["train", "--limit", "2000", "--epochs", "1", "--no-progress", *extra])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _final_error(stdout):
    m = FINAL.match(stdout.strip().splitlines()[-1])
    assert m, f"last line is not 'test error: X.XX %': {stdout.strip().splitlines()[-1]!r}"
    return float(m.group(1))


def test_train_smoke_on_synthetic_subset(synthetic_mnist, tmp_path, capsys):
    out = tmp_path / "run"
    rc, stdout, err = _train(capsys, "--model", "mlp", "--data", synthetic_mnist, "--out", str(out))
    assert rc == 0, err
    assert "data: 2000 train / 500 validation / 600 test images" in stdout
    assert "validation error" in stdout
    assert _final_error(stdout) < 40.0      # chance is 90 %; one epoch of 16 batches
    for name in ("best.npz", "last.npz", "history.json"):
        assert (out / name).exists()
    try:
        import matplotlib  # noqa: F401
        assert (out / "curves.png").exists()
    except ImportError:
        assert "install matplotlib" in stdout
    ckpt = qf.load(out / "best.npz")
    assert ckpt["kind"] == "qiflow-model" and ckpt["model"] == "mlp" and "test" in ckpt

    assert main(["evaluate", str(out / "best.npz"), "--data", synthetic_mnist]) == 0
    ev = capsys.readouterr().out
    assert ev.strip().splitlines()[-1] == stdout.strip().splitlines()[-1]  # same test error

    assert main(["predict", str(out / "best.npz"), "--index", "5", "--data", synthetic_mnist]) == 0
    assert re.search(r"test image 5: predicted \d \(label \d\)", capsys.readouterr().out)

    # resuming the finished run for one more epoch works and keeps the same model
    assert main(["train", "--model", "mlp", "--data", synthetic_mnist, "--limit", "2000", "--epochs", "2",
                 "--out", str(out), "--resume", str(out / "last.npz"), "--no-progress", "--no-plot"]) == 0
    assert "epoch 2," in capsys.readouterr().out
    # ... but not as another model
    rc = main(["train", "--model", "logreg", "--data", synthetic_mnist, "--limit", "2000", "--epochs", "3",
               "--out", str(out), "--resume", str(out / "last.npz"), "--no-progress"])
    assert rc == 1 and "model='mlp'" in capsys.readouterr().err


def test_predict_png(synthetic_mnist, tmp_path, capsys):
    mpimg = pytest.importorskip("matplotlib.image")
    rc, stdout, err = _train(capsys, "--data", synthetic_mnist, "--out", str(tmp_path / "r"), "--no-plot")
    assert rc == 0, err
    x, _ = qf.datasets.make_images(1, seed=0)
    mpimg.imsave(tmp_path / "digit.png", 255 - x[0], cmap="gray", vmin=0, vmax=255)  # dark on light
    assert main(["predict", str(tmp_path / "r" / "best.npz"), "--image", str(tmp_path / "digit.png")]) == 0
    assert re.search(r"digit.png: predicted \d", capsys.readouterr().out)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    assert main(["predict", str(tmp_path / "r" / "best.npz"), "--image", str(tmp_path / "bad.png")]) == 1
    assert "cannot read" in capsys.readouterr().err


REAL = os.path.join(os.path.expanduser("~/.cache/qiflow"), "mnist.npz")


@pytest.mark.skipif(not os.path.exists(REAL), reason="real MNIST not cached")
def test_train_smoke_on_real_mnist(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QIFLOW_CACHE", os.path.dirname(REAL))
    rc, stdout, err = _train(capsys, "--model", "mlp", "--out", str(tmp_path / "r"), "--no-plot")
    assert rc == 0, err
    assert _final_error(stdout) < 30.0      # measured 19-23 % over seeds: 2000 images, one epoch


def test_missing_data_explains_how_to_provide_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QIFLOW_CACHE", str(tmp_path / "empty-cache"))
    rc, stdout, err = _train(capsys)
    assert rc == 1 and "--data" in err and "QIFLOW_CACHE" in err and "Traceback" not in err
    rc, _, err = _train(capsys, "--data", str(tmp_path / "nowhere"))
    assert rc == 1 and "does not exist" in err


def test_checkpoint_errors(synthetic_mnist, tmp_path, capsys):
    rc, _, err = _train(capsys, "--data", synthetic_mnist, "--out", str(tmp_path / "r"), "--no-plot")
    assert rc == 0, err
    best = str(tmp_path / "r" / "best.npz")
    cases = [
        (["evaluate", str(tmp_path / "missing.npz")], "no such checkpoint"),
        (["evaluate", best, "--model", "lenet", "--data", synthetic_mnist], "'logreg' model, not 'lenet'"),
        (["evaluate", str(tmp_path / "r" / "history.json")], "not a qiflow checkpoint"),
        (["predict", best, "--index", "100000", "--data", synthetic_mnist], "out of range"),
        (["train", "--resume", str(tmp_path / "nope.npz")], "no such checkpoint"),
    ]
    qf.save({"x": 1}, tmp_path / "other.npz")
    cases.append((["evaluate", str(tmp_path / "other.npz")], "not a model checkpoint"))
    # a checkpoint whose weights do not fit the model it names
    ckpt = qf.load(best)
    ckpt["model"] = "mlp"
    qf.save(ckpt, tmp_path / "liar.npz")
    cases.append((["evaluate", str(tmp_path / "liar.npz"), "--data", synthetic_mnist], "does not fit"))
    for argv, message in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)


@pytest.mark.parametrize("argv", [
    ["train", "--model", "resnet"], ["train", "--epochs", "0"], ["train", "--lr", "-1"],
    ["train", "--batch-size", "x"], ["predict", "c.npz", "--index", "1", "--image", "a.png"],
    ["bogus"], [],
])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and "usage:" in capsys.readouterr().err


def test_python_dash_m(tmp_path):
    env = dict(os.environ, QIFLOW_OFFLINE="1", QIFLOW_CACHE=str(tmp_path))
    ok = subprocess.run([sys.executable, "-m", "qiflow", "train", "--help"], capture_output=True, text=True,
                        env=env, timeout=60)
    assert ok.returncode == 0 and "--model {logreg,mlp,lenet}" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "qiflow", "evaluate", str(tmp_path / "none.npz")],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 1 and "no such checkpoint" in bad.stderr
