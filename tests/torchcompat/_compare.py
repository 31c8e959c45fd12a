"""Run one program under ``torch`` and under ``qiflow`` (the same lambda, given the
module as ``m``) and compare what comes back: values, dtypes, shapes, named-tuple
fields, Python types."""
import numpy as np

import qiflow as qf

torch = None


def _torch():
    global torch
    if torch is None:
        import torch as th
        torch = th
    return torch


def _dtype_name(d):
    return str(d).replace("torch.", "") if not isinstance(d, np.dtype) else d.name


def _array(t):
    return t.detach().numpy()


def same(got, want, path="result", rtol=1e-5, atol=1e-6):
    """Assert that ``got`` (from qiflow) equals ``want`` (from torch)."""
    th = _torch()
    if isinstance(want, th.Tensor):
        assert isinstance(got, qf.Tensor), f"{path}: qiflow gave {type(got).__name__}, torch a Tensor"
        assert _dtype_name(got.dtype) == _dtype_name(want.dtype), \
            f"{path}: dtype {got.dtype} != torch's {want.dtype}"
        assert tuple(got.shape) == tuple(want.shape), f"{path}: shape {got.shape} != torch's {tuple(want.shape)}"
        g, w = _array(got), _array(want)
        if g.dtype.kind in "fc":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=path)
        else:
            np.testing.assert_array_equal(g, w, err_msg=path)
        return
    fields = [f for f in ("values", "indices") if hasattr(want, f)] if isinstance(want, tuple) else []
    if fields:
        assert getattr(got, "_fields", None) == tuple(fields), \
            f"{path}: qiflow's fields {getattr(got, '_fields', None)} != torch's {fields}"
        assert type(got).__name__ == type(want).__name__, f"{path}: {type(got).__name__} != {type(want).__name__}"
        for f in fields:
            same(getattr(got, f), getattr(want, f), f"{path}.{f}", rtol, atol)
        return
    if isinstance(want, (tuple, list)) and not isinstance(want, th.Size):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), \
            f"{path}: {type(got).__name__} of {len(got) if hasattr(got, '__len__') else '?'} != {len(want)}"
        for k, (a, b) in enumerate(zip(got, want)):
            same(a, b, f"{path}[{k}]", rtol, atol)
        return
    if isinstance(want, th.Size):
        assert isinstance(got, tuple) and tuple(got) == tuple(want), f"{path}: {got} != {want}"
        return
    if isinstance(want, th.dtype):
        assert _dtype_name(got) == _dtype_name(want), f"{path}: {got} != {want}"
        return
    assert type(got) is type(want), f"{path}: {type(got).__name__} != torch's {type(want).__name__}"
    if isinstance(want, float):
        assert abs(got - want) <= atol + rtol * abs(want), f"{path}: {got} != {want}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


def raises_like(fn):
    """fn(m) raises under torch and under qiflow; returns (torch's, qiflow's) exceptions."""
    th = _torch()
    out = []
    for m in (th, qf):
        try:
            fn(m)
        except Exception as exc:        # noqa: BLE001  (what matters: both refuse)
            out.append(exc)
        else:
            raise AssertionError(f"{m.__name__} did not raise")
    return out
