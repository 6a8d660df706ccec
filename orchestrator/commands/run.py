"""`pipeline run [PIPELINE]` and `pipeline run-stage STAGE`."""

from __future__ import annotations

from orchestrator.compile import compile_tasks
from orchestrator.console import Console
from orchestrator.engine import action_factory, open_state, run_doit, to_doit_tasks
from orchestrator.errors import EXIT_OK, EXIT_STAGE_FAILED, EXIT_USAGE
from orchestrator.graph import Graph
from orchestrator.ledger import RunLedger
from orchestrator.plan import Plan, make_selection, missing_inputs, plan_pipeline, plan_stage
from orchestrator.reporter import PipelineReporter, run_reason


def run(graph: Graph, args) -> int:
    pipeline = graph.pipeline(args.pipeline) if args.pipeline else graph.default_pipeline()
    selection = make_selection(args.only, args.skip, args.start, args.stop)
    plan = plan_pipeline(graph, pipeline, selection, force=args.force)
    options = {"command": "run", "entryPoint": "pipeline", **selection.as_options(),
               "force": args.force, "dryRun": args.dry_run}
    if args.dry_run:
        return show_plan(graph, plan)
    return execute(graph, plan, options, label=pipeline.id)


def run_stage(graph: Graph, args) -> int:
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
    """--dry-run: each stage `run`, `may run` or `up to date`, with its reason."""
    root = graph.root
    console = Console()
    title = f"pipeline '{plan.pipeline_id}'" if plan.pipeline_id else f"stage '{plan.selected[0]}'"
    console.line(f"Plan for {title} (dry run, nothing is executed):")
    state = open_state(root)
    tasks = {t.name: t for t in to_doit_tasks(
        compile_tasks(graph, plan.selected, root, lambda stage: (lambda: None)))}
    changing: dict[str, str] = {}  # artifact id -> stage that runs and writes it
    width = max(len(s) for s in plan.order)
    for sid in plan.order:
        if sid not in plan.selected:
            console.line(f"  {'skipped':<10} {sid:<{width}}  {plan.skipped[sid]}", "skip")
            continue
        status, reason = _stage_status(graph, tasks, sid, state, plan.force, changing)
        if status != "up to date":
            for out in graph.stages[sid].outputs:
                changing[out.artifact] = sid
        style = {"run": "start", "may run": None, "up to date": "skip"}[status]
        console.line(f"  {status:<10} {sid:<{width}}  {reason}", style)
    if state is not None:
        state.close()
    return EXIT_OK


def _stage_status(graph: Graph, tasks: dict, sid: str, state, force: bool,
                  changing: dict[str, str]) -> tuple[str, str]:
    task = tasks[sid]
    if force:
        return "run", "forced"
    if state is None:
        return "run", "never run"
    result = state.get_status(task, tasks, get_log=True)
    if result.status == "error":
        missing = result.reasons.get("missing_file_dep", [])
        return "run", "missing input: " + ", ".join(missing)
    if result.status == "run":
        return "run", run_reason(task)
    upstream = [(changing[i.artifact], graph.artifacts[i.artifact].display_path)
                for i in graph.stages[sid].inputs if i.artifact in changing]
    if upstream:
        writer, path = upstream[0]
        return "may run", f"if '{writer}' changes {path}"
    return "up to date", ""
