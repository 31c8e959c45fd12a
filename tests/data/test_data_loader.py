"""DataLoader, TensorDataset, Subset and random_split."""
import numpy as np
import pytest

import qiflow as qf
from qiflow.data import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split


def _ds(n=10):
    return TensorDataset(np.arange(n * 2, dtype=np.float32).reshape(n, 2), np.arange(n))


def _order(loader):
    return np.concatenate([yb.detach().numpy() for _, yb in loader])


def test_batches_cover_rows_in_order_without_shuffle():
    loader = DataLoader(_ds(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [len(b[1]) for b in batches] == [4, 4, 2]
    assert _order(loader).tolist() == list(range(10))
    xb, yb = batches[1]
    assert isinstance(xb, qf.Tensor) and xb.detach().numpy().tolist() == [[8, 9], [10, 11], [12, 13], [14, 15]]


def test_unshuffled_batches_are_views_of_the_stored_arrays():
    ds = _ds(12)
    for xb, _ in DataLoader(ds, batch_size=5):
        assert np.shares_memory(xb.detach().numpy(), ds.arrays[0])


def test_one_gather_per_batch_not_one_per_row(monkeypatch):
    calls = []
    orig = TensorDataset.__getitems__

    def spy(self, index):
        calls.append(index)
        return orig(self, index)

    monkeypatch.setattr(TensorDataset, "__getitems__", spy)
    monkeypatch.setattr(TensorDataset, "__getitem__", lambda self, i: pytest.fail("row-wise access"))
    loader = DataLoader(_ds(100), batch_size=32, shuffle=True, generator=qf.Generator(3))
    ys = [yb for _, yb in loader]
    assert len(calls) == 4 and all(isinstance(c, np.ndarray) for c in calls)
    assert sorted(np.concatenate([y.detach().numpy() for y in ys]).tolist()) == list(range(100))


def test_shuffle_is_deterministic_under_a_seeded_generator():
    a = DataLoader(_ds(50), batch_size=8, shuffle=True, generator=qf.Generator(7))
    b = DataLoader(_ds(50), batch_size=8, shuffle=True, generator=qf.Generator(7))
    c = DataLoader(_ds(50), batch_size=8, shuffle=True, generator=qf.Generator(8))
    ea1, eb1 = _order(a), _order(b)
    assert np.array_equal(ea1, eb1) and not np.array_equal(ea1, _order(c))
    assert sorted(ea1.tolist()) == list(range(50)) and ea1.tolist() != list(range(50))
    ea2 = _order(a)  # a new permutation each epoch, still reproducible
    assert not np.array_equal(ea1, ea2) and np.array_equal(ea2, _order(b))


def test_shuffle_uses_the_global_seed_when_no_generator_is_given():
    loader = DataLoader(_ds(40), batch_size=8, shuffle=True)
    qf.manual_seed(123)
    first = _order(loader)
    qf.manual_seed(123)
    assert np.array_equal(first, _order(loader))


def test_rows_and_labels_stay_paired_when_shuffled():
    for xb, yb in DataLoader(_ds(30), batch_size=7, shuffle=True, generator=qf.Generator(0)):
        assert np.array_equal(xb.detach().numpy()[:, 0], 2 * yb.detach().numpy())


def test_drop_last():
    loader = DataLoader(_ds(10), batch_size=4, shuffle=True, drop_last=True, generator=qf.Generator(1))
    sizes = [len(yb) for _, yb in loader]
    assert len(loader) == 2 and sizes == [4, 4]


def test_collate_fn_transforms_gathered_batches():
    loader = DataLoader(_ds(6), batch_size=3, collate_fn=lambda b: (b[0] * 2, b[1]))
    xb, yb = next(iter(loader))
    assert xb.detach().numpy().tolist() == [[0, 2], [4, 6], [8, 10]]


class Rows(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return np.full(3, float(i), np.float32), i


def test_row_only_datasets_are_collated():
    xb, yb = list(DataLoader(Rows(), batch_size=2))[2]
    assert xb.shape == (1, 3) and yb.detach().numpy().tolist() == [4]
    seen = []
    loader = DataLoader(Rows(), batch_size=2, collate_fn=lambda rows: seen.append(len(rows)) or rows)
    list(loader)
    assert seen == [2, 2, 1]  # PyTorch semantics: a list of rows


def test_default_collate_nested():
    out = default_collate([{"a": np.ones(2), "b": (1, 2.0)}, {"a": np.zeros(2), "b": (3, 4.0)}])
    assert out["a"].shape == (2, 2) and out["b"][0].detach().numpy().tolist() == [1, 3]
    assert out["b"][1].dtype == np.float32


def test_random_split_sizes_disjoint_and_deterministic():
    ds = _ds(23)
    parts = random_split(ds, [10, 8, 5], generator=qf.Generator(0))
    idx = np.concatenate([p.indices for p in parts])
    assert [len(p) for p in parts] == [10, 8, 5] and sorted(idx.tolist()) == list(range(23))
    again = random_split(ds, [10, 8, 5], generator=qf.Generator(0))
    assert all(np.array_equal(p.indices, q.indices) for p, q in zip(parts, again))
    a, b = random_split(ds, [0.75, 0.25], generator=qf.Generator(0))
    assert len(a) + len(b) == 23 and len(a) == 18
    xb, yb = next(iter(DataLoader(parts[0], batch_size=4)))
    assert yb.detach().numpy().tolist() == parts[0].indices[:4].tolist()
    assert np.array_equal(xb.detach().numpy()[:, 0], 2 * yb.detach().numpy())


def test_subset_of_row_only_dataset():
    sub = Subset(Rows(), [4, 1])
    xb, yb = next(iter(DataLoader(sub, batch_size=2)))
    assert yb.detach().numpy().tolist() == [4, 1]


@pytest.mark.parametrize("kwargs, match", [
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=2.5), "batch_size"),
    (dict(batch_size=2, generator=3), "generator"),
    (dict(batch_size=2, collate_fn=5), "collate_fn"),
])
def test_loader_argument_errors(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        DataLoader(_ds(4), **kwargs)


def test_dataset_errors():
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(IndexError, match="out of range"):
        _ds(3)[5]
    with pytest.raises(ValueError, match="sum to"):
        random_split(_ds(5), [2, 2])
    with pytest.raises(TypeError, match="not a dataset"):
        DataLoader(5)
