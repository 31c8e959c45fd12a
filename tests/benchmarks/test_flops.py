"""The FLOPs per step the harness divides by: checked against torch's own FLOP counter.

torch.utils.flop_counter counts the GEMMs and convolutions that the PyTorch step
of a case really dispatches (forward and backward), an independent count of the
same work the harness's ``_flops`` derives from the shapes.
"""
import os
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                     "benchmarks")


@pytest.fixture(scope="module")
def registry():
    # benchmarks/ is a folder of scripts, not a package: import it, then leave no trace
    before = set(sys.modules)
    sys.path.insert(0, BENCH)
    try:
        import registry as reg
        yield reg
    finally:
        sys.path.remove(BENCH)
        for name in set(sys.modules) - before:
            if getattr(sys.modules[name], "__file__", "") and \
                    sys.modules[name].__file__.startswith(BENCH):
                del sys.modules[name]


def _torch_count(th, step):
    from torch.utils.flop_counter import FlopCounterMode
    step()                                  # first call: lazy initialisation
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def _unrolled_lstm_count(th, steps, batch, n_in, hidden):
    """nn.LSTM's CPU kernel is one op the counter does not see: the same layer as
    LSTMCell steps (the same GEMMs) is counted instead."""
    from torch.utils.flop_counter import FlopCounterMode
    cell = th.nn.LSTMCell(n_in, hidden)
    x = th.randn(steps, batch, n_in)
    with FlopCounterMode(display=False) as counter:
        h, c, outs = th.zeros(batch, hidden), th.zeros(batch, hidden), []
        for t in range(steps):
            h, c = cell(x[t], (h, c))
            outs.append(h)
        th.stack(outs).pow(2).mean().backward()
    return counter.get_total_flops()


def test_every_case_counts_the_flops_torch_counts(registry):
    th = pytest.importorskip("torch")
    th.set_num_threads(1)
    import case_nn
    checked = []
    for case in registry.all_cases():
        if getattr(case, "memory", False):
            continue
        assert case.flops is None or case.flops > 0, case.key
        step = case.setups["torch"](True)
        counted = _torch_count(th, step)
        if case.key == "lstm35" and counted == 0:
            counted = _unrolled_lstm_count(th, case_nn._T, case_nn._N, case_nn._I, case_nn._H)
        assert (case.flops or 0) == counted, (case.key, case.flops, counted)
        checked.append(case.key)
    assert {"seed000", "mlp256", "mlp500", "lenet5", "lstm35", "tiny.matmul+bwd"} <= set(checked)


def test_counting_rule_by_hand(registry):
    import _flops
    # 784-256-10 at batch 128: 128*784*256 and 128*256*10 multiply-adds; the first layer's
    # input is data (forward + weight gradient), the second also passes a gradient down
    assert _flops.train_step(_flops.mlp((784, 256, 10), 128)) == \
        2 * (2 * 128 * 784 * 256) + 3 * (2 * 128 * 256 * 10)
    # a 5x5 convolution 20 -> 50 channels onto 8x8 outputs: 25*20 multiply-adds per output
    assert _flops.conv2d(1, 20, 50, 5, 8, 8) == 2 * 50 * 8 * 8 * 25 * 20
    assert _flops.forward_only([_flops.product(10), _flops.product(5, input_grad=False)]) == 15
