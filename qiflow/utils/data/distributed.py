"""``qiflow.utils.data.distributed``: PyTorch's path to ``DistributedSampler``
(qiflow.data's own, re-exported)."""
from ...data.distributed import DistributedSampler

__all__ = ["DistributedSampler"]
