"""The gradient of ``Scan``: backpropagation through time, written as a scan.

For a loop ``y_t = f(x_t, y_{t+taps}, w)`` the gradient scan runs the steps
backwards.  Its states are, per fed-back output, the window of adjoints of the
``lag`` most recent values (the contributions that later steps made through
their taps) and, per non-sequence, the sum of its gradient so far; at each step
it rebuilds the step's graph and takes its vjp with qiflow's own engine.
Because the result is a ``Scan`` node, it has a gradient too (second order).

``truncate_gradient=k`` runs the backward loop over the last k steps only:
earlier steps, and the initial values when k < n, get no gradient, as in
Theano.
"""
from .. import autodiff
from ..ops import elementwise as E
from ..ops.base import apply
from ..ops.dynamic import DynamicSliceGrad, getitem
from ..ops.join import concatenate, stack
from ..ops.movement import expand_dims
from .fgraph import clone
from .graph import TensorType
from .scan_op import ScanOutput, slots

_ROWS = (("slice", ("in", 0), ("in", 1), None),)


def _steps(spec, n_in, seqs):
    if not spec.infer_n:
        return n_in
    n = seqs[0].shape[0]
    for s in seqs[1:]:
        n = E.minimum(n, s.shape[0])
    return E.cast(n, "int64") if getattr(n, "dtype", None) != "int64" else n


def scan_vjp(op, ctx, inputs, output, g):
    sp = op.spec
    ns, nst, nsum, nns = sp.n_seqs, len(sp.states), sp.n_sums, sp.n_nonseqs
    first_sum = nst + sp.n_plain
    n_in = inputs[0]
    seqs = list(inputs[1:1 + ns])
    inits = list(inputs[1 + ns:1 + ns + nst])
    w0 = 1 + ns + nst + nsum                      # where the non-sequences start
    nonseqs = list(inputs[w0:])
    need = ctx.needs_input_grad
    G = slots(g)
    n = _steps(sp, n_in, seqs)
    outs_t = sp.inner_outputs
    bufs = [apply(ScanOutput(k, TensorType(outs_t[k].type.dtype, (None,) + outs_t[k].type.shape)),
                  output) for k in range(nst)]
    # ------------------------------------------------- what the backward loop reads
    fl = lambda v: v.dtype.kind in "fc"
    dx_idx = [j for j in range(ns) if fl(seqs[j]) and need[1 + j]]
    st_idx = [o for o in range(nst) if fl(outs_t[o])]
    w_idx = [j for j in range(nns) if fl(nonseqs[j]) and need[w0 + j]]
    g_seq = [k for k in sorted(G) if fl(outs_t[k]) and k < first_sum]     # a gradient per step
    g_sum = [k for k in sorted(G) if fl(outs_t[k]) and k >= first_sum]    # one for every step
    bw_seqs = [getitem(s, slice(None, n)) for s in seqs]
    for (taps, lag), b in zip(sp.states, bufs):
        for k in taps:
            bw_seqs.append(getitem(b, slice(lag + k, n + (lag + k))))
    for k in g_seq:
        lag = sp.states[k][1] if k < nst else 0
        bw_seqs.append(getitem(G[k], slice(lag, n + lag)))
    n_taps = sum(len(t) for t, _ in sp.states)
    zeros_w = [E.zeros_like(inits[o]) for o in st_idx]
    zeros_dw = [E.zeros_like(nonseqs[j]) for j in w_idx]

    def step(*a):
        xs = list(a[:ns])
        taps_v = list(a[ns:ns + n_taps])
        pos = ns + n_taps
        gs = dict(zip(g_seq, a[pos:pos + len(g_seq)]))
        pos += len(g_seq)
        wins = dict(zip(st_idx, a[pos:pos + len(st_idx)]))
        pos += len(st_idx)
        ws = list(a[pos:pos + nns])
        gs.update(zip(g_sum, a[pos + nns:]))
        ys, _ = clone(outs_t, replace=dict(zip(sp.inner_inputs, xs + taps_v + ws)))
        roots, adjs = [], []
        for k in range(len(outs_t)):
            adj = wins[k][-1] if k in wins else None
            if k in gs:
                adj = gs[k] if adj is None else adj + gs[k]
            if adj is not None and ys[k].requires_grad:
                roots.append(ys[k])
                adjs.append(adj)
        targets = [xs[j] for j in dx_idx] + taps_v + [ws[j] for j in w_idx]
        if roots:
            res = autodiff._sweep(roots, adjs, retain_graph=True, create_graph=True, targets=targets)
        else:
            res = [None] * len(targets)
        res = [E.zeros_like(t) if r is None else r for t, r in zip(targets, res)]
        dxs = res[:len(dx_idx)]
        dtaps = res[len(dx_idx):len(dx_idx) + n_taps]
        dws = res[len(dx_idx) + n_taps:]
        new_wins, pos = [], 0
        for o, (taps, lag) in enumerate(sp.states):
            d = dict(zip(taps, dtaps[pos:pos + len(taps)]))
            pos += len(taps)
            if o not in wins:
                continue
            W = wins[o]
            if lag == 1:
                new_wins.append(expand_dims(d[-1], 0))
                continue
            zero = E.zeros_like(W[0])
            D = stack([d.get(j - lag, zero) for j in range(lag)], 0)
            new_wins.append(concatenate([E.zeros_like(W[:1]), W[:-1]], 0) + D)
        return dxs + new_wins + dws

    n_bw = n if sp.truncate < 0 else E.minimum(n, sp.truncate)
    outs, _ = sp.builder(step, bw_seqs, [None] * len(dx_idx) + zeros_w,
                         nonseqs + [G[k] for k in g_sum], n_bw, -1, True, sp.mode,
                         f"grad of {sp.name or 'scan'}", False, True, sums=zeros_dw)
    grads = [None] * len(inputs)
    for j, dxr in zip(dx_idx, outs[:len(dx_idx)]):
        grads[1 + j] = apply(DynamicSliceGrad(_ROWS), dxr[::-1], seqs[j], n - n_bw, n)
    for o, wseq in zip(st_idx, outs[len(dx_idx):len(dx_idx) + len(st_idx)]):
        if not need[1 + ns + o]:
            continue
        d = wseq[-1]
        if sp.truncate >= 0:
            d = E.where(E.greater_equal(n_bw, n), d, E.zeros_like(d))
        if o in G:
            d = d + getitem(G[o], slice(None, sp.states[o][1]))
        grads[1 + ns + o] = d
    for k in g_sum:
        if need[1 + ns + nst + (k - first_sum)]:
            grads[1 + ns + nst + (k - first_sum)] = G[k]
    for j, total in zip(w_idx, outs[len(dx_idx) + len(st_idx):]):
        grads[w0 + j] = total
    return tuple(grads)
