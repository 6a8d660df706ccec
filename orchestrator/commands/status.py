"""`pipeline status [PIPELINE]`: is each stage up to date, why not, and when it last ran."""

from __future__ import annotations

from orchestrator.commands._argtypes import not_empty
from orchestrator.commands._environment import add_env_file, env_file_values, stage_environ
from orchestrator.console import Console
from orchestrator.errors import EXIT_OK

# plan_statuses' status -> (marker, word shown, console style)
_SHOWN = {
    "up to date": ("✔", "up to date", "ok"),
    "run": ("✖", "out of date", "fail"),
    "may run": ("~", "may run", None),
    "skipped": ("-", "skipped", "skip"),
}


def register(commands) -> None:
    status = commands.add_parser(
        "status", help="show which stages are up to date, why not, and when they last ran")
    status.add_argument("pipeline", nargs="?", metavar="PIPELINE", type=not_empty("pipeline"),
                        help="pipeline id (default: defaultPipeline, else full-refresh, "
                             "else the only pipeline)")
    status.add_argument("--json", action="store_true", help="print one JSON document")
    add_env_file(status)
    status.set_defaults(handler=show_status)


def last_run(values: dict) -> str | None:
    """When the stage last succeeded, as doit saved it (None if it never did)."""
    run = values.get("run") if isinstance(values, dict) else None
    return run.get("finishedAt") if isinstance(run, dict) else None


def stage_reason(status: str, reason: str) -> str | None:
    """The reason as `--json` gives it: None when up to date; says so when it only may run."""
    if status == "up to date":
        return None
    if status == "may run":
        return f"may run {reason}".strip()
    return reason or None


def show_status(ctx, args) -> int:
    from orchestrator.plan import plan_pipeline
    from orchestrator.status import plan_statuses

    graph = ctx.graph
    pipeline = graph.pipeline(args.pipeline) if args.pipeline else graph.default_pipeline()
    environ = stage_environ(env_file_values(args.env_file), args.python)
    statuses = plan_statuses(graph, plan_pipeline(graph, pipeline), environ)  # runs nothing
    console = Console()
    if args.json:
        console.json({"pipeline": pipeline.id, "stages": [
            {"id": st.id, "upToDate": st.status == "up to date",
             "reason": stage_reason(st.status, st.reason), "lastRun": last_run(st.values)}
            for st in statuses]})
        return EXIT_OK

    fresh = sum(st.status == "up to date" for st in statuses)
    console.line(f"Pipeline '{pipeline.id}': {fresh} of {len(statuses)} stages up to date")
    if not statuses:
        return EXIT_OK
    width = max(len("STAGE"), *(len(st.id) for st in statuses))  # the heading too
    console.row(f"  {'STAGE':<{width}}  {'STATE':<11}  {'LAST RUN (UTC)':<19}  REASON",
                "note")
    for st in statuses:
        marker, word, style = _SHOWN.get(st.status, ("?", st.status, None))
        when = last_run(st.values)
        shown_when = when[:19].replace("T", " ") if when else "never"
        # "may run" reads on: "may run  ...  if 'extract' changes build/raw.json"
        console.row(f"{marker} {st.id:<{width}}  {word:<11}  {shown_when:<19}  "
                    f"{st.reason}".rstrip(), style)
    return EXIT_OK
