from ..pooling import MaxPool2d, AvgPool2d  # noqa: F401
from ..pooling_extra import AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d  # noqa: F401
