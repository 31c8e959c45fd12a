"""Join-family ops and einsum beyond the op table: NumPy parity on more
arguments, mixed inputs, and clear errors."""
import numpy as np
import pytest

import qiflow as qf
from qiflow._state import QiflowError
from qiflow.ops import join as J
from qiflow.ops.linalg import einsum

RNG = np.random.default_rng(11)


def test_top_level_names_resolve():
    for name in ("pad", "repeat", "tile"):
        assert getattr(qf, name) is getattr(J, name)
    # the eager dialect's cat/stack/split/flip take PyTorch's arguments (tests/torchcompat)
    from qiflow import torchfn
    for name in ("concatenate", "cat", "stack", "split", "flip"):
        assert getattr(qf, name) is getattr(torchfn, name)
    assert qf.einsum is einsum


def test_concatenate_mixes_tensors_arrays_and_promotes_like_numpy():
    a = qf.tensor(np.float32([1.0, 2.0]), requires_grad=True)
    c = J.concatenate([a, np.array([3.0]), qf.tensor([4.0])])
    assert c.dtype == np.float64 and c.tolist() == [1.0, 2.0, 3.0, 4.0]
    (c * c).sum().backward()
    assert a.grad.dtype == np.float32 and a.grad.tolist() == [2.0, 4.0]
    assert J.concatenate([a, a], axis=-1).shape == (4,)


@pytest.mark.parametrize("points,axis", [(3, 0), ([1, 1, 4], 0), ([], 1), ([0, 2], -1), (1, 1)])
def test_split_matches_numpy(points, axis):
    a = RNG.standard_normal((6, 3))
    got = J.split(qf.tensor(a), points, axis)
    want = np.split(a, points, axis)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.detach().numpy(), w)


def test_split_pieces_share_one_gradient():
    x = qf.tensor(np.arange(6.0), requires_grad=True)
    a, b, c = J.split(x, 3)
    (a * 1 + b * 2 + c * 3).sum().backward()
    assert x.grad.tolist() == [1, 1, 2, 2, 3, 3]


@pytest.mark.parametrize("width", [1, (1, 2), ((0, 1), (2, 0)), ((1,), (2,))])
@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
def test_pad_width_forms_match_numpy(width, mode):
    a = RNG.standard_normal((3, 4))
    np.testing.assert_array_equal(J.pad(qf.tensor(a), width, mode=mode).detach().numpy(), np.pad(a, width, mode=mode))


def test_repeat_tile_flip_match_numpy_on_more_arguments():
    a = RNG.standard_normal((2, 3, 2))
    for reps, axis in [(2, None), (2, -1), (np.array([1, 3]), 0), (np.array([2]), 1), (0, 2)]:
        np.testing.assert_array_equal(J.repeat(qf.tensor(a), reps, axis).detach().numpy(), np.repeat(a, reps, axis))
    for reps in [1, (2,), (1, 1, 1, 2), (3, 1, 1)]:
        np.testing.assert_array_equal(J.tile(qf.tensor(a), reps).detach().numpy(), np.tile(a, reps))
    for axis in [None, 0, -1, (0, 2)]:
        np.testing.assert_array_equal(J.flip(qf.tensor(a), axis).detach().numpy(), np.flip(a, axis))
    assert J.repeat(qf.tensor([1.0, 2.0]), qf.tensor([2, 1])).tolist() == [1.0, 1.0, 2.0]


EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]), ("ij->", [(2, 3)]), ("ij->j", [(2, 3)]), ("i,j->ij", [(2,), (3,)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]), ("ij,ij->ij", [(1, 3), (2, 3)]), ("iij->ij", [(2, 2, 3)]),
    ("ijk->kji", [(2, 3, 2)]), ("i,i,i->", [(3,), (3,), (3,)]), ("ji", [(2, 3)]), ("iji->j", [(2, 3, 2)]),
    ("...,...->...", [(2, 3), (3,)]), ("a...b,b->...a", [(2, 2, 3), (3,)]), ("i j , j", [(2, 3), (3,)]),
]


@pytest.mark.parametrize("spec,shapes", EINSUMS, ids=[e[0] for e in EINSUMS])
def test_einsum_matches_numpy_and_gradchecks(spec, shapes):
    arrays = [RNG.standard_normal(s) for s in shapes]
    xs = [qf.tensor(a, requires_grad=True) for a in arrays]
    y = einsum(spec, *xs)
    want = np.einsum(spec, *arrays)
    assert y.shape == want.shape
    np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-12)
    assert qf.gradcheck(lambda *t: einsum(spec, *t), xs)
    assert qf.gradgradcheck(lambda *t: einsum(spec, *t), xs)


def test_einsum_matches_pytorch_gradients():
    torch = pytest.importorskip("torch")
    a, b = RNG.standard_normal((3, 3, 2)), RNG.standard_normal((2, 4))
    xs = [qf.tensor(v, requires_grad=True) for v in (a, b)]
    ts = [torch.tensor(v, requires_grad=True) for v in (a, b)]
    y, ty = einsum("iij,jk->ik", *xs), torch.einsum("iij,jk->ik", *ts)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("fn,match", [
    (lambda: J.concatenate([qf.ones((2, 3)), qf.ones((3, 2))]), r"concatenate: shapes \(2, 3\), \(3, 2\)"),
    (lambda: J.concatenate([]), "at least one"),
    (lambda: J.concatenate(qf.ones(2)), "list or tuple"),
    (lambda: J.concatenate([qf.ones(()), qf.ones(())]), "zero-dimensional"),
    (lambda: J.stack([qf.ones(2), qf.ones(3)]), r"stack: .*\(2,\), \(3,\)"),
    (lambda: J.stack([qf.ones(2)], axis=3), "axis 3 is out of range"),
    (lambda: J.split(qf.ones(5), 2), r"split: an axis of size 5.*2 equal sections"),
    (lambda: J.pad(qf.ones(2), -1), "negative"),
    (lambda: J.pad(qf.ones((2, 2)), ((1, 1), (1, 1), (1, 1))), "ndim 2"),
    (lambda: J.pad(qf.ones(2), 1, mode="mirror"), "mode 'mirror'"),
    (lambda: J.repeat(qf.ones(3), [1, 2]), r"repeat: 2 repeat counts for axis 0 of size 3"),
    (lambda: J.repeat(qf.ones(3), -1), "non-negative"),
    (lambda: J.tile(qf.ones(2), -1), "non-negative"),
    (lambda: J.flip(qf.ones(2), 3), "flip: axis 3"),
    (lambda: einsum("ij,jk->ik", qf.ones((2, 3)), qf.ones((4, 2))), r"einsum ij,jk->ik: letter 'j' has sizes 3 and 4"),
    (lambda: einsum("ij,jk", qf.ones((2, 3))), "names 2 operands, 1 given"),
    (lambda: einsum("ijk", qf.ones((2, 3))), "does not match operand 0 of ndim 2"),
    (lambda: einsum("ij->ik", qf.ones((2, 3))), "output letter 'k'"),
    (lambda: einsum("ij->ii", qf.ones((2, 2))), "repeats a letter"),
    (lambda: einsum("i1", qf.ones((2, 2))), "invalid character"),
])
def test_errors_name_the_op_and_shapes(fn, match):
    with pytest.raises(QiflowError, match=match):
        fn()
