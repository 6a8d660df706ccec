"""`pipeline check`: validate the graph (loading does schema and meaning) and lint it.

Errors are graph shapes that make a run wrong or order-dependent; warnings are
loose ends that are probably mistakes. Each finding has a stable code (see docs/cli.md).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from orchestrator.console import Console, wrap
from orchestrator.errors import EXIT_OK, EXIT_STAGE_FAILED, UsageError
from orchestrator.graph import DEFAULT_PIPELINE, Graph, Pipeline
from orchestrator.plan import stage_order

# errors
UNORDERED_READ = "unordered-read"
DUPLICATE_WRITER = "duplicate-writer"
LISTED_BEFORE_DEPENDENCY = "listed-before-dependency"
# warnings
NEVER_WRITTEN = "never-written"
UNUSED_ARTIFACT = "unused-artifact"
STAGE_IN_NO_PIPELINE = "stage-in-no-pipeline"
ALWAYS_RUNS = "always-runs"
IMPLICIT_DEFAULT_PIPELINE = "implicit-default-pipeline"
UNKNOWN_FIELD = "unknown-field"


@dataclass
class Finding:
    code: str
    message: str
    place: str  # where in the graph file, as graph errors name it: pipelines[0].stages[2]
    ids: dict[str, object] = field(default_factory=dict)  # pipeline / stage / artifact ...

    def as_json(self) -> dict:
        return {"code": self.code, "message": self.message, "place": self.place, **self.ids}


def register(commands) -> None:
    parser = commands.add_parser(
        "check", help="validate the stage graph and lint it for ordering hazards and loose ends")
    parser.add_argument("--json", action="store_true",
                        help='print {"ok", "errors": [...], "warnings": [...]} as one JSON '
                             "document")
    parser.set_defaults(handler=check)


def check(ctx, args) -> int:
    ctx.warn_misspelled = False  # they are findings here
    graph = ctx.graph  # schema and meaning problems: exit 2 with one line each
    errors, warnings = lint(graph, ctx.root)
    console = Console()
    if args.json:
        console.json({"ok": not errors, "errors": [f.as_json() for f in errors],
                      "warnings": [f.as_json() for f in warnings]})
    else:
        show(console, graph, errors, warnings)
    return EXIT_STAGE_FAILED if errors else EXIT_OK


def show(console: Console, graph: Graph, errors: list[Finding], warnings: list[Finding]) -> None:
    for mark, style, findings in (("✖", "fail", errors), ("!", "bold", warnings)):
        for f in findings:
            for text in wrap(f"{mark} {graph.display}: {f.place}: {f.message} [{f.code}]"):
                console.line(text, style)
    size = (f"{len(graph.pipelines)} pipeline(s), {len(graph.stages)} stage(s), "
            f"{len(graph.artifacts)} artifact(s)")
    plural = lambda n, word: f"{n} {word}{'s' if n != 1 else ''}"  # noqa: E731
    if errors:
        console.line(f"{graph.display}: {plural(len(errors), 'error')}, "
                     f"{plural(len(warnings), 'warning')} ({size})", "fail")
    else:
        tail = f", {plural(len(warnings), 'warning')}" if warnings else ", no warnings"
        console.line(f"✔ {graph.display}: valid{tail} ({size})", "ok")


def lint(graph: Graph, root: Path) -> tuple[list[Finding], list[Finding]]:
    errors: list[Finding] = []
    for index, pipeline in enumerate(graph.pipelines.values()):
        errors.extend(listed_before_dependency(graph, pipeline, index))
        errors.extend(duplicate_writers(graph, pipeline, index))
        errors.extend(unordered_reads(graph, pipeline))
    warnings = (misspelled_fields(graph) + implicit_default_pipeline(graph)
                + never_written(graph, root) + unused_artifacts(graph)
                + stages_in_no_pipeline(graph) + always_running(graph))
    return errors, warnings


# ---------------------------------------------------------------------------
# Errors, within one pipeline


def upstream_within(graph: Graph, pipeline: Pipeline) -> Callable[[str, str], bool]:
    """A test `upstream(writer, reader)`: does `reader` depend on `writer`, directly or
    through other stages of the pipeline? A dependsOn chain through a stage outside the
    pipeline does not order the run (see plan.stage_order), so it does not count here
    either.

    Each question walks only the stages between the two in dependency order, and most
    are answered by a direct dependency: no stage's whole ancestry is built (that is
    quadratic in a long chain, in time and memory)."""
    members = set(pipeline.stages)
    direct = {sid: {d for d in graph.stages[sid].depends_on if d in members}
              for sid in pipeline.stages}
    position = {sid: i for i, sid in enumerate(stage_order(graph, pipeline.stages))}

    def upstream(writer: str, reader: str) -> bool:
        if writer in direct[reader]:
            return True
        floor = position[writer]
        if floor > position[reader]:
            return False  # the writer comes later in dependency order: not an ancestor
        seen: set[str] = set()
        todo = [reader]
        while todo:
            for dep in direct[todo.pop()]:
                if dep == writer:
                    return True
                # an ancestor placed before the writer cannot lead to it
                if dep not in seen and position[dep] > floor:
                    seen.add(dep)
                    todo.append(dep)
        return False
    return upstream


def writers_within(graph: Graph, pipeline: Pipeline) -> dict[str, list[str]]:
    """artifact -> the stages of the pipeline that write it, in listed order."""
    writers: dict[str, list[str]] = {}
    for sid in pipeline.stages:
        for out in graph.stages[sid].outputs:
            if sid not in writers.setdefault(out.artifact, []):
                writers[out.artifact].append(sid)
    return writers


def listed_before_dependency(graph: Graph, pipeline: Pipeline, index: int) -> list[Finding]:
    """A stage listed before a stage of the pipeline it depends on. Checking direct
    dependencies is enough: any contradicted chain has a contradicted link."""
    position = {sid: i for i, sid in enumerate(pipeline.stages)}
    findings = []
    for j, sid in enumerate(pipeline.stages):
        for dep in graph.stages[sid].depends_on:
            if dep in position and position[dep] > j:
                findings.append(Finding(
                    LISTED_BEFORE_DEPENDENCY,
                    f"pipeline '{pipeline.id}' lists '{sid}' before '{dep}', which it "
                    f"depends on; list '{dep}' first",
                    f"pipelines[{index}].stages[{j}]",
                    {"pipeline": pipeline.id, "stage": sid, "dependsOn": dep}))
    return findings


def duplicate_writers(graph: Graph, pipeline: Pipeline, index: int) -> list[Finding]:
    findings = []
    for artifact_id, writers in writers_within(graph, pipeline).items():
        if len(writers) > 1:
            artifact = graph.artifacts[artifact_id]
            names = ", ".join(f"'{w}'" for w in writers)
            findings.append(Finding(
                DUPLICATE_WRITER,
                f"pipeline '{pipeline.id}': stages {names} all write artifact "
                f"'{artifact_id}' ({artifact.display_path}); the last one wins",
                f"pipelines[{index}]",
                {"pipeline": pipeline.id, "artifact": artifact_id, "stages": writers}))
    return findings


def unordered_reads(graph: Graph, pipeline: Pipeline) -> list[Finding]:
    """A stage reads what another stage of the pipeline writes, without depending on it:
    whether it sees the old or the new content depends on the listed order. "What it
    writes" is by path: the same artifact, a file inside a folder it reads, or a folder
    holding a file it reads (another artifact id, the same bytes)."""
    upstream = upstream_within(graph, pipeline)
    writers = _WritersByPath(graph, pipeline.stages)
    findings = []
    for sid in pipeline.stages:
        stage = graph.stages[sid]
        for k, inp in enumerate(stage.inputs):
            if inp.artifact is None:
                continue
            artifact = graph.artifacts[inp.artifact]
            named: set[str] = set()
            for writer, written in writers.overlapping(artifact):
                if writer == sid or writer in named or upstream(writer, sid):
                    continue  # its own cache, said already, or ordered by dependsOn
                named.add(writer)
                what = (f"artifact '{inp.artifact}' ({artifact.display_path}) written by "
                        f"'{writer}'" if written.id == artifact.id else
                        f"artifact '{inp.artifact}' ({artifact.display_path}), and "
                        f"'{writer}' writes artifact '{written.id}' "
                        f"({written.display_path}) {_overlap(artifact, written)}")
                findings.append(Finding(
                    UNORDERED_READ,
                    f"pipeline '{pipeline.id}': stage '{sid}' reads {what} but does not "
                    f"depend on it; add '{writer}' to its dependsOn",
                    f"stages[{stage.index}].inputs[{k}]",
                    {"pipeline": pipeline.id, "stage": sid, "artifact": inp.artifact,
                     "writer": writer}))
    return findings


def _overlap(read, written) -> str:
    if written.path == read.path:
        return "at the same path"
    return "inside it" if read.is_directory else "which holds it"


class _WritersByPath:
    """Who writes what among some stages (a pipeline's, or all), asked by the path an
    input reads."""

    def __init__(self, graph: Graph, stage_ids: Iterable[str]):
        self.at: dict[str, list[tuple[str, object]]] = {}  # path -> (writer, artifact)
        for sid in stage_ids:
            for out in graph.stages[sid].outputs:
                written = graph.artifacts[out.artifact]
                entry = (sid, written)
                places = self.at.setdefault(written.path, [])
                if entry not in places:
                    places.append(entry)
        self.paths = sorted(self.at)

    def overlapping(self, artifact) -> list[tuple[str, object]]:
        """(writer, artifact written) for the same path, a folder output holding it, and
        (for a folder) every output inside it."""
        path = artifact.path  # normalized by graph loading: no trailing "/"
        found = list(self.at.get(path, ()))
        parent = path
        while "/" in parent:
            parent = parent.rsplit("/", 1)[0]
            found += [(w, a) for w, a in self.at.get(parent, ()) if a.is_directory]
        if artifact.is_directory:
            inside = path + "/"
            for rel in self.paths[bisect.bisect_left(self.paths, inside):]:
                if not rel.startswith(inside):
                    break
                found += self.at[rel]
        return found


# ---------------------------------------------------------------------------
# Warnings, over the whole graph


def implicit_default_pipeline(graph: Graph) -> list[Finding]:
    """Several pipelines and no `defaultPipeline`: which one `pipeline run` (and `status`,
    `graph`) picks when none is named, asked of the very rule they use."""
    if graph.default_pipeline_id or len(graph.pipelines) < 2:
        return []
    ids = list(graph.pipelines)
    head = f"no defaultPipeline among {len(ids)} pipelines ({', '.join(ids)})"
    try:
        picked = graph.default_pipeline().id
    except UsageError:
        picked = None
    if picked is not None:
        message = (f"{head}: 'pipeline run' with no pipeline named runs '{picked}', the one "
                   f"of that name; set defaultPipeline to choose")
    else:
        message = (f"{head}, none called '{DEFAULT_PIPELINE}': 'pipeline run' with no "
                   f"pipeline named exits 2; set defaultPipeline to one of them")
    return [Finding(IMPLICIT_DEFAULT_PIPELINE, message, "top level",
                    {"pipelines": ids, "picks": picked})]


def _artifact_places(graph: Graph) -> dict[str, int]:
    return {aid: i for i, aid in enumerate(graph.artifacts)}


def never_written(graph: Graph, root: Path) -> list[Finding]:
    """Read from disk only (no stage writes it) yet not on disk: the run will miss it.
    Written means by path, not only by id, as for `unordered-read`: a stage writes the
    same path, a folder holding the file, or (for a folder) something inside it."""
    writers = _WritersByPath(graph, graph.stages)
    findings = []
    for aid, i in _artifact_places(graph).items():
        artifact = graph.artifacts[aid]
        if writers.overlapping(artifact) or (root / artifact.path).exists():
            continue
        findings.append(Finding(
            NEVER_WRITTEN,
            f"artifact '{aid}' ({artifact.display_path}) is written by no stage and does "
            f"not exist",
            f"artifacts[{i}]", {"artifact": aid, "path": artifact.display_path}))
    return findings


def unused_artifacts(graph: Graph) -> list[Finding]:
    """Declared, but no stage reads or writes it and no hook moves or removes it."""
    used: set[str] = set()
    for stage in graph.stages.values():
        used.update(i.artifact for i in stage.inputs if i.artifact)
        used.update(o.artifact for o in stage.outputs)
        for hook in (*stage.hooks.before, *stage.hooks.after, *stage.hooks.on_failure):
            used.update(a for a in (hook.source, hook.target) if a)
    return [Finding(UNUSED_ARTIFACT,
                    f"artifact '{aid}' ({graph.artifacts[aid].display_path}) is not used by "
                    f"any stage",
                    f"artifacts[{i}]", {"artifact": aid})
            for aid, i in _artifact_places(graph).items() if aid not in used]


def misspelled_fields(graph: Graph) -> list[Finding]:
    """Unknown fields close to a known one: most likely a typo whose setting is lost."""
    return [Finding(UNKNOWN_FIELD, f"unknown field (did you mean '{known}'?)", place,
                    {"field": key, "didYouMean": known})
            for place, key, known in graph.misspelled]


def stages_in_no_pipeline(graph: Graph) -> list[Finding]:
    listed = {sid for p in graph.pipelines.values() for sid in p.stages}
    return [Finding(STAGE_IN_NO_PIPELINE,
                    f"stage '{s.id}' is in no pipeline (only 'pipeline run-stage {s.id}' or "
                    f"'doit run {s.id}' runs it)",
                    f"stages[{s.index}]", {"stage": s.id})
            for s in graph.stages.values() if s.id not in listed]


def always_running(graph: Graph) -> list[Finding]:
    """Stages a `network` or `git` side effect makes run every time: their result
    depends on the outside world, which no fingerprint sees."""
    findings = []
    for stage in graph.stages.values():
        effects = [e for e in stage.side_effects if e.is_outside_world and e.max_age is None]
        if effects:
            index = stage.side_effects.index(effects[0])
            findings.append(Finding(
                ALWAYS_RUNS,
                f"stage '{stage.id}' runs on every run (side effect: {effects[0].type}); "
                f"give the side effect a \"maxAge\" to keep a recent result",
                f"stages[{stage.index}].sideEffects[{index}]", {"stage": stage.id}))
    return findings
