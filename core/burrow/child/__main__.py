"""`python -m burrow.child`: the one-shot extension child (see burrow.child.main)."""

import sys

from burrow.child.main import main

sys.exit(main())
