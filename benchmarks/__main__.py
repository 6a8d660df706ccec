"""`python -m benchmarks`: run the benchmarks (see benchmarks/runner.py for the options)."""

import sys

from benchmarks.runner import main

sys.exit(main())
