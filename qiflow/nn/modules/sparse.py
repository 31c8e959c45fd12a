from ..embedding import Embedding  # noqa: F401
