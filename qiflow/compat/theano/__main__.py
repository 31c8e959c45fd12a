"""``python -m qiflow.compat.theano program.py [args]``: run a Theano program on
qiflow (``import theano`` resolves to qiflow.compat.theano), unchanged."""
import os
import runpy
import sys

from . import install


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m qiflow.compat.theano program.py [args ...]")
        return 0 if argv else 2
    if not install():
        print("qiflow.compat.theano: the real Theano is installed; not replacing it",
              file=sys.stderr)
        return 1
    sys.argv = argv
    # as `python program.py` does: the program's folder comes first on the path, so
    # it imports its sibling modules (mlp.py's `from logistic_sgd import ...`)
    sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
    runpy.run_path(argv[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
