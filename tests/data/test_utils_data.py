"""``qiflow.utils.data``: PyTorch's path onto qiflow.data (re-exports, not copies) and a
DataLoader with torch's signature; batches compared with torch's loader."""
import numpy as np
import pytest

import qiflow as qf
import qiflow.data as qd
import qiflow.utils.data as ud
from qiflow.utils.data.distributed import DistributedSampler

torch = pytest.importorskip("torch")


def test_reexports_are_qiflow_data_objects():
    for name in ("Dataset", "TensorDataset", "Subset", "random_split", "default_collate"):
        assert getattr(ud, name) is getattr(qd, name)
    assert ud.DistributedSampler is qd.DistributedSampler is DistributedSampler
    assert issubclass(ud.DataLoader, qd.DataLoader)
    assert qf.utils.data is ud


def test_missing_names_say_so():
    with pytest.raises(AttributeError, match="not supported by qiflow yet"):
        ud.IterableDataset
    with pytest.raises(AttributeError, match="no attribute"):
        ud.nonsense


@pytest.mark.parametrize("kw", [dict(batch_size=4), dict(batch_size=3, drop_last=True),
                                dict(batch_size=5, num_workers=2, pin_memory=True),
                                dict(batch_size=4, persistent_workers=False, prefetch_factor=None)])
def test_sequential_batches_match_torch(kw):
    x = np.arange(22, dtype=np.float32).reshape(11, 2)
    y = np.arange(11)
    qb = list(ud.DataLoader(ud.TensorDataset(qf.tensor(x), qf.tensor(y)), **kw))
    tkw = {k: v for k, v in kw.items() if k != "prefetch_factor"}
    tb = list(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)),
                                          **tkw))
    assert len(qb) == len(tb)
    for (qx, qy), (tx, ty) in zip(qb, tb):
        np.testing.assert_array_equal(qx.numpy(), tx.numpy())
        np.testing.assert_array_equal(qy.numpy(), ty.numpy())


def test_positional_arguments_mean_what_they_mean_in_torch():
    ds = ud.TensorDataset(qf.arange(10))
    sampler = [9, 8, 7, 6, 5]
    loader = ud.DataLoader(ds, 2, False, sampler)          # the 4th is the sampler, as in torch
    assert [b[0].tolist() for b in loader] == [[9, 8], [7, 6], [5]]


def test_collate_fn_gets_samples_as_in_torch():
    x = np.arange(8, dtype=np.float32).reshape(4, 2)

    def collate(rows):
        return [tuple(int(v) for v in r[0].tolist()) for r in rows]
    q = list(ud.DataLoader(ud.TensorDataset(qf.tensor(x)), batch_size=3, collate_fn=collate))
    t = list(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(x)), batch_size=3,
                                         collate_fn=collate))
    assert q == t
    sub = ud.Subset(ud.TensorDataset(qf.tensor(x)), [3, 1])
    assert list(ud.DataLoader(sub, batch_size=2, collate_fn=collate)) == [[(6, 7), (2, 3)]]


def test_unsupported_options_raise():
    ds = ud.TensorDataset(qf.arange(4))
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        ud.DataLoader(ds, batch_size=2, batch_sampler=[[0, 1]])
    with pytest.raises(NotImplementedError, match="worker_init_fn"):
        ud.DataLoader(ds, num_workers=2, worker_init_fn=lambda i: None)
    with pytest.raises(ValueError, match="num_workers"):
        ud.DataLoader(ds, num_workers=-1)


def test_shuffle_random_split_and_distributed_sampler():
    ds = ud.TensorDataset(qf.arange(20))
    seen = sorted(v for b in ud.DataLoader(ds, batch_size=6, shuffle=True, generator=qf.Generator(1))
                  for v in b[0].tolist())
    assert seen == list(range(20))
    a, b = ud.random_split(ds, [0.75, 0.25], generator=qf.Generator(0))
    assert (len(a), len(b)) == (15, 5)
    assert sorted(list(a.indices) + list(b.indices)) == list(range(20))
    s = DistributedSampler(ds, num_replicas=2, rank=1, shuffle=False)
    ts = torch.utils.data.distributed.DistributedSampler(range(20), num_replicas=2, rank=1, shuffle=False)
    assert list(s) == list(ts)
