"""MiniFlow (seeds 000 and 004) rebuilt on qiflow.

The API is MiniFlow's: ``Node`` with ``inbound_nodes``/``outbound_nodes``,
``value`` and ``gradients``; ``Input``, ``Linear``, ``Sigmoid``, ``Tanh``,
``MSE``; ``topological_sort(feed_dict)`` (Kahn's algorithm),
``forward_and_backward(graph)`` and ``sgd_update(trainables, lr)``.

What changes is who does the arithmetic.  Each node's forward pass is written
with qiflow operators (Torch's ``updateOutput``), and its backward pass
(``updateGradInput``) is not derived by hand: the node asks qiflow for the
vector-Jacobian product of its own small forward computation,
``qf.grad(out, inputs, grad_outputs=incoming)``.  MiniFlow still does the
scheduling: Kahn's order forwards, the reverse order backwards, and each node
sums the gradients its consumers send it.

    X, y, W, b = Input("X"), Input("y"), Input("W"), Input("b")
    cost = MSE(y, Sigmoid(Linear(X, W, b)))
    graph = topological_sort({X: x_, y: y_, W: w_, b: b_})
    forward_and_backward(graph); sgd_update([W, b], 0.1)
"""
from collections import deque

import numpy as np

import qiflow as qf


class Node:
    """A MiniFlow node whose forward is qiflow code and whose backward is qiflow's vjp."""

    def __init__(self, inbound_nodes=(), name=None):
        self.inbound_nodes = list(inbound_nodes)
        self.outbound_nodes = []
        self.value = None           # a qf.Tensor once forward() ran
        self.gradients = {}         # inbound node -> d cost / d (its value)
        self.name = name or type(self).__name__
        for n in self.inbound_nodes:
            n.outbound_nodes.append(self)

    def compute(self, *values):
        """The forward computation on qiflow tensors."""
        raise NotImplementedError

    def forward(self):
        # Fresh leaves stand for the inputs, so that backward() differentiates
        # this node alone, like MiniFlow's per-node backward.
        self._ins = [qf.tensor(n.value.detach().numpy(), requires_grad=n.value.dtype.kind == "f")
                     for n in self.inbound_nodes]
        self._out = self.compute(*self._ins)
        self.value = self._out.detach()

    def incoming(self):
        """d cost / d (this node's value): the sum of what every consumer sent back."""
        if not self.outbound_nodes:                 # the cost itself
            return qf.ones_like(self.value)
        total = None
        for n in self.outbound_nodes:
            g = n.gradients[self]
            total = g if total is None else total + g
        return total

    def backward(self):
        gs = qf.grad(self._out, self._ins, grad_outputs=self.incoming(), allow_unused=True)
        self.gradients = {n: (qf.zeros_like(n.value) if g is None else g)
                          for n, g in zip(self.inbound_nodes, gs)}

    def __repr__(self):
        return self.name


class Input(Node):
    """A value fed from outside (data or a trainable parameter)."""

    def forward(self):
        pass

    def backward(self):
        self.gradients = {self: self.incoming()}


class Linear(Node):
    def __init__(self, X, W, b, name=None):
        super().__init__([X, W, b], name)

    def compute(self, X, W, b):
        return X @ W + b


class Sigmoid(Node):
    def __init__(self, node, name=None):
        super().__init__([node], name)

    def compute(self, x):
        return qf.sigmoid(x)


class Tanh(Node):
    def __init__(self, node, name=None):
        super().__init__([node], name)

    def compute(self, x):
        return qf.tanh(x)


class MSE(Node):
    """Mean squared error of ``a`` against the target ``y`` (both flattened to columns,
    as MiniFlow does to avoid (3,) - (3, 1) broadcasting to (3, 3))."""

    def __init__(self, y, a, name=None):
        super().__init__([y, a], name)

    def compute(self, y, a):
        diff = y.reshape(-1, 1) - a.reshape(-1, 1)
        return (diff * diff).mean()


def topological_sort(feed_dict):
    """Kahn's algorithm over every node reachable from the fed ``Input`` nodes.

    Sets each Input's value from ``feed_dict`` (numbers or arrays become
    qiflow tensors) and returns the nodes in an order where every node comes
    after all of its inputs.
    """
    indegree, seen = {}, list(feed_dict)
    queue = deque(feed_dict)
    while queue:                                   # discover the graph
        n = queue.popleft()
        for m in n.outbound_nodes:
            if m not in indegree:
                indegree[m] = len(m.inbound_nodes)
                seen.append(m)
                queue.append(m)
    for n in seen:
        indegree.setdefault(n, len(n.inbound_nodes))
    ready = deque(n for n in seen if indegree[n] == 0)
    order = []
    while ready:
        n = ready.popleft()
        if isinstance(n, Input) and n in feed_dict:
            n.value = qf.as_tensor(feed_dict[n])
        order.append(n)
        for m in n.outbound_nodes:
            indegree[m] -= 1
            if indegree[m] == 0:
                ready.append(m)
    if len(order) != len(seen):
        missing = [n for n in seen if n not in order]
        raise ValueError(f"topological_sort: {missing} depend on inputs missing from feed_dict")
    return order


def forward_and_backward(graph):
    """Forward through ``graph`` in order, then backward in reverse order."""
    for n in graph:
        n.forward()
    for n in reversed(graph):
        n.backward()


def sgd_update(trainables, learning_rate=1e-2):
    """value <- value - learning_rate * d cost / d value, for each trainable Input."""
    for t in trainables:
        t.value = t.value - learning_rate * t.gradients[t]


def resample(rng, *arrays, n_samples):
    """Rows drawn with replacement, the same rows from each array (sklearn's ``resample``)."""
    idx = rng.integers(0, len(arrays[0]), n_samples)
    return tuple(np.asarray(a)[idx] for a in arrays)
