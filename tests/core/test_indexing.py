"""``x[index]`` on eager tensors: NumPy's results for every kind of index, and
gradients that scatter-add (repeated indices accumulate)."""
import numpy as np
import pytest

import qiflow as qf
from qiflow._state import QiflowError

A = np.arange(24.0).reshape(2, 3, 4)
MASK = A > 10.5

INDICES = {
    "int": 1,
    "negative_int": -1,
    "int_tuple": (1, -2),
    "numpy_int": (np.int64(1), np.int32(0)),
    "slice": (slice(None), slice(1, 3)),
    "negative_step": (slice(None, None, -1), slice(None), slice(3, 0, -2)),
    "negative_bounds": (Ellipsis, slice(-3, -1)),
    "none": (None, 0, Ellipsis, None),
    "ellipsis": (Ellipsis, 2),
    "int_list": [1, 1, 0],
    "int_array_2d": np.array([[0, 1], [1, 1]]),
    "int_array_axis1": (slice(None), np.array([2, 0, 2, 2])),
    "negative_int_array": (0, np.array([-1, -3])),
    "broadcast_arrays": (np.array([[0], [1]]), slice(None), np.array([3, 0, 3])),
    "separated_arrays": (np.array([1, 0]), 1, np.array([2, 3])),
    "bool_mask_full": MASK,
    "bool_mask_row": (0, A[0, :, 0] > 3),
    "bool_mask_first_axes": (A[:, :, 0] > 4,),
    "bool_then_slice": (np.array([True, False]), slice(None, None, 2)),
}


def _numpy_scatter_grad(index, w):
    g = np.zeros_like(A)
    np.add.at(g, index, w)
    return g


@pytest.mark.parametrize("name", list(INDICES))
def test_forward_and_gradient_match_numpy(name):
    index = INDICES[name]
    x = qf.tensor(A, requires_grad=True)
    y = x[index]
    want = A[index]
    assert y.shape == want.shape and y.dtype == np.float64
    np.testing.assert_array_equal(y.detach().numpy(), want)
    w = np.random.default_rng(0).standard_normal(want.shape)
    (y * w).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), _numpy_scatter_grad(index, w))


@pytest.mark.parametrize("name", ["negative_step", "int_array_2d", "bool_mask_full", "broadcast_arrays"])
def test_gradcheck_first_and_second_order(name):
    index = INDICES[name]
    x = qf.tensor(A / 10, requires_grad=True)
    assert qf.gradcheck(lambda t: t[index] ** 2, [x])
    assert qf.gradgradcheck(lambda t: t[index] ** 2, [x])


def test_repeated_indices_scatter_add():
    x = qf.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]
    m = qf.tensor(np.ones((2, 2)), requires_grad=True)
    m[np.array([0, 0, 1]), np.array([1, 1, 0])].sum().backward()
    assert m.grad.tolist() == [[0.0, 2.0], [1.0, 0.0]]


def test_index_parts_may_be_tensors_lists_or_arrays():
    x = qf.tensor(A)
    for idx in ([1, 0], np.array([1, 0]), qf.tensor([1, 0])):
        np.testing.assert_array_equal(x[idx].detach().numpy(), A[[1, 0]])
    np.testing.assert_array_equal(x[qf.tensor(MASK)].detach().numpy(), A[MASK])
    np.testing.assert_array_equal(x[qf.tensor(1)].detach().numpy(), A[1])


def test_views_of_views_and_slices_of_results():
    x = qf.tensor(A, requires_grad=True)
    y = x[:, ::-1][1][..., 1:][[0, 2]]
    np.testing.assert_array_equal(y.detach().numpy(), A[:, ::-1][1][..., 1:][[0, 2]])
    y.sum().backward()
    expect = np.zeros_like(A)
    expect[1, [2, 0], 1:] = 1
    np.testing.assert_array_equal(x.grad.numpy(), expect)


def test_take_along_axis_accumulates():
    x = qf.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    idx = np.array([[2, 2, 0]])
    y = qf.take_along_axis(x, idx, 1)
    assert y.tolist() == [[3.0, 3.0, 1.0]]
    y.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 2.0]]


def test_bad_indices_give_clear_errors():
    x = qf.tensor(A)
    with pytest.raises(QiflowError, match=r"getitem.*\(2, 3, 4\).*out of bounds"):
        x[5]
    with pytest.raises(QiflowError, match=r"getitem.*\(2, 3, 4\)"):
        x[0, np.array([0, 7])]
    with pytest.raises(QiflowError, match="integer or bool"):
        x[np.array([0.5])]
    with pytest.raises(QiflowError, match="Python bool"):
        x[True]
    with pytest.raises(QiflowError, match="unsupported index"):
        x["a"]
    with pytest.raises(QiflowError, match=r"getitem"):
        x[MASK[0]]                       # mask of the wrong shape


def test_setitem_follows_the_in_place_policy():
    t = qf.tensor(np.zeros((2, 3)))
    t[0, ::2] = 1.0
    t[qf.tensor([1]), 1] = qf.tensor([5.0])
    assert t.tolist() == [[1.0, 0.0, 1.0], [0.0, 5.0, 0.0]]
    w = qf.tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        w[0] = 1.0
    with qf.no_grad():
        w[[0, 2]] = 2.0
    assert w.tolist() == [2.0, 0.0, 2.0]
