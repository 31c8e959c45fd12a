"""Rewrites that see through ``scan`` (the loop-invariant work is already moved
out when the scan is built, see ``sym/scan_build.py``).

* ``scan_specialize``: when the compiler knows more about a Scan node's inputs
  than the step graph was written for — a non-sequence that became a constant
  (a size read from a shared variable's shape, once ``function`` compiled for
  its current shape), or sizes that became known — the step graph is rebuilt
  with the constants in it and the known types on its inputs, so the step's own
  compiler folds them (slices by a constant size become plain views);
* ``dynamic_slice_constant``: a slice whose symbolic bounds became constants is
  the plain basic-indexing ``GetItem``.

>>> from qiflow import sym as T
>>> W = T.shared(np.ones((3, 4)))
>>> x = T.dmatrix('x')
>>> out, _ = T.scan(lambda xt: T.dot(xt, W)[:W.shape[1] // 2], sequences=x)
>>> f = T.function([x], out)
>>> sorted(k for k in f.report.fired if 'scan' in k or 'slice' in k)
['scan_specialize']
"""
import numpy as np

from ..._state import QiflowError
from ...ops import indexing as _ix
from ...ops import elementwise as E
from ...ops.base import apply
from ...ops.dynamic import DynamicSlice, DynamicSliceGrad, Shape, _resolve
from ...ops.indexing import IndexAddLike
from ...ops.movement import broadcast_like
from ..graph import Constant, TensorType, Variable, build
from ..scan_op import Scan, ScanOutput, Spec, PackVariable, rebuild as _rebuild
from ._match import op_is, is_scalar_const
from .registry import register, register_global


def _refined(ph_type, outer_shape, dtype):
    """A type for a step input that knows what the outer value's type knows."""
    if ph_type.dtype != dtype or len(ph_type.shape) != len(outer_shape):
        return None
    shape = tuple(p if p is not None else o for p, o in zip(ph_type.shape, outer_shape))
    return None if shape == ph_type.shape else TensorType(ph_type.dtype, shape)


@register("canonicalize", Scan)
def scan_specialize(fg, node):
    """Constants and known sizes of a Scan node's inputs go into its step graph."""
    sp = node.op.spec
    ns, nst, nsum = sp.n_seqs, len(sp.states), sp.n_sums
    ins = node.inputs
    seqs, inits = ins[1:1 + ns], ins[1 + ns:1 + ns + nst]
    w0 = 1 + ns + nst + nsum
    nonseqs = ins[w0:]
    n_taps = sum(len(t) for t, _ in sp.states)
    phs = sp.inner_inputs
    seq_ph, tap_ph, ns_ph = phs[:ns], phs[ns:ns + n_taps], phs[ns + n_taps:]
    memo, keep, changed = {}, [], False
    outer_elem = [s.type.shape[1:] for s in seqs]
    for (taps, _), b in zip(sp.states, inits):
        outer_elem += [b.type.shape[1:]] * len(taps)
    for p, shape, v in zip(seq_ph + tap_ph, outer_elem, list(seqs) + [b for (t, _), b in
                                                                      zip(sp.states, inits) for _ in t]):
        t = _refined(p.type, shape, v.type.dtype)
        if t is not None:
            memo[id(p)] = Variable(t, name=p.name)
            changed = True
    for j, (p, v) in enumerate(zip(ns_ph, nonseqs)):
        if isinstance(v, Constant):
            memo[id(p)] = Constant(v.data.astype(p.type.dtype, copy=False))
            changed = True
            continue
        keep.append(j)
        t = _refined(p.type, v.type.shape, v.type.dtype)
        if t is not None:
            memo[id(p)] = Variable(t, name=p.name)
            changed = True
    if not changed:
        return None
    try:
        outs = _rebuild(list(sp.inner_outputs), dict(memo))
    except QiflowError:
        return None                     # the step does not fit these inputs: left for run time
    new_phs = [memo.get(id(p), p) for p in seq_ph + tap_ph] + [memo.get(id(ns_ph[j]), ns_ph[j]) for j in keep]
    new = Spec(ns, sp.states, sp.n_plain, len(keep), new_phs, outs, name=sp.name, mode=sp.mode,
               truncate=sp.truncate, infer_n=sp.infer_n, n_sums=nsum, n_extra=sp.n_extra,
               family=sp.family, keys=sp.keys,
               shape_outs=sp.shape_outs, reversed=sp.reversed)
    new.vjp, new.builder, new.hoisted = sp.vjp, sp.builder, getattr(sp, "hoisted", 0)
    pack = build(Scan(new), list(ins[:w0]) + [nonseqs[j] for j in keep], cls=PackVariable)
    pack.requires_grad = node.outputs[0].requires_grad
    return pack


@register("canonicalize", DynamicSlice)
def dynamic_slice_constant(fg, node):
    """x[a:b] whose bounds are constants is a plain (view) slice."""
    bounds = node.inputs[1:]
    if not bounds or not all(isinstance(b, Constant) for b in bounds):
        return None
    index = _resolve(node.op.template, [int(np.asarray(b.data)) for b in bounds])
    return _ix.getitem(node.inputs[0], index)


@register_global("canonicalize")
def scan_merge(fg):
    """Loops of one family (see ``Spec.family``) on the same inputs run once: a
    scan whose outputs are the first outputs of another (the copy the gradient
    made to also output intermediate values) reads them from the other."""
    if Scan not in fg.op_types:
        return 0
    groups = {}
    for node in fg.toposort():
        if isinstance(node.op, Scan):
            sp = node.op.spec
            groups.setdefault((id(sp.family), tuple(id(i) for i in node.inputs)), []).append(node)
    changed = 0
    for nodes in groups.values():
        if len(nodes) < 2:
            continue
        nodes = sorted(nodes, key=lambda nd: -len(nd.op.spec.keys))     # stable: first built first
        for p, x in enumerate(nodes):
            kx = x.op.spec.keys
            for y in nodes[:p]:
                if y.op.spec.keys[:len(kx)] == kx and fg.alive(y):
                    fg.replace(x.outputs[0], y.outputs[0])
                    changed += 1
                    break
    return changed


# ------------------------------------------------ the gradient's slices of whole arrays
def _length_of(fg, v):
    """The variable whose first dimension ``v`` reads (``shape(x)[0]``), or None."""
    node = op_is(fg, v, _ix.GetItem)
    if node is None or len(node.inputs) != 1 or node.op.template != (0,):
        return None
    sh = op_is(fg, node.inputs[0], Shape)
    return None if sh is None else sh.inputs[0]


@register("canonicalize", DynamicSliceGrad)
def whole_slice_grad(fg, node):
    """The gradient of ``x[0:shape(x)[0]]`` (all of x, as a scan's gradient takes it for a
    sequence it reads whole) is the gradient g itself: no array of zeros, no copy of g."""
    tpl = node.op.template
    g, x, *bounds = node.inputs
    if len(tpl) != 1 or tpl[0][:1] != ("slice",) or tpl[0][3] not in (None, 1):
        return None
    lo, hi = tpl[0][1], tpl[0][2]
    lo = bounds[lo[1]] if isinstance(lo, tuple) else lo
    hi = bounds[hi[1]] if isinstance(hi, tuple) else hi
    if isinstance(lo, int) or lo is None:
        lo_zero = not lo
    else:
        lo_zero = is_scalar_const(lo, 0)
    if not lo_zero or isinstance(hi, int) or hi is None or _length_of(fg, hi) is not x \
            or g.dtype != node.outputs[0].dtype or g.ndim != x.ndim:
        return None
    return broadcast_like(g, x)         # g itself at run time (g has x's shape)


@register("canonicalize", DynamicSlice)
def state_rows_of_their_gradient(fg, node):
    """``index_add_like(g, buf, [lag:])[lag:lag + n]`` where buf is a scan's buffer of a
    state (lag initial values, then one row per step) and n the scan's number of steps:
    the rows are exactly g's (what the gradient scan reads of the gradient of a scan's
    states), so the array of zeros g was written into is not made."""
    tpl = node.op.template
    if len(tpl) != 1 or tpl[0][:1] != ("slice",) or tpl[0][3] is not None or len(node.inputs) != 2:
        return None
    lag, hi = tpl[0][1], node.inputs[1]
    ia = op_is(fg, node.inputs[0], IndexAddLike)
    if ia is None or len(ia.inputs) != 2 or not isinstance(lag, int) or lag < 1 or \
            ia.op.template != (("slice", lag, None, None),):
        return None
    g, buf = ia.inputs
    out = op_is(fg, buf, ScanOutput)
    scan = op_is(fg, out.inputs[0], Scan) if out is not None else None
    if scan is None:
        return None
    sp = scan.op.spec
    if out.op.k >= len(sp.states) or sp.states[out.op.k][1] != lag or not sp.infer_n or sp.n_seqs != 1:
        return None
    # hi must be n + lag, n the length of the scan's one sequence (its number of steps)
    add = op_is(fg, hi, E.Add)
    if add is None or len(add.inputs) != 2:
        return None
    a, b = add.inputs
    if is_scalar_const(a, lag):
        a, b = b, a
    if not is_scalar_const(b, lag) or _length_of(fg, a) is not scan.inputs[1]:
        return None
    if g.dtype != node.outputs[0].dtype or g.ndim != buf.ndim:
        return None
    return broadcast_like(g, _ix.getitem(buf, slice(lag, None)))     # g itself at run time


@register_global("specialize")
def scan_reversed_output(fg):
    """A trajectory that the graph reads only reversed (``out[::-1]``: a backward loop's
    output put back in time order) is written by the loop from its last row to its first,
    so the reading is an array as it is: a matrix product of it laid flat is then a view,
    not a copy of the reversed view."""
    if Scan not in fg.op_types:
        return 0
    changed = 0
    for node in fg.toposort():
        if not isinstance(node.op, Scan) or not fg.alive(node):
            continue
        pack = node.outputs[0]
        sp = node.op.spec
        nst, first_sum = len(sp.states), len(sp.states) + sp.n_plain
        first_extra = first_sum + sp.n_sums
        flips = {}
        for o in fg.client_nodes(pack):
            if not isinstance(o.op, ScanOutput):
                break
            k = o.op.k
            if not (nst <= k < first_sum or (k >= first_extra and k not in sp.shape_outs)) \
                    or k in sp.reversed or fg.is_output(o.outputs[0]):
                continue
            readers = fg.client_nodes(o.outputs[0])
            if readers and all(isinstance(r.op, _ix.GetItem) and len(r.inputs) == 1 and
                               r.op.template == (("slice", None, None, -1),) for r in readers) \
                    and fg.n_clients(o.outputs[0]) == len(readers):
                flips[k] = (o, readers)
        else:
            if not flips:
                continue
            keys = list(sp.keys)
            for k in flips:                 # a loop that writes k reversed is another loop
                keys[k] = ("reversed", keys[k])
            new = sp.copy(keys=keys, reversed=sp.reversed | set(flips))
            new_pack = build(Scan(new), list(node.inputs), cls=PackVariable)
            new_pack.requires_grad = pack.requires_grad
            for k, (o, readers) in flips.items():
                plain = apply(ScanOutput(k, o.op.type), new_pack)
                for r in readers:
                    fg.replace(r.outputs[0], plain)
            fg.replace(pack, new_pack)
            changed += 1
    return changed
