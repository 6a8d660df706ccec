"""`python -m orchestrator` is the `pipeline` command."""

from orchestrator.cli import entry

if __name__ == "__main__":  # not when a worker process re-imports it
    entry()
