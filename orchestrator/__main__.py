"""`python -m orchestrator` is the `pipeline` command."""

import sys

from orchestrator.cli import main

sys.exit(main())
