"""``python -m qiflow.compat.torch program.py [args]``: run a PyTorch program on qiflow
(``import torch`` resolves to qiflow.compat.torch), unchanged."""
import runpy
import sys

from . import install


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m qiflow.compat.torch program.py [args ...]")
        return 0 if argv else 2
    if not install():
        print("qiflow.compat.torch: the real PyTorch is installed; not replacing it "
              "(call qiflow.compat.torch.install(force=True) to replace it anyway)", file=sys.stderr)
        return 1
    sys.argv = argv
    sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(argv[0])))
    runpy.run_path(argv[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
