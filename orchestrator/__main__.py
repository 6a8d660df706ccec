"""`python -m orchestrator` is the `pipeline` command."""

from orchestrator.cli import entry

entry()
