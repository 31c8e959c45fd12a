"""The arithmetic operators' result dtypes and values against PyTorch for every kind of
operand: the operators apply the primitive at once where promotion changes nothing (a
tensor of the same dtype, an int, a float with a floating tensor), and that shortcut must
agree with PyTorch everywhere, Parameters and 0-d tensors included."""
import operator

import numpy as np
import pytest

import qiflow as qf

torch = pytest.importorskip("torch")

OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "**": operator.pow}
DTYPES = ["float32", "float64", "int64", "int32"]


def _others(dtype):
    """(name, qiflow operand, torch operand) pairs."""
    out = [("int", 2, 2), ("float", 1.5, 1.5), ("bool", True, True)]
    for d in DTYPES:
        v = np.array([[2.0, 1.0], [0.5, 3.0]]).astype(d)
        out.append((f"tensor {d}", qf.tensor(v), torch.from_numpy(v)))
        out.append((f"0-d {d}", qf.tensor(v[0, 0]), torch.tensor(v[0, 0])))
    return out


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_operator_dtypes_and_values_equal_pytorch(op, dtype):
    f = OPS[op]
    a = np.array([[1.5, 2.0], [3.0, 0.5]]).astype(dtype)
    left = [("tensor", qf.tensor(a), torch.from_numpy(a))]
    if dtype.startswith("float"):
        p = qf.nn.Parameter(qf.tensor(a))
        left.append(("Parameter", p, torch.nn.Parameter(torch.from_numpy(a.copy()))))
    for lname, qa, ta in left:
        for oname, qo, to in _others(dtype):
            for swap in (False, True):
                try:
                    want = f(to, ta) if swap else f(ta, to)
                except RuntimeError:
                    continue                     # torch refuses (e.g. int ** negative)
                got = f(qo, qa) if swap else f(qa, qo)
                where = f"{oname} {op} {lname} {dtype}" if swap else f"{lname} {dtype} {op} {oname}"
                assert got.dtype == np.dtype(str(want.dtype).replace("torch.", "")), where
                np.testing.assert_allclose(got.detach().numpy().astype(np.float64),
                                           want.detach().numpy().astype(np.float64),
                                           rtol=1e-6, err_msg=where)


def test_matmul_operator_and_mean_equal_pytorch_and_refuse_mixed_dtypes():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4, 2)).astype(np.float32)
    qa, qb = qf.nn.Parameter(qf.tensor(a)), qf.tensor(b)
    np.testing.assert_allclose((qa @ qb).detach().numpy(), a @ b, rtol=1e-6)
    np.testing.assert_allclose((qf.tensor(a)[0] @ qb).numpy(), a[0] @ b, rtol=1e-6)   # 1-D @ 2-D
    with pytest.raises(RuntimeError, match="same dtype"):
        qf.tensor(a) @ qf.tensor(b.astype(np.float64))
    assert qf.tensor(a).mean().item() == pytest.approx(float(torch.from_numpy(a).mean()), rel=1e-6)
    with pytest.raises(qf.QiflowError, match="mean.*floating point"):
        qf.tensor([1, 2]).mean()
    assert qf.tensor(a).mean(0).shape == (4,)
