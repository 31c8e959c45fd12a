"""DistributedDataParallel, SyncBatchNorm and the T.function all-reduce op on 2 ranks,
each against one process that trains on the global batch."""
import pytest

from .mpirun import needs_mpi, run, python

pytestmark = needs_mpi


@pytest.mark.parametrize("mode", ["eager", "compiled"])
@pytest.mark.parametrize("opt, model, cap", [("sgd", "mlp", None), ("adam", "mlp", 0.001),
                                             ("sgd", "conv", 0.0005), ("adam", "conv", None)])
def test_ddp_two_ranks_equal_one_process_with_the_global_batch(opt, model, cap, mode):
    res = run("ddp_equivalence.py", opt, model, "default" if cap is None else cap, mode)
    assert res.rc == 0 and f"equivalent: {opt} {model} {mode}" in res.out, res
    if cap is not None:
        assert "buckets=1 " not in res.out, res     # the small cap really made several buckets


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_t_function_with_the_all_reduce_op_equals_one_process(opt):
    res = run("sym_equivalence.py", opt)
    assert res.rc == 0 and f"equivalent: T.function {opt} all_reduce_ops=4" in res.out, res


def test_ddp_wrap_checks_no_sync_unused_parameters_buffers_and_buckets():
    res = run("ddp_features.py")
    assert res.rc == 0, res
    assert "ddp features ok on rank 0" in res.out and "ddp features ok on rank 1" in res.out, res


def test_sync_batchnorm_equals_batchnorm_on_the_global_batch():
    res = run("sync_batchnorm.py")
    assert res.rc == 0 and "sync batchnorm ok" in res.out, res


def test_ddp_in_a_group_of_one_changes_nothing_and_rejects_bad_arguments():
    res = python(
        "import numpy as np, qiflow as qf\n"
        "from qiflow import distributed as dist\n"
        "from qiflow.nn.parallel import DistributedDataParallel as DDP\n"
        "qf.set_default_dtype('float64'); dist.init_process_group('mpi', timeout=10)\n"
        "qf.manual_seed(1); net = qf.nn.Linear(3, 2); ref = qf.nn.Linear(3, 2)\n"
        "ref.load_state_dict(net.state_dict())\n"
        "x = qf.randn(5, 3); ddp = DDP(net)\n"
        "(ddp(x) ** 2).sum().backward(); (ref(x) ** 2).sum().backward()\n"
        "assert np.array_equal(net.weight.grad.numpy(), ref.weight.grad.numpy())\n"
        "for kw, exc, needle in ((dict(device_ids=[0]), ValueError, 'CPU'),\n"
        "                        (dict(static_graph=True), NotImplementedError, 'static_graph'),\n"
        "                        (dict(bucket_cap_mb=0), ValueError, 'bucket_cap_mb')):\n"
        "    try:\n"
        "        DDP(qf.nn.Linear(3, 2), **kw)\n"
        "    except exc as e:\n"
        "        assert needle in str(e), e\n"
        "    else:\n"
        "        raise AssertionError(kw)\n"
        "try:\n"
        "    DDP(lambda x: x)\n"
        "except TypeError as e:\n"
        "    assert 'qiflow.nn.Module' in str(e)\n"
        "else:\n"
        "    raise AssertionError('a function was wrapped')\n"
        "print('ddp of one ok')\n")
    assert res.rc == 0 and "ddp of one ok" in res.out, res


def test_compiled_ddp_no_sync_traces_again_and_unsupported_cases_say_so():
    res = run("ddp_compiled.py")
    assert res.rc == 0, res
    assert "ddp compiled ok on rank 0" in res.out and "ddp compiled ok on rank 1" in res.out, res
