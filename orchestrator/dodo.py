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
from pathlib import Path

from orchestrator.compile import compile_tasks
from orchestrator.engine import DOIT_CONFIG_BASE, action_factory
from orchestrator.errors import GraphError, UsageError
from orchestrator.graph import load_graph, resolve_graph_path
from orchestrator.ledger import RunLedger
from orchestrator.reporter import PipelineReporter

__all__ = ["DOIT_CONFIG", "task_stage_graph"]

_ROOT = Path.cwd()
_GRAPH_PATH = resolve_graph_path(_ROOT, os.environ.get("PIPELINE_GRAPH") or None)
_GRAPH = None
_ERROR: str | None = None
try:
    _GRAPH = load_graph(_GRAPH_PATH, _ROOT)
except GraphError as exc:  # reported by the task creator, where doit expects it
    _ERROR = str(exc)

_LEDGER = RunLedger(_ROOT, _GRAPH.display if _GRAPH else str(_GRAPH_PATH),
                    {"command": "doit run", "entryPoint": "doit"})

DOIT_CONFIG = dict(DOIT_CONFIG_BASE, reporter=PipelineReporter(_LEDGER, take_lock=True))
if _GRAPH is not None:
    try:
        DOIT_CONFIG["default_tasks"] = [_GRAPH.default_pipeline().id]
    except UsageError:
        pass  # several pipelines and no default: plain `doit` runs every task


def task_stage_graph():
    """Stages and pipelines of the stage graph."""
    if _GRAPH is None:
        from doit.exceptions import InvalidDodoFile

        raise InvalidDodoFile(_ERROR)
    yield from compile_tasks(_GRAPH, list(_GRAPH.stages), _ROOT,
                             action_factory(_GRAPH, _ROOT, _LEDGER), pipelines=True,
                             keep_scan=True)
