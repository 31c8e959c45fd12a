"""``FunctionGraph``: a private copy of a graph that the rewrites may edit.

It keeps the clients (users) of every variable, so a rewrite can ask "is this
value used once?" and ``replace`` can rewire every user of a variable at
once; nodes left without users are dropped.

``clone`` copies the part of a user graph between the outputs and the leaves,
substituting ``givens`` (recursively: a replacement may itself contain
replaced variables; a cycle is an error).
"""
from collections import Counter

from .._state import QiflowError
from .graph import Apply, Variable, toposort


def clone(outputs, replace=None, fresh_leaves=(), keep=()):
    """Copy the graph of ``outputs``; returns (new outputs, memo id -> new variable).

    ``replace``: {variable: replacement}; ``fresh_leaves``: variables that become
    new ownerless variables of the same type (cuts the graph there); ``keep``:
    variables kept as they are (not copied, not looked through).
    """
    memo = {}
    for v in keep:
        memo[id(v)] = v
    for v in fresh_leaves:
        memo[id(v)] = Variable(v.type, name=v.name)
    if not replace:
        return _copy(outputs, memo)
    subst = {id(k): (k, r) for k, r in (replace or {}).items()}
    state = {}            # id -> 1 in progress, 2 done
    keep = []             # keep replaced objects alive while ids are in use
    for root in outputs:
        stack = [root]
        while stack:
            v = stack[-1]
            k = id(v)
            if k in memo:
                stack.pop()
                continue
            st = state.get(k)
            if k in subst and k not in memo:
                key, r = subst[k]
                if st is None:
                    state[k] = 1
                    stack.append(r)
                    keep.append(r)
                    continue
                if st == 1 and id(r) in memo:
                    memo[k] = memo[id(r)]
                    state[k] = 2
                    stack.pop()
                    continue
                raise QiflowError(f"givens: replacing {key!r} creates a cycle (its replacement "
                                  f"{r!r} depends on {key!r} again)")
            if v.owner is None:
                memo[k] = v
                stack.pop()
                continue
            ins = v.owner.inputs
            if st is None:
                state[k] = 1
                for i in reversed(ins):
                    if id(i) not in memo:
                        stack.append(i)
                continue
            if st == 1:
                missing = [i for i in ins if id(i) not in memo]
                if missing:
                    # an input is still in progress: we came back to it through a given
                    raise QiflowError(f"givens: substitution creates a cycle through {v!r}")
                node = v.owner
                out = Variable(v.type, name=v.name)
                Apply(node.op, [memo[id(i)] for i in ins], out, node.tag)
                out.requires_grad = v.requires_grad
                memo[k] = out
                state[k] = 2
                stack.pop()
    return [memo[id(o)] for o in outputs], memo


def _copy(outputs, memo):
    """``clone`` without replacements: one topological sweep (memo's entries cut the
    graph), each node copied once its inputs are."""
    get = memo.get
    for node in toposort(outputs, set(memo)):
        ins = []
        for i in node.inputs:
            n = get(id(i))
            if n is None:              # a leaf: kept as it is
                n = memo[id(i)] = i
            ins.append(n)
        v = node.outputs[0]
        out = Variable(v.type, name=v.name)
        Apply(node.op, ins, out, node.tag)
        out.requires_grad = v.requires_grad
        memo[id(v)] = out
    return [memo.setdefault(id(o), o) for o in outputs], memo


class FunctionGraph:
    """outputs: a list of variables (function outputs then update values);
    ``stop``: ids of variables treated as leaves (never looked through).

    The clients of a variable are a dict keyed by (id(node), input position)
    (node None for an output slot), so that adding or removing one is O(1) and
    ``replace`` costs the number of users it rewires plus the nodes it
    disconnects, never a walk of the whole graph.
    """

    def __init__(self, outputs, stop=()):
        self.outputs = list(outputs)
        self.clients = {}          # id(var) -> {(id(node) | None, position): (node, position)}
        self._keep = {}
        self._n_out = {}           # id(var) -> how many output slots hold it
        self.stop = set(stop)
        self._imported = set()
        #: the classes of every op ever imported (a superset of those in the graph now):
        #: a pass for one op kind returns at once when its kind never came in
        self.op_types = set()
        self._order = None         # a cached toposort, dropped by every change
        #: when a list, every change appends the nodes a rewrite should look at
        #: again: nodes new to the graph, users given a new input, and the one user
        #: left of a variable that lost its other users (see ``rewrites.registry``)
        self.dirty = None
        #: bumped by every change: a pass that found nothing to do at version v has
        #: nothing to do while the version is still v (see ``rewrites.registry``)
        self.version = 0
        #: when a list, every change appends the nodes whose (op, inputs) may now
        #: equal another node's: nodes new to the graph and users given a new input
        #: (the incremental ``merge`` reads it)
        self.changed = None
        self.merge_state = None
        #: what the passes did, by kind (nodes visited ...), collected into the report
        self.work = Counter()
        for i, o in enumerate(self.outputs):
            self._import(o)
            self._client(o)[(None, i)] = (None, i)
            self._n_out[id(o)] = self._n_out.get(id(o), 0) + 1

    def _client(self, v):
        c = self.clients.get(id(v))
        if c is None:
            c = self.clients[id(v)] = {}
            self._keep[id(v)] = v
        return c

    def _import(self, var):
        """Register the clients of every node above ``var`` not seen yet."""
        if id(var) in self._imported:
            return
        stack = [var]
        self._imported.add(id(var))
        while stack:
            v = stack.pop()
            self._client(v)
            if v.owner is not None and id(v) not in self.stop:
                node = v.owner
                self.op_types.add(node.op.__class__)
                if self.dirty is not None:
                    self.dirty.append(node)
                if self.changed is not None:
                    self.changed.append(node)
                for j, i in enumerate(node.inputs):
                    self._client(i)[(id(node), j)] = (node, j)
                    if id(i) not in self._imported:
                        self._imported.add(id(i))
                        stack.append(i)

    def owner(self, v):
        """v's Apply node, or None for leaves (and stop variables)."""
        return None if id(v) in self.stop else v.owner

    def n_clients(self, v):
        return len(self.clients.get(id(v), ()))

    def client_nodes(self, v):
        c = self.clients.get(id(v))
        return [n for n, _ in c.values() if n is not None] if c else []

    def used_only_by(self, v, node_ids):
        """Every user of v is a node whose id is in ``node_ids`` (stops at the first other)."""
        c = self.clients.get(id(v))
        return not c or all(n is not None and id(n) in node_ids for n, _ in c.values())

    def is_output(self, v):
        return self._n_out.get(id(v), 0) > 0

    def alive(self, node):
        return bool(self.clients.get(id(node.outputs[0])))

    def replace(self, old, new):
        """Make every user of ``old`` use ``new`` instead."""
        if old is new:
            return
        if new.type.dtype != old.type.dtype or new.ndim != old.ndim:
            raise QiflowError(f"internal rewrite error: replacing {old!r} ({old.type}) by "
                              f"{new!r} ({new.type})")
        self._order = None
        self.version += 1
        self._import(new)
        users = self.clients.get(id(old)) or {}
        dest = self._client(new)
        dirty, changed = self.dirty, self.changed
        for key, (node, i) in users.items():
            if node is None:
                self.outputs[i] = new
            else:
                node.inputs[i] = new
                if dirty is not None:
                    dirty.append(node)
                if changed is not None:
                    changed.append(node)
            dest[key] = (node, i)
        n_out = self._n_out.pop(id(old), 0)
        if n_out:
            self._n_out[id(new)] = self._n_out.get(id(new), 0) + n_out
        self.clients[id(old)] = {}
        self._prune(old)

    def _prune(self, var):
        """Drop the nodes above ``var`` that no longer have users (only those)."""
        stack = [var]
        while stack:
            v = stack.pop()
            if self.clients.get(id(v)) or v.owner is None or id(v) in self.stop:
                continue
            node = v.owner
            for j, i in enumerate(node.inputs):
                c = self.clients.get(id(i))
                if c is not None:
                    c.pop((id(node), j), None)
                    if not c:
                        stack.append(i)
                    elif len(c) == 1 and self.dirty is not None:
                        (n, _), = c.values()      # now used once: e.g. dot_add may fire
                        if n is not None:
                            self.dirty.append(n)
            del self.clients[id(v)]
            self._keep.pop(id(v), None)
            self._imported.discard(id(v))

    def toposort(self):
        """The nodes the outputs need, inputs first (cached until the next change)."""
        if self._order is None:
            self._order = toposort(self.outputs, self.stop)
        return list(self._order)

    def n_nodes(self):
        if self._order is None:
            self._order = toposort(self.outputs, self.stop)
        return len(self._order)
