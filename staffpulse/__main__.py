"""``python -m staffpulse``: the ``staffpulse`` command from a checkout (tests start the agent this way)."""

import sys

from staffpulse.cli import main

sys.exit(main())
