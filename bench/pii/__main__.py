"""`python -m bench.pii`: see bench/pii/__init__.py."""

import sys

from bench.pii.report import main

sys.exit(main())
