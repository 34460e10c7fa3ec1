"""``python -m reprlab.cli``."""

import sys

from . import main

sys.exit(main())
