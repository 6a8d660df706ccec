"""Which project a `pipeline` command started without `-C` works on: found upward from
the working directory, as git finds its repository (and doit's `--seek-file` its dodo.py).

The project root is the first directory, from the working directory up, that holds the
graph file: `pipeline/stage-graph.json`, or the path `$PIPELINE_GRAPH` names (relative to
the root, as under plain doit). When none does, a working directory holding run records
(`.pipeline-runs/`, downloaded from CI) is the root, for the commands that read them;
otherwise the command stops with one line saying where it looked.
"""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.errors import UsageError
from orchestrator.paths import RUNS_DIR

GRAPH_VARIABLE = "PIPELINE_GRAPH"


def graph_from_environment(environ=None) -> str | None:
    """The graph file `$PIPELINE_GRAPH` names (empty counts as unset), relative to the root."""
    value = (os.environ if environ is None else environ).get(GRAPH_VARIABLE, "")
    return value or None


def find_root(start: Path, environ=None) -> Path:
    from orchestrator.paths import DEFAULT_GRAPH

    named = graph_from_environment(environ)
    graph = Path(named) if named else Path(DEFAULT_GRAPH)
    for folder in (start, *start.parents):
        if (folder / graph).is_file():
            return folder
    if (start / RUNS_DIR).is_dir():
        return start
    what = f"{graph} (${GRAPH_VARIABLE})" if named else str(graph)
    where = "in it" if graph.is_absolute() else f"in {start} or any directory above it"
    if graph.is_absolute():
        raise UsageError(f"{what}: graph file not found (started in {start})")
    raise UsageError(f"no {what} {where}: run pipeline inside a project, or name its root "
                     f"with -C DIR (or the graph with -g FILE)")
