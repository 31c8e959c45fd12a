"""``qf.backends.mps``: no Apple GPU backend."""


def is_available():
    """False: qiflow computes on the CPU only."""
    return False


def is_built():
    """False: qiflow has no MPS backend."""
    return False
