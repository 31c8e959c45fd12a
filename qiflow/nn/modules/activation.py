from ..activation import *  # noqa: F401,F403
from ..activation import Hardtanh, ReLU6  # noqa: F401
from ..attention import MultiheadAttention  # noqa: F401
