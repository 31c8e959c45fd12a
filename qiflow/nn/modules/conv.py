from ..conv import Conv2d  # noqa: F401
from ..conv_extra import Conv1d, ConvTranspose1d, ConvTranspose2d  # noqa: F401
