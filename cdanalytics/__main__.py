"""``python -m cdanalytics``: the command line, as the ``cdanalytics`` script."""

import sys

from .cli import main

sys.exit(main())
