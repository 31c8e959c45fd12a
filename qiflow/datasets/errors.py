"""The errors of dataset readers: data that is missing, or a file that is not what it should be.

>>> raise DataFormatError("mnist: x.gz is empty; expected a gzip file")
Traceback (most recent call last):
  ...
qiflow.datasets.errors.DataFormatError: mnist: x.gz is empty; expected a gzip file
"""


class DataFormatError(ValueError):
    """A data file that cannot be parsed; the message names the file and what was expected."""


class DataNotFoundError(FileNotFoundError):
    """MNIST is neither where the user said, nor cached, nor downloadable."""
