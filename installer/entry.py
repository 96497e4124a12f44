"""The frozen app's entry point (PyInstaller needs a script): the same ``staffpulse`` command as from source."""

import sys

from sync.cli import main

if __name__ == "__main__":
    sys.exit(main())
