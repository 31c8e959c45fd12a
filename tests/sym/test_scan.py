"""``T.scan`` forward: Theano's contract for sequences (taps), outputs_info
(initial states, taps, None), non_sequences, n_steps, go_backwards, strict and
the updates fn returns; every value checked against a NumPy loop."""
from collections import OrderedDict

import numpy as np
import pytest

from qiflow import sym as T
from qiflow._state import QiflowError
from qiflow.sym.scan_op import Scan

RNG = np.random.default_rng(13)


def _scans(f):
    return [n for n in f.schedule if isinstance(n.op, Scan)]


def test_cumulative_sum_with_an_initial_state():
    x = T.dvector("x")
    s0 = T.dscalar("s0")
    s, ups = T.scan(lambda v, acc: acc + v, sequences=x, outputs_info=s0)
    assert isinstance(ups, OrderedDict) and not ups
    f = T.function([x, s0], s)
    a = RNG.standard_normal(7)
    np.testing.assert_allclose(f(a, 2.5), 2.5 + np.cumsum(a), rtol=1e-12)
    assert len(_scans(f)) == 1


def test_sequence_taps_read_past_and_future_slices():
    x = T.dvector("x")
    out, _ = T.scan(lambda xm2, x0, xp1: xm2 * 10 + x0 - xp1,
                    sequences=dict(input=x, taps=[-2, 0, 1]))
    a = RNG.standard_normal(9)
    got = T.function([x], out)(a)
    # t runs over the positions 2 .. 7 of a: 9 - (1 - (-2)) = 6 steps
    want = [a[t - 2] * 10 + a[t] - a[t + 1] for t in range(2, 8)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_only_positive_taps_start_at_the_first_element():
    x = T.dvector("x")
    out, _ = T.scan(lambda a1, a2: a1 * a2, sequences=dict(input=x, taps=[1, 2]))
    a = np.arange(1.0, 7.0)
    np.testing.assert_allclose(T.function([x], out)(a), a[1:5] * a[2:6])


def test_output_taps_fibonacci_and_a_plain_output():
    f0 = T.dvector("f0")
    n = T.iscalar("n")
    (fib, twice), _ = T.scan(lambda a, b: (a + b, (a + b) * 2), outputs_info=[dict(initial=f0, taps=[-2, -1]), None],
                             n_steps=n)
    f = T.function([f0, n], [fib, twice])
    got, got2 = f([0.0, 1.0], 8)
    want = [1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0]
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(got2, 2 * np.array(want))


def test_matrix_states_non_sequences_and_unknown_length():
    """An RNN: h_t = tanh(x_t W + h_{t-1} U + b), the length known only at run time."""
    x = T.dtensor3("x")
    h0 = T.dmatrix("h0")
    W, U, b = T.dmatrix("W"), T.dmatrix("U"), T.dvector("b")
    hs, _ = T.scan(lambda xt, h, W, U, b: T.tanh(T.dot(xt, W) + T.dot(h, U) + b),
                   sequences=x, outputs_info=h0, non_sequences=[W, U, b])
    f = T.function([x, h0, W, U, b], hs)
    w, u, bb = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 4)), RNG.standard_normal(4)
    for steps in (1, 5):
        xa = RNG.standard_normal((steps, 2, 3))
        h = h0a = RNG.standard_normal((2, 4))
        want = []
        for t in range(steps):
            h = np.tanh(xa[t] @ w + h @ u + bb)
            want.append(h)
        np.testing.assert_allclose(f(xa, h0a, w, u, bb), np.array(want), rtol=1e-10)


def test_closures_and_shared_variables_become_non_sequences():
    W = T.shared(RNG.standard_normal((3, 3)), name="W")
    c = T.dvector("c")
    x = T.dmatrix("x")
    out, _ = T.scan(lambda xt: T.dot(xt, W) + c, sequences=x)
    f = T.function([x, c], out)
    xa, ca = RNG.standard_normal((4, 3)), RNG.standard_normal(3)
    np.testing.assert_allclose(f(xa, ca), xa @ W.get_value() + ca, rtol=1e-12)
    W.set_value(np.eye(3))
    np.testing.assert_allclose(f(xa, ca), xa + ca, rtol=1e-12)


def test_strict_refuses_a_variable_that_was_not_passed():
    W = T.shared(np.eye(2), name="W")
    x = T.dmatrix("x")
    with pytest.raises(QiflowError, match="strict=True.*W"):
        T.scan(lambda xt: T.dot(xt, W), sequences=x, strict=True)
    out, _ = T.scan(lambda xt, W: T.dot(xt, W), sequences=x, non_sequences=W, strict=True)
    np.testing.assert_allclose(T.function([x], out)(np.ones((2, 2))), np.ones((2, 2)))
    # as Theano's documentation says, strict is about shared variables: a symbolic input
    # from the enclosing scope is still taken as a non-sequence
    c = T.dvector("c")
    out2, _ = T.scan(lambda xt, W: T.dot(xt, W) + c, sequences=x, non_sequences=W, strict=True)
    np.testing.assert_allclose(T.function([x, c], out2)(np.ones((2, 2)), [1.0, 2.0]), [[2.0, 3.0]] * 2)


def test_n_steps_limits_the_sequences_and_too_many_steps_is_an_error():
    x = T.dvector("x")
    k = T.iscalar("k")
    out, _ = T.scan(lambda v: v * 2, sequences=x, n_steps=k)
    f = T.function([x, k], out)
    np.testing.assert_allclose(f([1.0, 2.0, 3.0, 4.0], 2), [2.0, 4.0])
    with pytest.raises(QiflowError, match="n_steps is 5 but sequence 0 has only 4"):
        f([1.0, 2.0, 3.0, 4.0], 5)
    out3, _ = T.scan(lambda v: v + 1, sequences=x, n_steps=3)
    np.testing.assert_allclose(T.function([x], out3)([0.0, 1.0, 2.0, 3.0]), [1.0, 2.0, 3.0])
    with pytest.raises(QiflowError, match="n_steps must be given"):
        T.scan(lambda: T.constant(1.0), outputs_info=None)
    with pytest.raises(QiflowError, match="negative n_steps"):
        T.scan(lambda v: v, sequences=x, n_steps=-2)


def test_go_backwards_iterates_from_the_end():
    x = T.dvector("x")
    s, _ = T.scan(lambda v, acc: acc * 10 + v, sequences=x, outputs_info=T.constant(0.0, dtype="float64"),
                  go_backwards=True)
    np.testing.assert_allclose(T.function([x], s)([1.0, 2.0, 3.0]), [3.0, 32.0, 321.0])
    m, _ = T.scan(lambda a, b: a * 10 + b, sequences=dict(input=x, taps=[-1, 0]), go_backwards=True)
    # taps stay relative to x's own order (Theano slices each tap, then reverses the slice):
    # the steps read (x[t-1], x[t]) for t = 2, then t = 1
    np.testing.assert_allclose(T.function([x], m)([1.0, 2.0, 3.0]), [23.0, 12.0])


def test_updates_returned_by_fn_thread_through_the_steps():
    count = T.shared(np.asarray(0, dtype=np.int64), name="count")
    x = T.dvector("x")

    def step(v):
        return v * count, OrderedDict([(count, count + 1)])
    out, ups = T.scan(step, sequences=x)
    assert list(ups) == [count]
    f = T.function([x], out, updates=ups)
    np.testing.assert_allclose(f([1.0, 1.0, 1.0]), [0.0, 1.0, 2.0])
    assert int(count.get_value()) == 3
    np.testing.assert_allclose(f([2.0, 2.0]), [6.0, 8.0])
    assert int(count.get_value()) == 5
    # updates alone (no outputs), as a list of pairs
    acc = T.shared(np.zeros(2), name="acc")
    _, ups2 = T.scan(lambda v: [(acc, acc + v)], sequences=T.dmatrix("m"))
    assert acc in ups2


def test_updates_only_with_n_steps():
    s = T.shared(np.asarray(1.0), name="s")
    out, ups = T.scan(lambda: {s: s * 2}, n_steps=4)
    assert out is None
    T.function([], [], updates=ups)()
    assert float(s.get_value()) == 16.0


def test_bad_calls_have_clear_errors():
    x = T.dvector("x")
    with pytest.raises(QiflowError, match="outputs_info has 2 entries but fn returned 1"):
        T.scan(lambda v, a, b: v, sequences=x, outputs_info=[T.dscalar(), T.dscalar()])
    with pytest.raises(QiflowError, match="fed back.*float32.*float64|fed back"):
        T.scan(lambda v, a: T.cast(v, "float32"), sequences=x, outputs_info=T.dscalar())
    with pytest.raises(QiflowError, match="scalar"):
        T.scan(lambda v: v, sequences=T.dscalar("s"))
    with pytest.raises(QiflowError, match="taps of an output must be negative"):
        T.scan(lambda v, a: v, sequences=x, outputs_info=dict(initial=T.dvector(), taps=[0]))
    h = T.dvector("h")
    out, _ = T.scan(lambda v, a: T.concatenate([a, a]), sequences=x, outputs_info=h)
    with pytest.raises(QiflowError, match="fed back with shape"):
        T.function([x, h], out)([1.0], [1.0])


def test_return_list_and_a_single_output():
    x = T.dvector("x")
    out, _ = T.scan(lambda v: v + 1, sequences=x, return_list=True)
    assert isinstance(out, list) and len(out) == 1
    out2, _ = T.scan(lambda v: [v + 1], sequences=x)      # one output: the variable, as Theano
    assert isinstance(out2, T.Variable)


def test_loop_invariant_work_is_moved_out_and_constants_folded():
    W = T.dmatrix("W")
    x = T.dmatrix("x")
    out, _ = T.scan(lambda xt, W, two: T.dot(xt, W.T * two) + T.exp(W).sum(), sequences=x,
                    non_sequences=[W, T.constant(2.0, dtype="float64")])
    spec = out.owner.inputs[0].owner.op.spec
    assert spec.hoisted == 2                    # W.T * 2 and exp(W).sum() run once, outside
    assert spec.n_nonseqs == 2                  # W itself is no longer needed inside
    step_ops = {type(n.op).__name__ for n in spec.fn.schedule}
    assert "Exp" not in step_ops and "Transpose" not in step_ops
    xa, wa = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 3))
    want = xa @ (wa.T * 2) + np.exp(wa).sum()
    np.testing.assert_allclose(T.function([x, W], out)(xa, wa), want, rtol=1e-12)


def test_a_default_update_of_a_shared_variable_is_carried_through_the_steps():
    """A random stream's state carries a default update (Theano's convention): a
    scan whose step reads such a state returns its update without fn naming it."""
    from qiflow.sym.shared import SharedVariable

    class WithDefault(SharedVariable):
        pass
    base = T.shared(np.asarray(1.0), name="state")
    state = WithDefault(base.type, base.container, "state")
    state.default_update = state * 2
    x = T.dvector("x")
    out, ups = T.scan(lambda v: v * state, sequences=x)
    assert list(ups) == [state]
    f = T.function([x], out, updates=ups)
    np.testing.assert_allclose(f([1.0, 1.0, 1.0]), [1.0, 2.0, 4.0])
    assert float(state.get_value()) == 8.0


def test_scan_output_is_read_inline_by_the_linker():
    x = T.dvector("x")
    out, _ = T.scan(lambda v: v * 3, sequences=x)
    f = T.function([x], out)
    assert "[()][0]" in f.source
    np.testing.assert_allclose(f([1.0, 2.0]), [3.0, 6.0])


def test_trajectory_buffers_are_recycled_only_when_nothing_refers_to_them():
    from qiflow.sym.scan_op import Scan, Spec
    x = T.dmatrix("x")
    s, _ = T.scan(lambda v, acc: acc * 0.5 + v, sequences=x, outputs_info=T.zeros_like(x[0]))
    f = T.function([x], [s, s[::-1], (s * 2).sum()])
    a, b = np.arange(12.0).reshape(4, 3), -np.ones((4, 3))
    r1 = f(a)
    kept = [np.array(r) for r in r1]
    r2 = f(b)                                   # r1 (and its view) still held: fresh buffers
    for k, r in zip(kept, r1):
        np.testing.assert_array_equal(r, k)
    want = T.function([x], [s, s[::-1], (s * 2).sum()], mode="no_rewrites")(b)
    for g, w in zip(r2, want):
        np.testing.assert_array_equal(g, w)
    sp = Spec(0, [], 0, 0, [], [])
    p = sp.buffer((3, 2), "float64")
    first = id(p)
    view = p[1:][::-1]
    del p
    q = sp.buffer((3, 2), "float64")            # a view of the first is alive
    assert id(q) != first
    del view, q
    assert id(sp.buffer((3, 2), "float64")) == first


def test_outputs_that_are_an_argument_or_another_output_are_kept_once():
    """A step output that is one of the step's arguments (a sequence's row, a state's
    previous value) or the same variable as another output: the loop copies the
    argument's rows at once, or keeps one trajectory for both; values as a NumPy loop."""
    x, s0 = T.dmatrix("x"), T.dvector("s0")
    outs, _ = T.scan(lambda v, acc: [acc + v, v, acc, (v * 2).sum() + acc, (v * 2).sum() + acc],
                     sequences=x, outputs_info=[s0, None, None, None, None])
    f = T.function([x, s0], outs)
    a, b = RNG.standard_normal((6, 3)), RNG.standard_normal(3)
    for _ in range(2):                        # the second call runs on recycled buffers
        got = f(a, b)
        acc, want = b, [[], [], [], [], []]
        for v in a:
            want[2].append(acc)
            want[3].append((v * 2).sum() + acc)
            acc = acc + v
            want[0].append(acc)
            want[1].append(v)
        want[4] = want[3]
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, np.array(w), rtol=1e-12)
    (sp,) = [n.op.spec for n in _scans(f)]
    (same,) = sp._same.values()
    assert sorted((src, j0 is None) for _, src, _, j0 in same) == [(0, True), (1, True), (3, False)]


def test_a_claimed_shared_output_that_differs_gets_its_own_trajectory(monkeypatch):
    """The identities ``same_outputs`` reads from the step's graph are checked at every
    step: an output that stops being the value it was said to share gets its own
    array, filled with the steps before (the claims here are wrong on purpose)."""
    from qiflow.sym.scan_op import Spec
    x = T.dmatrix("x")
    outs, _ = T.scan(lambda v: [v * 3, v + 1, v - 1], sequences=x)
    f = T.function([x], outs)
    # (k, source, j, j0): output 1 passes argument 0 through; output 2 shares output 0's
    monkeypatch.setattr(Spec, "same_outputs", lambda self, fn, traj, n: [(1, 0, 1, None), (2, 0, 2, 0)])
    a = RNG.standard_normal((5, 2))
    got = f(a)
    for g, w in zip(got, [a * 3, a + 1, a - 1]):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_a_step_reads_constant_slices_and_new_axes_inline():
    """Basic indexing by constants and expand_dims are one subscript in the compiled
    code (an index made once), not a call of the op: the same values and views as
    the ops' own forward, an out-of-range index still names the op."""
    from qiflow.ops.indexing import GetItem
    from qiflow.ops.movement import ExpandDims, expand_dims
    x = T.dmatrix("x")
    out, _ = T.scan(lambda v: expand_dims(v[1:3] * 2, 0) + v[0], sequences=x)
    y = T.dtensor3("y")
    f = T.function([x, y], [out, y[:, None, 1, ::-1], expand_dims(x, -1), expand_dims(x[0, 0], 0)])
    a, b = RNG.standard_normal((4, 5)), RNG.standard_normal((2, 3, 4))
    got = f(a, b)
    np.testing.assert_allclose(got[0], (a[:, 1:3] * 2)[:, None, :] + a[:, :1, None], rtol=1e-12)
    np.testing.assert_array_equal(got[1], b[:, None, 1, ::-1])
    np.testing.assert_array_equal(got[2], a[:, :, None])
    np.testing.assert_array_equal(got[3], a[:1, 0])
    inline = [n for n in f.schedule if isinstance(n.op, (GetItem, ExpandDims))]
    assert inline and all(f"_f{p}(" not in f.source for p, n in enumerate(f.schedule) if n in inline)
    (sp,) = [n.op.spec for n in _scans(f)]
    (step,) = sp._shaped.values()
    assert "_ix" in step.source and not any(
        isinstance(n.op, (GetItem, ExpandDims)) and f"_f{p}(" in step.source for p, n in enumerate(step.schedule))
    g = T.function([y], y[:, 5])
    with pytest.raises(QiflowError, match="GetItem"):
        g(b)


def test_a_product_of_matrices_kept_inside_reuses_its_buffer_and_one_returned_does_not():
    """A matrix product whose value stays inside the function (a scan gradient's
    weight-gradient GEMM before the update) is computed into a buffer kept across
    calls; one that is returned, or lives on in an update, is a new array each call."""
    a, b = T.dmatrix("a"), T.dmatrix("b")
    w = T.shared(np.zeros((3, 3)), name="w")
    inner = T.dot(a, b)
    f = T.function([a, b], [(inner * 2).sum(), T.dot(b, a)], updates=[(w, w - T.dot(a, b.T) * 0.5)])
    kept = [ln for ln in f.source.splitlines() if "out=_b" in ln]
    assert len(kept) == 3
    x, y = RNG.standard_normal((3, 3)), RNG.standard_normal((3, 3))
    r1 = f(x, y)
    w1 = w.get_value()
    r2 = f(y, x)
    assert r1[1] is not r2[1]
    np.testing.assert_allclose(r1[0], (x @ y * 2).sum(), rtol=1e-12)
    np.testing.assert_allclose(r1[1], y @ x, rtol=1e-12)
    np.testing.assert_allclose(r2[0], (y @ x * 2).sum(), rtol=1e-12)
    np.testing.assert_allclose(r2[1], x @ y, rtol=1e-12)
    np.testing.assert_allclose(w1, -0.5 * x @ y.T, rtol=1e-12)
    np.testing.assert_allclose(w.get_value(), w1 - 0.5 * y @ x.T, rtol=1e-12)
    bufs = [k for k, v in type(f).__call__.__globals__.items() if k.startswith("_gb") and not k.endswith("dt")]
    kept_across = [k for k in bufs if type(f).__call__.__globals__[k] is not None]
    assert len(kept_across) == 1                # only a @ b, read by the sum


def test_a_trajectory_read_only_reversed_is_written_reversed():
    """``scan_reversed_output``: an output the graph reads only as ``out[::-1]`` is
    written by the loop from its last row to its first (one read both ways is not);
    values as NumPy for 1 and several steps, on recycled buffers too."""
    x = T.dmatrix("x")
    (a, b, c), _ = T.scan(lambda v: [v * 2, v + 1, T.exp(v).sum()], sequences=x, go_backwards=True)
    f = T.function([x], [a[::-1] * 1, b[::-1] + b, c[::-1]])
    (sp,) = [n.op.spec for n in _scans(f)]
    assert sp.reversed == {0, 2} and f.report.fired["scan_reversed_output"] == 1
    for steps in (3, 1, 4):
        v = RNG.standard_normal((steps, 2))
        got = f(v)
        want = [v * 2, (v + 1) + (v + 1)[::-1], np.exp(v).sum(axis=1)]
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w.reshape(g.shape), rtol=1e-12)
        assert all(g.flags.c_contiguous for g in (got[0], got[2]))
