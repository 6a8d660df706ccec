"""`pipeline run [PIPELINE]` and `pipeline run-stage STAGE`."""

from __future__ import annotations

from orchestrator.compile import compile_tasks
from orchestrator.console import Console
from orchestrator.engine import action_factory, run_doit
from orchestrator.errors import EXIT_OK, EXIT_STAGE_FAILED, EXIT_USAGE
from orchestrator.graph import Graph
from orchestrator.ledger import RunLedger
from orchestrator.plan import Plan, make_selection, missing_inputs, plan_pipeline, plan_stage
from orchestrator.reporter import PipelineReporter
from orchestrator.status import plan_statuses


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
    run.set_defaults(handler=run_pipeline)

    stage = commands.add_parser("run-stage", help="run one stage now, without its upstream "
                                                  "stages, even if up to date")
    stage.add_argument("stage", metavar="STAGE", help="stage id")
    stage.add_argument("--dry-run", action="store_true",
                       help="print what would run; execute nothing")
    stage.set_defaults(handler=run_stage)


def run_pipeline(ctx, args) -> int:
    graph = ctx.graph
    pipeline = graph.pipeline(args.pipeline) if args.pipeline else graph.default_pipeline()
    selection = make_selection(args.only, args.skip, args.start, args.stop)
    plan = plan_pipeline(graph, pipeline, selection, force=args.force)
    options = {"command": "run", "entryPoint": "pipeline", **selection.as_options(),
               "force": args.force, "dryRun": args.dry_run}
    if args.dry_run:
        return show_plan(graph, plan)
    return execute(graph, plan, options, label=pipeline.id)


def run_stage(ctx, args) -> int:
    graph = ctx.graph
    plan = plan_stage(graph, args.stage)
    if args.dry_run:
        return show_plan(graph, plan)
    options = {"command": "run-stage", "entryPoint": "pipeline", "stage": args.stage,
               "force": True, "dryRun": False}
    return execute(graph, plan, options, label=args.stage)


def execute(graph: Graph, plan: Plan, options: dict, label: str) -> int:
    """Run the plan's selected stages through doit; record everything under .pipeline-runs/."""
    root = graph.root
    console = Console()
    ledger = RunLedger(root, graph.display, options)
    reporter = PipelineReporter(ledger, console, plan, label=label)
    missing = missing_inputs(graph, plan, root)
    if missing:
        return _refuse_missing(graph, plan, reporter, missing)
    tasks = compile_tasks(graph, plan.selected, root, action_factory(graph, root, ledger))
    code = run_doit(tasks, list(plan.selected), reporter, force=plan.force)
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
    hints = [f"pipeline run-stage {w}" for w in sorted(writers)]
    reporter.console.stage_failed(index, reporter.total, sid, message, None, hints)
    reporter.ledger.stage_finished(sid, "failed", reason="missing input", error=message)
    reporter.failed.append(sid)
    reporter.counts["failed"] += 1
    reporter.complete_run()
    return EXIT_STAGE_FAILED


def show_plan(graph: Graph, plan: Plan) -> int:
    """--dry-run: each stage `run`, `may run`, `up to date` or `skipped`, with its reason."""
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
