"""``python -m cdanalytics.io [PATH]``: regenerate the data dictionary.

PATH defaults to ``docs/data_dictionary.md``.
"""

import sys

from .dictionary import write_data_dictionary

print(write_data_dictionary(*sys.argv[1:2]))
