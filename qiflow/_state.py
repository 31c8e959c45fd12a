"""Process-wide switches: grad mode (``no_grad``) and qiflow's error type.

Every other mode (tracing, profiling, anomaly checking, the engine's
first-order backward) is an interpreter on the stack in ``qiflow.ops.base``.
"""

grad_enabled = True
#: inside ``inference_mode()`` (which also turns grad mode off)
inference = False


class QiflowError(ValueError):
    """A user error that names the operation and the shapes involved."""
