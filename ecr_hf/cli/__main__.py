"""``python -m ecr_hf.cli``: the ``ecr-hf`` command."""

import sys

from . import main

sys.exit(main())
