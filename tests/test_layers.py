"""The package's imports follow its layers: no cycle, no import from a lower layer
into a higher one.  Read from the source with ``ast`` (module-level and
function-level imports alike: a lazy import is still a dependency).

Layers, lowest first (DESIGN's order: backend <- ops <- autodiff <- tensor / sym
<- nn, optim, utils.data <- distributed <- train <- cli; viz and the profiler
read graphs from above).
"""
import ast
import pathlib

import qiflow

PKG = pathlib.Path(qiflow.__file__).parent

#: (module prefix, rank); the longest matching prefix wins
LAYERS = [
    ("qiflow._state", 0), ("qiflow.backend", 0),
    ("qiflow.random", 1), ("qiflow.cuda", 1), ("qiflow.backends", 1), ("qiflow.accelerator", 1),
    ("qiflow.serialization", 1),       # the allowlist of qf.load: imports nothing
    ("qiflow.ops", 2),
    ("qiflow.methods", 3), ("qiflow.torchfn", 3.4), ("qiflow.tensor_methods", 3.5), ("qiflow.autodiff", 3),
    ("qiflow.functional", 3),
    ("qiflow.tensor", 4), ("qiflow.sym", 4),
    ("qiflow.creation", 5), ("qiflow.gradcheck", 5), ("qiflow.anomaly", 5), ("qiflow.profiler", 5),
    ("qiflow.losses", 5), ("qiflow.io", 5), ("qiflow.trace", 5), ("qiflow.autograd", 5.5),
    ("qiflow.compat", 6),
    ("qiflow.nn", 6), ("qiflow.optim", 6), ("qiflow.data", 6), ("qiflow.utils", 6),
    ("qiflow.utils.data", 6.5),         # PyTorch's path onto qiflow.data: re-exports it
    ("qiflow.datasets", 7), ("qiflow.models", 7), ("qiflow.distributed", 7),
    ("qiflow.nn.parallel", 8), ("qiflow.viz", 8),
    ("qiflow.train", 9),
    ("qiflow.cli", 10), ("qiflow.__main__", 11),
]


def rank(mod):
    best = None
    for prefix, r in LAYERS:
        if mod == prefix or mod.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, r)
    return best


def module_name(path):
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path, mod):
    """Modules of the package that ``path`` imports (absolute names)."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("qiflow"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = base[:len(base) - node.level + 1]
                target = ".".join(parent + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("qiflow"):
                continue
            out.add(target)
            for a in node.names:        # "from . import x": x may be a module
                cand = f"{target}.{a.name}"
                if (PKG.parent / pathlib.Path(*cand.split("."))).with_suffix(".py").exists() or \
                        (PKG.parent / pathlib.Path(*cand.split("."))).is_dir():
                    out.add(cand)
    return out


def graph():
    g = {}
    for path in PKG.rglob("*.py"):
        mod = module_name(path)
        g[mod] = {m for m in imports_of(path, mod) if m != mod}
    return g


def _is_ancestor_package(a, b):
    return b.startswith(a + ".")


def test_imports_point_down_the_layers():
    bad = []
    for mod, deps in graph().items():
        if mod == "qiflow":
            continue                      # the package's own lazy front door
        rm = rank(mod)
        assert rm is not None, f"{mod} has no layer: add it to LAYERS"
        for dep in deps:
            if dep == "qiflow" or _is_ancestor_package(dep, mod):
                continue                  # a package's own __init__ (registry, helpers)
            if _is_ancestor_package(mod, dep):
                continue                  # a package's front door re-exporting its own parts
            rd = rank(dep)
            if rd is None:
                continue
            same_package = rd[0] == rm[0]
            if rd[1] > rm[1] or (rd[1] == rm[1] and not same_package):
                bad.append(f"{mod} (layer {rm[1]}) imports {dep} (layer {rd[1]})")
    assert not bad, "imports against the layer order:\n" + "\n".join(sorted(bad))


def test_no_import_cycle():
    g = graph()
    # a package's __init__ importing its own modules is not a cycle with them
    edges = {m: {d for d in deps if d in g and not _is_ancestor_package(m, d)} for m, deps in g.items()}
    index, low, stack, on, cycles = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        work = [(v, iter(sorted(edges[v])))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        cycles.append(sorted(comp))
    for v in sorted(edges):
        if v not in index:
            strong(v)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_layer_test_can_fail():
    # an upward import and a cycle, made up, are both caught by the same rules
    assert rank("qiflow.ops.base")[1] < rank("qiflow.tensor")[1]
    assert rank("qiflow.nn.parallel.ddp")[1] > rank("qiflow.distributed")[1]
    fake = {"qiflow.a": {"qiflow.b"}, "qiflow.b": {"qiflow.a"}}
    assert any(fake[m] & {n} and fake[n] & {m} for m in fake for n in fake)
