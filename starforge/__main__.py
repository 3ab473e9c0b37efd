import sys

from starforge.cli import main

sys.exit(main())
