"""`pipeline run [PIPELINE]` and `pipeline run-stage STAGE`."""

from __future__ import annotations

from orchestrator.commands._argtypes import not_empty
from orchestrator.commands._environment import (
    add_env_file,
    env_file_values,
    refuse_missing_required,
    stage_environ,
)
from orchestrator.console import Console
from orchestrator.errors import EXIT_OK, UsageError
from orchestrator.options import RunOptions

TYPE_CHECKING = False  # typing is not imported: the fast path starts here
if TYPE_CHECKING:
    from orchestrator.graph import Graph
    from orchestrator.plan import Plan


def register(commands) -> None:
    run = commands.add_parser("run", help="run a pipeline; skip the stages that are up to date")
    run.add_argument("pipeline", nargs="?", metavar="PIPELINE", type=not_empty("pipeline"),
                     help="pipeline id (default: defaultPipeline, else full-refresh, "
                          "else the only pipeline)")
    run.add_argument("--only", action="append", default=[], metavar="IDS", type=_ids,
                     help="run only these stages (comma-separated or repeated)")
    run.add_argument("--skip", action="append", default=[], metavar="IDS", type=_ids,
                     help="leave these stages out (comma-separated or repeated)")
    run.add_argument("--from", dest="start", metavar="STAGE", type=not_empty("stage"),
                     help="start at this stage (earlier ones are left out)")
    run.add_argument("--to", dest="stop", metavar="STAGE", type=not_empty("stage"),
                     help="stop after this stage (later ones are left out)")
    run.add_argument("--force", action="store_true",
                     help="run every selected stage even when up to date")
    run.add_argument("--dry-run", action="store_true",
                     help="print what would run and why; execute nothing")
    _add_json(run)
    run.add_argument("--since", metavar="RUN_ID", type=not_empty("run"),
                     help="run only what changed since that recorded run (a unique prefix "
                          "works), and everything downstream of it")
    run.add_argument("--continue-on-error", action="store_true",
                     help="after a failure, keep running the stages that do not depend on it")
    run.add_argument("--no-fast-path", action="store_true",
                     help="decide stage by stage even when nothing changed since the last "
                          "run (the fast path's stamp is written anew)")
    run.add_argument("-j", "--jobs", type=_positive_int, default=1, metavar="N",
                     help="run up to N independent stages at once (default 1)")
    _add_shared_options(run)
    run.set_defaults(handler=run_pipeline)

    stage = commands.add_parser("run-stage", help="run one stage now, without its upstream "
                                                  "stages, even if up to date")
    stage.add_argument("stage", metavar="STAGE", type=not_empty("stage"), help="stage id")
    stage.add_argument("--dry-run", action="store_true",
                       help="print what would run; execute nothing")
    _add_json(stage)
    _add_shared_options(stage)
    stage.set_defaults(handler=run_stage)


def quick_args(argv: list[str]):
    """`run` and `run PIPELINE` parsed as argparse would parse them, without argparse:
    the lines a no-op run is started with, where building the parsers would be a quarter
    of the run's time. None for any other line (argparse parses it, with its messages).
    A test compares the two for these lines: a new option needs its default here too."""
    if not 1 <= len(argv) <= 2 or argv[0] != "run":
        return None
    pipeline = argv[1] if len(argv) == 2 else None
    if pipeline is not None and (pipeline.startswith("-") or not pipeline.strip()):
        return None
    from types import SimpleNamespace

    return SimpleNamespace(
        directory=None, graph=None, command="run", handler=run_pipeline,
        pipeline=pipeline, only=[], skip=[], start=None, stop=None, force=False,
        dry_run=False, json=False, since=None, continue_on_error=False, no_fast_path=False,
        jobs=1, timeout=None, log_level="info", json_logs=False, wait=False, env_file=None,
        python=None, no_summary=False, executor="local", scheduler=None,
        connect_timeout=10.0, scheduler_security=None)


def _add_json(parser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="with --dry-run: print the plan as one JSON document")


def _refuse_json_without_dry_run(args) -> None:
    if args.json and not args.dry_run:
        raise UsageError("--json is for --dry-run (the plan as JSON); a run's events as "
                         "JSON lines are --json-logs")


def _add_shared_options(parser) -> None:
    """What `run` and `run-stage` both take."""
    _add_timeout(parser)
    _add_output_options(parser)
    _add_wait(parser)
    add_env_file(parser)
    parser.add_argument("--no-summary", action="store_true",
                        help="do not append the run's Markdown report to the file "
                             "GITHUB_STEP_SUMMARY names (GitHub Actions' job summary)")
    add_executor_options(parser)


def add_executor_options(parser, doctor: bool = False) -> None:
    """--executor and the Dask options (also `pipeline doctor`'s)."""
    parser.add_argument("--executor", choices=("local", "dask"), default="local",
                        help="where stage commands run: this machine (default), or the "
                             "workers of a Dask cluster (see docs/distributed.md)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="dask: the scheduler, e.g. tcp://HOST:8786 (default: "
                             "$PIPELINE_DASK_SCHEDULER, else "
                             + ("none: the local machine only)" if doctor else
                                "a local cluster of --jobs workers)"))
    parser.add_argument("--connect-timeout", type=_positive_seconds, default=10.0,
                        metavar="SECONDS",
                        help="dask: how long to wait for the scheduler and a worker "
                             "(default 10)")
    parser.add_argument("--scheduler-security", metavar="PATH",
                        help="dask: a YAML file of distributed.Security arguments "
                             "(tls_ca_file, tls_client_cert, tls_client_key, ...)")


def executor_settings(args) -> dict:
    """The RunOptions fields of the executor options; refuses Dask options without
    --executor dask, and says how to install Dask when it is missing."""
    if args.executor == "local":
        given = [flag for flag, value in (("--scheduler", args.scheduler),
                                          ("--scheduler-security", args.scheduler_security))
                 if value]
        if given:
            raise UsageError(f"{given[0]} needs --executor dask")
        return {}
    import os

    from orchestrator.dask_executor import SCHEDULER_VARIABLE, require_distributed

    scheduler = args.scheduler or os.environ.get(SCHEDULER_VARIABLE) or None
    require_distributed()
    return {"executor": "dask", "scheduler": scheduler,
            "connect_timeout": args.connect_timeout,
            "scheduler_security": args.scheduler_security}


def _ids(text: str) -> str:
    """`--only`/`--skip`: at least one id. An empty value (a CI variable that came out
    empty) is a usage error, not "no filter": it would run or check every stage."""
    import argparse

    if not any(part.strip() for part in text.split(",")):
        raise argparse.ArgumentTypeError(f"no stage id in '{text}' (an empty list selects "
                                         f"nothing; leave the option out to select all)")
    return text


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

    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info", type=_log_level,
                        help="info: stream stage output (default); warn: only a failing "
                             "stage's last lines; error: only failures; debug: also commands "
                             "and doit's decisions")
    parser.add_argument("--json-logs", action="store_true",
                        help="print the run's JSONL events instead of human lines")


def _log_level(text: str) -> str:
    """`--log-level` in any case, `warning` for `warn` (as Python's logging spells it)."""
    level = text.strip().lower()
    return "warn" if level == "warning" else level


def _environment(graph: Graph, stage_ids, env_file: str | None) -> dict[str, str]:
    """The --env-file values (those the environment lacks are added for the stages), after
    refusing unset required variables (all named, before anything starts; a dry run
    refuses them too: the real run would not start)."""
    file_values = env_file_values(env_file)
    refuse_missing_required(graph, stage_ids, stage_environ(file_values))
    return file_values


def _add_wait(parser) -> None:
    parser.add_argument("--wait", action="store_true",
                        help="if another run is in progress here, wait for it to end "
                             "instead of exiting")


def _add_timeout(parser) -> None:
    parser.add_argument("--timeout", type=_positive_seconds, metavar="SECONDS",
                        help="stop a stage running longer than this (stages' own `timeout` "
                             "wins)")


def _refuse_missing_python(ctx, args) -> None:
    """`--python PATH` naming no interpreter is a usage error, before anything runs."""
    if args.python is None:
        return
    from orchestrator.runtimes import interpreter_path, is_executable_file

    path = interpreter_path(args.python, ctx.root)
    if not is_executable_file(path):
        raise UsageError(f"--python {args.python}: no executable interpreter at {path} "
                         f"(a relative path is taken from the project root)")


def run_pipeline(ctx, args) -> int:
    from orchestrator.ledger import keep_settings

    _refuse_json_without_dry_run(args)
    _refuse_missing_python(ctx, args)
    keep_settings()  # a malformed $PIPELINE_KEEP_RUNS is refused before anything runs
    key = _fast_path_key(ctx, args)
    options = RunOptions(
        command="run", label=args.pipeline, force=args.force,
        since=args.since, keep_going=args.continue_on_error, jobs=args.jobs,
        timeout=args.timeout, env_file=args.env_file, wait=args.wait,
        log_level=args.log_level, json_logs=args.json_logs,
        global_options=ctx.global_options, argv=ctx.argv, fast_path_key=key,
        **executor_settings(args))
    partial = None
    if key is not None and not (args.no_fast_path or args.force or args.log_level == "debug"):
        from orchestrator import fastpath

        console = Console(level=args.log_level, json_events=args.json_logs)
        taken = fastpath.take(ctx.root, key, options.as_record(), args.wait, console,
                              before_wait=lambda: _refuse_before_waiting(ctx, args))
        if isinstance(taken, fastpath.Partial):
            partial = taken  # it holds the run lock: the run below adopts it
        elif taken is not None:
            code, run_id = taken
            if not args.no_summary:
                _append_summary(ctx, run_id)
            return code
    try:
        return _full_or_partial(ctx, args, options, key, partial)
    finally:
        if partial is not None:
            partial.lock.release()  # on every path; releasing twice is harmless


def _refuse_before_waiting(ctx, args) -> None:
    """--wait, and another run holds the project: refuse now what the run would refuse
    as soon as it got the lock (a broken graph, an unknown pipeline, a required variable
    unset), as the full path does before it waits. The graph is read apart from the
    run's: the run reads it again after taking the stat its stamp vouches for."""
    from orchestrator.graph import load_graph, resolve_graph_path

    _planned(ctx, args, load_graph(resolve_graph_path(ctx.root, ctx.graph_path), ctx.root,
                                   write_cache=False))


def _planned(ctx, args, graph: Graph):
    """The pipeline, selection and plan the command line asks for, and the --env-file
    values, after refusing a stage id given as the pipeline and unset required
    variables."""
    from orchestrator.plan import make_selection, plan_pipeline

    if args.pipeline and args.pipeline not in graph.pipelines and args.pipeline in graph.stages:
        raise UsageError(_stage_not_pipeline(ctx, graph, args.pipeline))
    pipeline = graph.pipeline(args.pipeline) if args.pipeline else graph.default_pipeline()
    selection = make_selection(args.only, args.skip, args.start, args.stop)
    plan = plan_pipeline(graph, pipeline, selection, force=args.force)
    return pipeline, selection, plan, _environment(graph, plan.selected, args.env_file)


def _full_or_partial(ctx, args, options: RunOptions, key: str | None, partial) -> int:
    """The run that the fast path declined: decided stage by stage, or with a
    fastpath.Partial, only for the stages something changed for and those downstream
    of them, under the lock the Partial holds."""
    ctx.write_cache = not args.dry_run
    if key is not None:  # before the graph is read: the stamp vouches for what was read
        from orchestrator import fastpath
        from orchestrator.graph import resolve_graph_path

        options = options.replace(graph_stat=fastpath.stat_sig(
            str(resolve_graph_path(ctx.root, ctx.graph_path))))
    graph = ctx.graph
    pipeline, selection, plan, file_values = _planned(ctx, args, graph)
    if args.since:
        from orchestrator.status import since_plan

        plan = since_plan(graph, plan, _since_record(ctx.root, args.since),
                          stage_environ(file_values, args.python))
    if args.dry_run:
        return show_plan(graph, plan, stage_environ(file_values, args.python),
                         as_json=args.json)
    options = options.replace(label=pipeline.id, selection=selection)
    used = None
    if partial is not None and _decided_on(partial, options.graph_stat, plan):
        from orchestrator.plan import partial_plan

        plan, used = partial_plan(graph, plan, partial.changed), partial
    session = _session(graph, options, plan, environ=_runner_environ(args),
                       file_values=file_values)
    if partial is not None:  # a stamp of other stages than these: the full path, held
        session.adopt(partial.lock, used)
    return _run_with_summary(ctx, args, session)


def _decided_on(partial, graph_stat, plan) -> bool:
    """Is this run's plan the one the partial fast path decided on: the graph read is
    the one the stamp was checked against (its stat, taken before it was read, is the
    stamp's, outside the racy window), and the stamp stands for exactly these stages?"""
    _file, _shown, racy, *sig, _digest = partial.stamp["graph"]
    return (not racy and graph_stat is not None and list(graph_stat) == sig
            and tuple(partial.side["selected"]) == plan.selected)


def _session(*args, **kwargs):
    from orchestrator.session import RunSession

    return RunSession(*args, **kwargs)


def _run_with_summary(ctx, args, session) -> int:
    """Run the session; then, on GitHub Actions (GITHUB_STEP_SUMMARY set) and without
    --no-summary, append its Markdown report to the job summary: also when the run
    failed or was interrupted, which is when the summary is read."""
    try:
        return session.run()
    finally:
        if not args.no_summary and session.ledger.started:
            _append_summary(ctx, session.ledger.run_id)


def _append_summary(ctx, run_id: str | None) -> None:
    import os

    from orchestrator.commands.report import SUMMARY_VARIABLE

    if os.environ.get(SUMMARY_VARIABLE):
        from orchestrator.commands.report import append_step_summary

        append_step_summary(ctx, run_id)


def _fast_path_key(ctx, args) -> str | None:
    """The key of the selection's fast-path stamp (fastpath.py); None for a run that
    neither takes the fast path nor writes a stamp (--dry-run, --since)."""
    if args.dry_run or args.since:
        return None
    import os

    from orchestrator import fastpath
    from orchestrator.paths import DEFAULT_GRAPH

    graph_path = str(ctx.graph_path or (ctx.root / DEFAULT_GRAPH).absolute())
    python = os.path.join(str(ctx.root), args.python) if args.python else None
    return fastpath.selection_key(graph_path, args.pipeline, args.only, args.skip,
                                  args.start, args.stop, args.env_file, python)


def _stage_not_pipeline(ctx, graph: Graph, stage_id: str) -> str:
    """`pipeline run STAGE`: say it is a stage, and how to run it alone or in its
    pipeline (the default one when it lists the stage, else the first that does)."""
    from orchestrator.console import pipeline_command

    alone = pipeline_command(ctx.global_options, "run-stage", stage_id)
    message = f"'{stage_id}' is a stage, not a pipeline: run it alone with '{alone}'"
    listing = [p.id for p in graph.pipelines.values() if stage_id in p.stages]
    try:
        default = graph.default_pipeline().id
    except UsageError:
        default = None
    if default in listing:
        only = pipeline_command(ctx.global_options, "run", "--only", stage_id)
    elif listing:
        only = pipeline_command(ctx.global_options, "run", listing[0], "--only", stage_id)
    else:
        return message + " (no pipeline lists it)"
    return f"{message}, or in its pipeline with '{only}'"


def _runner_environ(args) -> dict[str, str] | None:
    """The environment the run's stages start from: ours, with PIPELINE_PYTHON set by
    --python (None: ours as it is)."""
    return stage_environ({}, args.python) if args.python is not None else None


def _since_record(root, since: str) -> dict:
    from orchestrator.ledger import read_run_record, resolve_run

    run_id = resolve_run(root, since, latest=False)
    try:
        return read_run_record(root, run_id)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--since {since}: the record of run {run_id} is unreadable: "
                         f"{exc}") from None


def run_stage(ctx, args) -> int:
    from orchestrator.ledger import keep_settings
    from orchestrator.plan import plan_stage

    _refuse_json_without_dry_run(args)
    _refuse_missing_python(ctx, args)
    keep_settings()
    ctx.write_cache = not args.dry_run
    graph = ctx.graph
    if args.stage not in graph.stages and args.stage in graph.pipelines:
        from orchestrator.console import pipeline_command

        raise UsageError(f"'{args.stage}' is a pipeline, not a stage: run it with "
                         f"'{pipeline_command(ctx.global_options, 'run', args.stage)}'")
    plan = plan_stage(graph, args.stage)
    file_values = _environment(graph, plan.selected, args.env_file)
    if args.dry_run:
        return show_plan(graph, plan, stage_environ(file_values, args.python),
                         as_json=args.json)
    options = RunOptions(
        command="run-stage", label=args.stage, stage=args.stage, force=True,
        timeout=args.timeout, env_file=args.env_file, wait=args.wait,
        log_level=args.log_level, json_logs=args.json_logs,
        global_options=ctx.global_options, argv=ctx.argv, **executor_settings(args))
    return _run_with_summary(ctx, args, _session(graph, options, plan,
                                                   environ=_runner_environ(args),
                                                   file_values=file_values))


# a dry run's status -> its `action` in JSON
_ACTIONS = {"run": "run", "up to date": "up-to-date", "may run": "may-run", "skipped": "skipped"}


def show_plan(graph: Graph, plan: Plan, environ=None, as_json: bool = False) -> int:
    """--dry-run: each stage `run`, `may run`, `up to date` or `skipped`, with its reason;
    with `as_json`, one document whose stages are `status --json`'s, plus `action`."""
    from orchestrator.commands.status import last_run, stage_reason
    from orchestrator.status import plan_statuses

    console = Console()
    if as_json:
        statuses = plan_statuses(graph, plan, environ)
        console.json({"pipeline": plan.pipeline_id,
                      "stage": None if plan.pipeline_id else plan.selected[0],
                      "force": plan.force, "stages": [
                          {"id": st.id, "upToDate": st.status == "up to date",
                           "reason": stage_reason(st.status, st.reason),
                           "lastRun": last_run(st.values), "action": _ACTIONS[st.status]}
                          for st in statuses]})
        return EXIT_OK
    title = f"pipeline '{plan.pipeline_id}'" if plan.pipeline_id else f"stage '{plan.selected[0]}'"
    console.line(f"Plan for {title} (dry run, nothing is executed):")
    statuses = plan_statuses(graph, plan, environ)
    width = max(len(s.id) for s in statuses)
    styles = {"run": "start", "may run": None, "up to date": "skip", "skipped": "skip"}
    for st in statuses:
        console.line(f"  {st.status:<10} {st.id:<{width}}  {st.reason}".rstrip(),
                     styles[st.status])
    return EXIT_OK
