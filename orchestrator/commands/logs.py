"""`pipeline logs`: the recorded runs, one run in detail, a stage's output, or a live run.

Reads only `.pipeline-runs/`; it never loads the graph, so it works when the graph is
broken (which is often when you want to read a log).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from orchestrator.commands._argtypes import not_empty
from orchestrator.console import (
    Console,
    pipeline_command,
    rerun_hints,
    seconds,
    status_mark,
)
from orchestrator.errors import EXIT_OK, EXIT_STAGE_FAILED, UsageError
from orchestrator.ledger import (
    RecordFile,
    parse_started,
    read_run_record,
    resolve_run,
    run_events_path,
    run_records,
    stage_log_path,
)
from orchestrator.paths import RUNS_DIR

POLL_S = 0.2  # --follow: how often the files are read again
GRACE_S = 2.0  # --follow: how long to wait for run-finished once the record says it is over




def register(commands) -> None:
    logs = commands.add_parser(
        "logs", help="list recent runs, show one run or a stage's output, follow a live run")
    logs.add_argument("run_id", nargs="?", metavar="RUN_ID", type=not_empty("run"),
                      help="a run id, any unique beginning of one, or the path of its "
                           f"record ({RUNS_DIR}/RUN_ID.json)")
    logs.add_argument("--latest", action="store_true", help="the most recent run")
    logs.add_argument("--stage", metavar="ID", type=not_empty("stage"),
                      help="print this stage's captured output")
    logs.add_argument("--follow", action="store_true",
                      help="print the run's events (or, with --stage, the stage's output) "
                           "as they happen, until the run finishes")
    logs.add_argument("--limit", type=int, metavar="N",
                      help="how many recent runs to list (default: 20)")
    logs.add_argument("--json", action="store_true", help="print one JSON document")
    logs.add_argument("--prune", action="store_true",
                      help="remove old runs now: keep the newest 100 and those of the last "
                           "30 days (keepRuns in the graph, $PIPELINE_KEEP_RUNS, "
                           "$PIPELINE_KEEP_DAYS)")
    logs.set_defaults(handler=show_logs)


# -- small formatting helpers --------------------------------------------------------


def when(stamp: str | None) -> str:
    """`2026-11-25T09:26:03.539Z` -> `2026-11-25 09:26:03`."""
    return stamp[:19].replace("T", " ") if stamp else "?"


def megabytes(kb: int | None) -> str:
    return f"{kb / 1024:.1f} MB" if isinstance(kb, (int, float)) else "?"


def cpu(value: float | None) -> str:
    return f"{value:.2f}s" if isinstance(value, (int, float)) else "?"


def shown_status(status, record: dict | None) -> str | None:
    """A record's status as `logs` shows it: a `running` run whose runner is gone (killed,
    or records copied from another machine) is `abandoned`; the record is left as it is."""
    if status == "running" and isinstance(record, dict) and not runner_alive(record):
        return "abandoned"
    return status


def marked(status: str | None) -> tuple[str, str | None]:
    return status_mark(status)


def hint_options(ctx, record: dict) -> list[str]:
    """The global options a rerun hint needs to reach the run's project and graph from
    where `logs` was started: the `-C` and `-g` given to logs, and `-g` for a run of a
    graph other than the project's default when logs was given none."""
    import os

    from orchestrator.graph import DEFAULT_GRAPH

    options = list(ctx.global_options)
    graph = record.get("graphPath")
    if "-g" in options or not isinstance(graph, str) or not graph:
        return options
    path = Path(os.path.normpath(ctx.root / graph))  # as recorded: relative to the root
    if path == Path(os.path.normpath(ctx.root / DEFAULT_GRAPH)):
        return options
    try:
        shown = str(path.relative_to(ctx.start_dir))
    except ValueError:
        shown = str(path)
    return options + ["-g", shown]


def remediation(record: dict, stage_id: str, options: list[str]) -> list[str]:
    """How to rerun a failed stage (`options`: see hint_options)."""
    pipeline = record.get("pipelineId")
    pipeline = pipeline if isinstance(pipeline, str) else None
    stage = next((s for s in record.get("stages") or []
                  if isinstance(s, dict) and s.get("id") == stage_id), {})
    if pipeline and stage.get("reason") == "missing input":  # run-stage would stop on it
        return [pipeline_command(options, "run", pipeline, "--to", stage_id)]
    return rerun_hints(stage_id, pipeline, options)


# -- finding runs -------------------------------------------------------------------


def prune(ctx, args) -> int:
    """`logs --prune`: what runs do at their end, by hand. The graph is read for its
    `keepRuns` when it is there and sound; otherwise the defaults (and variables) hold."""
    from orchestrator.errors import PipelineError
    from orchestrator.ledger import keep_settings, prune_runs

    for flag, given in (("RUN_ID", args.run_id), ("--latest", args.latest),
                        ("--stage", args.stage), ("--follow", args.follow),
                        ("--limit", args.limit is not None)):
        if given:
            raise UsageError(f"--prune removes old runs; it cannot be combined with {flag}")
    console = Console()
    graph_runs = graph_days = None
    from orchestrator.graph import resolve_graph_path

    if resolve_graph_path(ctx.root, ctx.graph_path).is_file():
        try:
            graph_runs, graph_days = ctx.graph.keep_runs, ctx.graph.keep_days
        except PipelineError as exc:
            console.warning(f"warning: the graph's keepRuns are not used: {exc}")
    runs, days = keep_settings(graph_runs, graph_days)
    removed = prune_runs(root=ctx.root, keep_runs=runs, keep_days=days)
    if args.json:
        console.json({"removed": removed, "keepRuns": runs, "keepDays": days})
        return EXIT_OK
    kept = f"the newest {runs} runs, those of the last {days:g} days and the newest of " \
           f"each pipeline"
    if removed:
        console.line(f"Removed {len(removed)} run{'s' if len(removed) != 1 else ''} "
                     f"(kept {kept}): {removed[0]} … {removed[-1]}")
    else:
        console.line(f"Nothing to remove (kept {kept}).")
    return EXIT_OK


def load_record(root: Path, run_id: str) -> dict:
    try:
        return read_run_record(root, run_id)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{RUNS_DIR}/{run_id}.json: unreadable run record ({exc})") from None


def record_or_none(root: Path, run_id: str) -> dict | None:
    """The record if it reads; None while it is being claimed or after a crash mid-write."""
    try:
        return read_run_record(root, run_id)
    except (OSError, ValueError):
        return None


def find_stage(record: dict, stage_id: str) -> dict:
    stages = [s for s in record.get("stages") or [] if isinstance(s, dict)]
    for stage in stages:
        if stage.get("id") == stage_id:
            return stage
    from orchestrator.graph import did_you_mean

    ids = [str(s.get("id")) for s in stages]
    raise UsageError(f"stage '{stage_id}' is not in run {record.get('runId')}"
                     f"{did_you_mean(stage_id, ids)}")


# -- the command ----------------------------------------------------------------------


def show_logs(ctx, args) -> int:
    root: Path = ctx.root  # never ctx.graph: logs must work with a broken graph
    if args.prune:
        return prune(ctx, args)
    if args.run_id and args.latest:
        raise UsageError("give a RUN_ID or --latest, not both")
    one_run = bool(args.run_id or args.latest)
    if not one_run:
        for flag, given in (("--stage", args.stage), ("--follow", args.follow)):
            if given:
                raise UsageError(f"{flag} needs a run: give a RUN_ID or --latest")
        return list_runs(root, args)
    if args.limit is not None:
        raise UsageError("--limit applies to the list of runs, not to one run")
    run_id = resolve_run(root, record_id(ctx, args.run_id), args.latest)
    console = Console()
    if args.follow and args.json:
        raise UsageError("--follow prints as the run goes; it cannot be combined with --json")
    if args.follow:
        from orchestrator import collector

        collector.resume()  # it may follow a run for hours
    if args.stage:
        if args.follow:
            return follow_stage(root, run_id, args.stage, console)
        return show_stage_output(root, run_id, args.stage, console, args.json)
    if args.follow:
        return follow_run(root, run_id, console, ctx)
    record = load_record(root, run_id)
    if args.json:
        console.json(record)  # the record itself, as the run wrote it
        return EXIT_OK
    show_run(record, console, hint_options(ctx, record))
    return EXIT_OK


def record_id(ctx, given: str | None) -> str | None:
    """RUN_ID as given, or the run id of a record file's path (`.pipeline-runs/X.json`,
    relative to where the command was started, like -g): it must be in the project's
    `.pipeline-runs/`."""
    if given is None or not given.endswith(".json"):
        return given
    path = Path(ctx.start_dir, given)
    if not path.is_file():
        raise UsageError(f"{given}: no such file")
    runs_dir = ctx.root / RUNS_DIR
    if not runs_dir.is_dir() or path.resolve().parent != runs_dir.resolve():
        raise UsageError(f"{given}: not a record under this project's {RUNS_DIR}/")
    return path.name[:-len(".json")]


def run_summary(record: RecordFile) -> dict:
    head = record.head
    if head is None:
        return {"runId": record.run_id, "pipelineId": None, "command": None,
                "status": "unreadable", "startedAt": None, "durationMs": None}
    options = head.get("options") if isinstance(head.get("options"), dict) else {}
    return {"runId": record.run_id, "pipelineId": head.get("pipelineId"),
            "command": options.get("command"), "status": head.get("status"),
            "startedAt": head.get("startedAt"), "durationMs": head.get("durationMs")}


def list_runs(root: Path, args) -> int:
    """The most recent runs, oldest first (so the newest is next to the prompt)."""
    limit = 20 if args.limit is None else args.limit
    if limit < 1:
        raise UsageError(f"--limit {limit}: give a number of runs of at least 1")
    records = run_records(root)[-limit:]
    runs = [run_summary(record) for record in records]
    console = Console()
    if args.json:
        console.json({"runs": runs})
        return EXIT_OK
    if not runs:
        console.line(f"No runs yet: 'pipeline run' records each run under {RUNS_DIR}/.")
        return EXIT_OK
    what = [run["pipelineId"] or _label(run["runId"]) for run in runs]
    width = console.column(what, "PIPELINE", 24)
    console.row(f"  {'STARTED (UTC)':<19}  {'STATUS':<11}  {'TIME':>6}  "
                f"{'PIPELINE':<{width}}  RUN ID", "note")
    for run, name, record in zip(runs, what, records):
        status = shown_status(run["status"], record.head)
        marker, style = marked(status)
        duration = seconds(run["durationMs"]) if run["durationMs"] is not None else "-"
        console.row(f"{marker} {when(run['startedAt']):<19}  {status or '?':<11}  "
                    f"{duration:>6}  {console.cell(name, width):<{width}}  {run['runId']}", style)
    return EXIT_OK


def _label(run_id: str) -> str:
    """What a run ran when it names no pipeline (run-stage, plain doit): its id's label."""
    return run_id.split("_", 1)[1] if "_" in run_id else "-"


def show_run(record: dict, console: Console, options: list[str]) -> None:
    """One run: a header, then one line per stage; a failed stage adds its error,
    log and how to rerun it (with the global `options` of hint_options)."""
    status = shown_status(record.get("status"), record)
    marker, style = marked(status)
    console.row(f"{marker} run {record.get('runId')}: {status}", style)
    if status == "abandoned":
        console.row(f"  still marked running, but its runner (pid {record.get('pid')}) is "
                    f"gone: it was killed, or the machine restarted; the next run marks it "
                    f"interrupted", "note")
    duration = seconds(record["durationMs"]) if record.get("durationMs") is not None else "-"
    pipeline = record.get("pipelineId") or "-"
    console.row(f"  pipeline {pipeline}, started {when(record.get('startedAt'))} UTC, "
                f"took {duration}, graph {record.get('graphPath')}", "note")
    stages = [s for s in record.get("stages") or [] if isinstance(s, dict)]
    fast = record.get("fastPath")
    by_stamp = fast.get("reason") if isinstance(fast, dict) else None
    if by_stamp:  # the stages the fast path found up to date: not listed one by one
        console.row(f"  ↷ {by_stamp}", "skip")
    if not stages:
        if not by_stamp:
            console.line("  (no stages recorded)", "note")
        return
    width = max(len("STAGE"), *(len(str(s.get("id"))) for s in stages))  # the heading too
    console.row(f"  {'STAGE':<{width}}  {'STATUS':<10}  {'TIME':>6}  {'CPU':>7}  "
                f"{'PEAK MEM':>9}  REASON", "note")
    for stage in stages:
        marker, style = marked(stage.get("status"))
        ran = stage.get("durationMs") is not None
        duration = seconds(stage["durationMs"]) if ran else "-"
        cpu_s = cpu(stage.get("cpuSeconds")) if ran else "-"
        memory = megabytes(stage.get("peakRssKb")) if ran else "-"
        console.row(f"{marker} {str(stage.get('id')):<{width}}  "
                    f"{str(stage.get('status')):<10}  {duration:>6}  {cpu_s:>7}  "
                    f"{memory:>9}  {stage.get('reason') or ''}".rstrip(), style)
        if stage.get("status") == "failed":
            console.row(f"    error: {stage.get('error') or 'failed'}", "fail")
            if stage.get("logPath"):
                # a path is worth more whole than cut to the width
                console.line(f"    log: {stage['logPath']}", "note")
            for hint in remediation(record, str(stage.get("id")), options):
                console.line(f"    rerun: {hint}", "note")


def show_stage_output(root: Path, run_id: str, stage_id: str, console: Console,
                      as_json: bool) -> int:
    """What the stage printed in that run (its captured log)."""
    record = load_record(root, run_id)
    stage = find_stage(record, stage_id)
    rel = stage.get("logPath")
    path = root / rel if rel else stage_log_path(root, run_id, stage_id)
    output = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
    if as_json:
        console.json({"runId": run_id, "stageId": stage_id, "status": stage.get("status"),
                      "logPath": rel, "output": output})
        return EXIT_OK
    if output is None:
        if rel:
            raise UsageError(f"{rel}: the stage's log is gone")
        console.line(f"Stage '{stage_id}' printed nothing in run {run_id} "
                     f"(it was {stage.get('status')}).", "note")
        return EXIT_OK
    for line in output.splitlines():
        console.line(line)
    return EXIT_OK


# -- following a run in progress --------------------------------------------------------


class LineTail:
    """Reads a growing file and hands out only its complete lines."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0

    def read(self) -> list[str]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:  # not created yet (a stage that has not started)
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1  # a partial last line waits for the next read
        return data[:end].decode("utf-8", errors="replace").split("\n")

    def rest(self) -> str:
        """Whatever is left without a final newline (read once the writer is done)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return ""
        self.offset += len(data)
        return data.decode("utf-8", errors="replace")


class RunWatch:
    """Decides when following stops: at run-finished, or a grace period after the record
    says the run is over without one (the run crashed before writing it)."""

    def __init__(self, root: Path, run_id: str):
        self.root = root
        self.run_id = run_id
        self.events = LineTail(run_events_path(root, run_id))
        self.finished: dict | None = None  # the run-finished event
        self.over_since: float | None = None
        self.final_status: str | None = None
        self.gone_pid: int | None = None  # the runner's pid, once found gone

    def new_events(self) -> list[dict]:
        events = []
        for line in self.events.read():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a damaged line: skip it rather than stop following
            if isinstance(event, dict):
                events.append(event)
                if event.get("event") == "run-finished":
                    self.finished = event
                    self.final_status = event.get("status")
        return events

    def should_stop(self) -> bool:
        if self.finished is not None:
            return True
        record = record_or_none(self.root, self.run_id)
        if record is not None:
            status = record.get("status")
        else:
            # an empty record file is one just claimed by a starting run; anything else
            # that does not read will never say "running" again
            path = self.root / RUNS_DIR / f"{self.run_id}.json"
            status = "running" if path.is_file() and path.stat().st_size == 0 else "unreadable"
        if status == "running":
            if record is not None and not runner_alive(record):
                self.final_status = "abandoned"
                self.gone_pid = record.get("pid")
                return True
            self.over_since = None
            return False
        self.final_status = status
        if self.over_since is None:
            self.over_since = time.monotonic()
        return time.monotonic() - self.over_since >= GRACE_S


def runner_alive(record: dict) -> bool:
    """Is the process that wrote a `running` record still there? A pid that is gone, or
    that now belongs to a process started after the run (a reused pid, after a restart),
    is not the runner. Unknown (no pid, another user's process): taken as alive."""
    pid = record.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    started = _process_start(pid)
    run_start = parse_started(record.get("startedAt"))
    if started is None or run_start is None:
        return True
    return started <= run_start.timestamp() + 5  # the runner began before its record


def _process_start(pid: int) -> float | None:
    """When process `pid` started (Unix time), where the system says (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        ticks = int(fields[19])  # starttime: field 22, counted after the command name
        with open("/proc/stat", "rb") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith(b"btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def describe_event(event: dict, record: dict | None,
                   options: list[str] = ()) -> list[tuple[str, str | None]]:
    """Console lines (text, style) for one event (`options`: see hint_options)."""
    stamp = when(event.get("ts"))[11:] or "?"
    kind, sid, status = event.get("event"), event.get("stageId"), event.get("status")
    duration = event.get("durationMs")
    took = f" in {seconds(duration)}" if duration is not None else ""
    if kind == "run-started":
        return [(f"{stamp} ▶ run {event.get('runId')} started", "start")]
    if kind == "stage-started":
        return [(f"{stamp} ▶ {sid} started", "start")]
    if kind == "stages-up-to-date":  # those the fast path's stamp found up to date
        return [(f"{stamp} ↷ {event.get('reason') or str(event.get('stages')) + ' stages'}",
                 "skip")]
    if kind == "stage-finished":
        marker, style = marked(status)
        lines = [(f"{stamp} {marker} {sid} {status}{took}", style)]
        if status == "failed" and record is not None:
            stage = next((s for s in record.get("stages") or []
                          if isinstance(s, dict) and s.get("id") == sid), {})
            lines.append((f"    error: {stage.get('error') or 'failed'}", "fail"))
            if stage.get("logPath"):
                lines.append((f"    log: {stage['logPath']}", "note"))
            lines += [(f"    rerun: {hint}", "note")
                      for hint in remediation(record, str(sid), list(options))]
        return lines
    if kind == "run-finished":
        marker, style = marked(status)
        return [(f"{stamp} {marker} run finished: {status}{took}", style)]
    return [(f"{stamp} {kind} {sid or ''} {status or ''}".rstrip(), None)]


def _exit_for(status: str | None) -> int:
    return EXIT_OK if status == "succeeded" else EXIT_STAGE_FAILED


def follow_run(root: Path, run_id: str, console: Console, ctx) -> int:
    """Print the run's events as they are appended, until run-finished."""
    watch = RunWatch(root, run_id)
    while True:
        events = watch.new_events()
        for event in events:
            # a failed stage's error is in the record, written before its event
            needs_record = (event.get("event") == "stage-finished"
                            and event.get("status") == "failed")
            record = record_or_none(root, run_id) if needs_record else None
            options = hint_options(ctx, record) if record is not None else []
            for text, style in describe_event(event, record, options):
                console.line(text if text.startswith(("    log:", "    rerun:"))
                             else console.fit(text), style)
        if watch.should_stop():
            break
        time.sleep(POLL_S)
    if watch.gone_pid is not None:
        console.line(f"run {run_id} is still marked running, but its process (pid "
                     f"{watch.gone_pid}) is gone: it was killed, or the machine restarted; "
                     f"the next run marks it interrupted", "fail")
    elif watch.finished is None:
        console.line(f"run {run_id} ended as {watch.final_status} without finishing its "
                     f"events (it may have crashed)", "fail")
    return _exit_for(watch.final_status)


def follow_stage(root: Path, run_id: str, stage_id: str, console: Console) -> int:
    """Print the stage's output as it is written, until the run finishes."""
    find_stage(load_record(root, run_id), stage_id)  # exit 2 for a stage not in the run
    watch = RunWatch(root, run_id)
    output = LineTail(stage_log_path(root, run_id, stage_id))
    while True:
        watch.new_events()  # only to learn when the run is over
        stop = watch.should_stop()
        for line in output.read():
            console.line(line)
        if stop:
            break
        time.sleep(POLL_S)
    rest = output.rest()
    if rest:
        console.line(rest)
    if watch.gone_pid is not None:
        console.line(f"run {run_id}'s process (pid {watch.gone_pid}) is gone: the run did "
                     f"not finish", "fail")
    return _exit_for(watch.final_status)
