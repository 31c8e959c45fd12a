"""Collectives under mpiexec, the group of one, and what happens without mpi4py."""
import pytest

from .mpirun import needs_mpi, run, python


@needs_mpi
def test_every_collective_on_two_ranks():
    res = run("collectives.py")
    assert res.rc == 0, res
    for r in range(2):
        assert f"collectives ok on rank {r} of 2" in res.out, res


@needs_mpi
def test_a_single_process_is_a_group_of_one():
    res = python(
        "import numpy as np, qiflow as qf\n"
        "from qiflow import distributed as dist\n"
        "assert not dist.is_initialized()\n"
        "try:\n"
        "    dist.get_rank()\n"
        "except RuntimeError as e:\n"
        "    assert 'init_process_group' in str(e), e\n"
        "else:\n"
        "    raise AssertionError('get_rank() without a group did not raise')\n"
        "dist.init_process_group('mpi', timeout=5)\n"
        "assert (dist.get_rank(), dist.get_world_size()) == (0, 1)\n"
        "t = qf.tensor([1.0, 4.0]); dist.all_reduce(t, op='mean'); assert t.tolist() == [1.0, 4.0]\n"
        "L = [qf.zeros(2)]; dist.all_gather(L, t); assert L[0].tolist() == [1.0, 4.0]\n"
        "try:\n"
        "    dist.init_process_group('mpi')\n"
        "except RuntimeError as e:\n"
        "    assert 'already initialised' in str(e)\n"
        "else:\n"
        "    raise AssertionError('a second init_process_group did not raise')\n"
        "dist.destroy_process_group(); assert not dist.is_initialized()\n"
        "for bad, needle in ((dict(backend='nccl'), \"backend must be 'mpi'\"),\n"
        "                    (dict(world_size=4), 'mpiexec -n 4'), (dict(rank=1), 'rank 0 of 1'),\n"
        "                    (dict(timeout=-1), 'positive number of seconds'),\n"
        "                    (dict(init_method='tcp://a:1'), 'mpiexec')):\n"
        "    try:\n"
        "        dist.init_process_group(**bad)\n"
        "    except ValueError as e:\n"
        "        assert needle in str(e), (needle, str(e))\n"
        "    else:\n"
        "        raise AssertionError(bad)\n"
        "print('group of one ok')\n")
    assert res.rc == 0 and "group of one ok" in res.out, res


def test_without_mpi4py_the_message_says_what_to_install():
    res = python(
        "import sys; sys.modules['mpi4py'] = None\n"     # makes `import mpi4py` fail
        "import qiflow as qf\n"
        "from qiflow import distributed as dist\n"
        "from qiflow.nn.parallel import DistributedDataParallel\n"
        "assert qf.nn.SyncBatchNorm(2)(qf.randn(4, 2)).shape == (4, 2)\n"
        "try:\n"
        "    dist.init_process_group('mpi')\n"
        "except ImportError as e:\n"
        "    print('MESSAGE', e)\n")
    assert res.rc == 0, res
    assert "MESSAGE qiflow.distributed needs mpi4py" in res.out and "pip install 'qiflow[mpi]'" in res.out, res


def test_the_core_never_imports_distributed_or_mpi():
    res = python(
        "import sys\n"
        "import qiflow, qiflow.nn, qiflow.optim, qiflow.data, qiflow.sym, qiflow.io, qiflow.train\n"
        "import qiflow.nn.functional, qiflow.datasets\n"
        "bad = [m for m in sys.modules if m.startswith(('qiflow.distributed', 'qiflow.nn.parallel', 'mpi4py'))]\n"
        "print('LOADED', bad)\n")
    assert res.rc == 0 and "LOADED []" in res.out, res


@needs_mpi
def test_under_mpiexec_the_group_is_implicit_and_all_reduce_op_has_its_gradient():
    res = run("implicit.py")
    assert res.rc == 0, res
    for r in range(2):
        assert f"implicit group and all_reduce_op gradients ok on rank {r}" in res.out, res
