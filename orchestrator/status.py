"""What a run would do, and why, asked of doit without executing anything.

Shared by `run --dry-run` and the inspection commands.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.compile import compile_tasks
from orchestrator.digest import digest_of
from orchestrator.engine import open_state
from orchestrator.graph import Graph
from orchestrator.plan import Plan
from orchestrator.reporter import run_reason


@dataclass(frozen=True)
class StageStatus:
    id: str
    status: str  # "run" | "may run" | "up to date" | "skipped"
    reason: str  # why it runs, why it may, or why it is skipped; "" when up to date
    values: dict  # what doit saved when the stage last succeeded ({} if never)


def plan_statuses(graph: Graph, plan: Plan, environ=None) -> list[StageStatus]:
    """One StageStatus per stage of the plan's order, in order.

    A stage that is up to date now but reads an artifact written by an earlier stage that
    will run is `may run`: it runs only if that stage's output actually changes.
    """
    root = graph.root
    state = open_state(root)
    tasks = {t.name: t for t in compile_tasks(graph, plan.selected, root,
                                              lambda stage: (lambda: None), environ=environ)}
    changing: dict[str, str] = {}  # artifact id -> an earlier stage that runs and writes it
    selected = set(plan.selected)  # (a tuple: asking it per stage was quadratic)
    result = []
    try:
        for sid in plan.order:
            # saved values for every stage, decided or not: when it last succeeded is
            # the same answer as `status` gives, whatever the filters
            values = state.get_values(sid) if state is not None else {}
            if sid in plan.settled:
                result.append(StageStatus(sid, "up to date", plan.settled[sid], values))
                continue
            if sid not in selected:
                result.append(StageStatus(sid, "skipped", plan.skipped[sid], values))
                continue
            status, reason = _status(graph, tasks, sid, state, plan.force, changing)
            reason = plan.reasons.get(sid, reason)
            if status != "up to date":
                for out in graph.stages[sid].outputs:
                    changing[out.artifact] = sid
            result.append(StageStatus(sid, status, reason, values))
    finally:
        if state is not None:
            state.close()
    return result


# how many fast-path records `recorded_stages` follows back at most
FAST_PATH_HOPS = 1000


def recorded_stages(root, record: dict) -> dict[str, dict]:
    """Stage id -> its entry in `record`, or, for the stages a fast-path run found up to
    date by its stamp (and so does not list), in the record of the run that wrote that
    stamp (`fastPath.basedOn`), and so on back: the stamp vouched that nothing such a
    stage reads changed since then, so its fingerprint then is its fingerprint in
    `record`. A record that is gone or unreadable ends the search."""
    from orchestrator.ledger import RUN_ID_FORM, read_run_record, safe_name

    found: dict[str, dict] = {}
    seen: set[str] = set()
    for _ in range(FAST_PATH_HOPS):
        for entry in record.get("stages") or []:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                found.setdefault(entry["id"], entry)
        fast = record.get("fastPath")
        based_on = fast.get("basedOn") if isinstance(fast, dict) else None
        if not isinstance(based_on, str) or based_on in seen \
                or not RUN_ID_FORM.match(based_on) or safe_name(based_on) != based_on:
            break  # a record may come from elsewhere: only a run id names a file here
        seen.add(based_on)
        try:
            record = read_run_record(root, based_on)
        except (OSError, ValueError):
            break
    return found


def since_plan(graph: Graph, plan: Plan, record: dict, environ=None) -> Plan:
    """--since RUN: run the stages whose input fingerprint differs from the one recorded
    for them in that run, or that did not succeed (or stay up to date) in it, and every
    stage downstream of them; the others are settled as unchanged. Nothing is executed."""
    from dataclasses import replace

    from orchestrator.compile import freshness_of

    run_id = record.get("runId", "?")
    recorded = recorded_stages(graph.root, record)
    # a fast-path run whose earlier records are gone lists no fingerprint for the stages
    # its stamp found up to date: they cannot be compared, so they run, and say why
    unlisted = f"no fingerprint recorded in {run_id} (fast path)" if isinstance(
        record.get("fastPath"), dict) else f"did not succeed in {run_id}"
    tasks = compile_tasks(graph, plan.selected, graph.root, lambda stage: (lambda: None),
                          environ=environ)
    reasons: dict[str, str] = {}
    for task in tasks:
        sid = task.name
        freshness = freshness_of(task)
        before = recorded.get(sid, {})
        missing = [graph.artifacts[o.artifact].display_path for o in graph.stages[sid].outputs
                   if not o.optional and o.artifact not in graph.stages[sid].cache_artifacts
                   and digest_of(str(graph.root), graph.artifacts[o.artifact]) is None]
        if not before:
            reasons[sid] = unlisted
        elif before.get("status") not in ("succeeded", "up-to-date"):
            reasons[sid] = f"did not succeed in {run_id}"
        elif before.get("fingerprint") != freshness.current()["digest"]:
            reasons[sid] = f"inputs changed since {run_id}"
        elif missing:
            reasons[sid] = f"output missing: {missing[0]}"
    written_by_changed: set[str] = set()
    for sid in plan.selected:  # plan order is topological: upstream first
        stage = graph.stages[sid]
        upstream = [d for d in stage.depends_on if d in reasons] + \
            [w for i in stage.inputs if i.artifact in written_by_changed
             for w in graph.writers(i.artifact) if w in reasons]
        if sid not in reasons and upstream:
            reasons[sid] = f"upstream '{upstream[0]}' runs"
        if sid in reasons:
            written_by_changed.update(o.artifact for o in stage.outputs)
    settled = {sid: f"unchanged since {run_id}" for sid in plan.selected if sid not in reasons}
    return replace(plan, selected=tuple(s for s in plan.selected if s in reasons),
                   settled=settled, reasons=reasons, force=True)


def _status(graph: Graph, tasks: dict, sid: str, state, force: bool,
            changing: dict[str, str]) -> tuple[str, str]:
    task = tasks[sid]
    if state is None:
        return "run", "never run"
    result = state.get_status(task, tasks, get_log=True)
    if result.status == "error":
        missing = result.reasons.get("missing_file_dep", [])
        return "run", "missing input: " + ", ".join(missing)
    if result.status == "run":
        return "run", run_reason(task)
    if force:  # as the run says: its own reason when it has one, else `forced`
        return "run", "forced"
    upstream = [(changing[i.artifact], graph.artifacts[i.artifact].display_path)
                for i in graph.stages[sid].inputs if i.artifact in changing]
    if upstream:
        writer, path = upstream[0]
        return "may run", f"if '{writer}' changes {path}"
    return "up to date", ""
