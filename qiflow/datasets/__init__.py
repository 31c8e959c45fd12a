"""Datasets: MNIST (seed 001's IDX files and seed 003's ``mnist.pkl.gz``), Boston housing
(seed 004), scikit-learn's digits and small synthetic generators.

Nothing is ever unpickled except through a reader that can only rebuild NumPy
arrays; downloaded data is checked against pinned SHA-256 digests and cached
(``$QIFLOW_CACHE``, default ``~/.cache/qiflow``) as pickle-free ``.npz``.

>>> import qiflow as qf
>>> X, y = qf.datasets.make_classification(60, n_features=2, seed=1)
>>> X.shape, y.dtype
((60, 2), dtype('int64'))
"""
from ._fetch import cache_dir, DownloadError
from ._safe_pickle import UnsafePickleError
from .errors import DataFormatError
from .idx import read_idx
from ._mnist import mnist, Splits, DataNotFoundError, read_pkl_gz
from .tabular import boston, digits
from .synthetic import make_classification, make_regression, make_images

__all__ = ["mnist", "boston", "digits", "make_classification", "make_regression", "make_images",
           "read_idx", "read_pkl_gz", "cache_dir", "Splits", "DataNotFoundError", "DownloadError",
           "UnsafePickleError", "DataFormatError"]
