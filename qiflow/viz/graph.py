"""A front-end-neutral picture of a graph: nodes, edges and nested clusters.

Eager tensors, symbolic variables and compiled functions are all turned into a
``VGraph`` first; the DOT writer and the readability passes (collapsing
repeats, folding repeated modules) only ever see this form.

>>> g = VGraph()
>>> a = g.add("param", "a"); b = g.add("op", "Negative"); g.edge(a, b)
>>> len(g.nodes), len(g.edges)
(2, 1)
"""
from collections import Counter, defaultdict

#: kinds of node, each drawn in its own style (see dot.py)
KINDS = ("op", "param", "input", "const", "grad", "gradop", "collapsed", "module")


class VNode:
    """One box or ellipse: ``title`` (op or role), optional ``name``, type and values."""

    __slots__ = ("id", "kind", "title", "name", "shape", "dtype", "value", "grad",
                 "cluster", "count", "notes", "root", "level")

    def __init__(self, id, kind, title, name=None, shape=None, dtype=None, value=None,
                 grad=None, cluster=(), notes=()):
        self.id = id
        self.kind = kind
        self.title = title
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.value = value          # already-formatted text, or None
        self.grad = grad            # already-formatted text, or None
        self.cluster = tuple(cluster)
        self.count = 1
        self.notes = list(notes)
        self.root = False
        self.level = 0

    def type_text(self):
        if self.shape is None:
            return None
        if len(self.shape) == 0:
            return f"scalar {self.dtype}" if self.dtype is not None else "scalar"
        shape = "(" + ", ".join("?" if d is None else str(d) for d in self.shape) + \
                ("," if len(self.shape) == 1 else "") + ")"
        return f"{shape} {self.dtype}" if self.dtype is not None else shape

    def lines(self):
        """The label, one string per line."""
        out = [self.title if self.count == 1 else f"{self.title} \u00d7{self.count}"]
        if self.name and self.name != self.title:
            out.append(self.name)
        t = self.type_text()
        if t:
            out.append(t)
        if self.value is not None:
            out.append(self.value)
        if self.grad is not None:
            out.append("grad " + self.grad)
        out.extend(self.notes)
        return out


class VGraph:
    """Nodes (insertion-ordered), edges ``(src, dst, label)`` and cluster titles."""

    def __init__(self, title=None):
        self.title = title
        self.nodes = {}
        self.edges = []
        self.clusters = {}          # path tuple -> title shown on the box
        self.notes = []             # lines shown under the whole picture
        self._next = 0

    def add(self, kind, title, **kw):
        if kind not in KINDS:
            raise ValueError(f"VGraph.add: unknown node kind {kind!r}; expected one of {KINDS}")
        nid = f"n{self._next}"
        self._next += 1
        node = VNode(nid, kind, title, **kw)
        self.nodes[nid] = node
        for i in range(1, len(node.cluster) + 1):
            self.clusters.setdefault(node.cluster[:i], ".".join(node.cluster[:i]))
        return nid

    def edge(self, src, dst, label=None):
        self.edges.append((src, dst, label))

    def cluster(self, path, title):
        self.clusters[tuple(path)] = title

    def merge(self, other, prefix):
        """Copy ``other`` into this graph inside the cluster ``prefix``; returns the id map."""
        prefix = tuple(prefix)
        ids = {}
        for nid, n in other.nodes.items():
            new = self.add(n.kind, n.title, name=n.name, shape=n.shape, dtype=n.dtype,
                           value=n.value, grad=n.grad, cluster=prefix + n.cluster, notes=n.notes)
            m = self.nodes[new]
            m.count, m.root = n.count, n.root
            ids[nid] = new
        for path, title in other.clusters.items():
            self.clusters[prefix + path] = title
        for s, d, lab in other.edges:
            self.edges.append((ids[s], ids[d], lab))
        return ids

    def counts(self):
        return len(self.nodes), len(self.edges)

    # ------------------------------------------------------------ structure
    def inputs_of(self):
        ins = defaultdict(list)
        for s, d, _ in self.edges:
            ins[d].append(s)
        return ins

    def levels(self):
        """Longest-path depth of every node from the sources (edges raise the level)."""
        outs = defaultdict(list)
        indeg = {nid: 0 for nid in self.nodes}
        for s, d, _ in self.edges:
            outs[s].append(d)
            indeg[d] += 1
        ready = [nid for nid, k in indeg.items() if k == 0]
        level = {nid: 0 for nid in self.nodes}
        while ready:
            nid = ready.pop()
            for d in outs[nid]:
                level[d] = max(level[d], level[nid] + 1)
                indeg[d] -= 1
                if indeg[d] == 0:
                    ready.append(d)
        return level


# ------------------------------------------------------------------ readability
_ROLE = {"param": "leaf", "input": "tensor", "const": "const", "grad": "gradient"}


def role(n):
    """What a node does, without its name or value (leaves and gradients are titled by name)."""
    return _ROLE.get(n.kind, n.title)


def collapse_repeats(g, min_repeat=3):
    """Merge nodes that play the same part at the same depth into one ``×N`` node.

    Two nodes are "the same" when they share cluster, kind, title, shape,
    dtype, depth and the multiset of their inputs' descriptions.  Merging only
    nodes of equal depth keeps the picture acyclic.  Returns a new VGraph.
    """
    level = g.levels()
    ins = g.inputs_of()
    base = {nid: (n.cluster, n.kind, role(n), n.shape, n.dtype, level[nid], n.root)
            for nid, n in g.nodes.items()}
    outs = defaultdict(list)
    for s, d, _ in g.edges:
        outs[s].append(d)
    # sources are told apart by who consumes them (W of layer 1 vs W of layer 2)
    key = {nid: base[nid] + (tuple(sorted(map(repr, (base[s][1:6] for s in ins[nid])))) if ins[nid]
                             else ("src",) + tuple(sorted(map(repr, (base[d][1:6] for d in outs[nid])))),)
           for nid in g.nodes}
    groups = defaultdict(list)
    for nid in g.nodes:
        groups[key[nid]].append(nid)
    rep = {}
    for members in groups.values():
        head = members[0] if len(members) >= min_repeat else None
        for m in members:
            rep[m] = head or m
    if all(rep[m] == m for m in g.nodes):
        return g
    out = VGraph(g.title)
    out.clusters = dict(g.clusters)
    out.notes = list(g.notes)
    newid = {}
    size = Counter(rep.values())
    members_of = defaultdict(list)
    for m, r in rep.items():
        members_of[r].append(m)
    for nid, n in g.nodes.items():
        if rep[nid] != nid:
            continue
        k = size[nid]
        names = [nm for nm in (_shown_name(g.nodes[m]) for m in members_of[nid]) if nm]
        name = n.name
        if k > 1:
            name = (f"{names[0]} \u2026 {names[-1]}" if len(names) > 1 else names[0]) if names else None
        new = out.add(n.kind, n.title if k == 1 else role(n), name=name, shape=n.shape, dtype=n.dtype,
                      value=n.value if k == 1 else None, grad=n.grad if k == 1 else None,
                      cluster=n.cluster, notes=n.notes)
        out.nodes[new].count = n.count * k
        out.nodes[new].root = n.root
        newid[nid] = new
    _merge_edges(out, g.edges, lambda x: newid[rep[x]])
    out.notes.append(f"{len(g.nodes)} nodes shown as {len(out.nodes)}: repeated nodes merged (\u00d7N)")
    return out


def _shown_name(n):
    return n.name or (n.title if n.kind in _ROLE and n.title != role(n) else None)


def _merge_edges(out, edges, mapping):
    seen = Counter()
    first = {}
    for s, d, lab in edges:
        a, b = mapping(s), mapping(d)
        if a == b:
            continue
        k = (a, b)
        if k not in first:
            first[k] = lab
        seen[k] += 1
    for (a, b), n in seen.items():
        lab = first[(a, b)]
        if n > 1:
            lab = f"\u00d7{n}"
        out.edge(a, b, lab)


def cluster_signature(g, path):
    """A description of everything inside cluster ``path`` that ignores names and values."""
    inside = {n.id: (n.cluster[len(path):], n.kind, role(n), n.shape, n.dtype)
              for n in g.nodes.values() if n.cluster[:len(path)] == path}
    items = sorted(map(repr, inside.values()))
    internal = sorted(repr((inside[s], inside[d])) for s, d, _ in g.edges
                      if s in inside and d in inside)
    return tuple(items), tuple(internal)


def fold_repeated_modules(g, min_repeat=3):
    """Sibling clusters (``layers.0``, ``layers.1`` ...) with the same contents, in
    runs of ``min_repeat`` or more: keep the first and the last, and draw the
    ones between as a single box.  Returns a new VGraph (or ``g`` unchanged)."""
    by_parent = defaultdict(list)
    for path in g.clusters:
        if path:
            by_parent[path[:-1]].append(path)
    fold = {}                               # cluster path -> (box title, key)
    for parent, kids in by_parent.items():
        kids = [k for k in kids if len(k) == len(parent) + 1]
        sigs = [(k, cluster_signature(g, k)) for k in kids]
        run = []
        for k, s in sigs + [(None, None)]:
            if run and s == run[0][1]:
                run.append((k, s))
                continue
            if len(run) >= min_repeat:
                middle = [p for p, _ in run[1:-1]]
                title = (f"{'.'.join(middle[0])} \u2026 {'.'.join(middle[-1])}" if len(middle) > 1
                         else ".".join(middle[0]))
                for p in middle:
                    fold[p] = (f"{title}: {len(middle)} \u00d7 like {'.'.join(run[0][0])}", middle[0])
            run = [(k, s)] if k is not None else []
    if not fold:
        return g
    out = VGraph(g.title)
    out.notes = list(g.notes)
    for path, title in g.clusters.items():
        if not any(path[:len(f)] == f for f in fold):
            out.clusters[path] = title
    boxes = {}
    mapping = {}
    for nid, n in g.nodes.items():
        hit = next((f for f in fold if n.cluster[:len(f)] == f), None)
        if hit is None:
            new = out.add(n.kind, n.title, name=n.name, shape=n.shape, dtype=n.dtype,
                          value=n.value, grad=n.grad, cluster=n.cluster, notes=n.notes)
            out.nodes[new].count, out.nodes[new].root = n.count, n.root
            mapping[nid] = new
            continue
        title, key = fold[hit]
        if key not in boxes:
            count = sum(1 for m in g.nodes.values() if m.cluster[:len(key)] == key)
            boxes[key] = out.add("module", title, cluster=hit[:-1],
                                 notes=[f"{count} nodes each"])
        mapping[nid] = boxes[key]
    _merge_edges(out, g.edges, mapping.__getitem__)
    out.notes.append("repeated modules folded: first and last shown")
    return out


def fold_repeated_blocks(g, min_repeat=3, max_period=24):
    """Runs of the same block of ops in sequence (a layer applied again and
    again, an unrolled loop): keep the first and the last block and draw the
    ones between as one box.  Blocks are found as periodic stretches of the
    op sequence in topological order.  Returns a new VGraph (or ``g``)."""
    ops = [n for n in g.nodes.values() if n.kind in ("op", "collapsed")]
    sig = [(n.cluster, n.title, n.shape, n.dtype) for n in ops]
    fold = {}                               # node id -> box key
    boxes = []
    i, n = 0, len(ops)
    while i < n:
        best = (0, 0)
        for m in range(1, min(max_period, (n - i) // min_repeat) + 1):
            k = 1
            while i + (k + 1) * m <= n and sig[i + k * m:i + (k + 1) * m] == sig[i:i + m]:
                k += 1
            if k >= min_repeat and m * (k - 2) >= 3 and m * k > best[0] * best[1]:
                best = (m, k)
        m, k = best
        if not m:
            i += 1
            continue
        middle = ops[i + m:i + (k - 1) * m]
        titles = " \u2192 ".join(s[1] for s in sig[i:i + m])
        boxes.append((len(boxes), f"{k - 2} \u00d7 [{titles}]", ops[i].cluster))
        for node in middle:
            fold[node.id] = len(boxes) - 1
        i += k * m
    if not fold:
        return g
    out = VGraph(g.title)
    out.clusters = dict(g.clusters)
    out.notes = list(g.notes)
    mapping, made = {}, {}
    for nid, node in g.nodes.items():
        b = fold.get(nid)
        if b is None:
            new = out.add(node.kind, node.title, name=node.name, shape=node.shape,
                          dtype=node.dtype, value=node.value, grad=node.grad,
                          cluster=node.cluster, notes=node.notes)
            out.nodes[new].count, out.nodes[new].root = node.count, node.root
            mapping[nid] = new
            continue
        if b not in made:
            _, title, cluster = boxes[b]
            made[b] = out.add("module", title, cluster=cluster,
                              notes=["repeated block (first and last shown)"])
        mapping[nid] = made[b]
    _merge_edges(out, g.edges, mapping.__getitem__)
    out.notes.append("repeated blocks of ops folded: first and last shown")
    return out
