"""Small helpers shared by the example programs (argument parsing, output files)."""
import argparse
import os
import sys

# The examples run from a checkout without installing: make `import qiflow` work.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true",
                   help="a fast run (seconds) on small or synthetic data: what the tests use")
    p.add_argument("--out", default="examples_out",
                   help="folder for figures and drawings (default: ./examples_out)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--no-plots", action="store_true", help="skip figures and drawings")
    return p


def out_path(args, name):
    os.makedirs(args.out, exist_ok=True)
    return os.path.join(args.out, name)


def save_drawing(args, obj, stem, **kw):
    """Draw ``obj`` to ``<out>/<stem>.svg`` (or ``.dot`` without Graphviz); returns the path."""
    import qiflow as qf
    if args.no_plots:
        return None
    fmt = "svg" if qf.viz.have_graphviz() else "dot"
    path = out_path(args, f"{stem}.{fmt}")
    qf.viz.draw(obj, format=fmt, path=path, **kw)
    print(f"graph drawn to {path}")
    return path


def save_figure(args, make, name):
    """Call ``make(path)`` (a qf.viz.plots function) unless plots are off or matplotlib is missing."""
    if args.no_plots:
        return None
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(f"(matplotlib is not installed: skipping {name})")
        return None
    path = out_path(args, name)
    make(path)
    print(f"figure written to {path}")
    return path


def section(title):
    print()
    print(f"== {title} ==")
