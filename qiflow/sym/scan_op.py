"""The ``Scan`` primitive (what ``qiflow.sym.scan`` builds) and the tuple type
of its value.

One node computes every output of the loop.  Its value is a tuple of arrays
(a 0-d object value, type ``PACK``) and ``ScanOutput(k)`` takes output k out of
it; the gradients reaching the tuple are gathered symbolically by the vjp
(``slots``), so nothing of type ``PACK`` is ever differentiated at run time.
The node's forward runs the step's own compiled function once per step.
Outputs fed back are kept as a buffer of the initial values followed by the
new ones (the gradient reads the whole trajectory).

>>> from qiflow import sym as T
>>> s, _ = T.scan(lambda v: v * 2, sequences=T.dvector('x'))
>>> type(s.owner.inputs[0].owner.op).__name__
'Scan'
"""
import sys
import threading

import numpy as np

from .._state import QiflowError
from ..ops.base import Op, apply
from ..ops import dynamic as _dyn
from ..ops import indexing as _ix
from . import graph as _graph
from .graph import Constant, Variable, TensorType, build, toposort

#: the type of a Scan node's value: a tuple of arrays
PACK = TensorType(np.dtype(object), ())


class PackVariable(Variable):
    """A tuple of values (the outputs of a Scan node, or gradients of some of
    them).  Gradients of a tuple are summed slot by slot, symbolically."""

    __slots__ = ()

    def __add__(self, other):
        return apply(PackAdd(), self, other)

    __radd__ = __add__


def _pack(op, args):
    out = build(op, args, cls=PackVariable)
    out.requires_grad = any(getattr(a, "requires_grad", False) for a in args)
    return out


class MakePack(Op):
    """The gradient of a tuple that only slot ``k`` (of ``n``) received: built by
    the engine, read by ``Scan.vjp`` (``slots``); never computed."""

    __slots__ = ("k", "n")
    props = ("k", "n")
    tested_in = "tests/sym/test_scan.py"

    def __init__(self, k, n):
        self.k, self.n = k, n

    def infer(self, g):
        return PACK.shape, PACK.dtype

    def forward(self, g):
        raise QiflowError("scan: the gradient of a scan's tuple value is gathered when the "
                          "gradient graph is built; it cannot be computed on its own")


class PackAdd(Op):
    """Slot-wise sum of two gradient tuples (see ``MakePack``)."""

    __slots__ = ()
    tested_in = "tests/sym/test_scan.py"

    def infer(self, a, b):
        return PACK.shape, PACK.dtype

    forward = MakePack.forward


def slots(g):
    """{k: gradient variable} of a gradient tuple built of MakePack / PackAdd."""
    out = {}
    stack = [g]
    while stack:
        v = stack.pop()
        op = v.owner.op if v.owner is not None else None
        if isinstance(op, MakePack):
            gk = v.owner.inputs[0]
            out[op.k] = gk if op.k not in out else out[op.k] + gk
        elif isinstance(op, PackAdd):
            stack.extend(v.owner.inputs)
        else:
            raise QiflowError(f"scan: unexpected gradient {v!r} for the tuple of a scan")
    return out


class ScanOutput(Op):
    """Output ``k`` of a Scan node's tuple; ``type`` is its TensorType."""

    __slots__ = ("k", "type")
    props = ("k", "type")
    view_map = {0: [0]}
    tested_in = "tests/sym/test_scan.py"

    def __init__(self, k, type):
        self.k, self.type = k, type

    def infer(self, pack):
        return self.type.shape, self.type.dtype

    def forward(self, pack):
        return pack[()][self.k]

    def vjp(self, ctx, inputs, output, g):
        return (_pack(MakePack(self.k, self.type.ndim), [g]),)

    def format(self, args):
        return f"{args[0]}[{self.k}]"


def rebuild(outputs, memo, fold=False):
    """The graph of ``outputs`` with the variables in ``memo`` (id -> new)
    substituted, every changed node built again so its type is inferred anew.
    ``fold``: sizes that became constants are computed as the graph is rebuilt (the
    shape of a value of known shape, integer arithmetic on constants, a slice whose
    bounds are constants is a plain slice), so the types after them are known too."""
    for node in toposort(outputs, stop=set(memo)):
        ins = [memo.get(id(i), i) for i in node.inputs]
        out = node.outputs[0]
        if all(a is b for a, b in zip(ins, node.inputs)):
            continue
        new = _folded(node.op, ins) if fold else None
        if new is None:
            new = build(node.op, ins, cls=type(out))
        if isinstance(new, PackVariable):
            new.requires_grad = any(getattr(a, "requires_grad", False) for a in ins)
        memo[id(out)] = new
    return [memo.get(id(o), o) for o in outputs]


def _folded(op, ins):
    """``op`` on ``ins`` as a constant or a plain slice, or None (see ``rebuild``)."""
    if isinstance(op, _dyn.Shape):
        shape = ins[0].type.shape
        return None if None in shape else Constant(np.array(shape, dtype=np.int64))
    if isinstance(op, _dyn.DynamicSlice):
        if not all(isinstance(b, Constant) for b in ins[1:]):
            return None
        return _ix.getitem(ins[0], _dyn._resolve(op.template, [int(b.data) for b in ins[1:]]))
    if (op.elementwise or isinstance(op, _ix.GetItem)) and all(
            isinstance(i, Constant) and i.data.dtype.kind in "iu" and i.data.size <= 8 for i in ins):
        val = np.asarray(op.forward(*[i.data for i in ins]))
        return Constant(val) if val.dtype.kind in "iu" else None
    return None


# --------------------------------------------------------------------- the op
_POOL_LOCK = threading.Lock()
_POOL_MAX = 4          # arrays kept per shape and dtype by one loop
_SHAPED_MAX = 8        # step functions compiled for the shapes of one loop's arguments


class Spec:
    """What a Scan node loops over (compared by identity).

    ``n_seqs`` sequence inputs (one per tap, already sliced and ordered),
    ``states``: per fed-back output its taps (negative) and ``lag`` (the number
    of initial values, -min(taps)), ``n_plain`` outputs not fed back,
    ``n_sums`` outputs summed over the steps into an initial value (what the
    gradient scan uses for the gradients of non-sequences: one buffer, added to
    in place, instead of a trajectory), ``n_nonseqs``.  ``inner_inputs`` /
    ``inner_outputs``: the step's graph (inputs: sequence slices, state taps,
    non-sequences; outputs: the states' new values, the other outputs, the
    summed ones, then ``n_extra`` trajectories of intermediate values of the
    step that the gradient reads instead of computing them again).

    ``family``: shared by the specs of one loop and of its copies that also
    output intermediate values (``scan_merge`` runs one node for both).
    """

    def __init__(self, n_seqs, states, n_plain, n_nonseqs, inner_inputs, inner_outputs, name=None,
                 mode=None, truncate=-1, infer_n=True, n_sums=0, n_extra=0, family=None, keys=None,
                 shape_outs=frozenset(), reversed=frozenset()):
        self.n_seqs, self.states, self.n_plain, self.n_nonseqs = n_seqs, states, n_plain, n_nonseqs
        self.n_sums, self.n_extra = n_sums, n_extra
        self.family = family if family is not None else Family()
        #: what each inner output is, comparable across the specs of one family
        self.keys = tuple(keys) if keys is not None else tuple(range(len(inner_outputs)))
        #: extras that are the shape of a value only the gradient's shape-only inputs read
        #: (``Op.shape_inputs``): the loop outputs a read-only array of zeros of that shape
        #: per step (one row, broadcast), not a trajectory of values
        self.shape_outs = frozenset(shape_outs)
        #: trajectories written from the last row to the first (``scan_reversed_output``:
        #: what the graph reads only reversed)
        self.reversed = frozenset(reversed)
        self.inner_inputs, self.inner_outputs = inner_inputs, inner_outputs
        self.name, self.mode = name, mode
        #: vjp(op, ctx, inputs, output, g) and the builder the gradient scan is made with
        self.vjp = self.builder = None
        #: backpropagate through the last ``truncate`` steps only (-1: all)
        self.truncate = truncate
        #: n_steps is the sequences' length (the n_steps input is ignored)
        self.infer_n = infer_n
        self._fn = None
        self._pool = {}
        self._shaped = {}
        self._same = {}

    def copy(self, **changes):
        """This loop with some of its fields changed (the same family, gradient, builder)."""
        kw = dict(name=self.name, mode=self.mode, truncate=self.truncate, infer_n=self.infer_n,
                  n_sums=self.n_sums, n_extra=self.n_extra, family=self.family, keys=self.keys,
                  shape_outs=self.shape_outs, reversed=self.reversed)
        args = dict(n_seqs=self.n_seqs, states=self.states, n_plain=self.n_plain,
                    n_nonseqs=self.n_nonseqs, inner_inputs=self.inner_inputs,
                    inner_outputs=self.inner_outputs)
        for k, v in changes.items():
            (args if k in args else kw)[k] = v
        new = Spec(**args, **kw)
        new.vjp, new.builder, new.hoisted = self.vjp, self.builder, getattr(self, "hoisted", 0)
        return new

    def _compile(self, inputs, outputs):
        function = _graph.compiler         # T.function (registered by function.py)
        return function(inputs, list(outputs), on_unused_input="ignore",
                        name=f"{self.name or 'scan'} step", mode=self.mode)

    @property
    def fn(self):
        """The step's compiled function, for arguments of any shape its graph allows."""
        if self._fn is None:
            self._fn = self._compile(self.inner_inputs, self.inner_outputs)
        return self._fn

    def step_for(self, args):
        """(the step function for these first-step arguments, whether the later steps
        may call it unchecked).  Arrays of the step's dtypes get a function compiled
        for their shapes, and for the values of the integer scalars among the
        non-sequences (sizes read outside the loop), kept per key: the steps of one
        loop all have the first step's shapes (rows of the same arrays, states
        checked against their initial values) and the same non-sequences, and with
        every size known the step's compiler folds what the graph computes at run
        time (slices by ``w.shape[1]``, shape-only gradients, the checks of
        ``sum_to_like``) and keeps its products in buffers of its own.  Other
        arguments, more than ``_SHAPED_MAX`` keys, or a step graph that does not fit
        get the general ``fn``, which checks and converts them."""
        nd, gen = np.ndarray, np.generic
        phs = self.inner_inputs
        if len(args) != len(phs) or not all((a.__class__ is nd or isinstance(a, gen)) and
                                            a.dtype == p.type.dtype for a, p in zip(args, phs)):
            return self.fn, False
        first_ns = len(phs) - self.n_nonseqs
        key = tuple(("=", int(a)) if j >= first_ns and a.ndim == 0 and a.dtype.kind in "iu" else a.shape
                    for j, a in enumerate(args))
        fn = self._shaped.get(key)
        if fn is None:
            if key not in self._shaped and len(self._shaped) < _SHAPED_MAX:
                fn = self._compile_shaped(key, args)
            self._shaped[key] = fn
            if fn is None:
                fn = self.fn
        return fn, fn.trusted is not None

    def same_outputs(self, fn, traj, n_rows):
        """The trajectories (output indices ``traj``) whose step value is, in ``fn``'s
        graph, the same variable as an earlier trajectory's or as one of the first
        ``n_rows`` arguments (rows of the sequences and states), so ``fn.trusted``
        returns that very object at every step: [(k, source, j, j0)], source the
        earlier output (at position j0 of ``traj``) or the argument (j0 None), j the
        position of k.  The loop keeps one array for both, or copies the argument's
        rows at once, and checks the identity at every step."""
        got = self._same.get(id(fn))
        if got is None:
            outs, ins = fn.fgraph.outputs[:fn.n_outputs], fn.inputs[:n_rows]
            first, got = {}, []
            for j, k in enumerate(traj):
                v = outs[k]
                if v.ndim == 0 or k in self.reversed:
                    continue
                i = next((i for i, p in enumerate(ins) if p is v), None)
                if i is not None:
                    got.append((k, i, j, None))
                    continue
                j0 = first.setdefault(id(v), j)
                if j0 != j:
                    got.append((k, traj[j0], j, j0))
            self._same[id(fn)] = got
        return got

    def _compile_shaped(self, key, args):
        phs = self.inner_inputs
        memo = {}
        for p, k, a in zip(phs, key, args):
            if k and k[0] == "=":
                memo[id(p)] = Constant(np.asarray(a, dtype=p.type.dtype))
            elif len(k) != p.type.ndim or any(d is not None and d != e for d, e in zip(p.type.shape, k)):
                return None            # the general function says what does not fit
            elif None in p.type.shape:
                memo[id(p)] = Variable(TensorType(p.type.dtype, k), name=p.name)
        if not memo:
            return self.fn
        try:
            outs = rebuild(list(self.inner_outputs), dict(memo), fold=True)
        except QiflowError:
            return None                # the graph does not fit these values: the general function
        return self._compile([p if isinstance(memo.get(id(p)), Constant) else memo.get(id(p), p)
                              for p in phs], outs)

    def buffer(self, shape, dtype):
        """An uninitialised array for a trajectory: one of this loop's earlier arrays of
        that shape and dtype when nothing else refers to it any more (no result kept, no
        view of it alive: CPython counts the references), else a new one (kept for later).
        A fresh multi-megabyte array costs a page fault per 4 KiB on its first writes;
        a recycled one does not (measured: 10 trajectories of 35 x 20 x 800 float32,
        6.5 ms fresh, 1.0 ms recycled)."""
        key = (shape, np.dtype(dtype))
        with _POOL_LOCK:
            pool = self._pool.setdefault(key, [])
            for b in pool:
                # the references: the pool's list, the loop variable, getrefcount's argument
                if sys.getrefcount(b) == 3:
                    return b
            b = np.empty(shape, dtype=dtype)
            if len(pool) < _POOL_MAX:
                pool.append(b)
            return b

    def __repr__(self):
        return f"<scan {self.name or ''}: {self.n_seqs} seqs, {len(self.states)} states, " \
               f"{self.n_plain} outputs, {self.n_nonseqs} non-seqs>"


class Family:
    """The loops that compute the same step (a scan, its specialised copies and
    the copies that also output intermediate values); ``token(v)`` names the
    step's intermediate value v the same way in all of them."""

    __slots__ = ("_tokens",)

    def __init__(self):
        self._tokens = {}

    def token(self, v):
        return self._tokens.setdefault(id(v), (("value", len(self._tokens)), v))[0]


class Scan(Op):
    """The loop.  Inputs: ``n_steps`` (int64 scalar; ignored when ``spec.infer_n``),
    the sequences, the states' initial buffers (lag, ...), the sums' initial
    values, the non-sequences.  Value: a tuple of the states' buffers
    (lag + n, ...), the other outputs (n, ...), then the sums."""

    __slots__ = ("spec",)
    props = ("spec",)
    view_map = {}
    tested_in = "tests/sym/test_scan.py"

    def __init__(self, spec):
        self.spec = spec

    def infer(self, *types):
        sp = self.spec
        want = 1 + sp.n_seqs + len(sp.states) + sp.n_sums + sp.n_nonseqs
        if len(types) != want:
            raise QiflowError(f"Scan: expected {want} inputs, got {len(types)}")
        return PACK.shape, PACK.dtype

    def format(self, args):
        return f"scan{{{self.spec.name or ''}}}({', '.join(args)})"

    def forward(self, n_steps, *arrays):
        sp = self.spec
        ns, nst = sp.n_seqs, len(sp.states)
        seqs = arrays[:ns]
        inits = arrays[ns:ns + nst]
        # C order: an initial value may be a transposed view, and adding a C-ordered step
        # result into an F-ordered buffer is several times slower
        sums = [np.array(a, dtype=v.type.dtype, order="C") for a, v in
                zip(arrays[ns + nst:ns + nst + sp.n_sums], sp.inner_outputs[nst + sp.n_plain:])]
        nonseqs = list(arrays[ns + nst + sp.n_sums:])
        label = f"scan {sp.name!r}" if sp.name else "scan"
        if sp.infer_n:
            n = min(len(s) for s in seqs)
        else:
            n = int(n_steps)
            if n < 0:
                raise QiflowError(f"{label}: n_steps is {n}; qiflow's scan does not run backwards "
                                  "for a negative n_steps (use go_backwards=True)")
            for j, s in enumerate(seqs):
                if len(s) < n:
                    raise QiflowError(f"{label}: n_steps is {n} but sequence {j} has only {len(s)} "
                                      f"steps (shape {s.shape})")
        outs_t = sp.inner_outputs
        bufs = []
        for (taps, lag), init, v in zip(sp.states, inits, outs_t):
            if len(init) < lag:
                raise QiflowError(f"{label}: an output with taps {taps} needs {lag} initial values, "
                                  f"got an initial value of shape {init.shape}")
            b = sp.buffer((lag + n,) + init.shape[1:], v.type.dtype)
            b[:lag] = init[:lag]
            bufs.append(b)
        first_sum = nst + sp.n_plain
        # outputs with a step axis (the plain ones, then the intermediate values)
        first_extra = first_sum + sp.n_sums
        traj = list(range(nst, first_sum)) + [k for k in range(first_extra, len(outs_t))
                                              if k not in sp.shape_outs]
        shaped = {k: None for k in range(first_extra, len(outs_t)) if k in sp.shape_outs}
        plain = [None] * len(traj)
        rows = [None] * len(traj)          # the shape of one step of each trajectory
        wr = [None] * len(traj)            # where step t writes row t (reversed: row n-1-t)
        taps_at = [(b, lag + k) for (taps, lag), b in zip(sp.states, bufs) for k in taps]
        fed = [(b, lag, b.shape[1:]) for (taps, lag), b in zip(sp.states, bufs)]
        nd = np.ndarray
        # every step's arguments are rows of these (a state's row is written by the step
        # before the one that reads it), then the non-sequences
        cols = [s[:n] for s in seqs] + [b[o:o + n] for b, o in taps_at]
        fast = None
        for t in range(n):
            args = [c[t] for c in cols]
            args += nonseqs
            if fast is not None:
                res = call(*args)
                for k, dst, off, row in fast:
                    r = res[k]
                    if r.__class__ is not nd or r.shape != row:
                        r = self._odd(label, k, r, row, t)
                    dst[off + t] = r
                if same:
                    bad = [e for e in same if res[e[0]] is not (
                        res[e[1]] if e[3] is not None else args[e[1]])]
                    if bad:
                        same = self._own(bad, same, fast, res, plain, rows, cols, t, label)
                for k, r0 in shaped.items():
                    r = res[k]
                    if r is not const[k] and tuple(r.tolist()) != r0:
                        raise QiflowError(f"{label}: output {k} (a shape) changed from {r0} to "
                                          f"{tuple(r.tolist())} at step {t}")
                _add_sums(label, sums, res, first_sum, t)
                continue
            fn, trust = sp.step_for(args)
            res = fn(*args)
            for i, (b, lag, row) in enumerate(fed):
                r = res[i]
                if (r.shape if r.__class__ is nd else np.shape(r)) != row:
                    raise QiflowError(f"{label}: output {i} is fed back with shape {row} "
                                      f"(its initial value) but step {t} made shape {np.shape(r)}")
                b[lag + t] = r
            for j, k in enumerate(traj):
                r = res[k]
                if r.__class__ is not nd:
                    r = np.asarray(r)
                if rows[j] is None:
                    plain[j] = sp.buffer((n,) + r.shape, outs_t[k].type.dtype)
                    rows[j] = r.shape
                    wr[j] = plain[j][::-1] if k in sp.reversed else plain[j]
                elif r.shape != rows[j]:
                    raise QiflowError(f"{label}: output {k} changed shape from "
                                      f"{rows[j]} to {r.shape} at step {t}")
                wr[j][t] = r
            for k, row in shaped.items():
                r = tuple(res[k].tolist())
                if row is None:
                    shaped[k] = r
                elif r != row:
                    raise QiflowError(f"{label}: output {k} (a shape) changed from {row} to {r} "
                                      f"at step {t}")
            _add_sums(label, sums, res, first_sum, t)
            # the first call checked the arguments: the later ones have the same dtypes and
            # shapes (rows of the same arrays; the states' shapes are checked), and the results
            # are copied into the buffers, so they may be views of the arguments
            call = fn.trusted if trust else fn
            # (k, source, j, j0, k's array of the first step, kept should k stop sharing)
            same = [e + (plain[e[2]],) for e in sp.same_outputs(fn, traj, len(cols))] if trust else []
            done = {e[0] for e in same}
            for k, src, j, j0, _ in same:
                if j0 is not None:
                    plain[j] = plain[j0]        # one trajectory for both (row 0 holds the same values)
            fast = [(i, b, lag, row) for i, (b, lag, row) in enumerate(fed)] + [
                (k, wr[j], 0, rows[j]) for j, k in enumerate(traj) if k not in done]
            const = {k: res[k] for k in shaped}
        for k, src, j, j0, _ in (same if fast is not None else ()):
            if j0 is None and n > 1:            # an argument passed through: its rows, at once
                plain[j][1:] = cols[src][1:n]
        for j, k in enumerate(traj):
            if plain[j] is None:       # no step ran: the shape must be known statically
                v = outs_t[k]
                if None in v.type.shape:
                    raise QiflowError(f"{label}: 0 steps, and output {k} has no static shape "
                                      f"({v.type}) to make an empty result of")
                plain[j] = np.empty((0,) + v.type.shape, dtype=v.type.dtype)
        res = np.empty((), dtype=object)
        extras = iter(plain[sp.n_plain:])
        zero = {}
        for k, row in shaped.items():
            v = outs_t[k].owner.inputs[0]       # Shape(v): a stand-in with v's shape and dtype
            if row is None:
                row = tuple(d or 0 for d in v.type.shape)
            zero[k] = np.broadcast_to(np.zeros((), v.type.dtype), (n,) + row)
        res[()] = tuple(bufs) + tuple(plain[:sp.n_plain]) + tuple(sums) + tuple(
            zero[k] if k in zero else next(extras) for k in range(first_extra, len(outs_t)))
        return res

    def _odd(self, label, k, r, row, t):
        """A step's result that is not an array of the first step's shape: as an array, or
        the error that says which output changed."""
        r = np.asarray(r)
        if r.shape != row:
            if k < len(self.spec.states):
                raise QiflowError(f"{label}: output {k} is fed back with shape {row} (its initial "
                                  f"value) but step {t} made shape {r.shape}")
            raise QiflowError(f"{label}: output {k} changed shape from {row} to {r.shape} at step {t}")
        return r

    def _own(self, bad, same, fast, res, plain, rows, cols, t, label):
        """Trajectories of ``same`` whose step value stopped being the value they share
        (at step t) get arrays of their own, filled with the steps so far; returns what
        is left of ``same``."""
        for k, src, j, j0, own in bad:
            # its array of the first step (which wrote row 0), then the steps that shared
            own[1:t] = (cols[src] if j0 is None else plain[j0])[1:t]
            r = res[k]
            if r.__class__ is not np.ndarray or r.shape != rows[j]:
                r = self._odd(label, k, r, rows[j], t)
            own[t] = r
            plain[j] = own
            fast.append((k, own, 0, rows[j]))
        return [e for e in same if all(e is not b for b in bad)]

    def vjp(self, ctx, inputs, output, g):
        # set by the builder (scan_build.py), which imports the gradient (scan_grad.py)
        return self.spec.vjp(self, ctx, inputs, output, g)


def scan_node(spec, n_steps, seqs, inits, sums, nonseqs):
    """Build the node; returns (state buffers, other outputs, sums) as variables."""
    pack = _pack(Scan(spec), [n_steps] + list(seqs) + list(inits) + list(sums) + list(nonseqs))
    outs = []
    nst, first_sum = len(spec.states), len(spec.states) + spec.n_plain
    for k, v in enumerate(spec.inner_outputs):
        shape = v.type.shape if first_sum <= k < first_sum + spec.n_sums else (None,) + v.type.shape
        outs.append(apply(ScanOutput(k, TensorType(v.type.dtype, shape)), pack))
    return outs[:nst], outs[nst:first_sum], outs[first_sum:first_sum + spec.n_sums]


def _add_sums(label, sums, res, first, t):
    """Add step ``t``'s summed outputs (``res[first:]``) into their accumulators."""
    for j, acc in enumerate(sums):
        r = res[first + j]
        if np.shape(r) != acc.shape:
            raise QiflowError(f"{label}: summed output {j} has shape {acc.shape} but step "
                              f"{t} made shape {np.shape(r)}")
        np.add(acc, r, out=acc)
