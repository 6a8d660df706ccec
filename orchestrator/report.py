"""What `pipeline report` shows about one run, gathered from `.pipeline-runs/`.

`gather(...)` reads the run's record (freshened from its events while it is running),
the records of the last N runs of the same pipeline up to it (for the trends, through
`orchestrator/trends.py`, the numbers `pipeline history` shows), the stage graph (for the
drawing; a graph that does not load is a note, not an error: the records are what the
report is about) and the last lines of each failed stage's log. `report_html` and
`report_markdown` render it; neither reads a file.

Everything a record holds is read defensively (see trends.py): records written before
this command existed, by an interrupted run or by a run still going all report.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator.ledger import (
    _read_events,
    read_run_record,
    run_events_path,
    run_records,
    stage_log_path,
    utc_now,
)
from orchestrator.paths import RUNS_DIR
from orchestrator.trends import Span, number, run_bounds, stage_history, stage_spans, stages_of

DEFAULT_RUNS = 30  # runs of the pipeline the trends cover
TAIL_LINES = 20  # a failed stage's last lines of output
TAIL_BYTES = 64 * 1024  # ... read from at most this much of the end of its log
FAST_PATH_WHY = "fast path: nothing it reads has changed, nor anything upstream"
STATUSES = ("succeeded", "failed", "running", "up-to-date", "skipped", "blocked", "pending")


@dataclass
class GraphDrawing:
    nodes: list[str]  # in run order
    edges: list[tuple[str, str]]  # dependsOn: (dependency, dependent)


@dataclass
class Failure:
    stage_id: str
    error: str
    exit_code: Any
    log_path: str | None
    tail: list[str]
    hints: list[str]


@dataclass
class RunReport:
    record: dict
    run_id: str
    stages: list[dict]
    spans: list[Span]
    lanes: int
    length_ms: float
    command_line: str
    command_reconstructed: bool
    executor: str
    counts: dict[str, int]
    trends: dict[str, dict]  # stage id -> its line of stage_history
    trend_runs: int
    graph: GraphDrawing | None
    graph_note: str | None
    failures: list[Failure] = field(default_factory=list)
    generated_at: datetime | None = None
    runner_gone: bool = False  # `running`, but the process that wrote it is gone
    fast_path_stages: list[str] = field(default_factory=list)  # up to date, not listed

    @property
    def status(self) -> str:
        return str(self.record.get("status") or "unknown")

    @property
    def pipeline(self) -> str:
        return str(self.record.get("pipelineId") or label_of(self.run_id))

    @property
    def shown_stages(self) -> list[dict]:
        """The stages to show one by one: those the record lists and those a fast-path
        run found up to date without listing them (`fast_path_stages`), in run order."""
        if not self.fast_path_stages:
            return self.stages
        shown = self.stages + [{"id": sid, "status": "up-to-date", "reason": FAST_PATH_WHY}
                               for sid in self.fast_path_stages]
        order = {sid: i for i, sid in enumerate(self.graph.nodes)} if self.graph else {}
        return sorted(shown, key=lambda s: order.get(s["id"], len(order)))  # run order

    def counts_text(self) -> str:
        """`2 succeeded, 1 failed`: the header's counts, in the order of STATUSES (what
        is not a status there, the fast-path count, after), for the HTML and Markdown."""
        ordered = sorted(self.counts.items(), key=lambda kv: (
            STATUSES.index(kv[0]) if kv[0] in STATUSES else len(STATUSES), kv[0]))
        return ", ".join(f"{n} {status}" for status, n in ordered)

    def regressions(self) -> list[dict]:
        return [t for t in self.trends.values() if t.get("regression")]


def label_of(run_id: str) -> str:
    """What a run ran when it names no pipeline (run-stage, plain doit): its id's label."""
    return run_id.split("_", 1)[1] if "_" in run_id else run_id


def fast_path_counts(record: dict) -> dict[str, int]:
    """A fast-path run lists no stage, a partial one only those doit decided: it counts
    the others (fastpath.py)."""
    fast = record.get("fastPath")
    count = fast.get("stages") if isinstance(fast, dict) else None
    return {"up-to-date (fast path)": count} if isinstance(count, int) else {}


def unlisted_up_to_date(record: dict, stages: list[dict],
                        graph: GraphDrawing | None) -> list[str]:
    """The stages a fast-path run found up to date: its record counts them and lists
    none (a partial run lists only those doit decided). They are the drawn pipeline's
    stages it does not list, when those are exactly as many as it counted; under a
    selection (--only, --skip, ...) they are not, and stay unnamed (the count says it)."""
    fast = record.get("fastPath")
    count = fast.get("stages") if isinstance(fast, dict) else None
    if not isinstance(count, int) or isinstance(count, bool) or graph is None:
        return []
    listed = {s["id"] for s in stages}
    rest = [sid for sid in graph.nodes if sid not in listed]
    return rest if len(rest) == count else []


def status_counts(stages: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for stage in stages:
        status = str(stage.get("status") or "unknown")
        counts[status] = counts.get(status, 0) + 1
    return counts


# -- the record ---------------------------------------------------------------------


def freshened(root: Path, record: dict) -> dict:
    """A running run's record is rewritten at most once a second (less often when big);
    its events file has every step: apply them, so the report shows what happened so
    far. A finished run's record is complete as it is."""
    if record.get("status") != "running":
        return record
    by_id = {s["id"]: s for s in stages_of(record)}
    for event in _read_events(run_events_path(root, str(record.get("runId")))):
        stage = by_id.get(event.get("stageId"))
        if stage is None:
            continue
        if event.get("event") == "stage-started":
            if stage.get("status") in (None, "pending"):
                stage["status"] = "running"
            if not stage.get("startedAt"):
                stage["startedAt"] = event.get("ts")
            if not stage.get("reason") and isinstance(event.get("reason"), str):
                stage["reason"] = event["reason"]
        elif event.get("event") == "stage-finished" and isinstance(event.get("status"), str):
            stage["status"] = event["status"]
            if number(stage.get("durationMs")) is None:
                stage["durationMs"] = number(event.get("durationMs"))
    return record


def command_line(record: dict) -> tuple[str, bool]:
    """The command line that started the run, and whether it was rebuilt from the
    recorded options (records written before `argv` was kept)."""
    options = record.get("options") if isinstance(record.get("options"), dict) else {}
    argv = options.get("argv")
    if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
        return shlex.join(argv), False
    command = options.get("command")
    if command == "doit run":
        return "doit run", True
    words = ["pipeline"]
    if command == "run-stage":
        words += ["run-stage", str(options.get("stage") or label_of(str(record.get("runId"))))]
    else:
        words.append("run")
        if record.get("pipelineId"):
            words.append(str(record["pipelineId"]))
        for key, flag in (("only", "--only"), ("skip", "--skip")):
            values = options.get(key)
            if isinstance(values, list) and values:
                words += [flag, ",".join(map(str, values))]
        for key, flag in (("from", "--from"), ("to", "--to"), ("since", "--since")):
            if isinstance(options.get(key), str):
                words += [flag, options[key]]
        for key, flag in (("force", "--force"), ("continueOnError", "--continue-on-error")):
            if options.get(key) is True:
                words.append(flag)
        jobs = options.get("jobs")
        if isinstance(jobs, int) and not isinstance(jobs, bool) and jobs > 1:
            words += ["-j", str(jobs)]
    if number(options.get("timeout")) is not None:
        words += ["--timeout", f"{number(options['timeout']):g}"]
    if isinstance(options.get("envFile"), str):
        words += ["--env-file", options["envFile"]]
    return shlex.join(words), True


def executor_of(record: dict) -> str:
    """Where the stages ran: as the record says (a later executor may write it), else
    the local one, the only executor of runs that do not say."""
    options = record.get("options") if isinstance(record.get("options"), dict) else {}
    for value in (record.get("executor"), options.get("executor")):
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict):
            name = value.get("name") or value.get("kind") or value.get("type")
            if isinstance(name, str) and name:
                return name
    return "local"


# -- failures -----------------------------------------------------------------------


def log_tail(root: Path, run_id: str, stage: dict, lines: int = TAIL_LINES) -> list[str]:
    """The last `lines` lines a stage printed, from its log under the run's folder.

    Only a file in `.pipeline-runs/<run id>/` is read, whatever `logPath` the record
    says (records are downloaded from CI: a doctored one must not make the report embed
    another file), and never through a symbolic link. Logs are masked as they are
    written, so the tail is too."""
    runs_dir = (root / RUNS_DIR / run_id).resolve()
    candidates = [stage_log_path(root, run_id, stage["id"])]
    rel = stage.get("logPath")
    if isinstance(rel, str) and rel:
        candidates.append(root / rel)
    for path in candidates:
        try:
            if path.resolve().parent != runs_dir:
                continue
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        with open(fd, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - TAIL_BYTES))
            data = f.read(TAIL_BYTES)
        text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
        found = text.rstrip("\n").split("\n")
        if size > TAIL_BYTES and len(found) > 1:
            found = found[1:]  # the first line is probably cut
        return found[-lines:] if found != [""] else []
    return []


def failures(root: Path, record: dict, stages: list[dict],
             hint_options: list[str]) -> list[Failure]:
    from orchestrator.console import rerun_hints

    pipeline = record.get("pipelineId") if isinstance(record.get("pipelineId"), str) else None
    found = []
    for stage in stages:
        if stage.get("status") != "failed":
            continue
        found.append(Failure(
            stage["id"], str(stage.get("error") or "failed"), stage.get("exitCode"),
            stage.get("logPath") if isinstance(stage.get("logPath"), str) else None,
            log_tail(root, str(record.get("runId")), stage),
            rerun_hints(stage["id"], pipeline, hint_options)))
    return found


# -- the trends ---------------------------------------------------------------------


def same_pipeline(head: dict, record: dict) -> bool:
    if record.get("pipelineId"):
        return head.get("pipelineId") == record.get("pipelineId")
    return not head.get("pipelineId") and \
        label_of(str(head.get("runId"))) == label_of(str(record.get("runId")))


def trend_records(root: Path, record: dict, runs: int) -> list[dict]:
    """The records of the last `runs` runs of the same pipeline, up to and including
    this one, oldest first (this one as given: it may have been freshened)."""
    run_id = record.get("runId")
    heads = [r for r in run_records(root) if r.head is not None]
    cut = next((i for i, r in enumerate(heads) if r.run_id == run_id), len(heads))
    earlier = [r for r in heads[:cut] if same_pipeline(r.head, record)][-(runs - 1):] \
        if runs > 1 else []
    full = []
    for head in earlier:
        try:
            full.append(read_run_record(root, head.run_id))
        except (OSError, ValueError):
            continue
    return [*full, record]


# -- the graph ----------------------------------------------------------------------


def drawing(graph, record: dict, stages: list[dict]) -> tuple[GraphDrawing | None, str | None]:
    """The run's pipeline as drawn from the graph: its stages in run order and their
    dependsOn edges. A stage of the run the graph no longer has is added, unconnected;
    a run of no pipeline (run-stage, plain doit) draws the stages it recorded."""
    from orchestrator.plan import stage_order

    ran = [s["id"] for s in stages]
    pipeline_id = record.get("pipelineId")
    note = None
    if graph is None:
        return None, None
    if isinstance(pipeline_id, str) and pipeline_id in graph.pipelines:
        ids = list(graph.pipelines[pipeline_id].stages)
    else:
        ids = [sid for sid in ran if sid in graph.stages]
        if isinstance(pipeline_id, str):
            note = f"pipeline '{pipeline_id}' is no longer in the graph: its recorded stages"
    known = [sid for sid in ids if sid in graph.stages]
    order = stage_order(graph, known)
    present = set(order)
    missing = [sid for sid in ran if sid not in present]
    if missing:
        note = (note or "") + ("; " if note else "") + \
            f"{len(missing)} stage(s) of this run are not in the current graph"
    edges = [(dep, sid) for sid in order for dep in graph.stages[sid].depends_on
             if dep in present]
    return GraphDrawing(order + missing, edges), note


def load_drawing(ctx, record: dict, stages: list[dict]) -> tuple[GraphDrawing | None, str | None]:
    """The graph the run used (its recorded path, unless -g names one), drawn; a graph
    that does not load is a note in the report."""
    from orchestrator.errors import PipelineError

    graph_path = record.get("graphPath")
    try:
        if ctx.graph_path is None and isinstance(graph_path, str) and graph_path \
                and (ctx.root / graph_path).is_file():
            from orchestrator.graph import load_graph

            graph = load_graph((ctx.root / graph_path).absolute(), ctx.root,
                               write_cache=False)
        else:
            graph = ctx.graph
    except (PipelineError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, f"the stage graph does not load: {first}"
    return drawing(graph, record, stages)


# -- everything -----------------------------------------------------------------------


def gather(root: Path, record: dict, runs: int = DEFAULT_RUNS,
           graph_drawing: tuple[GraphDrawing | None, str | None] = (None, None),
           hint_options: list[str] | None = None, now: datetime | None = None) -> RunReport:
    now = now or utc_now()
    record = freshened(root, record)
    run_id = str(record.get("runId"))
    stages = stages_of(record)
    spans = stage_spans(record, now)
    _, length = run_bounds(record, now)
    length = max([length, *(s.end_ms for s in spans)])
    history = trend_records(root, record, runs)
    line, rebuilt = command_line(record)
    graph, note = graph_drawing
    return RunReport(
        record=record, run_id=run_id, stages=stages, spans=spans,
        lanes=max((s.lane for s in spans), default=-1) + 1, length_ms=length,
        command_line=line, command_reconstructed=rebuilt, executor=executor_of(record),
        counts={**status_counts(stages), **fast_path_counts(record)},
        trends={t["id"]: t for t in stage_history(history)}, trend_runs=len(history),
        graph=graph, graph_note=note,
        failures=failures(root, record, stages, hint_options or []), generated_at=now,
        fast_path_stages=unlisted_up_to_date(record, stages, graph))
