"""``python -m qiflow.compat.theano program.py [args]``: run a Theano program on
qiflow (``import theano`` resolves to qiflow.compat.theano), unchanged."""
import sys

from .. import _alias
from . import install


def main(argv=None):
    return _alias.run_program("qiflow.compat.theano", install,
                              "the real Theano is installed; not replacing it", argv)


if __name__ == "__main__":
    sys.exit(main())
