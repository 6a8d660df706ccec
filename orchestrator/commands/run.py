"""`pipeline run [PIPELINE]` and `pipeline run-stage STAGE`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.console import Console
from orchestrator.errors import EXIT_OK, UsageError
from orchestrator.plan import Plan, make_selection, plan_pipeline, plan_stage
from orchestrator.session import RunOptions, RunSession

if TYPE_CHECKING:
    from orchestrator.graph import Graph


def register(commands) -> None:
    run = commands.add_parser("run", help="run a pipeline; skip the stages that are up to date")
    run.add_argument("pipeline", nargs="?", metavar="PIPELINE", type=_not_empty("pipeline"),
                     help="pipeline id (default: defaultPipeline, else full-refresh, "
                          "else the only pipeline)")
    run.add_argument("--only", action="append", default=[], metavar="IDS", type=_ids,
                     help="run only these stages (comma-separated or repeated)")
    run.add_argument("--skip", action="append", default=[], metavar="IDS", type=_ids,
                     help="leave these stages out (comma-separated or repeated)")
    run.add_argument("--from", dest="start", metavar="STAGE", type=_not_empty("stage"),
                     help="start at this stage (earlier ones are left out)")
    run.add_argument("--to", dest="stop", metavar="STAGE", type=_not_empty("stage"),
                     help="stop after this stage (later ones are left out)")
    run.add_argument("--force", action="store_true",
                     help="run every selected stage even when up to date")
    run.add_argument("--dry-run", action="store_true",
                     help="print what would run and why; execute nothing")
    run.add_argument("--since", metavar="RUN_ID",
                     help="run only what changed since that recorded run (a unique prefix "
                          "works), and everything downstream of it")
    run.add_argument("--continue-on-error", action="store_true",
                     help="after a failure, keep running the stages that do not depend on it")
    run.add_argument("-j", "--jobs", type=_positive_int, default=1, metavar="N",
                     help="run up to N independent stages at once (default 1)")
    _add_shared_options(run)
    run.set_defaults(handler=run_pipeline)

    stage = commands.add_parser("run-stage", help="run one stage now, without its upstream "
                                                  "stages, even if up to date")
    stage.add_argument("stage", metavar="STAGE", help="stage id")
    stage.add_argument("--dry-run", action="store_true",
                       help="print what would run; execute nothing")
    _add_shared_options(stage)
    stage.set_defaults(handler=run_stage)


def _add_shared_options(parser) -> None:
    """What `run` and `run-stage` both take."""
    _add_timeout(parser)
    _add_output_options(parser)
    _add_wait(parser)
    _add_env_file(parser)


def _ids(text: str) -> str:
    """`--only`/`--skip`: at least one id. An empty value (a CI variable that came out
    empty) is a usage error, not "no filter": it would run or check every stage."""
    import argparse

    if not any(part.strip() for part in text.split(",")):
        raise argparse.ArgumentTypeError(f"no stage id in '{text}' (an empty list selects "
                                         f"nothing; leave the option out to select all)")
    return text


def _not_empty(what: str):
    def check(text: str) -> str:
        import argparse

        if not text.strip():
            raise argparse.ArgumentTypeError(f"empty {what} id")
        return text
    check.__name__ = f"{what} id"  # argparse names the type in some messages
    return check


def _positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not '{text}'")
    return value


def _positive_seconds(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not '{text}'")
    return value


def _add_output_options(parser) -> None:
    from orchestrator.console import LOG_LEVELS

    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info",
                        help="info: stream stage output (default); warn: only a failing "
                             "stage's last lines; error: only failures; debug: also commands "
                             "and doit's decisions")
    parser.add_argument("--json-logs", action="store_true",
                        help="print the run's JSONL events instead of human lines")


def _add_env_file(parser) -> None:
    parser.add_argument("--env-file", metavar="PATH",
                        help="load variables for the stages from a dotenv file (variables "
                             "already set in the environment win); their values are masked")


def _environment(graph: Graph, stage_ids, env_file: str | None, check: bool
                 ) -> dict[str, str]:
    """The --env-file values (those the environment lacks are added for the stages), after
    refusing unset required variables (all named, before anything starts)."""
    import os

    file_values: dict[str, str] = {}
    if env_file:
        from orchestrator.envfile import load_env_file

        file_values = load_env_file(env_file, os.environ, shown=env_file)
    if check:
        environ = {**file_values, **os.environ}
        missing = [f"{v.name} (stage {sid})" for sid in stage_ids
                   for v in graph.stages[sid].environment
                   if v.required and not environ.get(v.name)]
        if missing:
            raise UsageError("required environment variable not set or empty: "
                             + ", ".join(missing))
    return file_values


def _add_wait(parser) -> None:
    parser.add_argument("--wait", action="store_true",
                        help="if another run is in progress here, wait for it to end "
                             "instead of exiting")


def _add_timeout(parser) -> None:
    parser.add_argument("--timeout", type=_positive_seconds, metavar="SECONDS",
                        help="stop a stage running longer than this (stages' own `timeout` "
                             "wins)")


def run_pipeline(ctx, args) -> int:
    ctx.write_cache = not args.dry_run
    graph = ctx.graph
    pipeline = graph.pipeline(args.pipeline) if args.pipeline else graph.default_pipeline()
    selection = make_selection(args.only, args.skip, args.start, args.stop)
    plan = plan_pipeline(graph, pipeline, selection, force=args.force)
    file_values = _environment(graph, plan.selected, args.env_file, check=not args.dry_run)
    if args.since:
        from orchestrator.status import since_plan

        plan = since_plan(graph, plan, _since_record(ctx.root, args.since),
                          _with(file_values))
    if args.dry_run:
        return show_plan(graph, plan, _with(file_values))
    options = RunOptions(
        command="run", label=pipeline.id, selection=selection, force=args.force,
        since=args.since, keep_going=args.continue_on_error, jobs=args.jobs,
        timeout=args.timeout, env_file=args.env_file, wait=args.wait,
        log_level=args.log_level, json_logs=args.json_logs,
        global_options=ctx.global_options)
    return RunSession(graph, options, plan, file_values=file_values).run()


def _with(file_values: dict[str, str]) -> dict[str, str]:
    """The stages' environment: ours, and the --env-file values it lacks."""
    import os

    return {**file_values, **os.environ}


def _since_record(root, since: str) -> dict:
    from orchestrator.ledger import read_run_record, resolve_run

    run_id = resolve_run(root, since, latest=False)
    try:
        return read_run_record(root, run_id)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--since {since}: the record of run {run_id} is unreadable: "
                         f"{exc}") from None


def run_stage(ctx, args) -> int:
    ctx.write_cache = not args.dry_run
    graph = ctx.graph
    plan = plan_stage(graph, args.stage)
    file_values = _environment(graph, plan.selected, args.env_file, check=not args.dry_run)
    if args.dry_run:
        return show_plan(graph, plan, _with(file_values))
    options = RunOptions(
        command="run-stage", label=args.stage, stage=args.stage, force=True,
        timeout=args.timeout, env_file=args.env_file, wait=args.wait,
        log_level=args.log_level, json_logs=args.json_logs,
        global_options=ctx.global_options)
    return RunSession(graph, options, plan, file_values=file_values).run()


def show_plan(graph: Graph, plan: Plan, environ=None) -> int:
    """--dry-run: each stage `run`, `may run`, `up to date` or `skipped`, with its reason."""
    from orchestrator.status import plan_statuses

    console = Console()
    title = f"pipeline '{plan.pipeline_id}'" if plan.pipeline_id else f"stage '{plan.selected[0]}'"
    console.line(f"Plan for {title} (dry run, nothing is executed):")
    statuses = plan_statuses(graph, plan, environ)
    width = max(len(s.id) for s in statuses)
    styles = {"run": "start", "may run": None, "up to date": "skip", "skipped": "skip"}
    for st in statuses:
        console.line(f"  {st.status:<10} {st.id:<{width}}  {st.reason}".rstrip(),
                     styles[st.status])
    return EXIT_OK
