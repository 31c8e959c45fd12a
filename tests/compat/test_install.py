"""qiflow.compat.theano: Theano's module tree as re-exports, and install()."""
import sys
import types

import numpy as np
import pytest

from qiflow import sym
from qiflow.compat import theano as qt


def test_import_theano_resolves_to_qiflow(theano):
    import theano.tensor as T
    from theano.tensor.nnet import conv2d
    from theano.tensor.signal import pool
    from theano.tensor.shared_randomstreams import RandomStreams
    from theano.sandbox.rng_mrg import MRG_RandomStreams
    from theano import printing, gradient
    assert theano is qt and T is qt.tensor
    assert T.dmatrix is sym.dmatrix and T.grad is sym.grad and theano.function is sym.function
    assert conv2d is sym.nnet.conv2d and pool.pool_2d is sym.signal.pool.pool_2d
    assert RandomStreams is sym.RandomStreams and MRG_RandomStreams is sym.MRG_RandomStreams
    assert printing.Print is sym.Print and gradient.grad is sym.grad
    assert T.nnet.sigmoid is sym.nnet.sigmoid and T.signal.pool is pool
    assert theano.config is sym.config and theano.shared is sym.shared
    assert "int32" in T.discrete_dtypes and T.TensorType is sym.TensorType
    x = T.dscalar("x")
    assert theano.function([x], theano.gradient.grad(x * x, x))(3.0) == 6.0


def test_scan_and_ifelse_say_what_is_missing(theano):
    import importlib.util
    if importlib.util.find_spec("qiflow.sym.scan") is None:
        with pytest.raises(NotImplementedError, match="qiflow/sym/scan.py"):
            theano.scan
    else:
        from qiflow.sym.scan import scan
        assert theano.scan is scan and theano.map is not None
    if importlib.util.find_spec("qiflow.sym.ifelse") is None:
        with pytest.raises(NotImplementedError, match="ifelse"):
            from theano.ifelse import ifelse  # noqa: F401
    else:
        from theano.ifelse import ifelse
        from qiflow.sym.ifelse import ifelse as mine
        assert ifelse is mine
    with pytest.raises(AttributeError, match="no attribute"):
        theano.no_such_name


def test_install_leaves_a_real_theano_alone():
    qt.uninstall()
    fake = types.ModuleType("theano")
    sys.modules["theano"] = fake
    try:
        assert qt.install() is False and sys.modules["theano"] is fake
    finally:
        del sys.modules["theano"]
    assert qt.install() is True and sys.modules["theano"] is qt
    assert qt.install() is True                  # twice is fine
    qt.uninstall()
    assert "theano" not in sys.modules and "theano.tensor" not in sys.modules


def test_in_and_param(theano):
    import theano.tensor as T
    x, y = T.dscalars("x", "y")
    f = theano.function([x, theano.In(y, value=2.0)], x * y)
    assert f(3.0) == 6.0 and theano.Param is theano.In


def test_run_a_program_unchanged(tmp_path):
    import subprocess
    prog = tmp_path / "prog.py"
    prog.write_text(
        "import sys\n"
        "import numpy\n"
        "import theano\n"
        "import theano.tensor as T\n"
        "x = T.dvector('x')\n"
        "f = theano.function([x], T.grad(T.sum(x ** 2), x))\n"
        "print(theano.__name__, f(numpy.array([1.0, 2.0])).tolist(), sys.argv[1:])\n")
    import os
    import qiflow
    root = os.path.dirname(os.path.dirname(qiflow.__file__))      # this checkout's qiflow
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-m", "qiflow.compat.theano", str(prog), "--flag"],
                         capture_output=True, text=True, timeout=120, env=env, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "qiflow.compat.theano [2.0, 4.0] ['--flag']"


def test_older_modules_conv_and_downsample(theano):
    from theano.tensor.nnet import conv
    from theano.tensor.signal import downsample
    import theano.tensor as T
    x = T.dtensor4("x")
    w = theano.shared(np.arange(4.0).reshape(1, 1, 2, 2))
    y = downsample.max_pool_2d(conv.conv2d(x, w, filter_shape=(1, 1, 2, 2), border_mode="full"),
                               (2, 2), ignore_border=True)
    xv = np.arange(9.0).reshape(1, 1, 3, 3)
    new = T.signal.pool.pool_2d(T.nnet.conv2d(x, w, filter_shape=(1, 1, 2, 2), border_mode="full"),
                                ws=(2, 2), ignore_border=True)
    f = theano.function([x], [y, new])
    a, b = f(xv)
    assert a.shape == (1, 1, 2, 2)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="'valid' or 'full'"):
        conv.conv2d(x, w, border_mode="half")


def test_out_compile_and_variable_class_names(theano):
    import theano.tensor as T
    from theano.compile import function as compile_function
    x = T.dvector("x")
    f = theano.function([x], theano.Out(x * 2, borrow=True))
    assert f([1.0]).tolist() == [2.0] and compile_function is theano.function
    assert isinstance(x, T.TensorVariable) and isinstance(T.constant(1.0), T.TensorConstant)
    assert isinstance(theano.shared(1.0), T.TensorSharedVariable)
    with pytest.raises(TypeError, match="Out"):
        theano.Out(3)
