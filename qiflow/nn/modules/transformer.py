from ..transformer import *  # noqa: F401,F403
