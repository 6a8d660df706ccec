"""Expose a repository's stage graph to doit.

A repository's `dodo.py` needs only::

    from orchestrator.dodo import *

Then `doit list`, `doit run full-refresh`, `doit run STAGE`, `doit info STAGE`,
`doit forget` and `doit run -a PIPELINE` work on the graph at
`pipeline/stage-graph.json` under the working directory (or `$PIPELINE_GRAPH`), with the
same translation, state (`.doit.db`) and run records as `pipeline run`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from orchestrator.errors import GraphError, UsageError
from orchestrator.graph import load_graph, resolve_graph_path
from orchestrator.session import RunOptions, RunSession

__all__ = ["DOIT_CONFIG", "task_stage_graph"]

_ROOT = Path.cwd()


def _refuse_linked_state() -> None:
    """Before doit opens its state DB (it does so before any reporter or task of ours
    runs): a state path linked outside the project is one line and exit 2, as for
    `pipeline run`; opening the DB through a link to a file not there yet would create
    it outside."""
    from orchestrator.lock import refuse_linked_state

    try:
        refuse_linked_state(_ROOT)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _doit_argv() -> tuple[str, ...]:
    """The command line after `doit`, for the record (`pipeline report` shows it): only
    when this process is doit's own command (`doit`, `python -m doit`), not a program
    that runs doit through its API with argv of its own."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    is_doit = program.name == "doit" or program.parts[-2:] == ("doit", "__main__.py")
    return tuple(sys.argv[1:]) if is_doit else ()


_refuse_linked_state()
_GRAPH_PATH = resolve_graph_path(_ROOT, os.environ.get("PIPELINE_GRAPH") or None)
_GRAPH = None
_ERROR: str | None = None
try:
    _GRAPH = load_graph(_GRAPH_PATH, _ROOT)
    for _line in _GRAPH.misspelling_lines():  # doit loads this module once per command
        print(f"warning: {_line}", file=sys.stderr)
except GraphError as exc:  # reported by the task creator, where doit expects it
    _ERROR = str(exc)

if _GRAPH is not None:
    # the same composition as `pipeline run`: lock (taken when doit starts), masker,
    # ledger, reporter, executor and checker
    _SESSION = RunSession(_GRAPH, RunOptions(command="doit run", argv=_doit_argv()))
    DOIT_CONFIG = _SESSION.doit_config()
    try:
        DOIT_CONFIG["default_tasks"] = [_GRAPH.default_pipeline().id]
    except UsageError:
        pass  # several pipelines and no default: plain `doit` runs every task
else:
    from orchestrator.engine import DOIT_CONFIG_BASE

    DOIT_CONFIG = dict(DOIT_CONFIG_BASE)


def task_stage_graph():
    """Stages and pipelines of the stage graph."""
    if _GRAPH is None:
        from doit.exceptions import InvalidDodoFile

        raise InvalidDodoFile(_ERROR)
    yield from _SESSION.tasks(pipelines=True)
