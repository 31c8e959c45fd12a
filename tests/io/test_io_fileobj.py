"""qf.save / qf.load with open binary file objects (issue 12 part 3), torch.save's
signature, map_location, and the same no-pickle and damaged-file guarantees as paths."""
import io
import pickle
import sys

import numpy as np
import pytest

import qiflow as qf
from qiflow.io import CheckpointError


def _ckpt():
    m = qf.nn.Linear(3, 2)
    return {"model": m.state_dict(), "step": 7, "lr": 0.1, "name": "run", "hist": [1.5, float("inf")],
            "pair": (qf.arange(3), np.ones((2, 2), np.float16))}


def _same(a, b):
    if isinstance(a, dict):             # (an OrderedDict comes back as a dict, in the same order)
        assert isinstance(b, dict)
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, (qf.Tensor, np.ndarray)):
        assert type(a) is type(b) or isinstance(b, qf.Tensor) and isinstance(a, qf.Tensor)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    else:
        assert type(a) is type(b) and a == b


def test_bytesio_round_trip():
    obj = _ckpt()
    buf = io.BytesIO()
    qf.save(obj, buf)
    buf.seek(0)
    _same(qf.load(buf), obj)


def test_open_file_objects_round_trip(tmp_path):
    obj = _ckpt()
    p = tmp_path / "ck.pt"
    with open(p, "wb") as f:
        qf.save(obj, f)
    with open(p, "rb") as f:
        _same(qf.load(f), obj)
    _same(qf.load(p), obj)                          # the same bytes as a path
    qf.save(obj, tmp_path / "by_path.pt")
    assert (tmp_path / "by_path.pt").read_bytes() == p.read_bytes()


def test_unbuffered_and_unseekable_files(tmp_path):
    obj = _ckpt()
    p = tmp_path / "raw.pt"
    with open(p, "wb", buffering=0) as f:
        qf.save(obj, f)

    class Stream(io.RawIOBase):                     # a pipe-like reader: no seek
        def __init__(self, data):
            self.data, self.pos = data, 0

        def readable(self):
            return True

        def readinto(self, b):
            n = min(len(b), len(self.data) - self.pos)
            b[:n] = self.data[self.pos:self.pos + n]
            self.pos += n
            return n

    _same(qf.load(io.BufferedReader(Stream(p.read_bytes()))), obj)


def test_failed_save_leaves_file_object_untouched():
    buf = io.BytesIO(b"keep")
    buf.seek(4)
    with pytest.raises(TypeError, match="cannot save a object"):
        qf.save({"ok": qf.ones(2), "bad": object()}, buf)
    assert buf.getvalue() == b"keep"


def test_text_mode_and_wrong_types_raise(tmp_path):
    with open(tmp_path / "t.txt", "w") as f:
        with pytest.raises(TypeError, match="binary mode"):
            qf.save({"a": 1}, f)
    with pytest.raises(TypeError, match="binary mode"):
        qf.load(io.StringIO("x"))
    with pytest.raises(TypeError, match="path or a binary file"):
        qf.save({"a": 1}, 42)
    with pytest.raises(TypeError, match="never pickles"):
        qf.save({"a": 1}, io.BytesIO(), pickle_module=pickle)
    with pytest.raises(TypeError, match="never unpickles"):
        qf.load(io.BytesIO(), pickle_module=pickle)


def test_damaged_and_pickled_file_objects_raise_checkpoint_error():
    buf = io.BytesIO()
    qf.save(_ckpt(), buf)
    data = buf.getvalue()
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        qf.load(io.BytesIO(data[: len(data) // 2]))
    with pytest.raises(CheckpointError, match="pickle"):
        qf.load(io.BytesIO(pickle.dumps({"a": 1})))
    with pytest.raises(CheckpointError, match="empty"):
        qf.load(io.BytesIO(b""))


@pytest.mark.parametrize("loc", [None, "cpu", qf.device("cpu"), {"cuda:0": "cpu"}])
def test_map_location_to_cpu(loc):
    buf = io.BytesIO()
    qf.save({"w": qf.ones(2)}, buf)
    buf.seek(0)
    assert qf.load(buf, map_location=loc, weights_only=True)["w"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("loc,err", [("cuda", RuntimeError), ({"cpu": "cuda:0"}, RuntimeError),
                                     (lambda storage, where: storage, TypeError)])
def test_map_location_elsewhere_raises(loc, err):
    buf = io.BytesIO()
    qf.save({"w": qf.ones(2)}, buf)
    buf.seek(0)
    with pytest.raises(err, match="CPU"):
        qf.load(buf, map_location=loc)


def test_bfloat16_is_refused_not_mangled():
    pytest.importorskip("ml_dtypes")
    with pytest.raises(TypeError, match="bfloat16"):
        qf.save({"w": qf.ones(2).to(qf.bfloat16)}, io.BytesIO())


def test_torch_round_trip_of_a_state_dict_through_numpy():
    torch = pytest.importorskip("torch")
    tm = torch.nn.Linear(4, 3)
    buf = io.BytesIO()
    qf.save({k: v.detach().numpy() for k, v in tm.state_dict().items()}, buf)
    buf.seek(0)
    qm = qf.nn.Linear(4, 3)
    qm.load_state_dict(qf.load(buf))
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    qm64, tm64 = qm.double(), tm.double()        # the weights survived: float32 rounding aside,
    np.testing.assert_allclose(qm64(qf.tensor(x.astype(np.float64))).detach().numpy(),
                               tm64(torch.tensor(x.astype(np.float64))).detach().numpy(), rtol=1e-12)
    for k, v in tm.state_dict().items():            # and bit for bit
        assert qm.state_dict()[k].detach().numpy().tobytes() == v.detach().numpy().tobytes()
    assert "pickle" not in sys.modules["qiflow.io"].__dict__
