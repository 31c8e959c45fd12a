from ..norm import BatchNorm1d, BatchNorm2d  # noqa: F401
