"""Every benchmark case, in the order the table shows them.

``QIFLOW_BENCH_EXTRA_CASES=/path/to/file.py`` appends that file's ``cases()``:
the smoke tests use it for fake cases that must trip the harness's checks
(a thread count that differs, losses that differ, an in-process artefact).
"""
import importlib.util
import os

EXTRA_ENV = "QIFLOW_BENCH_EXTRA_CASES"


def all_cases():
    import case_core
    import case_nn
    import memory
    return case_core.cases() + case_nn.cases() + memory.cases() + _extra()


def get(key):
    """The case with this key; KeyError naming the known keys otherwise."""
    cases = {c.key: c for c in all_cases()}
    if key not in cases:
        raise KeyError(f"no benchmark case {key!r}; known: {', '.join(cases)}")
    return cases[key]


def _extra():
    path = os.environ.get(EXTRA_ENV)
    if not path:
        return []
    spec = importlib.util.spec_from_file_location("qiflow_bench_extra_cases", path)
    if spec is None:
        raise ImportError(f"{EXTRA_ENV}={path!r} is not a Python file")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return list(mod.cases())
