"""`pipeline report [RUN_ID | --latest]`: one run as a self-contained HTML page, or as
Markdown for a CI job summary; and the job summary `pipeline run` appends by itself.

Reads `.pipeline-runs/` like `logs` and `history`. The graph is loaded only to draw
it: a graph that no longer loads makes a note in the report, not an error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from orchestrator.commands._argtypes import not_empty
from orchestrator.errors import EXIT_OK, UsageError
from orchestrator.paths import RUNS_DIR

DEFAULT_HTML = "report.html"
SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"


def register(commands) -> None:
    from orchestrator.report import DEFAULT_RUNS

    report = commands.add_parser(
        "report", help="one run as an HTML page (timeline, graph, trends) or as Markdown")
    report.add_argument("run_id", nargs="?", metavar="RUN_ID", type=not_empty("run"),
                        help="a run id, any unique beginning of one, or the path of its "
                             "record (default: the latest run)")
    report.add_argument("--latest", action="store_true", help="the most recent run (default)")
    report.add_argument("-o", "--output", metavar="PATH",
                        help=f"where to write it, '-' for standard output (default: "
                             f"{DEFAULT_HTML}; with --markdown, standard output)")
    report.add_argument("--markdown", action="store_true",
                        help="GitHub-flavoured Markdown, sized for a CI job summary")
    report.add_argument("--runs", type=int, metavar="N",
                        help=f"how many runs of the pipeline the trends cover, this one "
                             f"included (default: {DEFAULT_RUNS})")
    report.set_defaults(handler=make_report)


def build(ctx, run_id: str, runs: int | None = None, draw: bool = True):
    """The RunReport of `run_id` (UsageError when its record does not read); `draw`:
    load the graph to draw it (the Markdown has no drawing)."""
    from orchestrator.commands.logs import hint_options, load_record, runner_alive
    from orchestrator.report import DEFAULT_RUNS, gather, load_drawing, stages_of

    record = load_record(ctx.root, run_id)
    report = gather(ctx.root, record, DEFAULT_RUNS if runs is None else runs,
                    graph_drawing=load_drawing(ctx, record, stages_of(record)) if draw
                    else (None, None),
                    hint_options=hint_options(ctx, record))
    report.runner_gone = record.get("status") == "running" and not runner_alive(record)
    return report


def make_report(ctx, args) -> int:
    from orchestrator.commands.logs import record_id
    from orchestrator.ledger import resolve_run

    if args.run_id and args.latest:
        raise UsageError("give a RUN_ID or --latest, not both")
    if args.runs is not None and args.runs < 1:
        raise UsageError(f"--runs {args.runs}: give a number of runs of at least 1")
    run_id = resolve_run(ctx.root, record_id(ctx, args.run_id), args.run_id is None)
    report = build(ctx, run_id, args.runs, draw=not args.markdown)
    if args.markdown:
        from orchestrator.report_markdown import render
    else:
        from orchestrator.report_html import render
    text = render(report)
    output = args.output if args.output is not None else ("-" if args.markdown else DEFAULT_HTML)
    if output == "-":
        sys.stdout.write(text)
        return EXIT_OK
    path = Path(ctx.start_dir, output)
    if path.is_dir():
        raise UsageError(f"-o {output}: is a directory")
    try:
        write_file(path, text)
    except OSError as exc:
        raise UsageError(f"-o {output}: cannot write it: {exc.strerror or exc}") from None
    size = path.stat().st_size
    print(f"wrote {output} ({size / 1024:.0f} KB): run {run_id}, {report.status}, "
          f"{len(report.stages)} stage(s)")
    return EXIT_OK


def write_file(path: Path, text: str) -> None:
    """Replace `path` whole (a reader never sees half a report)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def append_step_summary(ctx, run_id: str | None) -> None:
    """`pipeline run`: when GitHub's GITHUB_STEP_SUMMARY names a file, append the run's
    Markdown report to it. A summary that cannot be written is one warning line; the
    run's exit code stays the run's."""
    target = os.environ.get(SUMMARY_VARIABLE, "")
    if not target or run_id is None:
        return
    try:
        text = _summary_text(ctx, run_id)
        with open(target, "a", encoding="utf-8") as f:
            f.write(text + "\n")
    except UsageError as exc:
        print(f"pipeline: warning: no job summary: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"pipeline: warning: cannot append the job summary to {SUMMARY_VARIABLE} "
              f"({target}): {exc.strerror or exc}", file=sys.stderr)


def _summary_text(ctx, run_id: str) -> str:
    from orchestrator.report_markdown import render

    if not (ctx.root / RUNS_DIR / f"{run_id}.json").is_file():
        raise UsageError(f"the record of run {run_id} is gone")
    return render(build(ctx, run_id, draw=False))
