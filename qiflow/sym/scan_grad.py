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
from ..ops.dynamic import DynamicSliceGrad, Shape, getitem
from ..ops.join import concatenate, stack
from ..ops.movement import expand_dims
from .fgraph import clone
from ..ops.linalg import MatMul
from ..ops.movement import FlattenHead, SumToLike, Transpose, sum_to_like, swapaxes
from ..ops.base import aliases
from .graph import TensorType, Variable, ancestors as _ancestors
from .scan_op import Scan, ScanOutput, Spec, _pack, slots

#: the forward loop outputs the intermediate values its gradient reads (False: the
#: backward step computes them again, as before; tests compare the two)
stash_intermediates = True

_ROWS = (("slice", ("in", 0), ("in", 1), None),)
_flat = FlattenHead()


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
    sum_range = range(first_sum, first_sum + nsum)
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
    g_seq = [k for k in sorted(G) if fl(outs_t[k]) and k not in sum_range]  # a gradient per step
    g_sum = [k for k in sorted(G) if fl(outs_t[k]) and k in sum_range]      # one for every step

    def read(bufs):
        """The backward loop's sequences: x_t, the states at their taps, the outputs' gradients."""
        out = [getitem(s, slice(None, n)) for s in seqs]
        for (taps, lag), b in zip(sp.states, bufs):
            for k in taps:
                out.append(getitem(b, slice(lag + k, n + (lag + k))))
        for k in g_seq:
            lag = sp.states[k][1] if k < nst else 0
            out.append(getitem(G[k], slice(lag, n + lag)))
        return out
    bw_seqs = read(bufs)
    n_taps = sum(len(t) for t, _ in sp.states)
    zeros_w = [E.zeros_like(inits[o]) for o in st_idx]

    def step(*a):
        xs = list(a[:ns])
        taps_v = list(a[ns:ns + n_taps])
        pos = ns + n_taps
        gs = dict(zip(g_seq, a[pos:pos + len(g_seq)]))
        pos += len(g_seq)
        trajs = list(a[pos:pos + len(kept)])
        pos += len(kept)
        wins = dict(zip(st_idx, a[pos:pos + len(st_idx)]))
        pos += len(st_idx)
        ws = list(a[pos:pos + nns])
        gs.update(zip(g_sum, a[pos + nns:]))
        ys, memo = clone(outs_t, replace=dict(zip(sp.inner_inputs, xs + taps_v + ws)))
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
        recipes = [_factor(dw, ws) for dw in dws]
        leaves, summed = [], []
        for dw, r, planned in zip(dws, recipes, recipes if plan is None else plan):
            if planned is None:
                summed.append(dw)
            elif r is None or _shape_of(r) != _shape_of(planned):
                raise RuntimeError("scan gradient: the step's weight gradient changed structure "
                                   "between two builds of the same graph")
            else:
                leaves.extend(_leaf_outputs(r))
        res = dxs + new_wins + leaves + summed
        if plan is None:                      # the probe: only the structure is wanted
            return recipes, _reads(res, memo, outs_t)
        if kept:                              # read from the forward loop, not computed again
            res, _ = clone(res, replace={memo[id(v)]: p for v, p in zip(kept, trajs)})
        return res

    n_bw = n if sp.truncate < 0 else E.minimum(n, sp.truncate)
    extra = [G[k] for k in g_sum]
    # a probe build of the step decides which weight gradients are sums of products
    # (then each product's factors are outputs and the sum is one GEMM after the loop)
    plan, kept = None, []
    probe = [_stand_in(v, 1) for v in bw_seqs] + [_stand_in(z, 0) for z in zeros_w] + \
            [_stand_in(v, 0) for v in nonseqs + extra]
    plan, (kept, kept_shapes) = step(*probe)
    kept = kept + kept_shapes
    if kept and stash_intermediates:
        # the forward loop's copy that also outputs the trajectories of the values the
        # backward step reads (scan_merge makes the loop run once for both)
        fam = sp.family
        # (of a value whose shape alone is read: its shape, and a stand-in of that shape)
        n_val, m = len(kept) - len(kept_shapes), len(outs_t)
        sp2 = Spec(ns, sp.states, sp.n_plain, nns, sp.inner_inputs,
                   list(outs_t) + kept[:n_val] + [apply(Shape(), v) for v in kept_shapes],
                   name=sp.name, mode=sp.mode, truncate=sp.truncate, infer_n=sp.infer_n,
                   n_sums=nsum, n_extra=sp.n_extra + len(kept), family=fam,
                   keys=sp.keys + tuple(fam.token(v) for v in kept[:n_val]) +
                   tuple(("shape", fam.token(v)) for v in kept_shapes),
                   shape_outs=sp.shape_outs | set(range(m + n_val, m + len(kept))))
        sp2.vjp, sp2.builder, sp2.hoisted = sp.vjp, sp.builder, getattr(sp, "hoisted", 0)
        pack = _pack(Scan(sp2), list(inputs))
        bw_seqs = read([apply(ScanOutput(k, bufs[k].type), pack) for k in range(nst)])
        for j, v in enumerate(kept):
            tr = apply(ScanOutput(m + j, TensorType(v.type.dtype, (None,) + v.type.shape)), pack)
            bw_seqs.append(getitem(tr, slice(None, n)))
    else:
        kept = []
    n_leaves = sum(len(_leaf_outputs(r)) for r in plan if r is not None)
    summed_idx = [j for j, r in zip(w_idx, plan) if r is None]
    outs, _ = sp.builder(step, bw_seqs, [None] * len(dx_idx) + zeros_w + [None] * n_leaves,
                         nonseqs + extra, n_bw, -1, True, sp.mode,
                         f"grad of {sp.name or 'scan'}", False, True,
                         sums=[E.zeros_like(nonseqs[j]) for j in summed_idx])
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
    pos = len(dx_idx) + len(st_idx)
    leaf_seqs = outs[pos:pos + n_leaves]
    totals = outs[pos + n_leaves:]
    for j, r in zip(w_idx, plan):
        if r is None:
            grads[w0 + j] = totals[summed_idx.index(j)]
        else:
            k = len(_leaf_outputs(r))
            grads[w0 + j] = _rebuild_sum(r, leaf_seqs[:k], nonseqs)
            leaf_seqs = leaf_seqs[k:]
    return tuple(grads)


def _reads(outs, memo, outs_t):
    """The step's intermediate values (variables of ``outs_t``'s graph) that the
    backward step's outputs ``outs`` read, cut at the first value that is not a
    view (views are computed again from what they view, at no cost): (those whose
    values are read, those whose shapes alone are read (``Op.shape_inputs``))."""
    rev = {}
    for v in _ancestors(outs_t):
        if v.owner is not None and id(v) in memo:
            rev[id(memo[id(v)])] = v
    values, shapes, seen = {}, {}, set()
    stack = [(v, False) for v in outs]           # (variable, only its shape is read)
    while stack:
        v, shape = stack.pop()
        if (id(v), shape) in seen:
            continue
        seen.add((id(v), shape))
        f = rev.get(id(v))
        node = v.owner
        if f is not None and f.dtype.kind in "fc" and not aliases(f.owner.op):
            (shapes if shape else values)[id(f)] = f
            continue
        if node is None:
            continue
        al = aliases(node.op) if shape and f is not None else None
        for j, i in enumerate(node.inputs):
            # a view's shape comes from the shape of what it views; a shape-only input
            # needs no values
            stack.append((i, j in node.op.shape_inputs or bool(al) and j in al))
    order = {id(v): p for p, v in enumerate(_ancestors(outs_t))}
    key = lambda v: order[id(v)]
    return (sorted(values.values(), key=key),
            sorted((v for k, v in shapes.items() if k not in values), key=key))


# ------------------------------------------- weight gradients as one product
def _stand_in(v, drop):
    return Variable(TensorType(v.type.dtype, v.type.shape[drop:]))


def _factor(dw, ws):
    """A step's weight gradient as a tree of Add / SumToLike(., w) / Transpose
    over products of matrices, or None: ('mm', p, q) | ('add', a, b) |
    ('sum_to', r, j) | ('transpose', r)."""
    node = dw.owner
    if node is None:
        return None
    op = node.op
    if isinstance(op, MatMul) and all(i.ndim == 2 for i in node.inputs):
        return ("mm",) + tuple(node.inputs)
    if isinstance(op, E.Add) and len(node.inputs) == 2:
        a, b = (_factor(i, ws) for i in node.inputs)
        return ("add", a, b) if a is not None and b is not None else None
    if isinstance(op, SumToLike):
        g, like = node.inputs
        js = [j for j, w in enumerate(ws) if w is like]
        r = _factor(g, ws) if js else None
        return ("sum_to", r, js[0]) if r is not None else None
    if isinstance(op, Transpose) and dw.ndim == 2:
        r = _factor(node.inputs[0], ws)
        return ("transpose", r) if r is not None else None
    return None


def _shape_of(r):
    """The tree without its variables (to compare two builds)."""
    if r[0] == "mm":
        return ("mm", _transposed(r[1]) is not None)
    return (r[0],) + tuple(_shape_of(c) if isinstance(c, tuple) else c for c in r[1:])


def _transposed(p):
    """A when p is the transpose of a matrix A (then A is kept, not its transpose)."""
    node = p.owner
    if node is not None and isinstance(node.op, Transpose) and p.ndim == 2:
        return node.inputs[0]
    return None


def _leaf_outputs(r):
    """The per-step values the tree's products need: (A or p, q) for each product."""
    if r[0] == "mm":
        a = _transposed(r[1])
        return [a if a is not None else r[1], r[2]]
    return [v for c in r[1:] if isinstance(c, tuple) for v in _leaf_outputs(c)]


def _rebuild_sum(r, seqs, nonseqs):
    """The tree summed over the steps, from the factors' sequences: the sum of
    p_t @ q_t is one product of the stacks laid flat."""
    if r[0] == "mm":
        first, q = seqs[0], seqs[1]
        a = first if _transposed(r[1]) is not None else swapaxes(first, 1, 2)
        return apply(_flat, a).T @ apply(_flat, q)
    if r[0] == "add":
        k = len(_leaf_outputs(r[1]))
        return _rebuild_sum(r[1], seqs[:k], nonseqs) + _rebuild_sum(r[2], seqs[k:], nonseqs)
    if r[0] == "sum_to":
        return sum_to_like(_rebuild_sum(r[1], seqs, nonseqs), nonseqs[r[2]])
    return _rebuild_sum(r[1], seqs, nonseqs).T
