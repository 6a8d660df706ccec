"""`pipeline run [PIPELINE]` and `pipeline run-stage STAGE`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.console import Console, pipeline_command
from orchestrator.errors import EXIT_OK, EXIT_STAGE_FAILED, EXIT_USAGE, UsageError
from orchestrator.plan import Plan, make_selection, missing_inputs, plan_pipeline, plan_stage

if TYPE_CHECKING:  # the engine (doit and all) is imported only when a run needs it
    from orchestrator.graph import Graph
    from orchestrator.reporter import PipelineReporter
    from orchestrator.stage_action import RunSettings


def register(commands) -> None:
    run = commands.add_parser("run", help="run a pipeline; skip the stages that are up to date")
    run.add_argument("pipeline", nargs="?", metavar="PIPELINE",
                     help="pipeline id (default: defaultPipeline, else full-refresh, "
                          "else the only pipeline)")
    run.add_argument("--only", action="append", default=[], metavar="IDS",
                     help="run only these stages (comma-separated or repeated)")
    run.add_argument("--skip", action="append", default=[], metavar="IDS",
                     help="leave these stages out (comma-separated or repeated)")
    run.add_argument("--from", dest="start", metavar="STAGE",
                     help="start at this stage (earlier ones are left out)")
    run.add_argument("--to", dest="stop", metavar="STAGE",
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


def _prepare_environment(graph: Graph, stage_ids, env_file: str | None, check: bool):
    """Load --env-file into the environment, refuse unset required variables (all named,
    before anything starts), and return the Masker of every value that must not leak."""
    import os

    from orchestrator.masking import Masker

    file_values: dict[str, str] = {}
    if env_file:
        from orchestrator.envfile import load_env_file

        file_values = load_env_file(env_file, os.environ, shown=env_file)
        for name, value in file_values.items():
            os.environ.setdefault(name, value)
    if check:
        missing = [f"{v.name} (stage {sid})" for sid in stage_ids
                   for v in graph.stages[sid].environment
                   if v.required and not os.environ.get(v.name)]
        if missing:
            raise UsageError("required environment variable not set or empty: "
                             + ", ".join(missing))
    declared = {v.name for stage in graph.stages.values() for v in stage.environment}
    secrets = [os.environ[name] for name in declared if os.environ.get(name)]
    return Masker([*secrets, *file_values.values()])


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
    masker = _prepare_environment(graph, plan.selected, args.env_file, check=not args.dry_run)
    if args.since:
        from orchestrator.status import since_plan

        plan = since_plan(graph, plan, _since_record(ctx.root, args.since))
    options = {"command": "run", "entryPoint": "pipeline", **selection.as_options(),
               "force": args.force, "dryRun": args.dry_run,
               "since": args.since, "continueOnError": args.continue_on_error, "jobs": args.jobs,
               "timeout": args.timeout, "envFile": args.env_file}
    if args.dry_run:
        return show_plan(graph, plan)
    console, settings = _console_and_settings(args, masker, prefix_output=args.jobs > 1)
    return execute(graph, plan, options, label=pipeline.id, console=console, settings=settings,
                   keep_going=args.continue_on_error, jobs=args.jobs, wait=args.wait,
                   global_options=ctx.global_options)


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
    masker = _prepare_environment(graph, plan.selected, args.env_file, check=not args.dry_run)
    if args.dry_run:
        return show_plan(graph, plan)
    options = {"command": "run-stage", "entryPoint": "pipeline", "stage": args.stage,
               "force": True, "dryRun": False, "timeout": args.timeout,
               "envFile": args.env_file}
    console, settings = _console_and_settings(args, masker)
    return execute(graph, plan, options, label=args.stage, console=console, settings=settings,
                   wait=args.wait, global_options=ctx.global_options)


def _console_and_settings(args, masker, prefix_output: bool = False
                          ) -> tuple[Console, RunSettings]:
    from orchestrator.stage_action import RunSettings

    console = Console(level=args.log_level, json_events=args.json_logs)
    console.masker = masker
    settings = RunSettings(timeout=args.timeout, prefix_output=prefix_output,
                           echo_output=console.streams_output, show_commands=console.debug,
                           masker=masker)
    return console, settings


def execute(graph: Graph, plan: Plan, options: dict, label: str, console: Console,
            settings: RunSettings, keep_going: bool = False, jobs: int = 1,
            wait: bool = False, global_options: tuple[str, ...] = ()) -> int:
    """Run the plan's selected stages through doit; record everything under .pipeline-runs/.

    One run at a time per project: the run lock is held from before the record is
    created until the run has ended. `global_options` (`-C`, `-g` as given) go into the
    rerun hints printed after a failure."""
    from orchestrator.ledger import mark_abandoned_runs
    from orchestrator.lock import RunLock

    with RunLock(graph.root) as lock:
        lock.acquire(wait=wait)
        mark_abandoned_runs(graph.root)  # we hold the lock: a `running` record is dead
        return _execute_locked(graph, plan, options, label, console, settings, keep_going,
                               jobs, lock, global_options)


def _execute_locked(graph: Graph, plan: Plan, options: dict, label: str, console: Console,
                    settings: RunSettings, keep_going: bool, jobs: int, lock,
                    global_options: tuple[str, ...]) -> int:
    from orchestrator.compile import compile_tasks
    from orchestrator.engine import action_factory, run_doit
    from orchestrator.ledger import RunLedger
    from orchestrator.reporter import PipelineReporter

    root = graph.root
    options = {**options, "logLevel": console.level, "jsonLogs": console.json_events}
    ledger = RunLedger(root, graph.display, options,
                       on_event=console.event if console.json_events else None)
    ledger.lock = lock
    ledger.masker = settings.masker
    reporter = PipelineReporter(ledger, console, plan, label=label, keep_going=keep_going,
                                global_options=global_options)
    missing = missing_inputs(graph, plan, root)
    if missing:
        return _refuse_missing(graph, plan, reporter, missing)
    if plan.settled:
        reporter.initialize({}, [])
        for sid, reason in plan.settled.items():
            reporter.settle(sid, reason)
    if not plan.selected:  # --since found nothing to do
        reporter.complete_run()
        return EXIT_OK
    tasks = compile_tasks(graph, plan.selected, root,
                          action_factory(graph, root, ledger, settings), keep_scan=True)
    code = run_doit(tasks, list(plan.selected), reporter, force=plan.force,
                    keep_going=keep_going, jobs=jobs)
    if reporter.failed:
        return EXIT_STAGE_FAILED
    if code == 0:
        return EXIT_OK
    # doit refused before running (it printed why) or a non-stage task failed
    return EXIT_USAGE if not ledger.started else EXIT_STAGE_FAILED


def _refuse_missing(graph: Graph, plan: Plan, reporter: PipelineReporter,
                    missing: dict[str, list[str]]) -> int:
    """A required input nobody in this run produces: stop before anything starts."""
    sid, paths = next(iter(missing.items()))
    reporter.initialize({}, [])
    message = "cannot start: missing input " + ", ".join(paths)
    index = plan.selected.index(sid) + 1
    stage = graph.stages[sid]
    writers = {w for inp in stage.inputs if inp.artifact for w in graph.writers(inp.artifact)
               if w != sid}
    hints = [pipeline_command(reporter.global_options, "run-stage", w) for w in sorted(writers)]
    reporter.console.stage_failed(index, reporter.total, sid, message, None, hints)
    reporter.ledger.stage_finished(sid, "failed", reason="missing input", error=message)
    reporter.failed.append(sid)
    reporter.counts["failed"] += 1
    reporter.complete_run()
    return EXIT_STAGE_FAILED


def show_plan(graph: Graph, plan: Plan) -> int:
    """--dry-run: each stage `run`, `may run`, `up to date` or `skipped`, with its reason."""
    from orchestrator.status import plan_statuses

    console = Console()
    title = f"pipeline '{plan.pipeline_id}'" if plan.pipeline_id else f"stage '{plan.selected[0]}'"
    console.line(f"Plan for {title} (dry run, nothing is executed):")
    statuses = plan_statuses(graph, plan)
    width = max(len(s.id) for s in statuses)
    styles = {"run": "start", "may run": None, "up to date": "skip", "skipped": "skip"}
    for st in statuses:
        console.line(f"  {st.status:<10} {st.id:<{width}}  {st.reason}".rstrip(),
                     styles[st.status])
    return EXIT_OK
