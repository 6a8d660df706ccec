"""`pipeline history`: how each stage has fared across the recent recorded runs.

Reads only the run records under `.pipeline-runs/` (not another tool's files there).
The graph is loaded only to tell an unknown `--pipeline` from a pipeline that simply has
no runs yet.

For each stage: in how many runs it actually ran (succeeded or failed; up to date,
skipped, blocked or pending do not count), its success rate, the median, the 95th
percentile and the last of its durations in those runs, and the last against the median.
A stage is flagged as a regression when its last duration is more than 50% above the
median and the median is over 0.5 s. The numbers are computed in `orchestrator/trends.py`,
which `pipeline report` shares.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.commands._argtypes import not_empty
from orchestrator.console import Console, seconds
from orchestrator.errors import EXIT_OK, GraphError, UsageError
from orchestrator.ledger import RecordFile, read_run_record, run_records
from orchestrator.paths import RUNS_DIR
from orchestrator.trends import REGRESSION_MIN_MEDIAN_MS, REGRESSION_RATIO, stage_history

DEFAULT_LIMIT = 20
# on a terminal, longer stage ids are cut in the table to keep the numbers on screen
# (piped, and in the JSON, they are whole)
STAGE_WIDTH = 26


def register(commands) -> None:
    history = commands.add_parser(
        "history", help="each stage's runs, success rate and durations across recent runs")
    history.add_argument("--pipeline", metavar="ID", type=not_empty("pipeline"),
                         help="only the runs of this pipeline (default: every recorded run)")
    history.add_argument("--limit", type=int, metavar="N",
                         help=f"how many of the most recent runs to read "
                              f"(default: {DEFAULT_LIMIT})")
    history.add_argument("--json", action="store_true", help="print one JSON document")
    history.set_defaults(handler=show_history)


# -- reading the records --------------------------------------------------------------


def readable_records(root: Path) -> list[RecordFile]:
    """Every run record of ours whose start reads as a JSON object, oldest first.

    A record being claimed (still empty) or damaged is left out rather than failing the
    whole history; so is another tool's file (see ledger.run_records)."""
    return [record for record in run_records(root) if record.head is not None]


def full_records(root: Path, records: list[RecordFile]) -> list[dict]:
    """The whole records (stages included), of those that still read."""
    full = []
    for record in records:
        try:
            full.append(read_run_record(root, record.run_id))
        except (OSError, ValueError):
            continue
    return full


def check_pipeline(ctx, pipeline_id: str, records: list[RecordFile]) -> None:
    """UsageError for a pipeline id that no record names and the graph does not have."""
    recorded = {str(r.head.get("pipelineId")) for r in records if r.head.get("pipelineId")}
    if pipeline_id in recorded:
        return
    known = set(recorded)
    try:
        graph = ctx.graph
    except GraphError:
        graph = None  # a broken graph must not stop us reading the records
    if graph is not None:
        if pipeline_id in graph.pipelines:
            return  # a real pipeline that has not run yet
        known.update(graph.pipelines)
    from orchestrator.graph import did_you_mean

    where = " nor in the graph" if graph is not None else " (and the graph does not load)"
    raise UsageError(f"unknown pipeline '{pipeline_id}': in no run record{where}"
                     f"{did_you_mean(pipeline_id, sorted(known))}")


# -- the numbers: orchestrator/trends.py (shared with `pipeline report`) --------------


# -- the command ----------------------------------------------------------------------


def show_history(ctx, args) -> int:
    limit = DEFAULT_LIMIT if args.limit is None else args.limit
    if limit < 1:
        raise UsageError(f"--limit {limit}: give a number of runs of at least 1")
    root: Path = ctx.root
    heads = readable_records(root)  # only the newest `limit` are read whole
    if args.pipeline is not None:
        check_pipeline(ctx, args.pipeline, heads)
        heads = [r for r in heads if r.head.get("pipelineId") == args.pipeline]
    records = full_records(root, heads[-limit:])
    stages = stage_history(records)
    for stage in stages:
        del stage["durations"]  # the report draws them; the JSON keeps its shape
    console = Console()
    if args.json:
        console.json({"runs": len(records), "pipeline": args.pipeline,
                      "fastPathRuns": fast_path_runs(records),
                      "partialFastPathRuns": fast_path_runs(records, partial=True),
                      "stages": stages})
        return EXIT_OK
    if not records:
        which = f"of pipeline '{args.pipeline}' " if args.pipeline else ""
        console.row(f"No runs {which}recorded yet under {RUNS_DIR}/: "
                    f"'pipeline run' records each run.")
        return EXIT_OK
    show_table(records, stages, args.pipeline, console)
    return EXIT_OK


def fast_path_runs(records: list[dict], partial: bool = False) -> int:
    """Runs that took the fast path: their records list no stage (fastpath.py); with
    `partial`, the runs that took the partial fast path, whose records list only the
    stages doit decided."""
    return sum(1 for r in records if isinstance(r.get("fastPath"), dict)
               and bool(r["fastPath"].get("partial")) is partial)


def percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:+.0f}%"


def show_table(records: list[dict], stages: list[dict], pipeline: str | None,
               console: Console) -> None:
    first = str(records[0].get("startedAt") or "?")[:16].replace("T", " ")
    last = str(records[-1].get("startedAt") or "?")[:16].replace("T", " ")
    which = f"pipeline {pipeline}" if pipeline else "every pipeline"
    plural = "run" if len(records) == 1 else "runs"
    console.row(f"{len(records)} {plural} of {which}, {first} to {last} UTC", "bold")
    fast = fast_path_runs(records)
    if fast:
        console.row(f"  {fast} of them found every stage up to date on the fast path "
                    f"(not counted per stage below)", "note")
    partial = fast_path_runs(records, partial=True)
    if partial:
        console.row(f"  {partial} of them found some stages up to date on the fast path "
                    f"(those are not counted per stage below)", "note")
    if not stages:
        console.line("  (no stages recorded)", "note")
        return
    width = console.column([s["id"] for s in stages], "STAGE", STAGE_WIDTH)
    console.row(f"  {'STAGE':<{width}}  {'RAN':>4}  {'FAILED':>6}  {'SUCCESS':>7}  "
                f"{'UP-TO-DATE':>10}  {'MEDIAN':>7}  {'LAST':>7}  {'VS MEDIAN':>9}",
                "note")
    for stage in stages:
        rate = "-" if stage["successRate"] is None else f"{stage['successRate'] * 100:.0f}%"
        median = "-" if stage["medianMs"] is None else seconds(stage["medianMs"])
        last = "-" if stage["lastMs"] is None else seconds(stage["lastMs"])
        if stage["regression"]:
            marker, style, flag = "!", "fail", "  slower"
        elif stage["lastStatus"] == "failed":
            marker, style, flag = "✖", "fail", ""
        elif stage["runs"]:
            marker, style, flag = "✔", "ok", ""
        elif stage["upToDate"]:
            marker, style, flag = "↷", "skip", ""
        else:  # blocked, skipped or not run each time: `↷` would say up to date
            marker, style, flag = "·", "skip", ""
        console.row(f"{marker} {console.cell(stage['id'], width):<{width}}  {stage['runs']:>4}  "
                    f"{stage['failed']:>6}  {rate:>7}  {stage['upToDate']:>10}  "
                    f"{median:>7}  {last:>7}  {percent(stage['lastVsMedian']):>9}"
                    f"{flag}", style)
    if any(s["regression"] for s in stages):
        console.line(f"! slower: the last run took more than "
                     f"{(REGRESSION_RATIO - 1) * 100:.0f}% longer than the median, "
                     f"with a median over {REGRESSION_MIN_MEDIAN_MS / 1000:.1f}s", "note")
