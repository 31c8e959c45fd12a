"""The nn layer follows PyTorch's dtype rules instead of silently promoting, and its errors
say what to do: linear with an input of another dtype, float class labels in cross-entropy,
and a non-finite loss whose cause is a NaN hyperparameter or NaN data."""
import numpy as np
import pytest

import qiflow as qf
import qiflow.nn.functional as F

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("xdtype", ["int64", "float64", "int32"])
def test_linear_refuses_an_input_of_another_dtype_as_pytorch_does(xdtype):
    layer = qf.nn.Linear(3, 2)
    x = np.ones((4, 3), xdtype)
    with pytest.raises(RuntimeError, match="must have the same dtype"):
        torch.nn.Linear(3, 2)(torch.from_numpy(x))
    for call in (lambda: layer(qf.tensor(x)), lambda: F.linear(qf.tensor(x), layer.weight, layer.bias),
                 lambda: F.linear(qf.tensor(x), layer.weight)):
        with pytest.raises(qf.QiflowError, match=rf"linear: the input has dtype {xdtype} but the weight "
                                                 r"has dtype float32.*\(4, 3\).*x\.float\(\)"):
            call()


def test_linear_refuses_a_bias_of_another_dtype():
    w = qf.ones((2, 3))
    with pytest.raises(qf.QiflowError, match="the bias has dtype float64 but the weight has dtype float32"):
        F.linear(qf.ones((4, 3)), w, qf.zeros(2, dtype="float64"))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_with_matching_dtypes_equals_pytorch(dtype):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal((2, 3)).astype(dtype), \
        rng.standard_normal(2).astype(dtype)
    layer = qf.nn.Linear(3, 2, dtype=dtype)
    layer.weight.data[...] = w
    layer.bias.data[...] = b
    want = torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)).detach().numpy()
    got = layer(qf.tensor(x))
    assert got.dtype == dtype
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-6 if dtype == "float32" else 1e-12,
                               atol=1e-6 if dtype == "float32" else 0)   # float32 sums may cancel


def test_float_class_labels_say_how_to_fix_them():
    logits = qf.randn(4, 3)
    labels = [0.0, 1.0, 2.0, 0.0]
    with pytest.raises(RuntimeError):        # PyTorch refuses them too
        torch.nn.functional.cross_entropy(torch.randn(4, 3), torch.tensor(labels))
    for call in (lambda: F.cross_entropy(logits, qf.tensor(labels)),
                 lambda: qf.nn.CrossEntropyLoss()(logits, qf.tensor(labels)),
                 lambda: qf.losses.cross_entropy(logits, np.array(labels))):
        with pytest.raises(qf.QiflowError) as err:
            call()
        msg = str(err.value)
        assert "target.long()" in msg and "int64" in msg and "(4, 3)" in msg and "(4,)" in msg


def test_probability_targets_of_the_wrong_shape_name_both_remedies():
    with pytest.raises(qf.QiflowError, match=r"must have the input's shape \(4, 3\).*got shape \(4, 2\).*"
                                             r"int64 class indices of shape \(4,\)"):
        F.cross_entropy(qf.randn(4, 3), qf.zeros((4, 2)))


def test_probability_targets_still_work_and_match_pytorch():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    p = rng.random((4, 3)).astype(np.float32)
    p /= p.sum(1, keepdims=True)
    want = torch.nn.functional.cross_entropy(torch.from_numpy(x), torch.from_numpy(p)).item()
    assert abs(F.cross_entropy(qf.tensor(x), qf.tensor(p)).item() - want) < 1e-6


def _fit(opt_kwargs, X=None):
    model = qf.nn.Linear(4, 3)
    Xc, y = qf.datasets.make_classification(64, n_features=4, n_classes=3)
    X = Xc if X is None else X
    loader = qf.data.DataLoader(qf.data.TensorDataset(X, y), batch_size=16)
    opt = qf.optim.SGD(model.parameters(), **opt_kwargs)
    with pytest.raises(FloatingPointError) as err:
        qf.fit(model, opt, loader, epochs=2, progress=False)
    return str(err.value)


def test_a_nan_hyperparameter_is_named_instead_of_lower_the_learning_rate():
    msg = _fit({"lr": 0.1, "weight_decay": float("nan")})
    assert "weight_decay is nan" in msg and "learning rate" not in msg


def test_nan_inputs_are_named_as_the_cause():
    X, _ = qf.datasets.make_classification(64, n_features=4, n_classes=3)
    X = X.copy()
    X[5, 1] = np.nan
    msg = _fit({"lr": 0.1}, X)
    assert "inputs hold NaN or inf" in msg and "learning rate" not in msg


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_still_advises_a_lower_learning_rate():
    msg = _fit({"lr": 1e38})
    assert "lower the learning rate (now 1e+38)" in msg
