"""The gradient buckets of ``DistributedDataParallel``.

Parameters are grouped, in reverse registration order (the order in which
backward usually produces their gradients), into buckets of about
``bucket_cap_mb``, each with one flat buffer.  A hook on every parameter
copies its gradient into its bucket as soon as backward has accumulated it;
a full bucket starts a non-blocking all-reduce (MPI Iallreduce) while backward
goes on.  Buckets start strictly in order, the same order on every rank, as
MPI requires.  The hook that completes the last bucket waits for all of them
and writes the averaged gradients back, so ``backward()`` returns with every
``.grad`` averaged over the ranks.  Inside ``qf.compile`` the same steps
build graph nodes instead (``traced.py``): one all-reduce node per bucket.

>>> from qiflow.nn.parallel.reducer import assign_buckets
>>> sizes = [(4, np.dtype("float64")), (4, np.dtype("float64")), (4, np.dtype("float64"))]
>>> assign_buckets(sizes, cap_bytes=64, first_cap_bytes=32)       # 32 bytes per parameter
[[2], [1, 0]]
"""
import numpy as np

from ...distributed._arrays import raw, wrap, leaves_reached
from ...distributed._mpi import mpi
from ...distributed.work import wait_requests
from . import traced


def assign_buckets(sizes, cap_bytes, first_cap_bytes):
    """Indices of the parameters in each bucket, given (number of elements, dtype)
    per parameter in registration order.  Walks them in reverse; a bucket (one per
    dtype) closes once it holds ``cap_bytes`` (the first one ``first_cap_bytes``)."""
    buckets, open_, first = [], {}, True
    for i in reversed(range(len(sizes))):
        n, dtype = sizes[i]
        b = open_.setdefault(dtype, [[], 0])
        b[0].append(i)
        b[1] += n * dtype.itemsize
        if b[1] >= (first_cap_bytes if first else cap_bytes):
            buckets.append(b[0])
            del open_[dtype]
            first = False
    buckets.extend(b[0] for b in open_.values())
    return buckets


class _Bucket:
    __slots__ = ("params", "offsets", "buffer", "pending", "request", "grads")

    def __init__(self, params):
        self.params = params
        self.offsets, n = [], 0
        for p in params:
            self.offsets.append(n)
            n += raw(p).size
        self.buffer = np.zeros(n, raw(params[0]).dtype)
        self.pending = len(params)
        self.request = None
        self.grads = None          # while tracing: the symbolic gradient of each parameter

    def view(self, k):
        o, p = self.offsets[k], self.params[k]
        return self.buffer[o:o + raw(p).size].reshape(raw(p).shape)


class Reducer:
    """Averages the gradients of ``named_params`` over ``group`` during backward."""

    def __init__(self, named_params, group, cap_bytes, first_cap_bytes, find_unused, owner):
        self.named = named_params
        self.group = group
        self.find_unused = find_unused
        self.owner = owner
        sizes = [(raw(p).size, raw(p).dtype) for _, p in named_params]
        plan = assign_buckets(sizes, cap_bytes, first_cap_bytes)
        self.buckets = [_Bucket([named_params[i][1] for i in idx]) for idx in plan]
        self.index = {}                       # id(param) -> (bucket, slot, position)
        for b in self.buckets:
            for k, p in enumerate(b.params):
                self.index[id(p)] = (b, k)
        self.position = {id(p): i for i, (_, p) in enumerate(named_params)}
        self._hooks = [p.register_post_accumulate_grad_hook(self._hook) for _, p in named_params]
        self._reset()

    # ------------------------------------------------------------- state
    def _reset(self):
        self.expect = False       # hooks count only between a prepared forward and its backward
        self.started = False      # a hook fired in this iteration
        self.ready = set()
        self.next = 0             # the next bucket to start: buckets start in order on every rank
        self.unused = []          # (name, param) not reached by the forward's outputs
        self.used = None          # per parameter: 1 if used on this rank (find_unused only)
        self.used_request = None
        self.tracer = None        # the trace this iteration is recorded into (qf.compile)
        for b in self.buckets:
            b.pending = len(b.params)
            b.request = None
            b.grads = None

    def check_finished(self):
        """At a forward: the previous backward must have produced every gradient."""
        if self.tracer is not None and self.tracer is not traced.current_tracer():
            self._reset()                   # a trace that ended early (it then runs eagerly)
            return
        if self.started:
            missing = [n for n, p in self.named if id(p) not in self.ready]
            raise RuntimeError(
                f"{self.owner}: the previous backward pass gave no gradient to parameter(s) "
                f"{', '.join(repr(n) for n in missing)} on rank {self.group.rank}, so their all-reduce "
                "never started; every parameter must take part in the loss (or pass "
                "find_unused_parameters=True to DistributedDataParallel)")
        self._reset()

    def prepare(self, outputs):
        """After a forward whose backward must be synchronised."""
        tr = traced.current_tracer()
        reached = leaves_reached(outputs) if tr is None else traced.reached(tr, self.named, outputs)
        if not any(id(p) in reached for _, p in self.named):
            return                          # nothing differentiable came out: no backward to sync
        self.expect = True
        self.tracer = tr
        self.unused = [(n, p) for n, p in self.named if id(p) not in reached]
        if self.find_unused:
            self.used = np.array([id(p) in reached for _, p in self.named], np.int32)

    # ------------------------------------------------------------- backward
    def _hook(self, p):
        if not self.expect:
            return                          # no_sync, or a backward DDP did not prepare
        if not self.started:
            self._start()
        if id(p) in self.ready:
            raise RuntimeError(f"{self.owner}: parameter {self._name(p)!r} received a gradient twice "
                               "in one iteration (a second backward through the same forward); call "
                               "forward again before each backward")
        g = p.grad
        if g.requires_grad:
            raise RuntimeError(f"{self.owner}: backward(create_graph=True) is not supported (the "
                               f"gradient of {self._name(p)!r} is part of a graph)")
        self._mark(p, raw(g) if self.tracer is None else self.tracer.value(g))

    def _start(self):
        self.started = True
        if self.unused and not self.find_unused:
            names = ", ".join(repr(n) for n, _ in self.unused)
            raise RuntimeError(
                f"{self.owner}: parameter(s) {names} did not take part in computing the output on "
                f"rank {self.group.rank}, so they get no gradient and their bucket's all-reduce could "
                "never start; pass find_unused_parameters=True to DistributedDataParallel, or use "
                "every parameter")
        if self.tracer is not None and self.find_unused:
            raise traced.TraceError(
                f"{self.owner}(find_unused_parameters=True) cannot be compiled by qf.compile yet "
                "(which parameters some rank used is known only when the step runs); run the step "
                "eagerly or use every parameter")
        MPI = mpi()
        if self.find_unused:
            # which parameters some rank used: a globally unused one keeps its .grad as it is
            self.used_request = self.group.comm.Iallreduce(MPI.IN_PLACE, self.used, op=MPI.SUM)
            for _, q in self.unused:
                self._mark(q, None if q.grad is None else raw(q.grad))

    def _mark(self, p, grad):
        b, k = self.index[id(p)]
        if self.tracer is not None:
            if b.grads is None:
                b.grads = [None] * len(b.params)
            b.grads[k] = grad
        elif grad is None:
            b.view(k).fill(0)
        else:
            np.copyto(b.view(k), grad)
        self.ready.add(id(p))
        b.pending -= 1
        if b.pending == 0:
            self._launch()
        if self.next == len(self.buckets):
            self._finish()
        elif self.next and self.tracer is None:
            # MPI progresses a non-blocking collective only inside MPI calls
            mpi().Request.Testall([x.request for x in self.buckets[:self.next]])

    def _launch(self):
        MPI = mpi()
        while self.next < len(self.buckets) and self.buckets[self.next].pending == 0:
            b = self.buckets[self.next]
            if self.tracer is not None:       # a node of the compiled graph, in bucket order
                b.request = traced.reduce_bucket(b.grads, self.group)
            else:
                b.request = self.group.comm.Iallreduce(MPI.IN_PLACE, b.buffer, op=MPI.SUM)
            self.next += 1

    def _finish(self):
        if self.tracer is not None:
            for b in self.buckets:
                traced.write_back(self.tracer, b.params, b.request)
            self._reset()
            return
        reqs = [b.request for b in self.buckets]
        if self.used_request is not None:
            reqs.append(self.used_request)
        wait_requests(reqs, self.group, f"{self.owner}: the gradient all-reduce")
        n = self.group.size
        for b in self.buckets:
            np.divide(b.buffer, n, out=b.buffer)
            for k, p in enumerate(b.params):
                if self.used is not None and self.used[self.position[id(p)]] == 0:
                    continue               # no rank used it: leave .grad alone, as PyTorch does
                avg = b.view(k)
                if p.grad is None:
                    p.grad = wrap(avg.copy())
                else:
                    np.copyto(raw(p.grad), avg)
        self._reset()

    def _name(self, p):
        return self.named[self.position[id(p)]][0]

    def remove(self):
        for h in self._hooks:
            h.remove()
        self._hooks = []
