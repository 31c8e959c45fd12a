"""The rewrite registry and the driver that applies it (the rules themselves are
in ``canonicalize.py``, ``stabilize.py``, ``specialize.py`` and ``fusion.py``;
importing ``qiflow.sym.rewrites`` loads them).

A rewrite is a small function ``fn(fg, node) -> variable or None`` registered
for a phase and the op classes it looks at; returning a variable replaces the
node's output by it.  Phases run in order:

* ``canonicalize``: merge duplicates, fold constants, simplify algebra
  (x*1, x+0, x-x, x*y/y, --x, exp(log x), x**2 -> x*x, 1/(1+exp(-z)) -> sigmoid);
* ``stabilize``: numerically safe forms (softplus, log_softmax, logsumexp);
* ``specialize``: faster forms (dot + add in one call, fused elementwise kernels).

The canonicalize rules stay active in the later phases, so clean-ups
(``--x`` left by a stabilisation) still happen.  ``rewrite`` returns a
:class:`Report` of what fired and the node counts.

>>> from qiflow import sym as T
>>> x = T.dvector('x')
>>> f = T.function([x], T.log(1 + T.exp(x)))
>>> 'log1p_exp_to_softplus' in f.report.fired
True
"""
from collections import Counter, deque

from ... import _state
from ...ops.elementwise import Log, Log1p, Divide, cast
from .. import graph as _graph
from ..fgraph import clone, FunctionGraph

PHASES = ("canonicalize", "stabilize", "specialize")

_LOCAL = {p: [] for p in PHASES}       # phase -> [Rewrite]
_GLOBAL = {p: [] for p in PHASES}      # phase -> [Rewrite] run once per pass over the graph


class Rewrite:
    __slots__ = ("name", "phase", "tracks", "fn", "doc", "late")

    def __init__(self, name, phase, tracks, fn, late=False):
        self.name, self.phase, self.tracks, self.fn, self.late = name, phase, tracks, fn, late
        self.doc = (fn.__doc__ or "").strip().split("\n")[0]

    def __repr__(self):
        return f"<rewrite {self.name} ({self.phase})>"


def register(phase, *tracks, name=None):
    """Decorator: register ``fn(fg, node)`` for ``phase``, called on nodes whose
    op is an instance of one of ``tracks`` (all nodes when none given)."""
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}; phases are {PHASES}")

    def deco(fn):
        _LOCAL[phase].append(Rewrite(name or fn.__name__, phase, tuple(tracks) or None, fn))
        return fn
    return deco


def register_global(phase, name=None, late=False):
    """Decorator: register ``fn(fg) -> number of changes`` as a whole-graph pass,
    run before the local rewrites of each pass (after them when ``late``)."""
    def deco(fn):
        _GLOBAL[phase].append(Rewrite(name or fn.__name__, phase, None, fn, late))
        return fn
    return deco


def all_rewrites():
    """Every registered rewrite, phase by phase."""
    return [r for p in PHASES for r in _GLOBAL[p] + _LOCAL[p]]


class Report:
    """Which rewrites fired (name -> count) and node counts before/after."""

    def __init__(self):
        self.fired = Counter()
        self.nodes_before = None
        self.nodes_after = None
        self.phases = {}
        #: how much the passes did (``local_visits``: nodes the local rewrites looked
        #: at, ``rule_calls``: local rewrites called, ``merge_visits``: nodes the merge
        #: pass hashed), for tests of compile scaling
        self.work = Counter()

    def __repr__(self):
        fired = ", ".join(f"{k} x{v}" for k, v in sorted(self.fired.items())) or "nothing"
        return (f"<rewrite report: {self.nodes_before} -> {self.nodes_after} nodes; fired: {fired}>")

    def summary(self):
        lines = [f"nodes: {self.nodes_before} -> {self.nodes_after}"]
        for p, n in self.phases.items():
            lines.append(f"  after {p}: {n}")
        for k, v in sorted(self.fired.items()):
            lines.append(f"  {k}: {v}")
        return "\n".join(lines)


def _index(rewrites, exclude):
    by_type = {}
    generic = []
    for r in rewrites:
        if r.name in exclude:
            continue
        if r.tracks is None:
            generic.append(r)
        else:
            for t in r.tracks:
                by_type.setdefault(t, []).append(r)
    return by_type, generic


def _for(op, by_type, generic, cache):
    t = type(op)
    got = cache.get(t)
    if got is None:
        got = [r for k, rs in by_type.items() if issubclass(t, k) for r in rs] + generic
        cache[t] = got
    return got


def rewrite(fg, phases=PHASES, exclude=(), report=None, max_passes=50):
    """Apply the phases to the FunctionGraph ``fg`` in place; returns the report.

    Each phase runs its whole-graph passes, then its local rewrites from a
    worklist: every node once, in topological order, then only the nodes a
    change touched (new nodes, users of a replaced variable, the last user of a
    variable that lost the others), until nothing fires; then the whole-graph
    passes again and the worklist on what they changed, as long as the local
    rewrites fire (the incremental merge only looks at what changed); then the
    late passes.
    This repeats until a round that swept every node changed nothing.

    Rewrites that such a round found nothing for are not run again while the
    graph is unchanged (``fg.version``): the next phase starts with its own new
    rewrites only and uses all of them from its first change on, which is what
    running all of them would do (a rewrite is a function of the graph).
    """
    report = report or Report()
    if report.nodes_before is None:
        report.nodes_before = fg.n_nodes()
    prev_tag = _graph.tag_override
    prev_grad = _state.grad_enabled
    _state.grad_enabled = True
    fg.dirty = []
    clean_version, clean = None, frozenset()
    try:
        for phase in phases:
            active = [r for r in _LOCAL["canonicalize"] + ([] if phase == "canonicalize" else _LOCAL[phase])
                      if r.name not in exclude]
            by_type, generic = _index(active, ())
            globals_ = [g for p in dict.fromkeys(("canonicalize", phase))
                        for g in _GLOBAL[p] if g.name not in exclude]
            early = [g for g in globals_ if not g.late]
            late = [g for g in globals_ if g.late]
            sweep = _Sweep(by_type, generic, clean if fg.version == clean_version else (),
                           clean_version)
            seed, full = fg.toposort(), True
            budget = max_passes * (len(seed) + 100)     # bounds a pair of rules undoing each other
            for _ in range(max_passes):
                v0 = fg.version
                changed = _run_globals(fg, early, report, sweep)
                seed += fg.dirty
                fg.dirty = []
                n, budget = _local_fixpoint(fg, seed, sweep, report, budget, prev_tag)
                changed += n
                # the early passes again on what the local rewrites changed (merge the
                # duplicates they made), so that the next whole sweep can be the last
                while n and budget > 0:
                    n = _run_globals(fg, early, report, sweep)
                    if n:
                        changed += n
                        seed, fg.dirty = fg.dirty, []
                        n, budget = _local_fixpoint(fg, seed, sweep, report, budget, prev_tag)
                        changed += n
                changed += _run_globals(fg, late, report, sweep)
                seed, fg.dirty = fg.dirty, []
                if full and not changed and fg.version == v0:
                    # every rewrite of the phase found nothing on the whole graph
                    clean_version = fg.version
                    clean = frozenset(r.name for r in active + globals_)
                    break
                if (not changed and full) or budget <= 0:
                    break
                # a rule may match through nodes deeper than its node's inputs, which the
                # worklist does not follow: the phase ends only after a whole sweep in
                # which nothing fired (as a pass-until-no-change driver would)
                full = not seed
                if full:
                    seed = fg.toposort()
            report.phases[phase] = fg.n_nodes()
    finally:
        fg.dirty = None
        fg.changed = None
        fg.merge_state = None
        report.work.update(fg.work)
        fg.work.clear()
        _graph.tag_override = prev_tag
        _state.grad_enabled = prev_grad
    report.nodes_after = fg.n_nodes()
    return report


class _Sweep:
    """The local rewrites of a phase by op type; ``skip``: names of rewrites known
    to find nothing while ``fg.version == clean_version``."""
    __slots__ = ("by_type", "generic", "cache", "skip", "clean_version", "quick")

    def __init__(self, by_type, generic, skip, clean_version):
        self.by_type, self.generic, self.cache = by_type, generic, {}
        self.skip, self.clean_version, self.quick = frozenset(skip), clean_version, {}

    def rules(self, fg, op):
        """The rewrites to try on a node of ``op``, in registration order."""
        t = type(op)
        if self.skip and fg.version == self.clean_version:
            got = self.quick.get(t)
            if got is None:
                got = self.quick[t] = [r for r in self.full(t) if r.name not in self.skip]
            return got
        return self.full(t)

    def full(self, t):
        got = self.cache.get(t)
        if got is None:
            got = self.cache[t] = [r for k, rs in self.by_type.items() if issubclass(t, k)
                                   for r in rs] + self.generic
        return got


def _local_fixpoint(fg, seed, sweep, report, budget, prev_tag):
    """Run the local rewrites on ``seed`` and on every node a change makes dirty."""
    queue = deque()
    queued = set()
    for n in seed:
        if id(n) not in queued:
            queued.add(id(n))
            queue.append(n)
    fired = visits = calls = 0
    popleft, append, discard, add = queue.popleft, queue.append, queued.discard, queued.add
    clients = fg.clients
    rules = sweep.rules
    while queue and budget > 0:
        node = popleft()
        discard(id(node))
        budget -= 1
        if not clients.get(id(node.outputs[0])):      # fg.alive(node)
            continue
        visits += 1
        rs = rules(fg, node.op)
        if not rs:
            continue
        out = node.outputs[0]
        _graph.tag_override = node.tag
        for r in rs:
            calls += 1
            new = r.fn(fg, node)
            if new is not None and new is not out:
                _graph.tag_override = prev_tag
                fg.replace(out, _match_type(new, out))
                report.fired[r.name] += 1
                fired += 1
                for n in fg.dirty:
                    if id(n) not in queued:
                        add(id(n))
                        append(n)
                fg.dirty = []
                break
        _graph.tag_override = prev_tag
    fg.work["local_visits"] += visits
    fg.work["rule_calls"] += calls
    return fired, budget


def _run_globals(fg, passes, report, sweep):
    changed = 0
    for g in passes:
        if g.name in sweep.skip and fg.version == sweep.clean_version:
            continue                   # found nothing on this very graph
        n = g.fn(fg)
        if n:
            report.fired[g.name] += n
            changed += n
    return changed


def _match_type(new, old):
    """Rewrites must keep dtype and ndim; a rewrite that changed the dtype gets a cast."""
    if new.type.dtype != old.type.dtype:
        new = cast(new, old.type.dtype)
    return new


def stabilize_for_grad(cost, keep):
    """A copy of ``cost``'s graph with the stabilising rewrites applied (used by
    ``grad`` before differentiating).  Variables in ``keep`` (what we
    differentiate with respect to, consider_constant) stay the same objects and
    are never looked through.  Returns ``cost`` itself when nothing applies."""
    stop = {id(v) for v in keep}
    anc = _graph.ancestors([cost], stop=stop)
    if not any(v.owner is not None and id(v) not in stop and isinstance(v.owner.op, (Log, Log1p, Divide))
               for v in anc):
        return cost
    (c,), _ = clone([cost], keep=keep)
    fg = FunctionGraph([c], stop=stop)
    rws = [r for p in ("canonicalize", "stabilize") for r in _LOCAL[p] if r.name in _PREGRAD]
    by_type, generic = _index(rws, ())
    cache, changed = {}, False
    prev_grad = _state.grad_enabled
    _state.grad_enabled = True
    try:
        for _ in range(20):
            fired = False
            for node in fg.toposort():
                if not fg.alive(node):
                    continue
                for r in _for(node.op, by_type, generic, cache):
                    new = r.fn(fg, node)
                    if new is not None and new is not node.outputs[0]:
                        fg.replace(node.outputs[0], _match_type(new, node.outputs[0]))
                        fired = changed = True
                        break
            if not fired:
                break
    finally:
        _state.grad_enabled = prev_grad
    return fg.outputs[0] if changed else cost


#: the rewrites applied to a cost before it is differentiated
_PREGRAD = {"log1p_exp_to_softplus", "log_sigmoid", "log_one_minus_sigmoid", "log_softmax",
            "log_sum_exp", "log_through_movement", "one_minus_sigmoid", "sigmoid_from_exp",
            "softmax_composite", "neg_neg", "neg_of_sub_neg"}
