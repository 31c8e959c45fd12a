from ..dropout import Dropout  # noqa: F401
from ..dropout_extra import Dropout1d, Dropout2d  # noqa: F401
