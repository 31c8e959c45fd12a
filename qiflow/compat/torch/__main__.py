"""``python -m qiflow.compat.torch program.py [args]``: run a PyTorch program on qiflow
(``import torch`` resolves to qiflow.compat.torch), unchanged."""
import sys

from .. import _alias
from . import install


def main(argv=None):
    return _alias.run_program("qiflow.compat.torch", install,
                              "the real PyTorch is installed; not replacing it (call "
                              "qiflow.compat.torch.install(force=True) to replace it anyway)", argv)


if __name__ == "__main__":
    sys.exit(main())
