"""theano.scalar.upcast: the dtype that holds all the given dtypes (Theano's
default cast policy is NumPy's promotion), as a string."""
import numpy as np
import pytest


@pytest.mark.parametrize("dtypes,expected", [
    (("float32",), "float32"),
    (("int8", "float32"), "float32"),
    (("int16", "float32"), "float32"),
    (("int32", "float32"), "float64"),
    (("uint8", "int8"), "int16"),
    (("int64", "uint8", "int32"), "int64"),
    (("bool", "float32"), "float32"),
    (("float32", "float64"), "float64"),
])
def test_upcast_follows_numpy_promotion(theano, dtypes, expected):
    import theano.scalar
    got = theano.scalar.upcast(*dtypes)
    assert isinstance(got, str) and got == expected
    assert got == np.result_type(*dtypes)


def test_upcast_of_variable_dtypes_feeds_mean(theano):
    import theano.tensor as T
    accept = T.fvector("a") > 0.5
    rate = theano.shared(np.float32(0.25))
    dt = theano.scalar.upcast(accept.dtype, rate.dtype)
    f = theano.function([accept.owner.inputs[0]], accept.mean(dtype=dt))
    out = f(np.array([0.1, 0.9, 0.7, 0.2], dtype="float32"))
    assert dt == "float32" and out.dtype == np.float32 and float(out) == 0.5


def test_upcast_names_the_dtypes_it_cannot_join(theano):
    with pytest.raises(TypeError, match=r"upcast: <U3 is not a Theano dtype"):
        theano.scalar.upcast("float32", "<U3")
