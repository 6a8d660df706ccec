"""A doit reporter that prints the pipeline console and keeps the run ledger.

doit calls it as it walks the tasks (`execute_task`, `add_success`, `skip_uptodate`,
...); it is the same object whether `pipeline run` or plain `doit run` drives doit.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from orchestrator import collector, process
from orchestrator.compile import FAILURE_KEY, freshness_of
from orchestrator.console import Console, seconds
from orchestrator.engine import (
    drop_action_instances,
    failed_upstream,
    flush_state,
    save_values,
    state_releaser,
    tasks_and_deps,
    unreadable_states,
)
from orchestrator.ledger import RunLedger, now_iso
from orchestrator.paths import STATE_DB
from orchestrator.plan import Plan

if TYPE_CHECKING:
    from orchestrator.session import RunSession


def _locked(method):
    """Serialize reporter calls: with --jobs, doit calls some of them from worker threads."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return wrapper


def _stage_id(task) -> str | None:
    return (task.meta or {}).get("stage")


def run_reason(task) -> str:
    """Why doit decided to run `task`: our freshness reasons, else the file_deps doit
    found changed, else it was forced."""
    for utd, _, _ in task.uptodate:
        reasons = getattr(utd, "reasons", None)
        if reasons:
            return "; ".join(reasons)
    changed = sorted(task.dep_changed or [])
    if changed:
        meta = task.meta or {}
        scripts, imports = set(meta.get("scripts", ())), set(meta.get("imports", ()))
        return "; ".join(f"{_dep_kind(p, scripts, imports)} changed: {p}" for p in changed)
    return "forced"


def _dep_kind(path: str, scripts: set[str], imports: set[str]) -> str:
    if path in scripts:
        return "script"
    return "imported module" if path in imports else "input"


def _remember_failure(task, message: str, blocked: bool = False) -> None:
    """doit forgets a failed task's state; keep when it last succeeded and that it failed,
    so the next run says `last run failed` rather than `never run`. Nothing that could
    make the stage look up to date is kept."""
    freshness = freshness_of(task)
    previous = freshness.previous if freshness is not None else {}
    kept = {"run": previous["run"]} if previous.get("run") else {}
    kept[FAILURE_KEY] = {"at": now_iso(), "error": message, "blocked": blocked}
    save_values(task.name, kept)


COMMIT_INTERVAL_S = 0.05


class StateCommits:
    """When doit's state is committed, and the records that speak of it written.

    Every stage end changes doit's state (a row of `.doit.db`) and the records (an event,
    the record's entry). Committing the row is most of what a short stage costs beyond
    its command, so with `batching` (one local job: the main thread runs every command)
    the rows are committed in batches: at a stage end when the last commit is at least
    COMMIT_INTERVAL_S old, otherwise as soon as it is, by the main thread while it waits
    for the next command (process.do_soon). The ledger holds its events and record
    rewrites meanwhile and writes them right after each commit: what the records say a
    stage did is always stored already, and a kill (SIGKILL) loses at most the stages
    that ended within that interval, records and state alike: they run again next time.
    Without batching (parallel jobs, a Dask cluster), every stage end commits at once."""

    def __init__(self, ledger: RunLedger, batching: bool):
        self.ledger = ledger
        self.batching = batching
        self.committed_at = 0.0
        self._release: Any = None  # forgets a settled task's decoded doit state
        self._settled: list[str] = []  # tasks to forget once their rows are committed

    def start(self, release) -> None:
        self._release = release
        self.ledger.hold()

    def settled(self, task_name: str) -> None:
        """The run is done with this task: forget its decoded state once it is stored."""
        if self._release is not None:
            self._settled.append(task_name)

    def wrote(self, state: bool = True) -> None:
        """The records changed, and with `state` doit's state too: commit now, or soon.
        Without batching, records alone (a stage started: doit's thread runner says so
        from a worker thread, and doit's DB is the main thread's) are written at once."""
        if not self.batching:
            if state:
                self.commit()
            else:
                self.ledger.sync()
        elif time.monotonic() - self.committed_at >= COMMIT_INTERVAL_S:
            self.commit()
        else:
            process.do_soon(self.committed_at + COMMIT_INTERVAL_S, self._soon)

    def commit(self) -> None:
        process.forget_soon()
        flush_state()
        self.committed_at = time.monotonic()
        if self._settled:
            for name in self._settled:
                self._release(name)
            self._settled = []
        self.ledger.sync()

    def _soon(self) -> None:
        try:
            self.commit()
        except Exception:  # noqa: BLE001 - tried again at the next stage end, where a
            pass  # failure ends the run as failed with one line (engine.GuardedRun)


class PipelineReporter:
    """doit's reporter for a `RunSession`: what doit tells it becomes console lines and
    records. The session reads `any_stage_failed`; nothing else is read or set from
    outside."""

    desc = "pipeline console and run records"

    def __init__(self, session: RunSession):
        self.session = session
        self.ledger: RunLedger = session.ledger
        self.global_options = session.options.global_options  # kept in rerun hints
        self.console: Console = session.console
        self.plan: Plan | None = session.plan
        self.label = session.options.label
        self.total = 0
        self.index: dict[str, int] = {}
        # the partial fast path's stages come first: the line that counts them is printed
        # before any other, so the stages doit decides are numbered after them
        self.numbered_before = 0
        self.counts = {"succeeded": 0, "failed": 0, "blocked": 0, "up-to-date": 0}
        # stage -> when it last succeeded (ISO 8601), for the fast path's maxAge expiry
        self.finished_at: dict[str, str] = {}
        self.keep_going = session.options.keep_going
        # doit's thread runner calls execute_task from worker threads
        self._lock = threading.RLock()
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.pipeline_id: str | None = self.plan.pipeline_id if self.plan else None
        options = session.options
        self.commits = StateCommits(self.ledger, batching=options.jobs == 1 and
                                    options.executor == "local" and
                                    options.entry_point != "doit")
        self._completed = False
        self._internal = False

    @property
    def any_stage_failed(self) -> bool:
        return bool(self.failed)

    @property
    def internal_error(self) -> bool:
        """The run ended on an exception nobody expected (a bug): exit 3."""
        return self._internal

    def run_error(self, exc: BaseException) -> None:
        """An exception escaped doit's loop (engine.GuardedRun): say it in one line and
        end the run as failed, with a record that says why."""
        self._note_error(exc)
        if not self._completed:
            self.complete_run()

    def _note_error(self, exc: BaseException) -> None:
        message, internal = describe_error(exc)
        self._internal = self._internal or internal
        if message in self.errors:
            return
        self.errors.append(message)
        if internal and os.environ.get("PIPELINE_DEBUG", "").strip() not in ("", "0"):
            import traceback

            traceback.print_exception(exc)
        self.console.error(f"error: {message}")

    def begin(self) -> None:
        """Start the record of a planned run before (or without) doit."""
        self.initialize({}, [])

    def refuse(self, sid: str, message: str) -> None:
        """A stage cannot start (a required input nobody in this run produces): the run
        stops before anything starts, and says which stage writes the input."""
        self.begin()
        hints = self._hints(sid)
        index = self.plan.selected.index(sid) + 1
        self.console.stage_failed(index, self.total, sid, message, None, hints)
        self.ledger.stage_finished(sid, "failed", reason="missing input", error=message)
        self.failed.append(sid)
        self.counts["failed"] += 1
        self.complete_run()

    # -- doit's reporter interface -------------------------------------------------

    def initialize(self, tasks: dict, selected_tasks: list[str]) -> None:
        release = state_releaser(tasks)
        self.session.digests.load()
        if self.plan is not None:
            plan = self.plan
            selected = set(plan.selected)
            stages = [(sid, "up-to-date", plan.settled[sid]) if sid in plan.settled else
                      (sid, "pending" if sid in selected else "skipped",
                       plan.skipped.get(sid)) for sid in plan.order]
            self.numbered_before = len(plan.stamped)
            self.total = len(plan.selected) + len(plan.settled) + len(plan.stamped)
        else:  # plain doit: the run is whatever doit was asked for
            pipelines = [(tasks[n].meta or {}).get("pipeline") for n in selected_tasks]
            self.pipeline_id = next((p for p in pipelines if p), None)
            seen = [t.name for t in tasks_and_deps(tasks, selected_tasks) if _stage_id(t)]
            stages = [(sid, "pending", None) for sid in seen]
            self.total = len(stages)
            self.label = self.label or self.pipeline_id or "+".join(selected_tasks)[:60]
        if not self.ledger.started:
            self.session.claim_for_doit()  # plain `doit run`: nobody took the lock yet
            self.ledger.start(self.pipeline_id, stages, label=self.label,
                              extra=self._stamped_field())
            self._say_stamped()
        self.commits.start(release)

    def _stamped_field(self) -> dict | None:
        """The partial fast path: the record counts the stages up to date by the stamp
        in one field rather than listing them (there may be 10,000)."""
        stamped = len(self.plan.stamped) if self.plan is not None else 0
        if not stamped:
            return None
        partial = self.session.partial
        return {"fastPath": {"stages": stamped, "reason": stamped_reason(stamped),
                             "partial": True,
                             "basedOn": partial.stamp.get("runId") if partial else None}}

    def _say_stamped(self) -> None:
        stamped = len(self.plan.stamped) if self.plan is not None else 0
        if stamped and not self.console.json_events:
            self.console.stage_up_to_date_by_stamp(stamped, stamped_reason(stamped))

    def get_status(self, task) -> None:
        pass

    def _number(self, sid: str) -> int:
        if sid not in self.index:
            self.index[sid] = self.numbered_before + len(self.index) + 1
            self.total = max(self.total, self.index[sid])
        return self.index[sid]

    @_locked
    def execute_task(self, task) -> None:
        sid = _stage_id(task)
        if not sid:
            return
        collector.resume()  # real work from here on: let the collector run again
        self.session.stage_decided(sid)
        reason = (self.plan.reasons.get(sid) if self.plan else None) or run_reason(task)
        self.console.stage_started(self._number(sid), self.total, sid, reason)
        if self.console.debug:
            self.console.line(f"  doit: file_dep {sorted(task.file_dep)}, changed "
                              f"{sorted(task.dep_changed or [])}, {task.uptodate[0][0]!r}", "note")
        self.ledger.stage_started(sid, reason)
        self.commits.wrote(state=False)

    @_locked
    def add_success(self, task) -> None:
        sid = _stage_id(task)
        if not sid:
            return
        action = getattr(task.actions[0], "py_callable", None) if task.actions else None
        details: dict[str, Any] = dict(getattr(action, "last_details", None)
                                       or task.values.get("run") or {})
        self.counts["succeeded"] += 1
        if details.get("finishedAt"):
            self.finished_at[sid] = details["finishedAt"]
        self.console.stage_succeeded(self._number(sid), self.total, sid,
                                     details.get("durationMs") or 0)
        for warning in details.get("warnings") or ():
            self.console.warning(f"  warning: {sid}: {warning}")
        outputs = task.values.get("outputs") or {}
        artifacts = [{"path": p, "digest": d} for p, d in outputs.items()]
        # held by the ledger until the commit of the stage's state (StateCommits): what
        # the records call succeeded is stored as such
        self.ledger.stage_finished(sid, "succeeded", details=details, artifacts=artifacts)
        self.session.stage_written(sid)
        self._settled(task, action)
        task.values = {}  # stored by doit; it reads no task's values back in this run
        self.commits.wrote()

    def _settled(self, task, action=None) -> None:
        """The stage is done for this run (succeeded, or up to date) and recorded: drop
        what its checks and its action kept, and its decoded doit state (stored already).
        Over 10,000 stages that is most of what a run would otherwise hold to its end."""
        freshness = freshness_of(task)
        if freshness is not None:
            freshness.forget()
        forget = getattr(action, "forget", None)
        if forget is not None:
            forget()
            drop_action_instances(task)
        self.commits.settled(task.name)

    @_locked
    def add_failure(self, task, fail) -> None:
        sid = _stage_id(task)
        if not sid:
            self.errors.append(f"{task.name}: {fail.message}")
            self.console.error(f"✖ {task.name}: {fail.message}")
            return
        failed_before = failed_upstream(fail)
        if failed_before is not None:  # --continue-on-error: an upstream stage failed
            upstream = ", ".join(f"'{name}'" for name in failed_before)
            message = f"upstream {upstream} failed"
            self.counts["blocked"] += 1
            self.console.stage_blocked(self._number(sid), self.total, sid, message)
            _remember_failure(task, message, blocked=True)
            self.commits.commit()
            self.ledger.stage_finished(sid, "blocked", reason=message)
            self.commits.wrote()
            return
        details = dict(getattr(fail, "details", {}) or {})
        message = fail.message.strip().splitlines()[0] if fail.message else "failed"
        if not getattr(fail, "details", None):  # doit refused to start it
            message = message.replace("ERROR: ", "")
        self.counts["failed"] += 1
        self.failed.append(sid)
        hints = self._hints(sid)
        self.console.stage_failed(self._number(sid), self.total, sid, message,
                                  details.get("logPath"), hints)
        if details.get("logPath") and not self.console.json_events and not (
                self.console.streams_output and self.console.err_shows_out):
            self._show_tail(details["logPath"])  # unless it was streamed where stderr goes
        _remember_failure(task, message)
        self.commits.commit()
        self.ledger.stage_finished(sid, "failed", error=message, details=details)
        self.commits.wrote()

    def _hints(self, sid: str) -> list[str]:
        """How to rerun the stage, as a command that works where the run was started."""
        from orchestrator.hints import rerun_hints

        return rerun_hints(self.session.graph, sid, self.pipeline_id, self.global_options,
                           self.session.options.entry_point)

    def _show_tail(self, log_path: str, lines: int = 40) -> None:
        """The end of a failing stage's output, when it was not streamed."""
        try:
            text = (self.ledger.root / log_path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        tail = text.splitlines()[-lines:]
        if tail:
            self.console.failure_line(f"    last {len(tail)} lines of its output:", "note")
            for line in tail:
                self.console.failure_line(f"    | {line}")

    @_locked
    def skip_uptodate(self, task) -> None:
        sid = _stage_id(task)
        if not sid:
            return
        self.session.stage_decided(sid)
        # doit fills task.values only after this call; the check kept what it read
        freshness = freshness_of(task)
        saved = freshness.previous if freshness is not None else {}
        last = (saved.get("run") or {}).get("finishedAt")
        reason = f"unchanged since {last[:19].replace('T', ' ')} UTC" if last else "unchanged"
        self.counts["up-to-date"] += 1
        if last:
            self.finished_at[sid] = last
        self.console.stage_up_to_date(self._number(sid), self.total, sid, reason)
        fingerprint = freshness.fingerprint["digest"] if freshness and freshness.fingerprint \
            else None
        self.ledger.stage_finished(sid, "up-to-date", reason=reason,
                                   details={"fingerprint": fingerprint})
        self._settled(task)
        self.commits.wrote()

    def settle(self, sid: str, reason: str) -> None:
        """A stage decided up to date before doit runs (--since)."""
        self.counts["up-to-date"] += 1
        self.console.stage_up_to_date(self._number(sid), self.total, sid, reason)

    @_locked
    def skip_ignore(self, task) -> None:
        sid = _stage_id(task)
        if not sid:
            return
        self.console.stage_up_to_date(self._number(sid), self.total, sid, "ignored by doit ignore")
        self.ledger.stage_finished(sid, "skipped", reason="ignored by doit ignore")
        self.commits.wrote()

    @_locked
    def cleanup_error(self, exception) -> None:
        self.errors.append(exception.get_msg())
        self.console.error(exception.get_msg())

    @_locked
    def runtime_error(self, msg: str) -> None:
        self.errors.append(msg)
        self.console.error(f"error: {msg}")

    def teardown_task(self, task) -> None:
        pass

    @_locked
    def complete_run(self) -> None:
        if self._completed:
            return
        self._completed = True
        process.forget_soon()  # written below: the run's end writes all it holds
        escaping = sys.exc_info()[1]
        if isinstance(escaping, Exception):  # doit's loop ends on it: the run failed
            self._note_error(escaping)
        for task_id in unreadable_states():
            self.console.warning(f"warning: the saved state of '{task_id}' in {STATE_DB} "
                                 f"was damaged; it was taken as never run")
        if not self.ledger.started:
            self.begin()  # the run ended before it began: its record still says why
            self._completed = True
        interrupted = isinstance(escaping, KeyboardInterrupt)
        if interrupted:
            self.session.executor.stop_all()  # stages still running in parallel threads
            status = "interrupted"
        elif (self.failed or self.errors) and self.keep_going:
            status = "degraded"
        elif self.failed or self.errors or self.ledger.write_error:
            status = "failed"
        else:
            status = "succeeded"
        if self.errors:
            self.ledger.record["error"] = "; ".join(self.errors)
        in_flight = self.ledger.stages_with_status("running") if interrupted else []
        self.ledger.finish(status)
        for sid in in_flight:  # the record says failed, error "interrupted"
            self.console.stage_interrupted(self._number(sid), self.total, sid)
        if self.ledger.write_error and self.ledger.write_error not in self.errors:
            self.errors.append(self.ledger.write_error)  # the record may not say so
            self.console.error(f"error: {self.ledger.write_error}")
        self.session.digests.save()
        if self.session.options.entry_point == "doit":
            self.session.prune()
            self.session.release()  # plain doit: the reporter took it
        if not self.ledger.started:
            return
        c = self.counts
        name = self.pipeline_id or self.label or "run"
        stamped = len(self.plan.stamped) if self.plan else 0
        by_stamp = f" ({stamped} by the fast path)" if stamped else ""
        parts = [f"{c['succeeded']} ran", f"{c['up-to-date'] + stamped} up to date{by_stamp}"]
        if c["failed"]:
            parts.append(f"{c['failed']} failed")
        if c["blocked"]:
            parts.append(f"{c['blocked']} blocked")
        if in_flight:
            parts.append(f"{len(in_flight)} interrupted")
        not_run = len(self.ledger.stages_with_status("pending"))
        if not_run:  # after a failure or an interrupt: every stage is accounted for
            parts.append(f"{not_run} not run")
        skipped = len(self.plan.skipped) if self.plan else 0
        if skipped:
            parts.append(f"{skipped} skipped by filters")
        duration = seconds(self.ledger.record.get("durationMs"))
        record = self.ledger.relative(self.ledger.record_path)
        style = {"succeeded": "ok", "failed": "fail", "degraded": "fail",
                 "interrupted": "fail"}[status]
        if self.console.json_events:
            return
        summary = f"{name} {status} in {duration}: {', '.join(parts)}. Record: {record}"
        if status == "succeeded":
            self.console.line(summary, style)
        else:
            self.console.failure_line(summary, style)


def stamped_reason(count: int) -> str:
    """Why the partial fast path's stages are up to date (the record and console say it)."""
    stages = "stage" if count == 1 else "stages"
    return (f"{count} {stages} up to date (fast path: nothing they read has changed, "
            f"nor anything upstream)")


def describe_error(exc: BaseException) -> tuple[str, bool]:
    """One line for an exception that ended a run, and whether it is a bug of ours
    (rather than the machine's: an unusable state file, a full disk)."""
    import errno

    from orchestrator.engine import is_state_error

    text = " ".join(str(exc).split())
    if is_state_error(exc) and ("disk is full" in text or "No space" in text):
        return f"no space left on device: {STATE_DB} could not be written", False
    if is_state_error(exc):
        if "readonly" in text or "read-only" in text:
            return f"{STATE_DB} is read-only ({text}): make it writable", False
        return (f"{STATE_DB} cannot be used ({text}): if it is damaged, delete it "
                f"(every stage then runs again)"), False
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        if exc.errno == errno.ENOSPC:
            return f"no space left on device{where}", False
        return f"{exc.strerror or text}{where}", False
    return (f"internal error (this is a bug): {type(exc).__name__}"
            f"{': ' + text if text else ''} (set PIPELINE_DEBUG=1 to see the traceback)"), True
