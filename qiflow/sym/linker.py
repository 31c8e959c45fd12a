"""The linker: turns the optimised graph into one generated Python function.

The schedule (a topological order, with the final node of each update moved
last) becomes a flat list of thunks written out as straight-line code: each
node is one line calling NumPy directly (elementwise ops, matmul, sums) or the
op's ``forward``.  A small memory plan lets elementwise steps write into
buffers that are dead (``out=``), lets an update like ``w - lr * g`` be
computed in w's own buffer when nothing reads w afterwards, and gives each
``Gemm`` a preallocated output reused across calls when its result never
leaves the function.  Per call this leaves: one Python call, a dtype/ndim
check per input, one attribute read per shared variable, the thunks, and one
store per update.  An exception inside names the op and the source line where
its node was created.  ``f.trusted(*arrays)`` (functions without shared
variables or updates) runs the same code without the input checks and without
copying outputs that are views of inputs: for a caller that checked the
arguments' dtypes and shapes once and copies the results it keeps, as a scan's
loop does from its second step on.
"""
import linecache
import itertools

import numpy as np

from .._state import QiflowError
from ..ops import base as _base
from ..ops.base import aliases
from .graph import Constant, Variable, ordered_leaves, toposort
from .dims import Dims
from .codegen import emit_node, plan
from .rewrites.fusion import Fused, program_lines, single_program
from .shared import SharedVariable

_counter = itertools.count()


def _aliased_inputs(node):
    """The inputs whose memory the node's output may share (from the op's
    view_map/destroy_map; every input when the op does not say)."""
    al = aliases(node.op)
    if al is None:
        return list(node.inputs)
    return [node.inputs[k] for k in al if k < len(node.inputs)]


class Function:
    """A compiled function (made by ``T.function``); call it with arrays or numbers."""

    def __repr__(self):
        return f"<compiled function {self.name or ''}: {len(self.inputs)} inputs, " \
               f"{self.report.nodes_after} nodes>"

    def _bind(self, args, kw):
        args = list(args)
        if kw:
            names = [v.name for v in self.inputs]
            for k, v in kw.items():
                if k not in names:
                    raise TypeError(f"{self._label()}: no input named {k!r} (inputs: {names})")
                i = names.index(k)
                while len(args) <= i:
                    args.append(_MISSING)
                if args[i] is not _MISSING:
                    raise TypeError(f"{self._label()}: input {k!r} given twice")
                args[i] = v
        if len(args) != len(self.inputs) or any(a is _MISSING for a in args):
            raise TypeError(f"{self._label()} takes {len(self.inputs)} inputs "
                            f"({', '.join(map(repr, self.inputs))}), got {len(args)}")
        return args

    def _respecialize(self, args):
        """A shared variable's shape changed: compile for the new shapes, then run."""
        new = self._remake()
        type(self).__call__ = type(new).__call__
        self.__dict__.pop("_unoptimized", None)      # the old shapes' copy
        self.__dict__.update(new.__dict__)
        return self(*args)

    def _label(self):
        return f"function {self.name!r}" if self.name else "compiled function"

    @property
    def unoptimized(self):
        """The graph before the rewrites (outputs then update values, givens substituted),
        on the same input variables as ``inputs``; copied on first use."""
        got = self.__dict__.get("_unoptimized")
        if got is None:
            from .fgraph import clone
            roots, replace = self._unoptimized_from
            got = self._unoptimized = clone(roots, replace=replace)[0]
        return got

    @property
    def trusted(self):
        """The entry without input checks or output copies (see the module's docstring);
        None for a function with shared variables or updates."""
        fn = self._trusted_fn
        if fn is None and self._trusted_src is not None:
            fn = self._trusted_fn = _build_trusted(self)
        return fn

    @property
    def outputs(self):
        return self.fgraph.outputs[:self.n_outputs]

    @property
    def updates(self):
        return list(zip(self.update_targets, self.fgraph.outputs[self.n_outputs:]))


_MISSING = object()


def _converter(label, k, var, downcast=False):
    t = var.type
    want = t.dtype

    fast = {float: "fc", int: "fciu", bool: "fciub"}

    def conv(a):
        kinds = fast.get(a.__class__)
        if kinds is not None and t.ndim == 0 and want.kind in kinds and (
                want.kind not in "iu" or np.can_cast(np.min_scalar_type(a), want)):
            return np.array(a, dtype=want)
        if isinstance(a, _base.Tensor):
            a = a._data
        if isinstance(a, Variable):
            raise TypeError(f"{label}: input {k} ({var!r}) got a symbolic variable; pass a value")
        weak = not isinstance(a, (np.ndarray, np.generic))
        try:
            arr = np.asarray(a)
        except Exception as exc:
            raise TypeError(f"{label}: input {k} ({var!r}, {t}) cannot take {a!r:.60}: {exc}") from None
        if arr.ndim != t.ndim:
            raise TypeError(f"{label}: input {k} ({var!r}) expects {t} (ndim {t.ndim}), got a value "
                            f"of shape {arr.shape}")
        for d, s in zip(t.shape, arr.shape):
            if d is not None and d != s:
                raise TypeError(f"{label}: input {k} ({var!r}) expects shape {t.shape}, got {arr.shape}")
        if arr.dtype != want:
            got = arr.dtype
            if got.kind == "O":
                raise TypeError(f"{label}: input {k} ({var!r}) cannot take a {type(a).__name__}")
            if downcast:
                ok = True
            elif weak:
                order = "biufc"
                ok = got.kind == "b" or order.index(got.kind) <= order.index(want.kind) or (
                    got.kind == "i" and want.kind == "u")
            else:
                ok = np.can_cast(got, want, "same_kind")
            if not ok:
                raise TypeError(f"{label}: input {k} ({var!r}) expects dtype {want} ({t}), got "
                                f"{got}; cast the value (e.g. with .astype) if that is intended")
            conv_arr = arr.astype(want)
            if weak and got.kind in "iu" and want.kind in "iu" and not np.array_equal(conv_arr, arr):
                raise TypeError(f"{label}: input {k} ({var!r}): value {a!r:.40} does not fit {want}")
            arr = conv_arr
        return arr
    return conv


def link(fg, inputs, n_out, update_targets, single, name, report, guarded=(), remake=None,
         downcast=False, inplace=True):
    outputs = fg.outputs[:n_out]
    upd_vals = fg.outputs[n_out:]
    label = f"function {name!r}" if name else "compiled function"
    # ------------------------------------------------------------ schedule
    order = toposort(fg.outputs)
    final = {}
    for k, (s, u) in enumerate(zip(update_targets, upd_vals)):
        if u.owner is not None and fg.n_clients(u) == 1:
            final[id(u.owner)] = k
    order = [n for n in order if id(n) not in final] + [n for n in order if id(n) in final]
    # -------------------------------------------------------- names, memory
    env = {"_np": np, "_nd": np.ndarray, "_asarray": np.asarray, "_QE": QiflowError}
    names = {}
    for k, v in enumerate(inputs):
        names[id(v)] = f"a{k}"
    shared = []
    n_const = 0
    for v in ordered_leaves(order, fg.outputs):
        if id(v) in names:
            continue
        if isinstance(v, SharedVariable):
            names[id(v)] = f"s{len(shared)}"
            shared.append(v)
        elif isinstance(v, Constant):
            names[id(v)] = f"k{n_const}"
            env[f"k{n_const}"] = v.data
            n_const += 1
    for p, node in enumerate(order):
        names[id(node.outputs[0])] = f"v{p}"
    big = 10 ** 9
    last = {}
    for p, node in enumerate(order):
        for i in node.inputs:
            last[id(i)] = p
    for v in fg.outputs:
        last[id(v)] = big
    # memory roots: a fresh node's output is its own buffer, other nodes may alias inputs
    roots = {}
    foreign = set()
    for k, v in enumerate(inputs):
        roots[id(v)] = frozenset([id(v)])
        foreign.add(id(v))
    for v in shared:
        roots[id(v)] = frozenset([id(v)])
    for p, node in enumerate(order):
        out = node.outputs[0]
        al = _aliased_inputs(node)
        if not al:
            roots[id(out)] = frozenset([id(out)])
        else:
            roots[id(out)] = frozenset().union(*[roots.get(id(i), frozenset()) for i in al])
    root_last, escaping = {}, set()
    for vid, rs in roots.items():
        for r in rs:
            root_last[r] = max(root_last.get(r, -1), last.get(vid, -1))
    for v in fg.outputs:
        escaping |= roots.get(id(v), frozenset())
    shared_ids = {id(v) for v in shared}
    out_ids = {id(v) for v in outputs}
    output_roots = _roots_of(outputs, roots)

    def destroyable(node, p):
        """Inputs of node (by position) whose buffers it may overwrite."""
        res = []
        if not inplace:
            return res
        upd = final.get(id(node))
        for j, i in enumerate(node.inputs):
            rs = roots.get(id(i))
            if rs is None or len(rs) != 1 or i.ndim == 0:
                continue
            (r,) = rs
            # only a buffer the graph allocated itself, not a view of one (views may be
            # read-only broadcasts), and only at its last use
            if r != id(i) or root_last.get(r) != p or id(i) in out_ids:
                continue
            if r in shared_ids:
                # an update may be computed in its own shared variable's buffer
                if upd is not None and update_targets[upd] is i and r not in output_roots:
                    res.append(j)
                continue
            if r in foreign or r in escaping:
                continue
            res.append(j)
        return res

    # ----------------------------------------------------------- code
    line_node = {}
    body = []
    # the rewrites' size tokens hold still: a replacement has its variable's value
    dims = getattr(fg, "_dims", None) or Dims()
    lives_in = {}      # id(var) -> ids of the variables whose buffers it may occupy
    gemm_bufs = []
    plan(order, env)
    for p, node in enumerate(order):
        out = node.outputs[0]
        res = names[id(out)]
        args = [names[id(i)] for i in node.inputs]
        start = len(body)
        op = node.op
        if op.elementwise:
            fop = op if isinstance(op, Fused) else single_program(node)
            dest = destroyable(node, p)
            body += program_lines(fop, args, res, dest, env, [dims.of(i) for i in node.inputs])
            if dest:
                lives_in[id(out)] = [id(node.inputs[j]) for j in dest]
        else:
            lines = emit_node(op, node, args, res, env, gemm_bufs)
            if lines is None:
                fname = f"_f{p}"
                env[fname] = op.forward
                lines = [f"{res} = {fname}({', '.join(args)})"]
            body += lines
        for q in range(start, len(body)):
            line_node[q] = node
        al = _aliased_inputs(node)
        if al:
            lives_in.setdefault(id(out), []).extend(id(i) for i in al)
    # Gemm buffers are persistent only when the product never leaves the function:
    # the buffers an output may occupy, following in-place writes and views back
    escaping_phys = set()
    stack = [id(v) for v in fg.outputs]
    while stack:
        k = stack.pop()
        if k not in escaping_phys:
            escaping_phys.add(k)
            stack.extend(lives_in.get(k, ()))
    for buf_name, node in gemm_bufs:
        if id(node.outputs[0]) in escaping_phys or not inplace:
            env[buf_name] = None           # allocate per call
    # ------------------------------------------------------ the function
    n_in = len(inputs)
    head = ["def __call__(self, *args, **kw):",
            f"    if kw or len(args) != {n_in}:",
            "        args = self._bind(args, kw)"]
    if n_in:
        head.append(f"    {', '.join(names[id(v)] for v in inputs)}{',' if n_in == 1 else ''} = args")
    for k, v in enumerate(inputs):
        a = names[id(v)]
        env[f"_dt{k}"] = v.type.dtype
        env[f"_cv{k}"] = _converter(label, k, v, downcast)
        cond = f"{a}.__class__ is not _nd or {a}.dtype is not _dt{k} or {a}.ndim != {v.ndim}"
        if None not in v.type.shape and v.ndim:
            cond += f" or {a}.shape != {v.type.shape!r}"
        head.append(f"    if {cond}: {a} = _cv{k}({a})")
    for k, v in enumerate(shared):
        env[f"_c{k}"] = v.container
        head.append(f"    s{k} = _c{k}.value")
        if id(v) in guarded:       # compiled for this shape: recompile if set_value changed it
            head.append(f"    if s{k}.shape != {v.type.shape!r}: return self._respecialize(args)")
    head.append("    try:")
    first_body_line = len(head) + 1
    tail = []
    # outputs: copies where the value is memory we do not own (inputs, shared, constants)
    res_names = []
    seen_roots = set()
    for k, v in enumerate(outputs):
        nm = names[id(v)]
        rs = roots.get(id(v), frozenset([id(v)]))
        if v.owner is None or isinstance(v, Constant) or rs & (foreign | shared_ids) or \
                rs & seen_roots or not rs:
            tail.append(f"r{k} = _np.array({nm})")
        elif v.ndim == 0:
            tail.append(f"r{k} = _asarray({nm})")
        else:
            tail.append(f"r{k} = {nm}")
        seen_roots |= rs
        res_names.append(f"r{k}")
    for k, (s, u) in enumerate(zip(update_targets, upd_vals)):
        nm = names[id(u)]
        rs = roots.get(id(u), frozenset([id(u)]))
        if u.owner is None or rs & seen_roots or (rs & (foreign | shared_ids) and rs != {id(s)}):
            val = f"_np.array({nm})"
        elif u.ndim == 0:
            val = f"_asarray({nm})"
        else:
            val = nm
        seen_roots |= rs
        env[f"_u{k}"] = s.container
        tail.append(f"_u{k}.value = {val}")
    for q, ln in enumerate(body + tail):
        head.append("        " + ln)
    if not body and not tail:
        head.append("        pass")
    head.append("    except Exception as _e:")
    head.append("        self._fail(_e)")
    if single:
        head.append(f"    return {res_names[0]}")
    else:
        head.append(f"    return [{', '.join(res_names)}]")
    src = "\n".join(head) + "\n"
    fname = f"<qiflow function {name or ''} #{next(_counter)}>"
    linecache.cache[fname] = (len(src), None, src.splitlines(True), fname)
    exec(compile(src, fname, "exec"), env)
    cls = type("Function", (Function,), {"__call__": env["__call__"]})
    f = cls.__new__(cls)
    f.name, f.inputs, f.fgraph, f.report, f.source = name, list(inputs), fg, report, src
    f.n_outputs, f.update_targets, f.single = n_out, list(update_targets), single
    f.schedule = order
    f._remake = remake
    files = {fname: first_body_line}        # generated file -> line of the body's first line
    f._fail = lambda e: _fail(e, files, line_node, label, names)
    # the same body without the input checks and with no copies of the outputs, for a
    # caller that checked the arguments once and copies what it keeps (a scan's steps);
    # compiled on first use (only scans use it, and compiling a big body costs seconds)
    f._trusted_fn = None
    if not shared and not update_targets:
        sig = f"def _trusted(self{''.join(', ' + names[id(v)] for v in inputs)}):"
        rets = [f"        r{k} = {'_asarray(' + names[id(v)] + ')' if v.ndim == 0 else names[id(v)]}"
                for k, v in enumerate(outputs)]
        if not body and not outputs:
            rets.append("        pass")
        rets += ["    except Exception as _e:", "        self._fail(_e)",
                 f"    return {res_names[0]}" if single else f"    return [{', '.join(res_names)}]"]
        f._trusted_src = (sig, first_body_line - 1, len(body), rets, env, files, fname)
    else:
        f._trusted_src = None
    return f


def _build_trusted(f):
    """Compile ``f``'s trusted entry from the body lines of its source."""
    sig, start, n, rets, env, files, fname = f._trusted_src
    lines = f.source.split("\n")
    src = "\n".join([sig, "    try:"] + lines[start:start + n] + rets) + "\n"
    tname = fname[:-1] + " trusted>"
    linecache.cache[tname] = (len(src), None, src.splitlines(True), tname)
    exec(compile(src, tname, "exec"), env)
    files[tname] = 3
    return env.pop("_trusted").__get__(f)


def _roots_of(vs, roots):
    out = set()
    for v in vs:
        out |= roots.get(id(v), frozenset())
    return out


def _fail(exc, files, line_node, label, names):
    tb = exc.__traceback__
    q = None
    frame = None
    while tb is not None:
        first = files.get(tb.tb_frame.f_code.co_filename)
        if first is not None:
            q, frame = tb.tb_lineno - first, tb.tb_frame
        tb = tb.tb_next
    node = line_node.get(q)
    if node is None:
        raise exc
    vals = []
    for i in node.inputs:
        v = frame.f_locals.get(names.get(id(i)), None) if frame is not None else None
        vals.append(f"{np.asarray(v).dtype}{list(np.shape(v))}" if v is not None else str(i.type))
    msg = str(exc) if not isinstance(exc, QiflowError) else str(exc)
    raise QiflowError(f"{label}: {node.op!r} failed at run time on inputs ({', '.join(vals)}); "
                      f"the node was created at {node.tag}: {msg}") from exc
