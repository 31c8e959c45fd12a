"""``python -m qiflow`` runs the ``qiflow`` command line."""
import sys

from .cli import main

sys.exit(main())
