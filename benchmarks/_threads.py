"""Thread counts: set in the environment before NumPy or torch loads, then verified.

BLAS libraries read OMP/OPENBLAS/MKL_NUM_THREADS once, when they load, so a
benchmark child gets its environment from the parent before its first import.
After the work, the child asks threadpoolctl which thread pools it really holds
(NumPy's BLAS, OpenMP runtimes) and torch for its own counts; every count that
differs from the one asked for is reported.

    >>> env = set_env(2, {})
    >>> env["OPENBLAS_NUM_THREADS"]
    '2'
"""
import os
import re
import sys

ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def set_env(n, env=None):
    """Write the thread count into `env` (default: this process's environment)."""
    env = os.environ if env is None else env
    for var in ENV_VARS:
        env[var] = str(n)
    return env


def default_threads():
    """Every CPU this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def inspect():
    """The pools this process holds now: threadpoolctl's view, and torch's when it is loaded."""
    from threadpoolctl import threadpool_info
    pools = [{"api": p.get("internal_api"), "user_api": p.get("user_api"),
              "version": p.get("version"), "arch": p.get("architecture"),
              "threads": p.get("num_threads"), "lib": os.path.basename(p.get("filepath") or "")}
             for p in threadpool_info()]
    th = sys.modules.get("torch")
    return {"pools": pools, "torch": _torch_info(th) if th is not None else None}


def _torch_info(th):
    # torch links MKL statically, so threadpoolctl cannot see it: ask torch itself.
    par = th.__config__.parallel_info()
    mkl_threads = re.search(r"mkl_get_max_threads\(\)\s*:\s*(\d+)", par)
    mkl_version = re.search(r"Math Kernel Library Version ([\w.]+)", par)
    blas = re.search(r"BLAS_INFO=(\w+)", th.__config__.show())
    try:
        arch = th.backends.cpu.get_cpu_capability()
    except AttributeError:
        arch = None
    return {"version": th.__version__, "threads": th.get_num_threads(),
            "mkl_threads": int(mkl_threads.group(1)) if mkl_threads else None,
            "blas": blas.group(1) if blas else None,
            "blas_version": mkl_version.group(1) if mkl_version else None, "arch": arch}


def mismatches(info, n):
    """One sentence per pool whose thread count is not n (empty when all agree)."""
    out = []
    for p in info["pools"]:
        if p["threads"] != n:
            out.append(f"{p['api']} ({p['lib']}) runs {p['threads']} threads")
    t = info.get("torch")
    if t is not None:
        if t["threads"] != n:
            out.append(f"torch.get_num_threads() is {t['threads']}")
        if t["mkl_threads"] is not None and t["mkl_threads"] != n:
            out.append(f"torch's MKL runs {t['mkl_threads']} threads")
    return out


def describe_numpy_blas(info):
    """'openblas 0.3.31 (Haswell kernel), 2 threads' for the BLAS pools found."""
    blas = [p for p in info["pools"] if p["user_api"] == "blas"]
    if not blas:
        return "no BLAS pool found"
    return "; ".join(f"{p['api']} {p['version'] or '?'} ({p['arch'] or '?'} kernel), "
                     f"{p['threads']} threads" for p in blas)


def describe_torch(info):
    """'mkl 2024.2 (AVX2), 2 threads' for torch's own BLAS, or None without torch."""
    t = info.get("torch")
    if t is None:
        return None
    return (f"{t['blas'] or '?'} {t['blas_version'] or ''} ({t['arch'] or '?'}), "
            f"{t['threads']} threads").replace("  ", " ")
