"""Every argument is checked by the parser, before any data is loaded; ``qiflow --version``."""
import os
import re
import subprocess
import sys

import pytest

import qiflow as qf
from qiflow.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(autouse=True)
def _no_data(monkeypatch, tmp_path):
    from qiflow import datasets
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets, "mnist", lambda *a, **k: pytest.fail("data loaded before the check"))


@pytest.mark.parametrize("argv,needle", [
    (["--seed", "-1"], "argument --seed: expected a non-negative integer, got -1"),
    (["--seed", str(2 ** 64)], "argument --seed: expected an integer of at most 9223372036854775807"),
    (["--weight-decay", "nan"], "argument --weight-decay: expected a non-negative number, got nan"),
    (["--weight-decay", "-0.1"], "argument --weight-decay: expected a non-negative number, got -0.1"),
    (["--weight-decay", "inf"], "argument --weight-decay: expected a non-negative number, got inf"),
    (["--lr", "0"], "argument --lr: expected a positive number, got 0.0"),
    (["--lr", "-1"], "argument --lr: expected a positive number, got -1.0"),
    (["--lr", "nan"], "argument --lr: expected a positive number, got nan"),
    (["--lr", "1e400"], "argument --lr: expected a positive number, got inf"),
    (["--shift", "99"], "argument --shift: expected an integer of at most 14, got 99"),
    (["--valid-frequency", "0"], "argument --valid-frequency: expected a positive integer, got 0"),
    (["--epochs", "1000000"], "argument --epochs: expected an integer of at most 100000"),
    (["--limit", "2.5"], "argument --limit: expected a positive integer, got '2.5'"),
    (["--patience", "x"], "argument --patience: expected a positive integer, got 'x'"),
])
def test_bad_values_exit_2_naming_the_flag_and_the_expectation(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_version_prints_the_package_version(capsys):
    from importlib.metadata import version
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"qiflow {qf.__version__}\n"
    assert qf.__version__ == version("qiflow")
    pyproject = open(os.path.join(ROOT, "pyproject.toml")).read()
    assert re.search(rf'^version = "{re.escape(qf.__version__)}"$', pyproject, re.M)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-m", "qiflow", "--version"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert (p.returncode, p.stdout) == (0, f"qiflow {qf.__version__}\n")
