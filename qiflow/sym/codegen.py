"""How the linker writes one node as Python source: one registry keyed by op type.

``emit_node(op, node, args, res, env, bufs)`` returns the source lines that
compute ``res`` from the variables named ``args``, or None for the default:
a call of the op's own ``forward`` (every op works without an entry).  The
entries here only make common nodes cheaper than a method call: a direct
NumPy call (matmul, sums, reshape, transpose), a preallocated GEMM output,
memory kept across calls for the convolution and pooling kernels (``conv.held``:
im2col matrices, column blocks, masks, and outputs that never leave the
function -- a fresh array of several MB costs its page faults on every call).
Elementwise nodes are not here: their kernel comes from the op itself
(``ufunc`` / ``emit``, see ``kernels.py``).

>>> from qiflow.ops.linalg import MatMul
>>> emit_node.dispatch(MatMul).__name__
'_matmul'
"""
import functools

import numpy as np

from ..ops import movement as M
from ..ops import reduce as R
from ..ops.indexing import GetItem, _build
from ..ops.linalg import MatMul
from ..ops.dense import Linear, few_rows_many_outputs
from ..ops.conv import Conv2d, Conv2dInputGrad, Conv2dWeightGrad
from ..ops.pool import MaxPool2dGrad
from .rewrites.specialize import Gemm
from .scan_op import ScanOutput


#: im2col matrices with at most this many rows get a row of ones (bias folded into the
#: GEMMs) -- the extra row costs about 1/K of the GEMM, the passes it saves one read and
#: one write of y: LeNet's first layer (K = 25, 20 x 288000): bias add 1.6 ms and bias
#: gradient 1.8 ms saved for 0.2 ms; its second (K = 500) would lose 2 ms
_FOLD_ROWS = 64


def plan(order, env):
    """Facts about the whole schedule that single emitters use, kept in ``env``:
    a ``Conv2d`` and the ``Conv2dWeightGrad`` of the same input, parameters and
    kernel size share one im2col matrix (the forward keeps it for the backward,
    as the eager mode saves it), instead of the backward building it again.
    Where the matrix is short (``_FOLD_ROWS``) it gets a row of ones: the forward's
    bias then rides in its GEMM, and the bias gradient (the sum of the same output
    gradient over (0, 2, 3), scheduled after the weight gradient) in the weight
    gradient's GEMM."""
    convs, share, last = {}, {}, {}
    fold, bias_of = set(), {}

    def key(node):
        x, w = node.inputs[0], node.inputs[1] if type(node.op) is Conv2d else node.inputs[2]
        op = node.op
        return (id(x), op.stride, op.padding, op.dilation, op.groups, w.type.shape[1:], w.dtype)
    wgrads = {}                # id(g) -> weight-gradient nodes with a foldable matrix
    for node in order:         # one pass: only a convolution scheduled earlier can share
        if type(node.op) is Conv2d and None not in node.inputs[1].type.shape:
            convs.setdefault(key(node), node)
        elif type(node.op) is Conv2dWeightGrad and len(node.inputs) == 3 and \
                None not in node.inputs[2].type.shape:
            conv = convs.get(key(node))
            if conv is not None and conv.outputs[0].dtype == node.outputs[0].dtype:
                name = share.setdefault(id(conv), f"_cols{len(last)}")
                share[id(node)] = name
                last[name] = id(node)
                if _foldable(conv):
                    fold.add(id(conv))
                    fold.add(id(node))
                    wgrads.setdefault(id(node.inputs[1]), []).append(node)
        elif type(node.op) is R.Sum and node.op.axis == (0, 2, 3) and not node.op.keepdims:
            for wg in wgrads.get(id(node.inputs[0]), ()):
                if id(wg) not in bias_of and wg.outputs[0].dtype == node.outputs[0].dtype:
                    bias_of[id(wg)] = bias_of[id(node)] = f"_db{len(bias_of)}"
                    break
    env["_plan_cols"] = share
    env["_plan_cols_last"] = set(last.values())   # the last user frees the matrix
    env["_plan_fold"] = fold
    env["_plan_bias"] = bias_of


def _foldable(conv):
    x, w = conv.inputs[:2]
    b = conv.inputs[2] if len(conv.inputs) > 2 else None
    if conv.op.groups != 1 or x.dtype != w.dtype or (b is not None and b.dtype != w.dtype):
        return False
    return int(np.prod(w.type.shape[1:])) <= _FOLD_ROWS


@functools.singledispatch
def emit_node(op, node, args, res, env, bufs):
    return None


@emit_node.register
def _matmul(op: MatMul, node, args, res, env, bufs):
    if node.inputs[1].ndim == 2 and node.inputs[0].ndim > 2:
        return None                     # the op's forward: one GEMM for the whole stack
    a, b = node.inputs
    out = node.outputs[0]
    if a.ndim == 2 and b.ndim == 2 and out.dtype.kind == "f" and a.dtype == b.dtype == out.dtype:
        # a product of matrices into a buffer kept across calls, as a Gemm's (a fresh
        # multi-megabyte result page-faults on its first write at every call)
        return _kept(node, bufs, env, f"({args[0]}.shape[0], {args[1]}.shape[1])") + [
            f"{res} = _np.matmul({args[0]}, {args[1]}, out=_b)"]
    return [f"{res} = _np.matmul({args[0]}, {args[1]})"]


def _kept(node, bufs, env, shape):
    """Lines that bind ``_b`` to the node's buffer of ``shape``, kept across calls when
    the linker finds that its value never leaves the function (else a new one)."""
    buf = f"_gb{len(bufs)}"
    env[buf] = [None]
    env[f"{buf}dt"] = node.outputs[0].dtype
    bufs.append((buf, node))
    return [f"_s = {shape}",
            f"_b = {buf}[0] if {buf} is not None else None",
            "if _b is None or _b.shape != _s:",
            f"    _b = _np.empty(_s, {buf}dt)",
            f"    if {buf} is not None: {buf}[0] = _b"]


@emit_node.register
def _sum(op: R.Sum, node, args, res, env, bufs):
    db = env.get("_plan_bias", {}).get(id(node))
    if db is not None:                 # summed by the weight gradient's GEMM (see ``plan``)
        return [f"{res} = {db}", f"{db} = None"]
    if node.inputs[0].dtype.kind not in "fc":
        return None
    return [f"{res} = _np.add.reduce({args[0]}, axis={op.axis!r}, keepdims={op.keepdims!r})"]


@emit_node.register
def _mean(op: R.Mean, node, args, res, env, bufs):
    x = node.inputs[0]
    if x.dtype.kind != "f" or x.dtype.itemsize < 4:
        return None
    axes = range(x.ndim) if op.axis is None else op.axis
    dims = [x.type.shape[a] for a in axes]
    if None in dims:
        n = " * ".join([f"{args[0]}.shape[{a}]" for a in axes]) or "1"
    else:
        n = str(int(np.prod(dims, dtype=np.int64)))
    return [f"{res} = _np.add.reduce({args[0]}, axis={op.axis!r}, keepdims={op.keepdims!r}) / ({n})"]


@emit_node.register(M.SumToLike)
@emit_node.register(M.BroadcastLike)
@emit_node.register(M.ReshapeLike)
def _like(op, node, args, res, env, bufs):
    g, x = node.inputs
    fname = f"_fl{id(node)}"
    env[fname] = op.forward
    target = f"{x.type.shape!r}" if None not in x.type.shape else f"{args[1]}.shape"
    return [f"{res} = {args[0]} if {args[0]}.shape == {target} else {fname}({args[0]}, {args[1]})"]


@emit_node.register
def _reshape(op: M.Reshape, node, args, res, env, bufs):
    return [f"{res} = {args[0]}.reshape({op.shape!r})"]


@emit_node.register
def _transpose(op: M.Transpose, node, args, res, env, bufs):
    return [f"{res} = {args[0]}.transpose({op.axes!r})"]


@emit_node.register
def _getitem(op: GetItem, node, args, res, env, bufs):
    """Basic indexing by constants (slices, ints, None: no index arrays) read inline,
    the index made once (a scan's step slices its gates this way at every step)."""
    if len(node.inputs) != 1 or any(
            not (p is None or isinstance(p, int) or (isinstance(p, tuple) and p[:1] == ("slice",)))
            for p in op.template):
        return None
    key = f"_ix{id(node)}"
    env[key] = _build(op.template, ())
    return [f"{res} = {args[0]}[{key}]"]


@emit_node.register
def _expand_dims(op: M.ExpandDims, node, args, res, env, bufs):
    """New axes of length 1 as an index with None at them (a view, as np.expand_dims)."""
    nd = node.outputs[0].ndim
    axes = {a % nd for a in op.axes} if nd else set()
    if len(axes) != len(op.axes) or nd != node.inputs[0].ndim + len(axes):
        return None
    key = f"_ix{id(node)}"
    env[key] = tuple(None if d in axes else slice(None) for d in range(nd))
    return [f"{res} = {args[0]}[{key}]"]


@emit_node.register
def _conv(op: Conv2d, node, args, res, env, bufs):
    """A convolution building its im2col matrix in memory kept across calls (the
    matrix never leaves the function), which the weight gradient reuses (see ``plan``)."""
    if type(op) is not Conv2d:
        return None
    cols = env.get("_plan_cols", {}).get(id(node), "_")
    fname, hold = f"_cf{id(node)}", f"_ch{id(node)}"
    env[fname] = op.forward_and_save
    env[hold] = [None]
    if len(args) == 2:
        args = args + ["None"]
    ones = id(node) in env.get("_plan_fold", ())
    return [f"{res}, {cols} = {fname}({', '.join(args)}, {hold}, {ones})"]


@emit_node.register
def _conv_weight_grad(op: Conv2dWeightGrad, node, args, res, env, bufs):
    cols = env.get("_plan_cols", {}).get(id(node))
    if cols is None or type(op) is not Conv2dWeightGrad:
        return None
    fname = f"_cw{id(node)}"
    env[fname] = op.forward
    db = env.get("_plan_bias", {}).get(id(node))
    if db is not None:
        lines = [f"{res}, {db} = {fname}({', '.join(args)}, {cols}, True)"]
    else:
        lines = [f"{res} = {fname}({', '.join(args)}, {cols})"]
    if id(node) in env["_plan_cols_last"]:
        lines.append(f"{cols} = None")
    return lines


@emit_node.register(Conv2dInputGrad)
@emit_node.register(MaxPool2dGrad)
def _held_buffers(op, node, args, res, env, bufs):
    """Ops whose forward takes ``scratch`` (memory for temporaries, kept across calls)
    and ``out`` (for the result: kept only where it never leaves the function; the
    linker sets it to None otherwise, as for Gemm buffers)."""
    if type(op) not in (Conv2dInputGrad, MaxPool2dGrad):
        return None
    fname, scratch, out = f"_hf{id(node)}", f"_hs{id(node)}", f"_gb{len(bufs)}"
    env[fname] = op.forward
    env[scratch] = [None]
    env[out] = [None]
    bufs.append((out, node))
    return [f"{res} = {fname}({', '.join(args)}, scratch={scratch}, out={out})"]


@emit_node.register
def _linear(op: Linear, node, args, res, env, bufs):
    """x @ w.T (+ b) with few rows and many outputs as (w @ x.T).T (see
    ``few_rows_many_outputs``).  The result is then a transposed view, so this form
    is used only where the value never leaves the function (the linker resets the
    flag otherwise, as for Gemm buffers): callers always get PyTorch's layout."""
    x, w = node.inputs[:2]
    b = node.inputs[2] if len(node.inputs) > 2 else None
    out = node.outputs[0]
    if type(op) is not Linear or x.ndim != 2 or w.ndim != 2 or None in x.type.shape + w.type.shape:
        return None
    if not (x.dtype == w.dtype == out.dtype and out.dtype.kind == "f"):
        return None
    n, o = x.type.shape[0], w.type.shape[0]
    if not few_rows_many_outputs(n, o):
        return None
    if b is not None and (b.type.shape != (o,) or b.dtype != out.dtype):
        return None
    flag = f"_gb{len(bufs)}"
    env[flag] = True
    bufs.append((flag, node))
    lines = [f"if {flag} is not None:",
             f"    {res} = _np.matmul({args[1]}, {args[0]}.T).T",
             "else:",
             f"    {res} = _np.matmul({args[0]}, {args[1]}.T)"]
    if b is not None:
        lines.append(f"_np.add({res}, {args[2]}, out={res})")
    return lines


@emit_node.register
def _gemm(op: Gemm, node, args, res, env, bufs):
    """a @ b + c into a buffer kept across calls (``bufs`` lets the linker decide,
    once the memory plan is known, whether the buffer may persist)."""
    a, b, c = args
    return _kept(node, bufs, env, f"({a}.shape[0], {b}.shape[1])") + [
            f"{res} = _np.matmul({a}, {b}, out=_b)",
            "try:",
            f"    _np.add({res}, {c}, out={res})",
            "except ValueError:",
            f"    {res} = {res} + {c}"]


@emit_node.register
def _scan_output(op: ScanOutput, node, args, res, env, bufs):
    """Output k of a scan's tuple, read inline."""
    return [f"{res} = {args[0]}[()][{op.k}]"]
