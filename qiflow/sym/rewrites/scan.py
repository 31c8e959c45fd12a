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
from ...ops.dynamic import DynamicSlice, _resolve
from ..graph import Constant, TensorType, Variable, build
from ..scan_op import Scan, Spec, PackVariable, rebuild as _rebuild
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
               shape_outs=sp.shape_outs)
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
