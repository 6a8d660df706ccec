"""Which stages a run covers, in which order: topological order and the selection filters.

Pure functions over a Graph; nothing here touches the disk except `missing_inputs`,
which only looks.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.errors import UsageError
from orchestrator.graph import Graph, Pipeline, did_you_mean


@dataclass(frozen=True)
class Selection:
    """The stage filters of `pipeline run`, as the user gave them."""

    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    start: str | None = None  # --from
    stop: str | None = None  # --to

    def as_options(self) -> dict:
        return {"only": list(self.only), "skip": list(self.skip),
                "from": self.start, "to": self.stop}


@dataclass(frozen=True)
class Plan:
    """The stages of one run: `order` is every stage of the pipeline in run order,
    `selected` the ones the run covers, `skipped` why each other one is left out."""

    pipeline_id: str | None
    order: tuple[str, ...]
    selected: tuple[str, ...]
    skipped: dict[str, str] = field(default_factory=dict)
    force: bool = False
    settled: dict[str, str] = field(default_factory=dict)  # up to date by --since: why
    reasons: dict[str, str] = field(default_factory=dict)  # why --since runs a stage
    # up to date by the fast path's stamp (partial_plan): neither doit nor the record
    # sees them one by one
    stamped: tuple[str, ...] = ()


def stage_order(graph: Graph, stage_ids: tuple[str, ...] | list[str]) -> list[str]:
    """Topological order of `stage_ids` by `dependsOn`, ties broken by their listed order.

    Dependencies on stages outside `stage_ids` do not constrain the order.
    """
    position = {sid: i for i, sid in enumerate(stage_ids)}
    waiting_on = {sid: {d for d in graph.stages[sid].depends_on if d in position}
                  for sid in stage_ids}
    dependents: dict[str, list[str]] = {sid: [] for sid in stage_ids}
    for sid, deps in waiting_on.items():
        for dep in deps:
            dependents[dep].append(sid)
    ready = [(position[sid], sid) for sid, deps in waiting_on.items() if not deps]
    heapq.heapify(ready)
    order = []
    while ready:
        _, sid = heapq.heappop(ready)
        order.append(sid)
        for nxt in dependents[sid]:
            waiting_on[nxt].discard(sid)
            if not waiting_on[nxt]:
                heapq.heappush(ready, (position[nxt], nxt))
    return order  # the graph was checked for cycles, so every stage is here


def _split(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """`--only a,b --only c` -> (a, b, c); empty items are dropped."""
    out: list[str] = []
    for value in values:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return tuple(dict.fromkeys(out))


def make_selection(only=(), skip=(), start=None, stop=None) -> Selection:
    return Selection(_split(only or ()), _split(skip or ()), start, stop)


def plan_pipeline(graph: Graph, pipeline: Pipeline, selection: Selection = Selection(),
                  force: bool = False) -> Plan:
    """Order the pipeline and apply the filters; raise UsageError before anything runs."""
    order = stage_order(graph, pipeline.stages)
    in_pipeline = set(order)

    def check(option: str, sid: str) -> None:
        if sid in in_pipeline:
            return
        if sid in graph.stages:
            raise UsageError(f"{option}: stage '{sid}' is not in pipeline '{pipeline.id}'")
        raise UsageError(f"{option}: unknown stage '{sid}'{did_you_mean(sid, order)}")

    for sid in selection.only:
        check("--only", sid)
    for sid in selection.skip:
        check("--skip", sid)
    both = [sid for sid in selection.only if sid in selection.skip]
    if both:
        raise UsageError(f"stage '{both[0]}' is given to both --only and --skip")
    if selection.start:
        check("--from", selection.start)
    if selection.stop:
        check("--to", selection.stop)
    first = order.index(selection.start) if selection.start else 0
    last = order.index(selection.stop) if selection.stop else len(order) - 1
    if first > last:
        raise UsageError(f"--from '{selection.start}' comes after --to '{selection.stop}' "
                         f"in pipeline '{pipeline.id}'")

    selected, skipped = [], {}
    for i, sid in enumerate(order):
        if i < first:
            skipped[sid] = f"before --from {selection.start}"
        elif i > last:
            skipped[sid] = f"after --to {selection.stop}"
        elif selection.only and sid not in selection.only:
            skipped[sid] = "not in --only"
        elif sid in selection.skip:
            skipped[sid] = "--skip"
        else:
            selected.append(sid)
    if not selected:
        raise UsageError("the filters leave no stage to run in pipeline "
                         f"'{pipeline.id}'")
    return Plan(pipeline.id, tuple(order), tuple(selected), skipped, force)


def partial_plan(graph: Graph, plan: Plan, changed) -> Plan:
    """The partial fast path: the plan's stages something `changed` for, and every
    stage after them that depends on one (dependsOn) or reads what one writes (the same
    artifact, a file inside a folder it writes, or a folder holding a file it writes),
    in plan order, decided by doit (not forced: a stage downstream may well be up to
    date by content); the other selected stages are `stamped`, up to date by the fast
    path's stamp. The filters' skipped stages stay as they were."""
    from dataclasses import replace

    chosen = set(changed)
    written: set[str] = set()  # paths a chosen stage writes
    holding: set[str] = set()  # the folders those paths lie in
    for sid in plan.selected:  # plan order is topological: upstream first
        stage = graph.stages[sid]
        if sid not in chosen and (any(d in chosen for d in stage.depends_on) or (
                written and any(_reads_written(graph.artifacts[i.artifact].path, written,
                                               holding)
                                for i in stage.inputs if i.artifact in graph.artifacts))):
            chosen.add(sid)
        if sid in chosen:
            for out in stage.outputs:
                path = graph.artifacts[out.artifact].path
                written.add(path)
                holding.update(_folders_of(path))
    return replace(plan, order=tuple(s for s in plan.order if s in chosen or s in plan.skipped),
                   selected=tuple(s for s in plan.selected if s in chosen),
                   stamped=tuple(s for s in plan.selected if s not in chosen), force=False)


def _folders_of(path: str) -> list[str]:
    parts = path.rstrip("/").split("/")
    return ["/".join(parts[:n]) for n in range(1, len(parts))]


def _reads_written(path: str, written: set[str], holding: set[str]) -> bool:
    """Does reading `path` read something written: the path itself, a folder that holds
    a written path, or a path inside a written folder?"""
    path = path.rstrip("/")
    return path in written or path in holding or any(
        f in written for f in _folders_of(path))


def plan_stage(graph: Graph, stage_id: str) -> Plan:
    """`run-stage`: exactly that stage, forced, without its upstream stages."""
    graph.stage(stage_id)
    return Plan(None, (stage_id,), (stage_id,), {}, force=True)


def missing_inputs(graph: Graph, plan: Plan, root: Path) -> dict[str, list[str]]:
    """Required inputs that neither exist nor are written by an earlier selected stage.

    Returns stage id -> messages like ``website/data/x.json (artifact x)``; stages run in
    order, so an input produced earlier in the same run is not missing.
    """
    produced: set[str] = set()
    missing: dict[str, list[str]] = {}
    for sid in plan.selected:
        stage = graph.stages[sid]
        for inp in stage.inputs:
            if inp.is_external or inp.optional or inp.artifact in stage.cache_artifacts:
                continue
            if inp.artifact in produced:
                continue
            artifact = graph.artifacts[inp.artifact]
            path = root / artifact.path
            present = path.is_dir() if artifact.is_directory else path.is_file()
            if not present:
                missing.setdefault(sid, []).append(
                    f"{artifact.display_path} (artifact {artifact.id})")
        produced.update(o.artifact for o in stage.outputs)
    return missing
