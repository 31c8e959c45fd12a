"""`python -m qiflow.compat.theano program.py` runs a program as `python program.py`
would: its folder is first on the import path, whatever the working directory."""
import os
import subprocess
import sys

import qiflow


def test_program_imports_its_sibling_module_from_another_directory(tmp_path):
    prog_dir = tmp_path / "code"
    prog_dir.mkdir()
    (prog_dir / "helper.py").write_text(
        "import theano\n"
        "import theano.tensor as T\n"
        "def square_grad():\n"
        "    x = T.dscalar('x')\n"
        "    return theano.function([x], T.grad(x ** 2, x))\n")
    (prog_dir / "prog.py").write_text(
        "import sys\n"
        "from helper import square_grad\n"
        "print(float(square_grad()(3.0)), sys.argv[0].endswith('prog.py'))\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root = os.path.dirname(os.path.dirname(qiflow.__file__))
    env = dict(os.environ, PYTHONPATH=root)
    out = subprocess.run([sys.executable, "-m", "qiflow.compat.theano", str(prog_dir / "prog.py")],
                         capture_output=True, text=True, timeout=120, env=env, cwd=str(elsewhere))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "6.0 True"
