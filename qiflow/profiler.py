"""Per-op timing: where does the time of an eager (or backward) run go?

``profile()`` pushes an interpreter (``ops.base``) for the duration of the
block: every primitive application passes through it and is timed as that
op's forward, every vjp the engine runs as that op's backward.  A vjp's time
includes the forwards of the ops its body calls (they are the backward pass
of that op), so those are not counted again; compiled functions (``T.function``,
``qf.compile``) report each node of their schedule.  The time not spent inside
any op is the framework's own Python overhead.  Outside the block nothing is
timed and nothing costs anything.

>>> import qiflow as qf
>>> from qiflow.profiler import profile
>>> x = qf.ones((3, 3), requires_grad=True)
>>> with profile() as prof:
...     (x @ x).sum().backward()
>>> sorted(prof.totals())            # doctest: +NORMALIZE_WHITESPACE
[('MatMul', 'backward'), ('MatMul', 'forward'), ('Sum', 'backward'), ('Sum', 'forward')]
>>> print(prof.table())              # doctest: +SKIP
"""
import time

from .ops import base as _base

_perf = time.perf_counter


class profile(_base.Interpreter):
    """Time every op's forward and vjp while active; see the module docstring.

    ``totals()`` -> {(op name, 'forward'|'backward'): [seconds, calls]};
    ``table(top=20)`` -> a printable summary with the overhead line.
    """

    intercepts_vjp = True

    def __init__(self):
        super().__init__()
        self.stats = {}
        self._depth = 0
        self.wall = 0.0

    # --------------------------------------------------------- interpreter
    def apply(self, op, args):
        if self._depth:
            return self.parent.apply(op, args)
        return self._timed(op.name, "forward", self.parent.apply, op, args)

    def apply_into(self, op, dst, args):
        if self._depth:
            return self.parent.apply_into(op, dst, args)
        return self._timed(op.name, "forward", self.parent.apply_into, op, dst, args)

    def vjp(self, op, ctx, inputs, output, grad):
        if self._depth:
            return self.parent.vjp(op, ctx, inputs, output, grad)
        return self._timed(op.name, "backward", self.parent.vjp, op, ctx, inputs, output, grad)

    def _timed(self, name, phase, fn, *args):
        self._depth = 1
        t0 = _perf()
        try:
            return fn(*args)
        finally:
            self.record(name, phase, _perf() - t0)
            self._depth = 0

    def record(self, name, phase, dt):
        """Add ``dt`` seconds (one call) to (name, phase); compiled functions report here."""
        s = self.stats.get((name, phase))
        if s is None:
            self.stats[(name, phase)] = [dt, 1]
        else:
            s[0] += dt
            s[1] += 1

    @property
    def busy(self):
        """True inside a timed op (nested work is part of that op's time)."""
        return bool(self._depth)

    def __enter__(self):
        _base.push(self)
        self._t0 = _perf()
        return self

    def __exit__(self, *exc):
        self.wall += _perf() - self._t0
        _base.pop(self)
        return False

    # ------------------------------------------------------------ reporting
    def totals(self):
        return {k: list(v) for k, v in self.stats.items()}

    def op_time(self):
        return sum(v[0] for v in self.stats.values())

    def table(self, top=20, per=1):
        """Rows sorted by time: op, phase, total microseconds (divided by ``per``), calls, share."""
        rows = sorted(self.stats.items(), key=lambda kv: -kv[1][0])
        wall = self.wall or 1e-12
        lines = [f"{'op':<22}{'phase':<10}{'us':>10}{'calls':>9}{'%':>7}"]
        for (name, phase), (t, n) in rows[:top]:
            lines.append(f"{name:<22}{phase:<10}{1e6 * t / per:>10.1f}{n // per:>9}{100 * t / wall:>7.1f}")
        if len(rows) > top:
            rest = sum(v[0] for _, v in rows[top:])
            lines.append(f"{'(other ops)':<32}{1e6 * rest / per:>10.1f}{'':>9}{100 * rest / wall:>7.1f}")
        over = wall - self.op_time()
        lines.append(f"{'(outside ops: python)':<32}{1e6 * over / per:>10.1f}{'':>9}{100 * over / wall:>7.1f}")
        lines.append(f"{'(wall)':<32}{1e6 * wall / per:>10.1f}")
        return "\n".join(lines)


def active():
    """The innermost active ``profile``, or None."""
    return _base.active(profile)
