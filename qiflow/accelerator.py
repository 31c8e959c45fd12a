"""``qf.accelerator``: PyTorch's ``torch.accelerator`` for a CPU-only qiflow.

``is_available()`` is False and ``current_accelerator()`` None, so
``device = qf.accelerator.current_accelerator() if qf.accelerator.is_available()
else qf.device('cpu')`` picks the CPU.

>>> qf.accelerator.is_available(), qf.accelerator.device_count(), qf.accelerator.current_accelerator()
(False, 0, None)
"""


def is_available():
    """False: qiflow has no accelerator backend."""
    return False


def device_count():
    """0: qiflow sees no accelerator."""
    return 0


def current_accelerator(check_available=False):
    """None: there is no accelerator."""
    return None
