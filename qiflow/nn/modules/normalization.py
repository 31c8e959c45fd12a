from ..norm import LayerNorm  # noqa: F401
from ..norm_extra import GroupNorm  # noqa: F401
