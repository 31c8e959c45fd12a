"""DOT text from a ``VGraph``, and SVG/PNG through Graphviz when it is installed.

The DOT writer needs nothing but Python.  Rendering uses the ``graphviz``
Python package if present, else the ``dot`` program directly; when neither
can render, :class:`GraphvizUnavailable` says exactly what to install.

>>> from qiflow.viz.graph import VGraph
>>> g = VGraph(); g.edge(g.add("param", "a"), g.add("op", "Exp"))
>>> print(to_dot(g).splitlines()[0])
digraph qiflow {
"""
import shutil
import subprocess

STYLE = {
    "op": 'shape=box, style="rounded,filled", fillcolor="#fff2cc"',
    "param": 'shape=ellipse, style=filled, fillcolor="#cfe2f3"',
    "input": 'shape=ellipse, style=filled, fillcolor="#eeeeee"',
    "const": 'shape=plaintext, fontcolor="#555555"',
    "grad": 'shape=ellipse, style=filled, fillcolor="#f4cccc"',
    "gradop": 'shape=box, style="rounded,filled", fillcolor="#ead1dc"',
    "collapsed": 'shape=box, style="rounded,filled", fillcolor="#fff2cc", peripheries=2',
    "module": 'shape=box3d, style=filled, fillcolor="#d9ead3"',
}


class GraphvizUnavailable(RuntimeError):
    """SVG/PNG was asked for but Graphviz cannot render here."""


def quote(text):
    """A DOT double-quoted string (backslashes, quotes and newlines escaped)."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\r", "").replace("\n", "\\n") + '"'


def _label(lines):
    return quote("\n".join(lines))


def to_dot(g, rankdir="TB", fontname="Helvetica"):
    """The DOT source of ``g``: one statement per line, clusters nested by path."""
    out = ["digraph qiflow {",
           f"  graph [rankdir={rankdir}, fontname={quote(fontname)}, fontsize=11, "
           "nodesep=0.25, ranksep=0.35, newrank=true];",
           f"  node [fontname={quote(fontname)}, fontsize=10, margin=\"0.08,0.04\"];",
           f"  edge [fontname={quote(fontname)}, fontsize=9, color=\"#555555\"];"]
    notes = ([g.title] if g.title else []) + list(g.notes)
    if notes:
        out.append(f"  label={_label(notes)}; labelloc=t;")
    tree = {}
    for n in g.nodes.values():
        tree.setdefault(n.cluster, []).append(n)
    paths = set(g.clusters) | set(tree)
    for p in list(paths):
        for i in range(1, len(p)):
            paths.add(p[:i])
    first = {p: i for i, p in enumerate(g.clusters)}
    cid = {p: f"cluster_{i}" for i, p in enumerate(sorted(paths, key=lambda p: (len(p), p)))}

    def order(p):
        return (first.get(p, len(first)),) + _natural(p)

    def emit(path, indent):
        pad = "  " * indent
        for n in tree.get(path, ()):
            style = STYLE["collapsed"] if n.count > 1 and n.kind == "op" else STYLE[n.kind]
            extra = ", penwidth=2" if n.root else ""
            if n.count > 1 and n.kind != "op":
                extra += ", peripheries=2"
            out.append(f"{pad}{n.id} [label={_label(n.lines())}, {style}{extra}];")
        kids = sorted((p for p in paths if len(p) == len(path) + 1 and p[:len(path)] == path),
                      key=order)
        for p in kids:
            title = g.clusters.get(p, ".".join(p))
            out.append(f"{pad}subgraph {cid[p]} {{")
            out.append(f"{pad}  label={quote(title)}; style=\"rounded,dashed\"; color=\"#999999\";")
            emit(p, indent + 1)
            out.append(f"{pad}}}")

    emit((), 1)
    for s, d, lab in g.edges:
        attr = f" [label={quote(lab)}]" if lab else ""
        out.append(f"  {s} -> {d}{attr};")
    out.append("}")
    return "\n".join(out) + "\n"


def _natural(path):
    return tuple((0, int(p), "") if str(p).isdigit() else (1, 0, str(p)) for p in path)


# ---------------------------------------------------------------- rendering
def have_graphviz():
    """True when SVG/PNG can be produced (the ``dot`` program is on PATH)."""
    return shutil.which("dot") is not None


def render(dot_text, fmt):
    """SVG text (``fmt='svg'``) or PNG bytes (``fmt='png'``) for ``dot_text``."""
    if fmt not in ("svg", "png"):
        raise ValueError(f"render: format must be 'svg' or 'png', got {fmt!r}")
    if not have_graphviz():
        raise GraphvizUnavailable(
            f"qf.viz.draw(format={fmt!r}) needs Graphviz's `dot` program, which is not on PATH. "
            "Install it (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
            "conda: conda install graphviz) and, optionally, the Python package "
            "(pip install graphviz). The DOT text is always available: format='dot'.")
    try:
        import graphviz
        data = graphviz.Source(dot_text).pipe(format=fmt)
    except ImportError:
        proc = subprocess.run(["dot", f"-T{fmt}"], input=dot_text.encode(), capture_output=True,
                              timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"dot -T{fmt} failed: {proc.stderr.decode(errors='replace')[:500]}")
        data = proc.stdout
    return data.decode("utf-8") if fmt == "svg" else data
