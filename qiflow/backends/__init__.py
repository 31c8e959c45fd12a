"""``qf.backends``: PyTorch's ``torch.backends`` switches, answering for a CPU-only qiflow.

``qf.backends.mps.is_available()`` and ``qf.backends.cudnn.is_available()`` are False,
so the usual device-picking code chooses the CPU; ``cudnn.deterministic`` and
``cudnn.benchmark`` may be set (they change nothing: qiflow's CPU kernels are
deterministic and need no tuning).

>>> qf.backends.mps.is_available(), qf.backends.cudnn.is_available()
(False, False)
"""
from . import cudnn, mps

__all__ = ["cudnn", "mps"]
