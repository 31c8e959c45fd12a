"""``python -m qiflow.cli`` runs the ``qiflow`` command line, as ``python -m qiflow`` does."""
import sys

from . import main

sys.exit(main())
