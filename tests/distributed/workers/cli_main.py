"""``qiflow ARGS`` on every rank, as ``mpiexec -n N qiflow ARGS`` runs it."""
import sys

from qiflow.cli import main

sys.exit(main(sys.argv[1:]))
