"""``scan``: Theano's symbolic loop, as one primitive whose gradient is a scan.

``scan(fn, sequences, outputs_info, non_sequences, n_steps, ...)`` calls
``fn`` once on symbolic stand-ins for one step (the slices of the sequences at
their taps, the previous values of the fed-back outputs, the non-sequences)
and turns the graph it returns into a ``Scan`` node.  The node's forward runs
the step's own compiled function once per step; its vjp builds another scan
that runs backwards in time (backpropagation through time), so the gradient is
a graph like any other and can be differentiated again.

The primitive is in ``scan_op.py``, the builder in ``scan_build.py``, the
gradient in ``scan_grad.py``.  ``map``, ``reduce``, ``foldl`` and ``foldr`` are
scans.

Outputs fed back (``outputs_info``) are kept by the node as a buffer of the
initial values followed by the new ones; what ``scan`` returns is the new part,
as in Theano.  Shared variables that ``fn`` updates become such states too:
each step sees the value the previous step wrote, and the returned ``updates``
hold the value after the last step (pass them to ``function(updates=...)``).

>>> from qiflow import sym as T
>>> x = T.dvector('x')
>>> s, _ = T.scan(lambda v, acc: acc + v, sequences=x, outputs_info=T.constant(0.0, dtype='float64'))
>>> T.function([x], s)([1.0, 2.0, 3.0]).tolist()
[1.0, 3.0, 6.0]
"""
from .scan_build import build_scan


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None,
         truncate_gradient=-1, go_backwards=False, mode=None, name=None, profile=False,
         allow_gc=None, strict=False, return_list=False):
    """Theano's ``scan``: a loop over ``sequences`` with states fed back.

    ``fn`` receives, in order: for every sequence the slices at its taps
    (``dict(input=x, taps=[-1, 0])``; default tap 0), for every fed-back output
    its previous values at its taps (``outputs_info``: an initial value, tap -1,
    or ``dict(initial=x0, taps=[-2, -1])`` where x0 holds the first 2 values;
    ``None``: an output that is not fed back), then the non-sequences.  It
    returns the outputs, optionally with updates of shared variables
    (``(outputs, updates)``).  Returns ``(outputs, updates)``: each output has
    the steps as first axis (a single variable when fn returns one, unless
    ``return_list``), and ``updates`` maps each updated shared variable to its
    value after the last step.

    ``n_steps``: an int or integer scalar (default: the sequences' length);
    ``go_backwards``: iterate from the end of the sequences (outputs are in the
    order computed); ``truncate_gradient``: backpropagate through the last k
    steps only (-1: all); ``strict``: every shared variable fn uses must be
    passed (in ``non_sequences``).

    >>> k = T.iscalar('k'); a = T.dvector('a')
    >>> p, _ = T.scan(lambda prev, a: prev * a, outputs_info=T.ones_like(a), non_sequences=a, n_steps=k)
    >>> T.function([a, k], p[-1])([1.0, 2.0, 3.0], 3).tolist()
    [1.0, 8.0, 27.0]
    """
    return build_scan(fn, sequences, outputs_info, non_sequences, n_steps, truncate_gradient,
                      go_backwards, mode, name, strict, return_list)


def map(fn, sequences, non_sequences=None, truncate_gradient=-1, go_backwards=False, mode=None,
        name=None):
    """fn applied to every step of ``sequences``: ``(outputs, updates)``.

    >>> v = T.dvector('v')
    >>> sq, _ = T.map(lambda a: a * a, sequences=v)
    >>> T.function([v], sq)([1.0, 2.0, 3.0]).tolist()
    [1.0, 4.0, 9.0]
    """
    return scan(fn, sequences=sequences, outputs_info=None, non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards, mode=mode, name=name)


def _last(outputs):
    if isinstance(outputs, list):
        return [o[-1] for o in outputs]
    return outputs[-1]


def reduce(fn, sequences, outputs_info, non_sequences=None, go_backwards=False, mode=None, name=None):
    """A scan that returns only the values after the last step: ``(outputs, updates)``.

    >>> v = T.dvector('v')
    >>> total, _ = T.reduce(lambda a, acc: acc + a, sequences=v, outputs_info=T.constant(0.0, dtype='float64'))
    >>> float(T.function([v], total)([1.0, 2.0, 3.0]))
    6.0
    """
    outs, ups = scan(fn, sequences=sequences, outputs_info=outputs_info, non_sequences=non_sequences,
                     go_backwards=go_backwards, mode=mode, name=name)
    return _last(outs), ups


def foldl(fn, sequences, outputs_info, non_sequences=None, mode=None, name=None):
    """``reduce`` from the first step to the last.

    >>> v = T.dvector('v')
    >>> r, _ = T.foldl(lambda a, acc: acc * 10 + a, sequences=v, outputs_info=T.constant(0.0, dtype='float64'))
    >>> float(T.function([v], r)([1.0, 2.0, 3.0]))
    123.0
    """
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=False, mode=mode, name=name)


def foldr(fn, sequences, outputs_info, non_sequences=None, mode=None, name=None):
    """``reduce`` from the last step to the first.

    >>> v = T.dvector('v')
    >>> r, _ = T.foldr(lambda a, acc: acc * 10 + a, sequences=v, outputs_info=T.constant(0.0, dtype='float64'))
    >>> float(T.function([v], r)([1.0, 2.0, 3.0]))
    321.0
    """
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=True, mode=mode, name=name)
