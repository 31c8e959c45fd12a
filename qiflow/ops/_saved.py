"""Helpers shared by the nn primitives (conv, dense, rnn, xent).

* ``needs_grad(k)``: inside a vjp, whether the engine wants input k's gradient
  (``_state.needs_input_grad``), so a vjp can skip a GEMM nobody needs.
* ``_Memo``: a few arrays a forward computed that its backward would
  otherwise recompute (im2col matrices, LSTM gates), found again by the
  identity of an array the backward receives.  Purely an optimisation: a
  miss recomputes, so results never depend on it.
"""
import weakref

from .. import _state


class _Memo:
    """Up to ``size`` saved values keyed by (array identity, key); entries die
    with their array, a lookup removes the entry, and a newer entry for the
    same array and key replaces the older one."""

    def __init__(self, size=4):
        self.size = size
        self.items = []

    def put(self, x, key, value):
        # a newer forward on the same array replaces the older entry
        live = [it for it in self.items if it[0]() is not None and not (it[0]() is x and it[1] == key)]
        self.items = live[-(self.size - 1):] + [(weakref.ref(x), key, value)]

    def take(self, x, key):
        for i in range(len(self.items) - 1, -1, -1):
            ref, k, v = self.items[i]
            if ref() is x and k == key:
                del self.items[i]
                return v
        return None


def needs_grad(k):
    """Whether the engine wants the gradient of input k (True when it does not say)."""
    needs = getattr(_state, "needs_input_grad", None)
    return needs is None or k >= len(needs) or needs[k]
