"""DistributedDataParallel inside ``qf.compile``: the gradient all-reduce as
graph nodes, so that a traced training step is data-parallel.

While a step is traced, backward gives every parameter a *symbolic* gradient
and still runs the gradient-ready hooks.  The reducer then does what it does
eagerly, but on graph values: the gradients of a bucket are flattened and
joined, the bucket becomes one ``AllReduce(op='avg')`` node (the average over
the ranks, on DDP's own communicator), and its pieces become the parameters'
``.grad``.  The compiled function runs those all-reduces at every call, in the
bucket order, which is the same on every rank because every rank traces the
same step.

>>> from qiflow.nn.parallel.traced import split_points
>>> split_points([3, 4, 1])
[3, 7]
"""
from ...distributed._arrays import raw
from ...distributed.op import AllReduce
from ...ops.base import apply, TraceError
from ...ops.join import concatenate, split
from ...ops.movement import reshape
from ...sym.graph import Variable, ancestors
from ...trace.tracer import current_tracer

__all__ = ["current_tracer", "reached", "reduce_bucket", "write_back", "split_points", "TraceError"]


def _symbolic(out, found):
    if isinstance(out, Variable):
        found.append(out)
    elif isinstance(out, (list, tuple)):
        for o in out:
            _symbolic(o, found)
    elif isinstance(out, dict):
        for o in out.values():
            _symbolic(o, found)
    return found


def reached(tr, named, outputs):
    """ids of the parameters in ``named`` that the traced ``outputs`` depend on."""
    outs = [v for v in _symbolic(outputs, []) if v.requires_grad]
    if not outs:
        return set()
    seen = {id(v) for v in ancestors(outs)}
    found = set()
    for _, p in named:
        cap = tr.caps.get(id(p))
        if cap is not None and cap.shared is not None and (id(cap.shared) in seen or id(cap.current) in seen):
            found.add(id(p))
    return found


def split_points(sizes):
    """Where a flat buffer holding pieces of ``sizes`` elements is cut."""
    points, o = [], 0
    for n in sizes[:-1]:
        o += n
        points.append(o)
    return points


def reduce_bucket(grads, group):
    """One all-reduce node (the mean over the ranks) for a bucket's symbolic gradients."""
    flat = [reshape(g, (-1,)) for g in grads]
    joined = flat[0] if len(flat) == 1 else concatenate(flat)
    return apply(AllReduce("avg", group), joined)


def write_back(tr, params, reduced):
    """Each parameter's ``.grad`` becomes its piece of the reduced bucket."""
    sizes = [raw(p).size for p in params]
    pieces = split(reduced, split_points(sizes)) if len(params) > 1 else [reduced]
    for p, piece in zip(params, pieces):
        p.grad = tr.handle(reshape(piece, raw(p).shape))
