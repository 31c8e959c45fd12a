"""FLOPs per step: the GEMMs and convolutions a case's unit of work must do.

Counting rule (the same for every framework, so a fraction of the peak compares
like with like): one product of an (m, k) by a (k, n) matrix is 2*m*k*n FLOPs;
a convolution is the GEMM its im2col form would be.  A training step counts the
forward product, the weight gradient, and the input gradient only where the
input needs one (never for the data: a first layer has no input gradient).
Elementwise work, bias adds, pooling, softmax and the optimizer are not counted:
next to the GEMMs they are small, and a roofline of memory traffic would be a
different figure.  The test compares these counts with torch.utils.flop_counter
on the PyTorch step of each case.

    >>> train_step([product(gemm(128, 784, 256), input_grad=False)])
    102760448
"""


def gemm(m, k, n):
    """FLOPs of one (m, k) @ (k, n) product."""
    return 2 * m * k * n


def conv2d(batch, c_in, c_out, k, out_h, out_w):
    """FLOPs of one k x k convolution pass (stride 1): its im2col GEMM."""
    return gemm(batch * out_h * out_w, c_in * k * k, c_out)


def product(flops, input_grad=True):
    """One forward product of a graph: its FLOPs and whether its input needs a gradient."""
    return (int(flops), bool(input_grad))


def forward_only(products):
    """FLOPs of evaluating the products once."""
    return sum(f for f, _ in products)


def train_step(products):
    """Forward, weight gradient, and input gradient where one is needed."""
    return sum(f * (3 if need else 2) for f, need in products)


def mlp(sizes, batch):
    """The products of an MLP on a data batch: layer i maps sizes[i] -> sizes[i + 1]."""
    return [product(gemm(batch, a, b), input_grad=i > 0)
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]


def lenet5(batch):
    """conv 1->20 5x5 (24x24 out), conv 20->50 5x5 (8x8 out), fc 800->500, fc 500->10."""
    return [product(conv2d(batch, 1, 20, 5, 24, 24), input_grad=False),
            product(conv2d(batch, 20, 50, 5, 8, 8)),
            product(gemm(batch, 800, 500)),
            product(gemm(batch, 500, 10))]


def lstm(steps, batch, n_in, hidden):
    """One LSTM layer over `steps` time steps on data: the input projection of all steps,
    and one recurrent product per step (the first one's input, h0 = 0, needs no gradient)."""
    rec = gemm(batch, hidden, 4 * hidden)
    return ([product(gemm(steps * batch, n_in, 4 * hidden), input_grad=False),
             product(rec, input_grad=False)]
            + [product(rec)] * (steps - 1))
