from ..linear import Identity, Linear, Flatten, Unflatten  # noqa: F401
# PyTorch's out_proj class of MultiheadAttention, a Linear in every respect that matters here
NonDynamicallyQuantizableLinear = Linear
