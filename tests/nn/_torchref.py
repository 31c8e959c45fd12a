"""Helpers for the layer tests that use PyTorch as an oracle: same weights, same inputs,
compare outputs and every gradient."""
import numpy as np

import qiflow as qf


def copy_weights(qm, tm):
    """Load torch's state_dict into the qiflow module (through load_state_dict, from NumPy);
    the names and shapes must agree for this to work."""
    qm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def first(out):
    """The first tensor of a (possibly nested) tuple output."""
    while isinstance(out, (tuple, list)):
        out = out[0]
    return out


def compare(qfn, tfn, *inputs, rtol=1e-4, atol=1e-5, pick=first, qm=None, tm=None, grad=True):
    """Run qfn/tfn on the same float inputs; compare the picked output, then the gradients of
    a random projection of it for every float input and (when given) every parameter."""
    import torch
    qx = [qf.tensor(x, requires_grad=grad and x.dtype.kind == "f") if isinstance(x, np.ndarray) else x
          for x in inputs]
    tx = [torch.tensor(x, requires_grad=grad and x.dtype.kind == "f") if isinstance(x, np.ndarray) else x
          for x in inputs]
    qy, ty = pick(qfn(*qx)), pick(tfn(*tx))
    assert tuple(qy.shape) == tuple(ty.shape), (qy.shape, ty.shape)
    np.testing.assert_allclose(qy.detach().numpy(), ty.detach().numpy(), rtol=rtol, atol=atol)
    if not grad:
        return qy, ty
    g = np.random.default_rng(1).standard_normal(tuple(ty.shape)).astype(ty.detach().numpy().dtype)
    (qy * qf.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    for i, (a, b) in enumerate(zip(qx, tx)):
        if isinstance(b, torch.Tensor) and b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"input {i}")
    if qm is not None:
        tgrads = dict(tm.named_parameters())
        names = [n for n, _ in qm.named_parameters()]
        assert names == list(tgrads), (names, list(tgrads))
        for name, p in qm.named_parameters():
            tg = tgrads[name].grad
            assert (p.grad is None) == (tg is None), name
            if tg is not None:
                np.testing.assert_allclose(p.grad.numpy(), tg.detach().numpy(), rtol=rtol, atol=atol, err_msg=name)
    return qy, ty


def t64(*shape, seed=0, scale=1.0):
    """A float64 leaf for gradcheck."""
    return qf.tensor(np.random.default_rng(seed).standard_normal(shape) * scale, dtype="float64",
                     requires_grad=True)
