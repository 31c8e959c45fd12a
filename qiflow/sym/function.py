"""``function``: compile symbolic inputs -> outputs (+ updates, givens) into a callable.

Compiling clones the graph (substituting ``givens``), checks that every input
the outputs need is given, runs the rewrite phases and links the schedule into
one generated Python function (see ``linker.py``).

>>> from qiflow import sym as T
>>> x = T.dscalar('x'); y = T.dscalar('y')
>>> f = T.function([x, y], x + y)
>>> f(2, 3)
array(5.)
"""
import numpy as np

from .._state import QiflowError
from ..ops import elementwise as E
from .fgraph import clone, FunctionGraph
from . import graph as _graph
from .graph import Variable, Constant, as_variable, leaves
from .shared import SharedVariable
from .graph import TensorType
from . import rewrites as _rw
from .linker import link


class Mode:
    """Which rewrite phases run (and which rewrites to leave out).

    ``Mode(rewrites=False)`` compiles the graph as written (for debugging and
    for eager == compiled tests); ``T.function(..., mode='no_rewrites')`` too.
    """

    def __init__(self, rewrites=True, phases=_rw.PHASES, exclude=(), inplace=True):
        self.phases = tuple(phases) if rewrites else ()
        self.exclude = tuple(exclude)
        self.inplace = inplace          # False: every op allocates its result (for measuring)

    def __repr__(self):
        return f"Mode(phases={self.phases}, exclude={self.exclude}, inplace={self.inplace})"


_MODES = {None: Mode(), "FAST_RUN": Mode(), "no_rewrites": Mode(rewrites=False),
          "FAST_COMPILE": Mode(phases=("canonicalize",)), "NUMERIC": Mode(phases=_rw.PHASES[:2])}


def _mode(mode):
    if isinstance(mode, Mode):
        return mode
    try:
        return _MODES[mode]
    except (KeyError, TypeError):
        raise ValueError(f"function: unknown mode {mode!r}; use a Mode or one of "
                         f"{[m for m in _MODES if m]}") from None


def _pairs(what, items):
    if items is None:
        return []
    if isinstance(items, dict):
        return list(items.items())
    out = list(items)
    for p in out:
        if not (isinstance(p, (tuple, list)) and len(p) == 2):
            raise TypeError(f"function: {what} must be a dict or a list of (variable, expression) "
                            f"pairs, got {p!r:.80}")
    return [tuple(p) for p in out]


def _fit(what, key, value):
    """value as a variable of key's dtype and ndim (casting within a kind), or an error."""
    v = as_variable(value, (key.type.dtype,))
    if v.ndim != key.ndim:
        raise QiflowError(f"function: {what} for {key!r} ({key.type}) has ndim {v.ndim} ({v.type}); "
                          "it must have the same number of dimensions")
    if v.dtype != key.dtype:
        ok = np.can_cast(v.dtype, key.dtype, "same_kind") or isinstance(v, Constant)
        if not ok:
            raise QiflowError(f"function: {what} for {key!r} has dtype {v.dtype}, the variable "
                              f"{key.dtype}: cast it explicitly (T.cast) if that is intended")
        v = E.cast(v, key.dtype)
    return v


class In:
    """Theano's ``In``: an input with a default ``value`` (the call may leave it
    out) and a keyword ``name``.

    >>> x, y = T.dscalars('x', 'y')
    >>> f = T.function([x, T.In(y, value=1.0)], x + y); float(f(2.0)), float(f(2.0, y=3.0))
    (3.0, 5.0)
    """

    def __init__(self, variable, name=None, value=None, update=None, mutable=False,
                 borrow=False, implicit=None):
        if not isinstance(variable, Variable):
            raise TypeError(f"In: expected a symbolic variable, got {type(variable).__name__}")
        if update is not None or mutable or implicit:
            raise QiflowError("In: update=, mutable= and implicit= are not supported by qiflow; "
                              "use a shared variable and updates=")
        self.variable, self.name, self.value = variable, name, value


class Out:
    """Theano's ``Out(variable, borrow=False)``: an output; qiflow's outputs are
    already new arrays the caller owns, so ``borrow`` changes nothing."""

    def __init__(self, variable, borrow=False):
        if not isinstance(variable, Variable):
            raise TypeError(f"Out: expected a symbolic variable, got {type(variable).__name__}")
        self.variable, self.borrow = variable, borrow


class _Maker:
    """``f.maker``: what made a compiled function (Theano's FunctionMaker)."""

    def __init__(self, f, inputs):
        self._f, self.inputs = f, inputs

    @property
    def fgraph(self):
        return self._f.fgraph


class _WithDefaults:
    """A compiled function whose ``In`` inputs have defaults or other names."""

    def __init__(self, f, names, defaults):
        self._f, self._names, self._defaults = f, names, defaults

    def __call__(self, *args, **kw):
        args = list(args)
        if len(args) > len(self._names):
            raise TypeError(f"{self._f._label()} takes {len(self._names)} inputs, got {len(args)}")
        for k, v in kw.items():
            if k not in self._names:
                raise TypeError(f"{self._f._label()}: no input named {k!r} (inputs: {self._names})")
            i = self._names.index(k)
            if i < len(args):
                raise TypeError(f"{self._f._label()}: input {k!r} given twice")
        full = []
        for i, nm in enumerate(self._names):
            if i < len(args):
                full.append(args[i])
            elif nm in kw:
                full.append(kw[nm])
            elif i in self._defaults:
                full.append(self._defaults[i])
            else:
                raise TypeError(f"{self._f._label()}: input {i} ({nm}) has no value and no default")
        return self._f(*full)

    def __getattr__(self, name):
        return getattr(self._f, name)


def _default_updates(roots, taken, roots_leaves=None):
    """Theano's ``default_update``: shared variables the graph reads that carry one
    (random streams' states) and that the user does not update themselves.
    ``roots_leaves``: ``leaves(roots)`` when the caller has it."""
    out, seen, todo = [], set(taken), list(roots)
    while todo:
        new = []
        for v in leaves(todo) if roots_leaves is None else roots_leaves:
            du = getattr(v, "default_update", None) if isinstance(v, SharedVariable) else None
            if du is not None and id(v) not in seen:
                seen.add(id(v))
                new.append((v, du))
        out += new
        todo = [du for _, du in new]
        roots_leaves = None
    return out


def function(inputs, outputs=None, updates=None, givens=None, name=None, mode=None,
             on_unused_input="raise", specialize_shared=True, allow_input_downcast=None,
             no_default_updates=False, accept_inplace=False, rebuild_strict=True, profile=None):
    """Compile a callable computing ``outputs`` from ``inputs``.

    * outputs: a variable (the call returns one array), a list (returns a list)
      or None / [] (returns []);
    * updates: ``[(shared, expression), ...]`` or a dict; every expression reads
      the old values, and all are stored after the outputs are computed;
    * givens: ``{variable: expression}`` replacing variables in the graph;
    * mode: None (all rewrites), ``'no_rewrites'``, ``'FAST_COMPILE'`` or a ``Mode``;
    * on_unused_input: 'raise', 'warn' or 'ignore' for an input nothing uses;
    * allow_input_downcast: accept values of any dtype, cast to the input's
      (by default a float cannot be passed for an integer input);
    * specialize_shared: compile for the current shapes of the shared variables
      (the rewrites then know them); a call after ``set_value`` changed a shape
      recompiles for the new shapes;
    * no_default_updates: True, or a list of shared variables, whose
      ``default_update`` (random streams' states) is not applied;
    * inputs may be ``In(variable, value=, name=)`` (defaults, keyword names);
      Theano's ``accept_inplace`` is accepted and changes nothing.

    The compiled function has ``report`` (fired rewrites, node counts),
    ``fgraph`` (the optimised graph), ``unoptimized`` (the graph before the
    rewrites: outputs then update values, after givens were substituted) and
    ``source`` (the generated code), ``maker.fgraph`` (Theano's name for ``fgraph``);
    ``qf.viz.draw(f)`` shows both graphs.

    >>> x = T.dvector('x'); f = T.function([x], (x * 1.0).sum())
    >>> f.unoptimized[0].owner.inputs[0].owner.op, f.fgraph.outputs[0].owner.op
    (Multiply, Sum(axis=None, keepdims=False))
    """
    if profile:
        raise QiflowError("function: profile= is not supported; time a compiled function with "
                          "`with qf.profile() as p:` instead")
    if not rebuild_strict:
        raise QiflowError("function: rebuild_strict=False (givens that change a variable's type) "
                          "is not supported by qiflow")
    if isinstance(inputs, (Variable, In)):
        inputs = [inputs]
    inputs = list(inputs)
    if any(isinstance(v, In) for v in inputs):
        ins = [v if isinstance(v, In) else In(v) for v in inputs]
        f = function([i.variable for i in ins], outputs, updates, givens, name, mode,
                     on_unused_input, specialize_shared, allow_input_downcast, no_default_updates)
        names = [i.name or i.variable.name for i in ins]
        defaults = {k: i.value for k, i in enumerate(ins) if i.value is not None}
        return _WithDefaults(f, names, defaults)
    seen = set()
    for k, v in enumerate(inputs):
        if not isinstance(v, Variable):
            raise TypeError(f"function: input {k} is a {type(v).__name__}, not a symbolic variable")
        if isinstance(v, SharedVariable):
            raise QiflowError(f"function: input {k} ({v!r}) is a shared variable; shared variables "
                              "are used implicitly (use givens to replace one)")
        if isinstance(v, Constant):
            raise QiflowError(f"function: input {k} ({v!r}) is a constant")
        if id(v) in seen:
            raise QiflowError(f"function: input {v!r} is given twice")
        seen.add(id(v))
    single = outputs is not None and not isinstance(outputs, (list, tuple))
    outs = [] if outputs is None else ([outputs] if single else list(outputs))
    outs = [as_variable(o.variable if isinstance(o, Out) else o) for o in outs]
    ups = []
    targets = set()
    for k, v in _pairs("updates", updates):
        if not isinstance(k, SharedVariable):
            raise QiflowError(f"function: updates must target shared variables, got {k!r}")
        if id(k) in targets:
            raise QiflowError(f"function: shared variable {k!r} is updated twice")
        targets.add(id(k))
        ups.append((k, _fit("the update", k, v)))
    # the leaves of the outputs and updates, walked once for the default updates and
    # the shared variables' shapes (then only what the default updates add)
    n_ups = len(ups)
    roots_leaves = leaves(outs + [v for _, v in ups])
    if no_default_updates is not True:
        skip = {id(v) for v in (no_default_updates or ())}
        for k, v in _default_updates(outs + [v for _, v in ups], targets | skip, roots_leaves):
            targets.add(id(k))
            ups.append((k, _fit("the default update", k, v)))
    subst = {}
    for k, v in _pairs("givens", givens):
        if not isinstance(k, Variable):
            raise TypeError(f"function: givens keys must be symbolic variables, got {k!r:.60}")
        subst[k] = _fit("the replacement given", k, v)
    roots = outs + [v for _, v in ups]
    with _graph.gc_paused():
        return _compile(inputs, outputs, updates, givens, name, mode, on_unused_input,
                        specialize_shared, allow_input_downcast, outs, ups, subst, roots, single,
                        roots_leaves + leaves([v for _, v in ups[n_ups:]] + list(subst.values()) +
                                              [k for k, _ in ups]))


def _compile(inputs, outputs, updates, givens, name, mode, on_unused_input, specialize_shared,
             allow_input_downcast, outs, ups, subst, roots, single, all_leaves):
    spec = {}
    if specialize_shared:
        for v in all_leaves:       # (a leaf may be listed twice)
            if isinstance(v, SharedVariable) and v not in subst and v not in spec and \
                    None in v.type.shape:
                st = TensorType(v.dtype, np.shape(v.container.value))
                spec[v] = SharedVariable(st, v.container, v.name)
    ups = [(spec.get(k, k), v) for k, v in ups]
    new_roots, memo = clone(roots, replace={**spec, **subst}, fresh_leaves=inputs)
    new_inputs = [memo[id(v)] for v in inputs]
    in_ids = {id(v): k for k, v in enumerate(new_inputs)}
    new_leaves = leaves(new_roots)
    for leaf in new_leaves:
        if not isinstance(leaf, (Constant, SharedVariable)) and id(leaf) not in in_ids:
            raise QiflowError(f"function{' ' + name if name else ''}: the outputs depend on "
                              f"{leaf!r} ({leaf.type}), which is not among the inputs (and not "
                              "replaced by givens)")
    _check_unused(new_inputs, new_leaves, inputs, on_unused_input or "raise")
    fg = FunctionGraph(new_roots)
    m = _mode(mode)
    report = _rw.rewrite(fg, phases=m.phases, exclude=m.exclude)

    def remake():
        return function(inputs, outputs, updates, givens, name, mode, on_unused_input,
                        specialize_shared, allow_input_downcast)
    f = link(fg, new_inputs, len(outs), [k for k, _ in ups], single, name, report,
             {id(v) for v in spec.values()}, remake, bool(allow_input_downcast), m.inplace)
    # the rewrites edited the graph they got: ``f.unoptimized`` copies the graph as
    # written again from the caller's (untouched) graph, with the same leaves, on first use
    f._unoptimized_from = (roots, {**spec, **subst, **{v: memo[id(v)] for v in inputs}})
    f.maker = _Maker(f, inputs)
    return f


def _check_unused(new_inputs, used_leaves, orig, policy):
    if policy not in ("raise", "warn", "ignore"):
        raise ValueError(f"function: on_unused_input must be 'raise', 'warn' or 'ignore', got {policy!r}")
    if policy == "ignore":
        return
    used = {id(v) for v in used_leaves}
    for k, v in enumerate(new_inputs):
        if id(v) not in used:
            msg = (f"function: input {k} ({orig[k]!r}) is not used to compute the outputs; pass "
                   "on_unused_input='ignore' (or 'warn') if this is intended")
            if policy == "raise":
                raise QiflowError(msg)
            import warnings
            warnings.warn(msg, stacklevel=3)


_graph.compiler = function       # Variable.eval() compiles with it
