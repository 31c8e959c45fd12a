"""Per-op timing: where does the time of an eager (or backward) run go?

``profile()`` is a context manager that, while active, wraps the ``forward``
and ``vjp`` methods of every ``Op`` subclass with a timer and puts them back
on exit, so it costs nothing when it is not in use (no hook in ``apply`` or
in the engine).  A vjp's time includes the forwards of the ops its body
calls (they are the backward pass of that op); forwards are timed only when
they are not nested in another timed call, so nothing is counted twice.
The time not spent inside any op is the framework's own Python overhead.

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

from .ops.base import Op

_perf = time.perf_counter


def _all_op_classes():
    # Import every op family (and the composites' modules) so that their classes are seen.
    import importlib
    import pkgutil
    from . import ops
    names = [f"qiflow.ops.{m.name}" for m in pkgutil.iter_modules(ops.__path__)]
    for mod in names + ["qiflow.functional", "qiflow.losses"]:
        try:
            importlib.import_module(mod)
        except ImportError:
            pass
    seen, stack = [], [Op]
    while stack:
        c = stack.pop()
        for s in c.__subclasses__():
            if s not in seen:
                seen.append(s)
                stack.append(s)
    return seen


class profile:
    """Time every op's forward and vjp while active; see the module docstring.

    ``totals()`` -> {(op name, 'forward'|'backward'): [seconds, calls]};
    ``table(top=20)`` -> a printable summary with the overhead line.
    """

    def __init__(self):
        self.stats = {}
        self._depth = 0
        self._saved = []
        self.wall = 0.0

    # ------------------------------------------------------------- wrapping
    def _wrap(self, cls, attr, phase):
        raw = cls.__dict__[attr]
        static = isinstance(raw, staticmethod)
        fn = raw.__func__ if static else raw
        prof = self
        fixed_name = cls.__name__

        def timed(*args, **kw):
            if prof._depth:
                return fn(*args, **kw)
            prof._depth = 1
            t0 = _perf()
            try:
                return fn(*args, **kw)
            finally:
                dt = _perf() - t0
                prof._depth = 0
                name = fixed_name if static else type(args[0]).__name__
                s = prof.stats.get((name, phase))
                if s is None:
                    prof.stats[(name, phase)] = [dt, 1]
                else:
                    s[0] += dt
                    s[1] += 1

        timed.__wrapped__ = fn
        setattr(cls, attr, staticmethod(timed) if static else timed)
        self._saved.append((cls, attr, raw))

    def __enter__(self):
        for cls in _all_op_classes():
            if "forward" in cls.__dict__:
                self._wrap(cls, "forward", "forward")
            if "vjp" in cls.__dict__:
                self._wrap(cls, "vjp", "backward")
        self._t0 = _perf()
        return self

    def __exit__(self, *exc):
        self.wall += _perf() - self._t0
        for cls, attr, raw in reversed(self._saved):
            setattr(cls, attr, raw)
        self._saved.clear()
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
