"""What the compat front doors share: making another framework's import name resolve to
qiflow (``install``/``uninstall``) and running a program under it (``python -m ...``)."""
import importlib
import importlib.util
import os
import runpy
import sys


def install(name, package, modules, force):
    """``import name`` resolves to the module ``package`` and each ``name.x`` of ``modules``
    ({full name: qiflow module}) to its target.  Does nothing, and returns False, where the
    real framework is importable (unless ``force``); True once installed."""
    mine = sys.modules[package]
    if sys.modules.get(name) is mine:
        return True
    if not force:
        if name in sys.modules:
            return False
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            return False
    sys.modules[name] = mine
    for full, target in modules.items():
        sys.modules[full] = importlib.import_module(target)
    return True


def uninstall(name, package, modules):
    """Undo ``install``: the names that point at qiflow's modules are removed."""
    if sys.modules.get(name) is sys.modules[package]:
        del sys.modules[name]
    for full, target in modules.items():
        if getattr(sys.modules.get(full), "__name__", None) == target:
            del sys.modules[full]


def run_program(package, install_fn, refusal, argv=None):
    """``python -m package program.py [args]``: the program runs unchanged, as
    ``python program.py`` would run it, with the framework's name resolved to qiflow."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: python -m {package} program.py [args ...]")
        return 0 if argv else 2
    if not install_fn():
        print(f"{package}: {refusal}", file=sys.stderr)
        return 1
    sys.argv = argv
    # as `python program.py` does: the program's folder comes first on the path, so
    # it imports its sibling modules (mlp.py's `from logistic_sgd import ...`)
    sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
    runpy.run_path(argv[0], run_name="__main__")
    return 0
