"""``python -m byoc_lab.cli``."""

import sys

from byoc_lab.cli import main

sys.exit(main())
