"""The deeplearning.net tutorial programs, run unchanged through qiflow.compat.theano.

The programs are not part of this repository. Point ``QIFLOW_TUTORIALS`` at a checkout of
DeepLearningTutorials (or at its ``code/`` folder); the programs read ``mnist.pkl.gz`` (and
``lstm.py`` reads ``imdb.pkl``) from ``code/../data/``. Each program's own entry point is
called with its own parameters set to one epoch; the test checks that it exits 0.
See docs/theano-tutorials.md for the figures of full runs.

    QIFLOW_TUTORIALS=/path/to/DeepLearningTutorials python -m pytest -m slow \\
        tests/compat/test_tutorial_programs.py
"""
import os
import subprocess
import sys

import pytest

import qiflow

# module -> the call of its entry point, for one epoch (the programs' own parameters)
ONE_EPOCH = {
    "logistic_sgd": "sgd_optimization_mnist(n_epochs=1)",
    "mlp": "test_mlp(n_epochs=1)",
    "convolutional_mlp": "evaluate_lenet5(n_epochs=1)",
    "dA": "test_dA(training_epochs=1, output_folder='dA_plots')",
    "SdA": "test_SdA(pretraining_epochs=1, training_epochs=1, batch_size=300)",
    "rbm": "test_rbm(training_epochs=1, output_folder='rbm_plots')",
    "lstm": "train_lstm(max_epochs=1, test_size=500)",
}
DATA = {"lstm": "imdb.pkl"}


def _run_driver(tmp_path, name, text):
    driver = tmp_path / f"run_{name}.py"
    driver.write_text(text)
    root = os.path.dirname(os.path.dirname(qiflow.__file__))      # this checkout's qiflow
    env = dict(os.environ, PYTHONPATH=root, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    out = subprocess.run([sys.executable, "-m", "qiflow.compat.theano", str(driver)],
                         capture_output=True, text=True, timeout=3600, env=env, cwd=str(tmp_path))
    assert out.returncode == 0, f"{name} failed:\n{out.stdout[-3000:]}\n{out.stderr[-6000:]}"


def _code_dir():
    root = os.environ.get("QIFLOW_TUTORIALS")
    if not root:
        pytest.skip("set QIFLOW_TUTORIALS to a DeepLearningTutorials checkout to run its programs")
    code = os.path.join(root, "code")
    code = code if os.path.isdir(code) else root
    if not os.path.isfile(os.path.join(code, "logistic_sgd.py")):
        pytest.fail(f"QIFLOW_TUTORIALS={root}: no logistic_sgd.py there nor in its code/ folder")
    return os.path.abspath(code)


@pytest.mark.slow
@pytest.mark.parametrize("module", list(ONE_EPOCH))
def test_tutorial_program_runs_one_epoch(module, tmp_path):
    code = _code_dir()
    data = os.path.join(code, os.pardir, "data", DATA.get(module, "mnist.pkl.gz"))
    if not os.path.isfile(data):
        pytest.skip(f"{module}.py needs {os.path.normpath(data)}")
    _run_driver(tmp_path, module, f"import sys\nsys.path.insert(0, {code!r})\n"
                                  f"import {module}\n{module}.{ONE_EPOCH[module]}\n")


@pytest.mark.slow
def test_hmc_sampler_passes_its_own_test(tmp_path):
    # hmc/test_hmc.py checks the sampler's acceptance rate and step size itself
    hmc = os.path.join(_code_dir(), "hmc")
    if not os.path.isfile(os.path.join(hmc, "test_hmc.py")):
        pytest.skip(f"no {hmc}/test_hmc.py")
    _run_driver(tmp_path, "hmc", f"import sys\nsys.path.insert(0, {hmc!r})\n"
                                 "import test_hmc\ntest_hmc.test_hmc()\n")
