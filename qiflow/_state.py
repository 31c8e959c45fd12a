"""Process-wide switches: grad mode, raw (first-order backward) mode, anomaly mode."""

grad_enabled = True
#: While the engine runs a backward pass without ``create_graph``, vjps get
#: plain ndarrays and qiflow functions called on ndarrays return ndarrays.
raw_mode = False
anomaly = False
#: During a backward sweep: which inputs of the node being differentiated want a
#: gradient (a tuple of bools), or None for all of them; vjps may skip the rest.
needs_input_grad = None


class QiflowError(ValueError):
    """A user error that names the operation and the shapes involved."""


def anomaly_check_forward(op, args, out):  # replaced by qiflow.anomaly
    pass
