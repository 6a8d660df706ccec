"""`--env-file` and `--python`, shared by the commands that judge the stages'
environment: `run`, `run-stage` (also with `--dry-run`), `status`, `describe` and
`doctor`."""

from __future__ import annotations

import os

from orchestrator.errors import UsageError

TYPE_CHECKING = False  # typing is not imported: the fast path starts here
if TYPE_CHECKING:
    from typing import Iterable

    from orchestrator.graph import Graph


def add_env_file(parser) -> None:
    parser.add_argument("--env-file", metavar="PATH",
                        help="load variables for the stages from a dotenv file (variables "
                             "already set in the environment win); their values are masked")
    parser.add_argument("--python", metavar="PATH",
                        help="the interpreter of python3/python stages, relative to the "
                             "root (a virtualenv folder works too); sets PIPELINE_PYTHON, "
                             "over the graph's \"python\"")


def env_file_values(env_file: str | None) -> dict[str, str]:
    """The file's variables (a missing file or a bad line: UsageError, exit 2)."""
    if not env_file:
        return {}
    from orchestrator.envfile import load_env_file

    return load_env_file(env_file, os.environ, shown=env_file)


def stage_environ(file_values: dict[str, str], python: str | None = None
                  ) -> dict[str, str]:
    """The stages' environment: ours, and the --env-file values it lacks; `--python`
    sets PIPELINE_PYTHON in it."""
    environ = {**file_values, **os.environ}
    if python is not None:
        from orchestrator.runtimes import PYTHON_VARIABLE

        if not python.strip():
            raise UsageError("--python: empty path")
        environ[PYTHON_VARIABLE] = python
    return environ


def refuse_missing_required(graph: Graph, stage_ids: Iterable[str],
                            environ: dict[str, str]) -> None:
    """Every `required` variable of these stages set and not empty, or one line naming
    them all (exit 2), before anything starts."""
    missing = [f"{v.name} (stage {sid})" for sid in stage_ids
               for v in graph.stages[sid].environment
               if v.required and not environ.get(v.name)]
    if missing:
        raise UsageError("required environment variable not set or empty: "
                         + ", ".join(missing))
