"""qiflow.compat.torch: ``import torch`` resolved to qiflow where PyTorch is absent."""
import os
import subprocess
import sys

import numpy as np
import pytest

import qiflow as qf
from qiflow.compat import torch as qt

# a bootstrap that hides the real torch (installed here as the oracle of other tests)
HIDE = ("import sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Hide())\n")


def _run(code, *args, cwd):
    root = os.path.dirname(os.path.dirname(qf.__file__))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", HIDE + code, *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=cwd)


def test_a_torch_program_runs_unchanged_with_torch_hidden(tmp_path):
    prog = tmp_path / "prog.py"
    prog.write_text(
        "import sys\n"
        "import torch\n"
        "import torch.nn as nn\n"
        "import torch.nn.functional as F\n"
        "import torch.onnx\n"
        "from torch.optim.lr_scheduler import StepLR\n"
        "from torch.utils.data import DataLoader, TensorDataset\n"
        "torch.manual_seed(0)\n"
        "x = torch.randn(32, 3, dtype=torch.float64)\n"
        "y = (x.sum(1) > 0).long()\n"
        "model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).double()\n"
        "opt = torch.optim.Adadelta(model.parameters(), lr=1.0)\n"
        "sched = StepLR(opt, step_size=1, gamma=0.5)\n"
        "losses = []\n"
        "for _ in range(3):\n"
        "    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=8):\n"
        "        opt.zero_grad()\n"
        "        loss = F.nll_loss(F.log_softmax(model(xb), dim=1), yb)\n"
        "        loss.backward()\n"
        "        opt.step()\n"
        "        losses.append(loss.item())\n"
        "    sched.step()\n"
        "try:\n"
        "    torch.onnx.export(model, (x,), 'm.onnx')\n"
        "except NotImplementedError as e:\n"
        "    onnx = str(e)\n"
        "print(torch.__name__, isinstance(x, torch.Tensor), losses[-1] < losses[0], "
        "opt.param_groups[0]['lr'], 'ONNX' in onnx, sys.argv[1:])\n")
    out = _run("from qiflow.compat.torch.__main__ import main\n"
               "sys.exit(main(sys.argv[1:]))\n", str(prog), "--flag", cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "qiflow.compat.torch True True 0.125 True ['--flag']"


def test_install_maps_the_module_tree_and_refuses_when_torch_is_there(tmp_path):
    out = _run("from qiflow.compat import torch as qt\n"
               "import qiflow as qf\n"
               "assert qt.install()\n"
               "import torch, torch.nn, torch.nn.functional as F, torch.optim.lr_scheduler as S\n"
               "import torch.utils.data as D\n"
               "assert torch is qt and torch.nn is qf.nn and F is qf.nn.functional\n"
               "assert S is qf.optim.lr_scheduler and D is qf.utils.data\n"
               "assert torch.Tensor is qf.Tensor and torch.optim.LBFGS is qf.optim.LBFGS\n"
               "try:\n"
               "    torch.no_such_name\n"
               "except AttributeError as e:\n"
               "    print(e)\n"
               "qt.uninstall()\n"
               "assert 'torch' not in sys.modules and 'torch.nn' not in sys.modules\n", cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "no_such_name" in out.stdout and "qiflow does not provide it" in out.stdout


def test_install_leaves_a_real_torch_alone():
    pytest.importorskip("torch")
    assert qt.install() is False
    assert sys.modules["torch"] is not qt


def test_main_without_a_program_prints_usage(capsys):
    from qiflow.compat.torch.__main__ import main
    assert main([]) == 2 and "usage" in capsys.readouterr().out


def test_legacy_typed_constructors():
    torch = pytest.importorskip("torch")
    for name in ("LongTensor", "FloatTensor", "DoubleTensor", "IntTensor", "BoolTensor", "ByteTensor"):
        q, t = getattr(qt, name)([1, 0, 2]), getattr(torch, name)([1, 0, 2])
        assert str(q.dtype) == str(t.dtype).replace("torch.", "") and q.tolist() == t.tolist()
        assert tuple(getattr(qt, name)(2, 3).shape) == tuple(getattr(torch, name)(2, 3).shape)
    z = qt.LongTensor(6).zero_().view(-1, 2)
    assert z.shape == (3, 2) and z.dtype == np.int64
    with pytest.raises(TypeError, match="LongTensor"):
        qt.LongTensor([1], [2])
