import sys

from starforge.cli import main

if __name__ == "__main__":  # vLLM's spawned engine processes re-import the main module
    sys.exit(main())
