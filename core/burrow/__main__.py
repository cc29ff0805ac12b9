"""`python -m burrow`: the same as the `burrow` command."""

import sys

from burrow.cli import main

sys.exit(main())
