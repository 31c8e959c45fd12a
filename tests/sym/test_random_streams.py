"""Symbolic random streams (issue 13, part 2): RandomStreams / MRG_RandomStreams
draws in compiled functions, their state as shared variables advanced by every
call (Theano's default_update), seeding, shapes and the distributions' laws."""
import numpy as np
import pytest

from qiflow import sym as T
from qiflow import QiflowError
from qiflow.sym import random as R


def test_each_call_draws_new_numbers_and_the_same_seed_repeats_them():
    s1, s2, s3 = T.RandomStreams(seed=7), T.RandomStreams(seed=7), T.RandomStreams(seed=8)
    f1, f2, f3 = (T.function([], s.uniform((5,))) for s in (s1, s2, s3))
    a = [f1() for _ in range(3)]
    b = [f2() for _ in range(3)]
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[1], a[2])
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], f3())
    s1.seed(7)
    np.testing.assert_array_equal(f1(), a[0])          # seed() restarts the stream
    s1.seed(99)
    assert not np.array_equal(f1(), a[0])


def test_two_draws_of_one_stream_are_independent_and_states_are_shared_variables():
    srng = T.RandomStreams(seed=3)
    u, v = srng.uniform((4,)), srng.uniform((4,))
    a, b = T.function([], [u, v])()
    assert not np.array_equal(a, b)
    assert len(srng.state_updates) == 2
    state, upd = srng.state_updates[0]
    assert isinstance(state, T.SharedVariable) and state.dtype == "uint64"
    assert state.get_value().shape == (R.STATE_SIZE,) and state.default_update is upd
    before = state.get_value()
    T.function([], u)()
    assert not np.array_equal(state.get_value(), before)     # the call advanced the state
    assert (srng.updates()[0][0] is state)


def test_every_function_using_a_draw_advances_its_state():
    srng = T.RandomStreams(seed=5)
    u = srng.uniform((3,))
    f, g = T.function([], u), T.function([], u * 2)
    a = f()
    b = g() / 2
    c = f()
    assert not np.array_equal(a, b) and not np.array_equal(b, c)
    srng.seed(5)
    np.testing.assert_array_equal(f(), a)
    np.testing.assert_allclose(f(), b)


def test_no_default_updates_and_explicit_updates_win():
    srng = T.RandomStreams(seed=1)
    u = srng.uniform((3,))
    frozen = T.function([], u, no_default_updates=True)
    np.testing.assert_array_equal(frozen(), frozen())
    state = srng.state_updates[0][0]
    kept = T.function([], u, updates=[(state, state)])           # the user's update wins
    np.testing.assert_array_equal(kept(), kept())
    live = T.function([], u)
    assert not np.array_equal(live(), live())


def test_sizes_may_be_symbolic_and_parameters_broadcast():
    srng = T.RandomStreams(seed=2)
    x = T.dmatrix("x")
    p = T.dvector("p")
    m = srng.binomial(size=x.shape, n=1, p=p, dtype="float64")
    assert m.ndim == 2 and m.dtype == "float64"
    f = T.function([x, p], x * m)
    out = f(np.ones((2000, 3)), np.array([0.0, 1.0, 0.5]))
    assert out.shape == (2000, 3)
    assert (out[:, 0] == 0).all() and (out[:, 1] == 1).all()
    assert 0.45 < out[:, 2].mean() < 0.55
    n = T.lscalar("n")
    assert T.function([n], srng.normal((n, 2)))(4).shape == (4, 2)
    assert T.function([p], srng.uniform(low=p, high=p + 1))(np.zeros(7)).shape == (7,)
    with pytest.raises(QiflowError, match="ndim=3 does not match"):
        srng.uniform((2, 2), ndim=3)


def test_distributions_follow_their_laws():
    srng = T.RandomStreams(seed=11)
    N = 20000
    u, nrm, b, mult, ch, perm = T.function([], [
        srng.uniform((N,), low=-2.0, high=4.0), srng.normal((N,), avg=3.0, std=0.5),
        srng.binomial((N,), n=10, p=0.3), srng.multinomial((N,), n=5, pvals=[0.2, 0.3, 0.5]),
        srng.choice((N,), a=4, p=[0.1, 0.2, 0.3, 0.4]), srng.permutation((50,), n=6)])()
    assert u.dtype == np.float32 and -2 <= u.min() and u.max() < 4 and abs(u.mean() - 1) < 0.05
    assert abs(nrm.mean() - 3) < 0.02 and abs(nrm.std() - 0.5) < 0.02
    assert b.dtype == np.int64 and abs(b.mean() - 3) < 0.05 and 0 <= b.min() and b.max() <= 10
    assert mult.shape == (N, 3) and (mult.sum(1) == 5).all()
    np.testing.assert_allclose(mult.mean(0) / 5, [0.2, 0.3, 0.5], atol=0.01)
    np.testing.assert_allclose(np.bincount(ch, minlength=4) / N, [0.1, 0.2, 0.3, 0.4], atol=0.01)
    assert perm.shape == (50, 6) and all(sorted(r) == list(range(6)) for r in perm)
    distinct = T.function([], srng.choice((5,), a=5, replace=False))()
    assert sorted(distinct) == [0, 1, 2, 3, 4]
    with pytest.raises(QiflowError, match="p must be in"):
        T.function([], srng.binomial((2,), p=1.5))()


def test_mrg_signatures():
    mrg = T.MRG_RandomStreams(seed=4)
    pv = T.dmatrix("pv")
    counts = mrg.multinomial(pvals=pv, n=3)
    picks = mrg.choice(size=2, p=pv, replace=False)
    pvals = np.array([[0.0, 0.5, 0.5], [0.2, 0.0, 0.8]])
    c, k = T.function([pv], [counts, picks])(pvals)
    assert c.shape == (2, 3) and (c.sum(1) == 3).all() and c[0, 0] == 0 and c[1, 1] == 0
    assert k.shape == (2, 2) and sorted(k[0]) == [1, 2] and sorted(k[1]) == [0, 2]
    tn = T.function([], mrg.normal((5000,), std=1.0, truncate=True))()
    assert np.abs(tn).max() <= 2 and tn.dtype == np.float32
    assert T.function([], mrg.uniform((3,), dtype="float64"))().dtype == np.float64
    with pytest.raises(QiflowError, match="size must be None"):
        mrg.multinomial(size=(2,), pvals=pv)
    with pytest.raises(TypeError, match="a must be None"):
        mrg.choice(size=1, a=3, p=pv)
    np.testing.assert_array_equal(T.function([], T.MRG_RandomStreams().uniform((3,)))(),
                                  T.function([], T.MRG_RandomStreams(12345).uniform((3,)))())


def test_gradients_flow_through_the_values_not_the_parameters():
    srng = T.RandomStreams(seed=9)
    x = T.dvector("x")
    mask = srng.binomial(size=x.shape, p=0.5, dtype="float64")
    f = T.function([x], [mask, T.grad((x * mask).sum(), x)], no_default_updates=True)
    m, g = f(np.ones(20))
    np.testing.assert_array_equal(g, m)        # d(sum x*mask)/dx is the mask of the same call
    p = T.dscalar("p")
    with pytest.raises(QiflowError, match="random draw .*undefined"):
        T.grad(srng.uniform((3,), low=p).sum(), p)


def test_dropout_in_a_compiled_training_step():
    srng = T.RandomStreams(seed=0)
    x = T.dmatrix("x")
    w = T.shared(np.ones((4, 1)), name="w")
    h = R.dropout(x, 0.5, srng)
    cost = ((T.dot(h, w) - 1.0) ** 2).mean()
    step = T.function([x], cost, updates=[(w, w - 0.01 * T.grad(cost, w))])
    masks = {tuple(T.function([x], h)(np.ones((1, 4))).ravel()) for _ in range(8)}
    assert len(masks) > 1 and all(set(m) <= {0.0, 2.0} for m in masks)
    before = w.get_value()
    step(np.ones((8, 4)))
    assert not np.array_equal(before, w.get_value())
    with pytest.raises(ValueError, match="p must be in"):
        R.dropout(x, 1.5, srng)
    assert R.dropout(x, 0.0, srng) is x


def test_the_random_primitives_are_named_and_checked():
    srng = T.RandomStreams(seed=0)
    ops = [srng.uniform((1,)).owner.op, srng.normal((1,)).owner.op, srng.binomial((1,)).owner.op,
           srng.multinomial((1,)).owner.op, srng.choice((1,)).owner.op,
           srng.permutation((1,), n=2).owner.op]
    assert [type(o) for o in ops] == [R.Uniform, R.Normal, R.Binomial, R.Multinomial, R.Choice,
                                      R.Permutation]
    assert isinstance(srng.state_updates[0][1].owner.op, R.NextState)
    from qiflow.ops.base import apply
    with pytest.raises(QiflowError, match="random state"):
        apply(R.Uniform(None, "float32"), T.dvector("v"), 0.0, 1.0)


def test_eager_dropout_on_a_symbolic_variable_draws_a_new_mask_per_call():
    import qiflow as qf
    x = T.dmatrix("x")
    f = T.function([x], qf.nn.functional.dropout(x, 0.5))
    a, b = f(np.ones((4, 8))), f(np.ones((4, 8)))
    assert set(np.unique(a)) <= {0.0, 2.0} and not np.array_equal(a, b)
    qf.manual_seed(3)
    g1 = T.function([x], qf.nn.functional.dropout(x, 0.5))
    qf.manual_seed(3)
    g2 = T.function([x], qf.nn.functional.dropout(x, 0.5))
    np.testing.assert_array_equal(g1(np.ones((4, 8))), g2(np.ones((4, 8))))   # same seed, same run
    assert qf.nn.functional.dropout(x, 0.5, training=False) is x
    np.testing.assert_array_equal(T.function([x], qf.nn.functional.dropout(x, 1.0))(np.ones((2, 2))),
                                  np.zeros((2, 2)))


def test_dropout_with_a_generator_inside_qf_compile_is_not_frozen():
    import qiflow as qf
    gen = qf.Generator(0)
    step = qf.compile(lambda t: qf.nn.functional.dropout(t, 0.5, generator=gen))
    t = qf.ones(64)
    masks = [step(t).numpy() for _ in range(3)]
    assert not np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[1], masks[2])
    assert all(set(np.unique(m)) <= {0.0, 2.0} for m in masks)
