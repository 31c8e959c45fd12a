"""L-BFGS with PyTorch's contract: one parameter group, ``step(closure)`` re-evaluates the
loss as often as it needs, an optional strong-Wolfe line search.

The update itself is qiflow code (in-place ``add_`` on the parameters, flat vectors made
with ``qf.cat``); the decisions (convergence tests, the line search's bracketing) need
Python numbers, so a step runs eagerly: under ``qf.compile`` the ``float()`` of a traced
value makes the compiled function fall back to eager execution.

>>> w = qf.nn.Parameter(qf.tensor([3.0, -2.0], dtype=qf.float64))
>>> opt = qf.optim.LBFGS([w], line_search_fn="strong_wolfe")
>>> def closure():
...     opt.zero_grad(); loss = ((w - 1.0) ** 2).sum(); loss.backward(); return loss
>>> _ = opt.step(closure); [round(v, 6) for v in w.tolist()]
[1.0, 1.0]
"""
import numpy as np

from .. import _state
from .._state import QiflowError
from ..tensor import Tensor
from .optimizer import Optimizer


class LBFGS(Optimizer):
    """PyTorch's ``LBFGS(params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
    tolerance_change=1e-9, history_size=100, line_search_fn=None)``; ``max_eval`` defaults
    to ``max_iter * 5 // 4``, ``line_search_fn`` is None or ``'strong_wolfe'``."""

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if lr < 0.0:
            raise QiflowError(f"LBFGS: invalid learning rate {lr}")
        if line_search_fn not in (None, "strong_wolfe"):
            raise QiflowError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', "
                              f"got {line_search_fn!r}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                                      history_size=history_size, line_search_fn=line_search_fn))
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, group):
        if self.param_groups:
            raise QiflowError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(group)

    # ------------------------------------------------------- flat vectors
    def _flat_grad(self):
        from .. import cat
        parts = []
        for p in self._params:
            g = p.grad
            parts.append(Tensor._wrap(np.zeros(p.numel(), p._data.dtype)) if g is None
                         else g.detach().reshape(-1))
        return cat(parts, 0)

    def _add_dir(self, t, d):
        """p += t * d, d a flat vector cut into the parameters' shapes."""
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(d[offset:offset + n].view_as(p), alpha=t)
            offset += n

    def _evaluate(self, closure):
        prev = _state.grad_enabled
        _state.grad_enabled = True
        try:
            return closure()
        finally:
            _state.grad_enabled = prev

    def _directional(self, closure, x, t, d):
        """Loss and flat gradient at x + t d; the parameters are put back to x."""
        self._add_dir(t, d)
        loss = float(self._evaluate(closure))
        g = self._flat_grad()
        for p, saved in zip(self._params, x):
            p.copy_(saved)
        return loss, g

    # --------------------------------------------------------------- step
    def step(self, closure=None):
        """Up to ``max_iter`` L-BFGS iterations; ``closure`` (required) zeroes the
        gradients, computes the loss, calls ``backward()`` and returns the loss."""
        if closure is None:
            raise QiflowError("LBFGS.step needs a closure that re-evaluates the model and "
                              "returns the loss")
        prev = _state.grad_enabled
        _state.grad_enabled = False
        try:
            return self._step(closure)
        finally:
            _state.grad_enabled = prev

    def _step(self, closure):
        group = self.param_groups[0]
        lr, max_iter, max_eval = float(group["lr"]), group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history = group["history_size"]
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._evaluate(closure)
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if float(g.abs().max()) <= tol_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        dirs, stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_g, prev_loss = state.get("H_diag"), state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -g
                dirs, stps, ro, h_diag = [], [], [], 1.0
            else:
                y = g - prev_g
                s = d * t
                ys = _dot(y, s)
                if ys > 1e-10:                 # keep the pair only if the curvature is positive
                    if len(dirs) == history:
                        dirs.pop(0), stps.pop(0), ro.pop(0)
                    dirs.append(y), stps.append(s), ro.append(1.0 / ys)
                    h_diag = ys / _dot(y, y)
                # two-loop recursion: d = -H g
                al = state.setdefault("al", [None] * history)
                q = -g
                for i in range(len(dirs) - 1, -1, -1):
                    al[i] = _dot(stps[i], q) * ro[i]
                    q.add_(dirs[i], alpha=-al[i])
                d = q * h_diag
                for i in range(len(dirs)):
                    be = _dot(dirs[i], d) * ro[i]
                    d.add_(stps[i], alpha=al[i] - be)
            prev_g = g.clone()
            prev_loss = loss
            t = min(1.0, 1.0 / float(g.abs().sum())) * lr if state["n_iter"] == 1 else lr
            gtd = _dot(g, d)
            if gtd > -tol_change:              # not a descent direction
                break

            ls_evals = 0
            if group["line_search_fn"] == "strong_wolfe":
                x0 = [p.detach().clone() for p in self._params]
                loss, g, t, ls_evals = _strong_wolfe(
                    lambda x, tt, dd: self._directional(closure, x, tt, dd),
                    x0, t, d, loss, g, gtd, tolerance_change=tol_change, max_ls=max_eval - evals)
                self._add_dir(t, d)
                converged = float(g.abs().max()) <= tol_grad
            else:
                self._add_dir(t, d)
                converged = False
                if n_iter != max_iter:         # the last iteration's loss is not needed
                    loss = float(self._evaluate(closure))
                    g = self._flat_grad()
                    converged = float(g.abs().max()) <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals
            if n_iter == max_iter or evals >= max_eval or converged:
                break
            if float((d * t).abs().max()) <= tol_change or abs(loss - prev_loss) < tol_change:
                break

        state.update(d=d, t=t, old_dirs=dirs, old_stps=stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_g, prev_loss=prev_loss)
        return orig_loss

    def load_state_dict(self, state_dict):
        """Restore what ``state_dict`` saved (its flat vectors are not shaped like a parameter)."""
        groups = state_dict.get("param_groups") if hasattr(state_dict, "get") else None
        if groups is None or "state" not in state_dict or len(groups) != 1 \
                or len(groups[0]["params"]) != len(self._params):
            raise QiflowError("LBFGS.load_state_dict: expected the state_dict of an LBFGS over "
                              f"one group of {len(self._params)} parameters")
        saved = {int(k): v for k, v in state_dict["state"].items()}
        self.state = {}
        if saved:
            self.state[self._params[0]] = {k: _copied(v) for k, v in next(iter(saved.values())).items()}
        for k, v in groups[0].items():
            if k != "params":
                self.param_groups[0][k] = v


def _dot(a, b):
    return float((a * b).sum())


def _copied(v):
    if isinstance(v, Tensor):
        return Tensor._wrap(v._data.copy())
    if isinstance(v, np.ndarray):
        return Tensor._wrap(v.copy())
    if isinstance(v, list):
        return [_copied(x) for x in v]
    return v


def _cubic_min(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clipped to bounds
    (the interval [x1, x2] by default); the bounds' midpoint when the cubic has none."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    # IEEE arithmetic as PyTorch's tensors do it: a degenerate bracket (x1 == x2) gives
    # inf/nan, not an exception, and a nan falls through to the bounds' midpoint
    x1, f1, g1, x2, f2, g2 = (np.float64(v) for v in (x1, f1, g1, x2, f2, g2))
    with np.errstate(all="ignore"):
        d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
        disc = d1 * d1 - g1 * g2
        if not disc >= 0:
            return (lo + hi) / 2.0
        d2 = np.sqrt(disc)
        if x1 <= x2:
            m = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            m = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return float(min(max(m, lo), hi))


def _strong_wolfe(evaluate, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step t along d meeting the strong Wolfe conditions (Nocedal & Wright, alg. 3.5/3.6):
    bracket, then zoom by cubic interpolation.  Returns (f, g, t, evaluations)."""
    d_norm = float(d.abs().max())
    f_new, g_new = evaluate(x, t, d)
    evals = 1
    gtd_new = _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    it = 0
    br = None                                  # [(t, f, g, gtd), (t, f, g, gtd)] or one point
    while it < max_ls:
        if f_new > f + c1 * t * gtd or (it > 1 and f_new >= f_prev):
            br = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        if abs(gtd_new) <= -c2 * gtd:
            br, done = [[t, f_new, g_new, gtd_new]], True
            break
        if gtd_new >= 0:
            br = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        nxt = _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = nxt
        f_new, g_new = evaluate(x, t, d)
        evals += 1
        gtd_new = _dot(g_new, d)
        it += 1
    if it == max_ls:
        br = [[0.0, f, g, None], [t, f_new, g_new, None]]

    insufficient = False
    low, high = (0, 1) if br[0][1] <= br[-1][1] else (1, 0)
    while not done and it < max_ls:
        if abs(br[1][0] - br[0][0]) * d_norm < tolerance_change:
            break
        t = _cubic_min(br[0][0], br[0][1], br[0][3], br[1][0], br[1][1], br[1][3])
        top, bot = max(br[0][0], br[1][0]), min(br[0][0], br[1][0])
        eps = 0.1 * (top - bot)
        if min(top - t, t - bot) < eps:        # too close to an end: move away, or note it
            if insufficient or t >= top or t <= bot:
                t = top - eps if abs(t - top) < abs(t - bot) else bot + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(x, t, d)
        evals += 1
        gtd_new = _dot(g_new, d)
        it += 1
        if f_new > f + c1 * t * gtd or f_new >= br[low][1]:
            br[high] = [t, f_new, g_new, gtd_new]
            low, high = (0, 1) if br[0][1] <= br[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (br[high][0] - br[low][0]) >= 0:
                br[high] = list(br[low])
            br[low] = [t, f_new, g_new, gtd_new]
    t, f_new, g_new = br[low][0], br[low][1], br[low][2]
    return f_new, g_new, t, evals
