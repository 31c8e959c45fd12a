"""Every place a user passes data rejects bad input with an error that names the
layer/op, what it expected and what it got: layers, losses, datasets and
loaders, the trainer, and the command line."""
import pickle
import re
import subprocess
import sys
import os

import numpy as np
import pytest

import qiflow as qf
from qiflow import nn, optim
from qiflow.data import DataLoader, TensorDataset, random_split

F = nn.functional
X45 = np.ones((4, 5), np.float32)


def x45():
    return qf.tensor(X45)


def _expect(fn, exc, *needles):
    with pytest.raises(exc) as e:
        fn()
    msg = str(e.value)
    for n in needles:
        assert re.search(n, msg), f"{n!r} not in: {msg}"
    return msg


LAYERS = {
    "linear_features": (lambda: nn.Linear(3, 2)(x45()), [r"Linear", r"last dimension 3", r"\(4, 5\)"]),
    "linear_0d": (lambda: nn.Linear(5, 2)(qf.tensor(1.0)), [r"Linear", r"last dimension 5", r"\(\)"]),
    "conv_channels": (lambda: nn.Conv2d(3, 4, 3)(qf.randn(2, 2, 8, 8)),
                      [r"Conv2d", r"\(N, 3, H, W\)", r"\(2, 2, 8, 8\)"]),
    "conv_ndim": (lambda: nn.Conv2d(3, 4, 3)(qf.randn(3, 8, 8)), [r"Conv2d", r"\(3, 8, 8\)"]),
    "conv_small": (lambda: nn.Conv2d(3, 4, 5)(qf.randn(1, 3, 3, 3)), [r"conv2d", r"too small", r"\(5, 5\)"]),
    "pool_ndim": (lambda: nn.MaxPool2d(2)(qf.randn(8, 8)), [r"MaxPool2d", r"\(N, C, H, W\)", r"\(8, 8\)"]),
    "batchnorm_channels": (lambda: nn.BatchNorm1d(3)(x45()), [r"BatchNorm1d", r"3 channels", r"\(4, 5\)"]),
    "batchnorm_one_value": (lambda: nn.BatchNorm1d(5)(qf.randn(1, 5)), [r"batch_norm", r"more than 1 value"]),
    "layernorm_shape": (lambda: nn.LayerNorm(3)(x45()), [r"layer_norm", r"\(4, 5\)", r"\(3,\)"]),
    "embedding_range": (lambda: nn.Embedding(10, 3)(qf.tensor([1, 10])), [r"embedding", r"10", r"0\.\.9"]),
    "embedding_negative": (lambda: nn.Embedding(10, 3)(qf.tensor([-1])), [r"embedding", r"-1", r"0\.\.9"]),
    "embedding_float": (lambda: nn.Embedding(10, 3)(qf.tensor([1.0])), [r"embedding", r"integers", r"float"]),
    "lstm_features": (lambda: nn.LSTM(3, 4)(qf.randn(2, 5, 7)), [r"LSTM", r"\(T, N, 3\)", r"\(2, 5, 7\)"]),
    "rnn_ndim": (lambda: nn.RNN(3, 4)(qf.randn(2, 5, 3, 1)), [r"RNN", r"\(2, 5, 3, 1\)"]),
    "dropout_p": (lambda: nn.Dropout(1.5), [r"Dropout", r"\[0, 1\]", r"1\.5"]),
    "sequential_mismatch": (lambda: nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 2))(qf.randn(2, 3)),
                            [r"in_features=5", r"\(2, 4\)"]),
    "state_dict_shape": (lambda: nn.Linear(3, 2).load_state_dict(nn.Linear(3, 4).state_dict()),
                         [r"weight", r"\(4, 3\)", r"\(2, 3\)"]),
}


@pytest.mark.parametrize("case", sorted(LAYERS))
def test_layer_input_errors(case):
    fn, needles = LAYERS[case]
    _expect(fn, ValueError, *needles)


CE = [F.cross_entropy, nn.CrossEntropyLoss(), qf.losses.cross_entropy]


@pytest.mark.parametrize("ce", CE, ids=["functional", "module", "losses"])
@pytest.mark.parametrize("target,needles", [
    (np.array([0, 1, 2, 5]), [r"5", r"out of range", r"5 classes", r"0\.\.4"]),
    (np.array([0, 1, 2, -3]), [r"-3", r"out of range"]),
    (np.array([0, 1, 2]), [r"\(4, 5\)", r"\(4,\)", r"\(3,\)"]),
    (np.zeros((4, 5), np.int64), [r"\(4, 5\)", r"\(4,\)"]),
    (np.ones((4, 4)) / 4, [r"\(4, 5\)", r"\(4, 4\)"]),
])
def test_cross_entropy_target_errors(ce, target, needles):
    _expect(lambda: ce(x45(), target), ValueError, *needles)


@pytest.mark.parametrize("fn,needles", [
    (lambda: nn.NLLLoss()(x45(), np.array([0, 1, 9, 2])), [r"nll_loss", r"9", r"0\.\.4"]),
    (lambda: nn.MSELoss()(qf.randn(4, 1), qf.randn(4)), [r"mse_loss", r"\(4, 1\)", r"\(4,\)"]),
    (lambda: nn.L1Loss()(qf.randn(4, 2), qf.randn(2, 4)), [r"l1_loss", r"\(4, 2\)", r"\(2, 4\)"]),
    (lambda: nn.BCELoss()(qf.tensor([0.5, 1.5]), qf.tensor([0.0, 1.0])), [r"binary_cross_entropy", r"\[0, 1\]",
                                                                           r"1\.5", r"with_logits"]),
    (lambda: nn.BCELoss()(qf.tensor([0.5, 0.5]), qf.tensor([0.0, 1.0, 1.0])), [r"\(2,\)", r"\(3,\)"]),
    (lambda: nn.BCEWithLogitsLoss()(qf.randn(3, 1), qf.randn(3)), [r"\(3, 1\)", r"\(3,\)"]),
    (lambda: nn.MSELoss(reduction="avg")(qf.randn(3), qf.randn(3)), [r"reduction", r"'mean'", r"'avg'"]),
    (lambda: F.cross_entropy(x45(), np.array([0.0, 1, 2, 3])), [r"cross_entropy", r"\(4,\)"]),
])
def test_loss_errors(fn, needles):
    _expect(fn, ValueError, *needles)


def test_loss_dtype_is_preserved_for_float32_models():
    # a float64 NumPy target must not silently upcast a float32 loss
    out = nn.MSELoss()(qf.tensor(np.ones(3, np.float32)), np.zeros(3))
    assert out.dtype == np.float32


# ------------------------------------------------------------ data and training
@pytest.mark.parametrize("fn,exc,needles", [
    (lambda: TensorDataset(np.zeros((5, 3)), np.zeros(4)), ValueError, [r"same first dimension", r"\(5, 3\)",
                                                                         r"\(4,\)"]),
    (lambda: TensorDataset(), ValueError, [r"at least one"]),
    (lambda: DataLoader(TensorDataset(np.zeros((5, 3))), batch_size=0), ValueError, [r"batch_size", r"positive",
                                                                                     r"0"]),
    (lambda: DataLoader([1, 2], batch_size=1.5), ValueError, [r"batch_size", r"1\.5"]),
    (lambda: DataLoader(object()), TypeError, [r"not a dataset", r"__len__"]),
    (lambda: random_split(TensorDataset(np.zeros((5, 3))), [2, 2]), ValueError, [r"\[2, 2\]", r"5"]),
    (lambda: random_split(TensorDataset(np.zeros((5, 3))), [6, -1]), ValueError, [r"non-negative"]),
])
def test_dataset_and_loader_errors(fn, exc, needles):
    _expect(fn, exc, *needles)


def _fit(train_rows=8, valid_rows=None, target=0, epochs=1):
    m = nn.Linear(3, 2)
    mk = lambda n: DataLoader(TensorDataset(np.zeros((n, 3), np.float32),  # noqa: E731
                                            np.full(n, target, np.int64)), batch_size=4)
    valid = mk(valid_rows) if valid_rows is not None else None
    return qf.train.fit(m, optim.SGD(m.parameters(), lr=0.1), mk(train_rows), valid_loader=valid,
                        epochs=epochs, progress=False)


def test_training_on_empty_datasets_is_a_clear_error():
    _expect(lambda: _fit(train_rows=0), ValueError, r"training loader yields no batches")
    _expect(lambda: _fit(valid_rows=0), ValueError, r"validation loader yields no batches")


def test_training_with_targets_out_of_range_names_the_classes():
    _expect(lambda: _fit(target=5), ValueError, r"5", r"2 classes", r"0\.\.1")


def test_optimizer_argument_errors():
    p = nn.Linear(2, 2).parameters
    _expect(lambda: optim.SGD(p(), lr=-1), ValueError, r"SGD", r"learning rate", r"-1")
    _expect(lambda: optim.SGD(p()), ValueError, r"SGD", r"'lr'")
    _expect(lambda: optim.SGD([], lr=0.1), ValueError, r"SGD", r"empty")
    _expect(lambda: optim.Adam(p(), betas=(1.5, 0.9)), ValueError, r"Adam", r"betas", r"1\.5")


def test_tensor_level_errors_name_op_and_shapes():
    _expect(lambda: qf.ones((2, 3)) + qf.ones((4,)), ValueError, r"(?i)add", r"2, 3", r"4")
    _expect(lambda: qf.ones((2, 3)) @ qf.ones((2, 3)), ValueError, r"(?i)matmul", r"2, 3")
    _expect(lambda: qf.ones((2, 3))[5], ValueError, r"getitem", r"\(2, 3\)")
    _expect(lambda: qf.ones((2, 3)).reshape(4, 2), ValueError, r"(?i)reshape", r"2, 3", r"4, 2")
    _expect(lambda: qf.ones((2, 3)).sum(axis=2), ValueError, r"sum", r"axis 2|2")


# -------------------------------------------------------------------------- CLI
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cli(*args):
    from qiflow.cli import main
    try:
        return main(list(args))
    except SystemExit as e:
        return e.code


@pytest.mark.parametrize("argv,needle", [
    (["train", "--epochs", "0"], r"--epochs: expected a positive integer, got 0"),
    (["train", "--lr", "nan"], r"--lr: expected a positive number"),
    (["train", "--lr", "-0.1"], r"--lr: expected a positive number"),
    (["train", "--model", "foo"], r"invalid choice: 'foo' \(choose from 'logreg', 'mlp', 'lenet'\)"),
    (["train", "--batch-size", "abc"], r"--batch-size: expected a positive integer, got 'abc'"),
    (["train", "--optimizer", "rmsprop"], r"invalid choice: 'rmsprop'"),
    (["predict", "x.npz", "--index", "-1"], r"--index: expected a non-negative integer, got '-1'"),
    (["predict", "x.npz", "--index", "2", "--image", "a.png"], r"not allowed with"),
    (["evaluate"], r"required: checkpoint"),
    ([], r"required"),
    (["fly"], r"invalid choice: 'fly'"),
])
def test_cli_bad_arguments_exit_2_with_the_expectation(argv, needle, capsys):
    assert _cli(*argv) == 2
    assert re.search(needle, capsys.readouterr().err)


def test_cli_bad_checkpoints_exit_1_and_run_nothing(tmp_path, capsys):
    from qiflow import models
    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(Evil()))
    qf.save({"w": np.zeros(3)}, tmp_path / "plain.npz")
    m = models.build("logreg")
    qf.save({"kind": "qiflow-model", "model": "mlp", "config": {}, "state": m.state_dict()},
            tmp_path / "wrong.npz")
    qf.save({"kind": "qiflow-model", "model": "logreg", "config": {}, "state": m.state_dict()},
            tmp_path / "lr.npz")
    (tmp_path / "not.png").write_text("hello")
    cases = [
        (["evaluate", str(tmp_path / "missing.npz")], r"no such checkpoint"),
        (["evaluate", str(tmp_path / "evil.pkl")], r"pickle"),
        (["evaluate", str(tmp_path / "plain.npz")], r"not a model checkpoint"),
        (["evaluate", str(tmp_path / "wrong.npz")], r"does not fit a 'mlp' model"),
        (["evaluate", str(tmp_path / "lr.npz"), "--model", "mlp"], r"'logreg' model, not 'mlp'"),
        (["predict", str(tmp_path / "lr.npz"), "--image", str(tmp_path / "gone.png")], r"no such image"),
        # "cannot read" with Pillow or matplotlib; "needs Pillow or matplotlib" without either
        (["predict", str(tmp_path / "lr.npz"), "--image", str(tmp_path / "not.png")],
         r"cannot read|needs Pillow"),
    ]
    for argv, needle in cases:
        assert _cli(*argv) == 1, argv
        err = capsys.readouterr().err
        assert re.search(needle, err), (argv, err)
        assert "Traceback" not in err
    assert not marker.exists()


def test_cli_console_entry_reports_errors_without_traceback(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-m", "qiflow", "evaluate", str(tmp_path / "none.npz")],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 1
    assert "no such checkpoint" in p.stderr and "Traceback" not in p.stderr
