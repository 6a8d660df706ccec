"""How to rerun a stage that failed or could not start: commands that work as printed.

- Under `pipeline`, the hints repeat the global options the user gave (`-C`, `-g`).
  `pipeline run-stage STAGE` (and `run PIPELINE --from STAGE`) are offered only when the
  stage's required inputs exist now: otherwise both would stop at once on the missing
  input, and the hint is `pipeline run PIPELINE --to STAGE`, which runs the stages that
  write them first.
- Under plain `doit`, the hint is `doit run STAGE` with the options of doit's own
  command line that say where the tasks are (`-f`, `-d`, `-k`, `--db-file`): doit has
  neither `run-stage` nor `--from`, and `doit run STAGE` runs the stages it depends on
  first when they are not up to date.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from orchestrator.console import pipeline_command

if TYPE_CHECKING:
    from orchestrator.graph import Graph

# doit's `run` options that choose the dodo file, its folder and its state: a hint must
# repeat them to reach the same tasks
_DOIT_OPTIONS_WITH_VALUE = ("-f", "--file", "-d", "--dir", "--db-file", "--backend")
_DOIT_FLAGS = ("-k", "--seek-file")


def missing_inputs(graph: Graph, stage_id: str, root: Path) -> list[str]:
    """The required input artifacts of the stage that do not exist now (a cache it also
    writes excepted): with none, `run-stage` can start it."""
    stage = graph.stages[stage_id]
    missing = []
    for inp in stage.inputs:
        if inp.is_external or inp.optional or inp.artifact in stage.cache_artifacts:
            continue
        artifact = graph.artifacts[inp.artifact]
        path = root / artifact.path
        if not (path.is_dir() if artifact.is_directory else path.is_file()):
            missing.append(artifact.id)
    return missing


def inputs_present(graph: Graph, stage_id: str, root: Path) -> bool:
    return not missing_inputs(graph, stage_id, root)


def pipeline_of(graph: Graph, stage_id: str, pipeline_id: str | None) -> str | None:
    """The pipeline a hint names for the stage: the run's own, else the default pipeline
    when it lists the stage, else the first that does (None when none does)."""
    if pipeline_id:
        return pipeline_id
    listing = [p.id for p in graph.pipelines.values() if stage_id in p.stages]
    try:
        default = graph.default_pipeline().id
    except Exception:  # several pipelines and no default
        default = None
    if default in listing:
        return default
    return listing[0] if listing else None


def rerun_hints(graph: Graph, stage_id: str, pipeline_id: str | None,
                global_options: Sequence[str], entry_point: str = "pipeline",
                argv: Sequence[str] | None = None) -> list[str]:
    """The commands to show under a failed (or refused) stage; see the module doc."""
    if entry_point == "doit":
        return [doit_command(argv if argv is not None else sys.argv[1:], stage_id)]
    missing = missing_inputs(graph, stage_id, graph.root)
    if not missing:
        hints = [pipeline_command(global_options, "run-stage", stage_id)]
        if pipeline_id:
            hints.append(pipeline_command(global_options, "run", pipeline_id, "--from",
                                          stage_id))
        return hints
    writers = {artifact: [w for w in graph.writers(artifact) if w != stage_id]
               for artifact in missing}
    pipeline = pipeline_of(graph, stage_id, pipeline_id)
    if pipeline is not None and all(set(ws) & set(graph.pipelines[pipeline].stages)
                                    for ws in writers.values()):
        # the pipeline writes every missing input before the stage
        return [pipeline_command(global_options, "run", pipeline, "--to", stage_id)]
    # else: run the stages that write its inputs, where they can start (none: the
    # files must come from elsewhere, and no command would help)
    return [pipeline_command(global_options, "run-stage", w)
            for w in sorted({w for ws in writers.values() for w in ws})
            if inputs_present(graph, w, graph.root)]


def doit_command(argv: Sequence[str], stage_id: str) -> str:
    """`doit run [the options of argv that locate the tasks] STAGE`."""
    kept: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        if arg in _DOIT_OPTIONS_WITH_VALUE and i + 1 < len(args):
            kept += [arg, args[i + 1]]
            i += 1
        elif name in _DOIT_OPTIONS_WITH_VALUE and "=" in arg:
            kept.append(arg)
        elif arg in _DOIT_FLAGS:
            kept.append(arg)
        i += 1
    return shlex.join(["doit", "run", *kept, stage_id])
