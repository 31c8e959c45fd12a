"""Turning a user's step function into a ``Scan`` node (``qiflow.sym.scan``).

The step graph is made once, on stand-ins; then:

* variables the graph uses without being passed (closures, shared variables)
  become non-sequences of their own (``strict=True`` refuses shared ones);
* non-sequences that are constants are put into the step graph as constants,
  so the step's compiler folds them;
* work that depends only on non-sequences (``W.T``, ``b * 2``) is moved out of
  the loop and computed once, before it;
* shared variables that ``fn`` updates, or that carry a ``default_update``,
  become states (see ``scan.py``).

``spec.hoisted`` on the node's spec counts the pieces moved out (tests read it).
"""
from collections import OrderedDict

import numpy as np

from .._state import QiflowError
from ..ops import elementwise as E
from ..ops import indexing as _ix
from ..ops.movement import expand_dims
from .graph import Variable, Constant, TensorType, as_variable, ancestors, toposort
from .fgraph import clone
from .shared import SharedVariable
from .scan_op import Spec, scan_node
from .scan_grad import scan_vjp


def _as_list(x):
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _placeholder(t, name=None):
    return Variable(TensorType(t.dtype, t.shape), name=name)


def _split_result(res):
    """fn's return value -> (outputs list, updates list of pairs, single)."""
    def is_updates(r):
        if isinstance(r, dict):
            return True
        return isinstance(r, (list, tuple)) and len(r) > 0 and all(
            isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], SharedVariable) for p in r)
    if is_updates(res):
        return [], list(res.items()) if isinstance(res, dict) else list(res), False
    if isinstance(res, tuple) and len(res) == 2 and (is_updates(res[1]) or is_updates(res[0])):
        outs, ups = (res[0], res[1]) if is_updates(res[1]) else (res[1], res[0])
        ups = list(ups.items()) if isinstance(ups, dict) else list(ups)
        single = not isinstance(outs, (list, tuple))
        return _as_list(outs), ups, single
    single = not isinstance(res, (list, tuple))
    return _as_list(res), [], single


def _seq_entry(s, go_backwards):
    if isinstance(s, dict):
        if "input" not in s:
            raise QiflowError(f"scan: a sequence given as a dict needs 'input', got keys {list(s)}")
        x, taps = s["input"], s.get("taps", [0])
        taps = [0] if taps is None else list(_as_list(taps))
    else:
        x, taps = s, [0]
    x = as_variable(x)
    if x.ndim == 0:
        raise QiflowError(f"scan: sequence {x!r} is a scalar ({x.type}); a sequence needs a first "
                          "axis to iterate over")
    if not taps or not all(isinstance(k, (int, np.integer)) for k in taps):
        raise QiflowError(f"scan: sequence taps must be a list of ints, got {taps!r}")
    mn, mx = min(min(taps), 0), max(max(taps), 0)
    # the slice of x that tap k reads at every step: x[t + k - mn] for t = 0, 1, ...
    # (a tap that reads the whole sequence takes it as it is: no slice, no slice gradient);
    # going backwards, each tap's slice is reversed: taps stay relative to x's own order
    slices = [x if (int(k) - mn, int(k) - mx) == (0, 0) else x[int(k) - mn: (int(k) - mx) or None]
              for k in taps]
    if go_backwards:
        slices = [sl[::-1] for sl in slices]
    return x, [int(k) for k in taps], slices


def _state_entry(o, k):
    """outputs_info entry -> None (not fed back) or (initial buffer, taps, element type)."""
    if o is None:
        return None
    if isinstance(o, dict):
        if o.get("initial") is None:
            return None
        init, taps = as_variable(o["initial"]), o.get("taps", [-1])
        taps = [-1] if taps is None else [int(t) for t in _as_list(taps)]
    else:
        init, taps = as_variable(o), [-1]
    if not taps or any(t >= 0 for t in taps):
        raise QiflowError(f"scan: outputs_info[{k}]: taps of an output must be negative, got {taps}")
    if taps == [-1]:
        return expand_dims(init, 0), taps, init.type
    lag = -min(taps)
    if init.ndim == 0:
        raise QiflowError(f"scan: outputs_info[{k}] has taps {taps}, so its initial value needs a "
                          f"first axis of at least {lag} values; got a scalar {init.type}")
    n0 = init.type.shape[0]
    if n0 is not None and n0 < lag:
        raise QiflowError(f"scan: outputs_info[{k}] has taps {taps}: it needs {lag} initial values, "
                          f"got {n0} (shape {init.type.shape})")
    return init[:lag], taps, _sub(init.type)


def _sub(t):
    return TensorType(t.dtype, t.shape[1:])


def build_scan(fn, sequences, outputs_info, non_sequences, n_steps, truncate, go_backwards, mode,
               name, strict, return_list, sums=()):
    """``scan``'s work; ``sums`` (used by the gradient): initial values of extra
    outputs that fn returns last, summed over the steps (the result holds their
    totals, after the other outputs)."""
    if not callable(fn):
        raise TypeError(f"scan: fn must be callable, got {type(fn).__name__}")
    seqs = [_seq_entry(s, go_backwards) for s in _as_list(sequences)]
    infos = outputs_info if isinstance(outputs_info, (list, tuple)) else (
        [] if outputs_info is None else [outputs_info])
    states = [_state_entry(o, k) for k, o in enumerate(infos)]
    nonseqs = [as_variable(v) for v in _as_list(non_sequences)]
    if n_steps is None and not seqs:
        raise QiflowError("scan: without sequences, n_steps must be given")
    # ---------------------------------------------------------- stand-ins
    seq_ph, seq_outer = [], []
    for x, taps, slices in seqs:
        for k, sl in zip(taps, slices):
            seq_ph.append(_placeholder(_sub(x.type), name=f"{x.name or 'seq'}[t{k:+d}]"))
            seq_outer.append(sl)
    state_ph = []
    for k, st in enumerate(states):
        if st is not None:
            state_ph.append([_placeholder(st[2], name=f"out{k}[t{tp:+d}]") for tp in st[1]])
    ns_args, ns_ph, ns_outer = [], [], []
    for v in nonseqs:
        if isinstance(v, Constant):
            ns_args.append(v)          # folded into the step graph
        else:
            p = _placeholder(v.type, name=v.name)
            ns_args.append(p)
            ns_ph.append(p)
            ns_outer.append(v)
    args = seq_ph + [p for ps in state_ph for p in ps] + ns_args
    res = fn(*args)
    outs, ups, single = _split_result(res)
    outs = [as_variable(o) for o in outs]
    sums = [as_variable(v) for v in sums]
    if sums:
        outs, sum_outs = outs[:len(outs) - len(sums)], outs[len(outs) - len(sums):]
        for s0, o in zip(sums, sum_outs):
            if o.dtype != s0.dtype or o.ndim != s0.ndim:
                raise QiflowError(f"scan: a summed output is {o.type}, its initial value {s0.type}")
    else:
        sum_outs = []
    if infos and len(infos) != len(outs):
        raise QiflowError(f"scan: outputs_info has {len(infos)} entries but fn returned {len(outs)} "
                          "outputs")
    if not infos:
        states = [None] * len(outs)
    # ---------------------------------------------------------- outputs and states
    fed = [k for k, st in enumerate(states) if st is not None]
    plain = [k for k, st in enumerate(states) if st is None]
    for k in fed:
        init_t, o = states[k][2], outs[k]
        if o.dtype != init_t.dtype or o.ndim != len(init_t.shape):
            raise QiflowError(f"scan: output {k} is fed back, but fn returned {o.type} for an "
                              f"initial value of dtype {init_t.dtype} and ndim {len(init_t.shape)}; "
                              "make them agree (e.g. cast the initial value)")
    ups = list(ups) + _default_updates(outs + [v for _, v in ups] + sum_outs, {id(s) for s, _ in ups})
    up_targets, up_ph, up_vals = [], [], []
    seen = set()
    for s, v in ups:
        if not isinstance(s, SharedVariable):
            raise QiflowError(f"scan: fn's updates must target shared variables, got {s!r}")
        if id(s) in seen:
            raise QiflowError(f"scan: fn updates {s!r} twice")
        seen.add(id(s))
        v = as_variable(v, (s.dtype,))
        if v.ndim != s.ndim:
            raise QiflowError(f"scan: the update of {s!r} ({s.type}) has ndim {v.ndim}")
        if v.dtype != s.dtype:
            v = E.cast(v, s.dtype)
        up_targets.append(s)
        up_ph.append(_placeholder(s.type, name=s.name))
        up_vals.append(v)
    inner_outs = [outs[k] for k in fed] + up_vals + [outs[k] for k in plain] + sum_outs
    # ---------------------------------------------------------- free variables
    known = {id(p) for p in args if not isinstance(p, Constant)}
    up_ids = {id(s): p for s, p in zip(up_targets, up_ph)}
    replace = {}
    for v in ancestors(inner_outs, stop=known):
        if v.owner is not None or id(v) in known or isinstance(v, Constant):
            continue
        if id(v) in up_ids:
            replace[v] = up_ids[id(v)]
            continue
        if strict and isinstance(v, SharedVariable):
            raise QiflowError(f"scan (strict=True): fn uses the shared variable {v!r} ({v.type}) "
                              "without it being passed in non_sequences")
        p = _placeholder(v.type, name=v.name)
        replace[v] = p
        ns_ph.append(p)
        ns_outer.append(v)
    if replace:
        inner_outs, _ = clone(inner_outs, replace=replace)
    # ---------------------------------------------------------- loop invariants out
    inner_outs, ns_ph, ns_outer, hoisted = _hoist(inner_outs, ns_ph, ns_outer)
    used = {id(v) for v in ancestors(inner_outs)}
    keep = [k for k, p in enumerate(ns_ph) if id(p) in used]
    ns_ph = [ns_ph[k] for k in keep]
    ns_outer = [ns_outer[k] for k in keep]
    # ---------------------------------------------------------- the node
    st_specs = [(list(states[k][1]), -min(states[k][1])) for k in fed] + [([-1], 1)] * len(up_ph)
    inner_inputs = seq_ph + [p for ps in state_ph for p in ps] + up_ph + ns_ph
    spec = Spec(len(seq_ph), st_specs, len(plain), len(ns_ph), inner_inputs, inner_outs, name=name,
                mode=mode, truncate=int(truncate) if truncate is not None else -1,
                infer_n=n_steps is None, n_sums=len(sums))
    spec.hoisted = hoisted
    spec.vjp, spec.builder = scan_vjp, build_scan
    if n_steps is None:
        n = Constant(np.asarray(-1, dtype=np.int64))
    else:
        n = as_variable(n_steps)
        if n.ndim != 0 or n.dtype.kind not in "iu":
            raise QiflowError(f"scan: n_steps must be an integer scalar, got {n!r} ({n.type})")
        if isinstance(n, Constant) and int(n.data) < 0:
            raise QiflowError(f"scan: n_steps={int(n.data)}; qiflow's scan does not run backwards "
                              "for a negative n_steps (use go_backwards=True)")
        if n.dtype != np.int64:
            n = E.cast(n, "int64")
    inits = [states[k][0] for k in fed] + [expand_dims(s, 0) for s in up_targets]
    bufs, others, totals = scan_node(spec, n, seq_outer, inits, sums, ns_outer)
    result = [None] * len(outs)
    for k, b in zip(fed, bufs):
        result[k] = _ix.getitem(b, slice(-min(states[k][1]), None))
    for k, o in zip(plain, others):
        result[k] = o
    updates = OrderedDict()
    for s, b in zip(up_targets, bufs[len(fed):]):
        updates[s] = b[-1]
    if sums:
        return result + totals, updates
    if return_list:
        return result, updates
    # as Theano: one output is returned as it is, none as None
    return (result[0] if len(result) == 1 else result or None), updates


def _default_updates(roots, done):
    """(shared, its default_update) for the shared variables the step reads that
    carry one (a random stream's state, as in Theano) and fn did not update."""
    found, frontier = [], list(roots)
    while frontier:
        new = []
        for v in ancestors(frontier):
            up = getattr(v, "default_update", None)
            if up is not None and isinstance(v, SharedVariable) and id(v) not in done:
                done.add(id(v))
                found.append((v, up))
                new.append(up)
        frontier = new
    return found


def _hoist(inner_outs, ns_ph, ns_outer):
    """Move the pieces of the step graph that depend only on non-sequences out
    of the loop; returns the new outputs, non-sequences and the count moved."""
    ns_ids = {id(p) for p in ns_ph}
    order = toposort(inner_outs)
    inv = {}                      # id(var) -> depends on non-sequences only (True) / has one (ns)
    uses_ns = {}
    for v in ancestors(inner_outs):
        if v.owner is None:
            inv[id(v)] = id(v) in ns_ids or isinstance(v, Constant)
            uses_ns[id(v)] = id(v) in ns_ids
    for node in order:
        o = node.outputs[0]
        inv[id(o)] = all(inv[id(i)] for i in node.inputs)
        uses_ns[id(o)] = any(uses_ns[id(i)] for i in node.inputs)
    cands, seen = [], set()

    def consider(v):
        if v.owner is not None and inv[id(v)] and uses_ns[id(v)] and id(v) not in seen:
            seen.add(id(v))
            cands.append(v)
    for node in order:
        if not inv[id(node.outputs[0])]:
            for i in node.inputs:
                consider(i)
    for o in inner_outs:
        consider(o)
    if not cands:
        return inner_outs, ns_ph, ns_outer, 0
    outer, _ = clone(cands, replace=dict(zip(ns_ph, ns_outer)), keep=ns_outer)
    new_ph = [_placeholder(c.type, name=c.name) for c in cands]
    inner_outs, _ = clone(inner_outs, replace=dict(zip(cands, new_ph)))
    return inner_outs, ns_ph + new_ph, ns_outer + outer, len(cands)
