"""``qf.backends.cudnn``: no cuDNN (no GPU); the flags programs set are kept and change nothing."""
enabled = True
deterministic = False
benchmark = False
allow_tf32 = False


def is_available():
    """False: qiflow has no GPU backend."""
    return False


def version():
    """None: no cuDNN."""
    return None
