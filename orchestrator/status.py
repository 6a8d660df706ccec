"""What a run would do, and why, asked of doit without executing anything.

Shared by `run --dry-run` and the inspection commands.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.compile import compile_tasks
from orchestrator.engine import open_state, to_doit_tasks
from orchestrator.graph import Graph
from orchestrator.plan import Plan
from orchestrator.reporter import run_reason


@dataclass(frozen=True)
class StageStatus:
    id: str
    status: str  # "run" | "may run" | "up to date" | "skipped"
    reason: str  # why it runs, why it may, or why it is skipped; "" when up to date
    values: dict  # what doit saved when the stage last succeeded ({} if never)


def plan_statuses(graph: Graph, plan: Plan) -> list[StageStatus]:
    """One StageStatus per stage of the plan's order, in order.

    A stage that is up to date now but reads an artifact written by an earlier stage that
    will run is `may run`: it runs only if that stage's output actually changes.
    """
    root = graph.root
    state = open_state(root)
    tasks = {t.name: t for t in to_doit_tasks(
        compile_tasks(graph, plan.selected, root, lambda stage: (lambda: None)))}
    changing: dict[str, str] = {}  # artifact id -> an earlier stage that runs and writes it
    result = []
    try:
        for sid in plan.order:
            if sid not in plan.selected:
                result.append(StageStatus(sid, "skipped", plan.skipped[sid], {}))
                continue
            status, reason = _status(graph, tasks, sid, state, plan.force, changing)
            if status != "up to date":
                for out in graph.stages[sid].outputs:
                    changing[out.artifact] = sid
            values = state.get_values(sid) if state is not None else {}
            result.append(StageStatus(sid, status, reason, values))
    finally:
        if state is not None:
            state.close()
    return result


def _status(graph: Graph, tasks: dict, sid: str, state, force: bool,
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
