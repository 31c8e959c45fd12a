"""``python -m qiflow.distributed -n N program``: see ``qiflow.distributed.launch``."""
import sys

from .launch import main

sys.exit(main())
