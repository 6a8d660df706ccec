"""Run records under `.pipeline-runs/`: run ids, the run record, JSONL events, stage logs.

- `<runId>.json`: the run record, replaced atomically (write, fsync, rename) at the
  start, at most once a second while stages finish, on a failure and at the end, so
  the cost per stage stays flat however many stages a run has.
- `<runId>.log`: one JSON object per line and event, appended as it happens (or, while
  the reporter holds them for a commit of doit's state, within 50 ms: see `hold`).
- `<runId>/<stageId>.log`: what the stage printed.
"""

from __future__ import annotations

import errno
import json
import os
import re
import time
from pathlib import Path

from orchestrator.errors import UsageError
from orchestrator.paths import RUNS_DIR

# The fast path writes its record through this module: datetime and typing are not
# imported for it (times are formatted with the time module; see now_iso).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any, Callable, Iterable, Iterator

RECORD_INTERVAL_S = 1.0
# ... and longer when the record is big: rewriting it takes at most this share of a run
RECORD_TIME_SHARE = 0.02
_encode_record = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# One encoder for every event line: json.dumps with options builds a new one per call,
# most of what an event costs when 10,000 stages report up to date.
_encode_line = json.JSONEncoder(ensure_ascii=False).encode



def utc_now() -> datetime:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_ms() -> int:
    """The current time in whole milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def iso_ms(ms: int, form: str = "%Y-%m-%dT%H:%M:%S") -> str:
    """`ms` (milliseconds since the epoch) in UTC as `form` plus `.mmmZ`: by default
    ISO 8601 as records write it (`2026-11-28T06:27:42.182Z`, the same text as
    `iso()` of that moment)."""
    return time.strftime(form, time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


_second: list = [None, ""]  # the last whole second now_iso formatted, and its text


def now_iso() -> str:
    """The current time as records write it. A run asks several times a stage: the
    text of the second is formatted once per second, not on every call."""
    ms = now_ms()
    second = ms // 1000
    if second != _second[0]:
        _second[0], _second[1] = second, time.strftime("%Y-%m-%dT%H:%M:%S",
                                                       time.gmtime(second))
    return f"{_second[1]}.{ms % 1000:03d}Z"


def safe_name(text: str, limit: int = 80) -> str:
    """A file-name-safe rendering of any id: unsafe characters become '_'."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", text).strip(".") or "_"
    return cleaned[:limit]


_LOG_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+@-]{0,199}")


def stage_log_name(stage_id: str) -> str:
    """The file name of a stage's log: the stage id itself (graph ids are 1-200
    characters a file name may hold), so two stages never share a log. Anything else
    is percent-encoded (still one name per id), and cut with a digest when long."""
    if _LOG_NAME.fullmatch(stage_id):
        return stage_id + ".log"
    import hashlib
    from urllib.parse import quote

    name = quote(stage_id, safe="") or "%"
    if name.startswith("."):
        name = "%2E" + name[1:]
    if len(name) > 200:
        name = name[:150] + "~" + hashlib.sha256(stage_id.encode("utf-8",
                                                                 "surrogatepass")).hexdigest()[:40]
    return name + ".log"


def new_run_id(runs_dir: Path, label: str, moment: int | None = None,
               content: Callable[[str], Any] | None = None,
               text: Callable[[str], Iterable[str]] | None = None) -> str:
    """`<UTC time to the ms>_<label>`, claimed by creating its record file exclusively,
    with `content(run_id)` as its first content (or `text(run_id)`, its JSON text in
    pieces): the file is written whole under a
    temporary name and then linked to its own (which fails if the name is taken), so a
    record never exists empty, even if the run is killed as it starts.

    `moment`: the start, in milliseconds since the epoch (default: now). Two runs
    started in the same millisecond get consecutive milliseconds, so ids stay unique and
    sort in start order.
    """
    runs_dir.mkdir(parents=True, exist_ok=True)
    moment = now_ms() if moment is None else moment
    label = safe_name(label)
    while True:
        run_id = f"{iso_ms(moment, RUN_ID_TIME)}_{label}"
        target = runs_dir / f"{run_id}.json"
        tmp = runs_dir / f".{run_id}.{os.getpid()}.claim"
        try:
            if text is not None:
                _write_json_file(tmp, None, text(run_id))
            else:
                _write_json_file(tmp, content(run_id) if content else {"runId": run_id})
            os.link(tmp, target)
        except FileExistsError:
            moment += 1
            continue
        finally:
            tmp.unlink(missing_ok=True)
        return run_id


def write_json_atomic(path: Path, data: Any, chunks: Iterable[str] | None = None) -> None:
    """Replace `path` with `data` (or its JSON text in `chunks`) so that a reader sees the
    old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        _write_json_file(tmp, data, chunks)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written file behind
        raise


def open_new_or_append(path: Path) -> int:
    """A descriptor appending to `path`, never through a symbolic link."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
                   0o644)


def open_for_writing(path: Path) -> int:
    """A descriptor of `path` created or emptied, never through a symbolic link: a
    planted link cannot make the runner write elsewhere."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                   0o644)


def _write_json_file(path: Path, data: Any, chunks: Iterable[str] | None = None) -> None:
    """Write `data` (or its JSON text in `chunks`) to a new file at `path`, synced (never
    through a symbolic link)."""
    with open(open_for_writing(path), "w", encoding="utf-8") as f:
        # compact strings from the C encoder (json.dump to a file and any indent use the
        # pure-Python one, many times slower on a big record), one stage entry at a
        # time: a 10,000-stage record is never one multi-megabyte string
        f.writelines(_json_chunks(data) if chunks is None else chunks)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())


def _json_chunks(data: Any, entry_text: Callable[[Any], str] = _encode_record
                 ) -> Iterator[str]:
    """`data` as compact JSON text, in pieces: a dict's `stages` list entry by entry,
    each as `entry_text` gives it."""
    stages = data.get("stages") if isinstance(data, dict) else None
    if not isinstance(stages, list) or not stages:
        yield _encode_record(data)
        return
    head = {key: value for key, value in data.items() if key != "stages"}
    text = _encode_record(head)
    yield text[:-1] + (',"stages":[' if head else '"stages":[')
    yield entry_text(stages[0])
    for entry in stages[1:]:
        yield ","
        yield entry_text(entry)
    yield "]}"


# what the runner itself writes into records and events, never masked: a short
# declared value (`2026`, `run`) would otherwise turn `startedAt` into `***-11-28...` or
# a run id into another, and the record would no longer be recognised as ours. None of
# them comes from a secret: ids are the graph's, times and statuses the runner's.
RUNNER_MADE = frozenset({"runId", "pid", "status", "startedAt", "finishedAt", "durationMs",
                         "ts", "event", "id", "stageId", "pipelineId", "fingerprint",
                         "logPath", "exitCode", "attempt"})


class _StageEntry:
    """A run record's entry for one stage, used as its `__dict__`: CPython stores the
    attribute dicts of one class with shared keys, at less than half the size of a plain
    dict; it is a plain dict to everything else (JSON, updates)."""

    def __init__(self, sid: str, status: str, reason: str | None):
        self.id = sid
        self.status = status
        self.reason = reason
        self.error = None
        self.startedAt = None
        self.durationMs = None
        self.exitCode = None
        self.logPath = None
        self.cpuSeconds = None
        self.peakRssKb = None
        self.fingerprint = None
        self.hooks = ()
        self.attempts = ()
        self.warnings = ()


class RunLedger:
    """Everything recorded about one run. Created by a run command, or lazily by the
    reporter when doit itself runs the tasks."""

    def __init__(self, root: Path, graph_path: str, options: dict | None = None,
                 on_event: Callable[[dict], None] | None = None):
        self.root = root
        self.runs_dir = root / RUNS_DIR
        self.graph_path = graph_path
        self.options = dict(options or {})
        self.run_id: str | None = None
        self.record: dict[str, Any] = {}
        self._stages: dict[str, dict[str, Any]] = {}
        self._events = None
        self._last_write = 0.0
        self._write_interval = RECORD_INTERVAL_S
        self._up_to_date = 0  # stages found up to date whose event is yet to be written
        self._t0 = 0.0
        self.on_event = on_event  # e.g. --json-logs prints each event as it is written
        self.write_error: str | None = None  # the first record or event not written
        self.lock = None  # the project's RunLock, told the run id once there is one
        self.masker = None  # masking.Masker: secrets never reach records or events
        self.executor: dict[str, Any] = {}  # `executor`, `scheduler`: not the local one
        # hold(): events and record rewrites wait in memory for sync() (see hold)
        self._held: list[tuple[str, dict]] | None = None
        self._record_held = False
        # each stage entry's JSON text (masked) as last written, until the entry changes:
        # a rewrite encodes the entries changed since the last one, not all 10,000
        self._entry_text: dict[str, str] = {}

    @property
    def started(self) -> bool:
        return self.run_id is not None

    @property
    def any_warnings(self) -> bool:
        """Did a stage of this run end with a warning (an input changed while it ran)?"""
        return any(entry["warnings"] for entry in self._stages.values())

    @property
    def record_path(self) -> Path:
        return self.runs_dir / f"{self.run_id}.json"

    @property
    def events_path(self) -> Path:
        return self.runs_dir / f"{self.run_id}.log"

    def relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def start(self, pipeline_id: str | None, stages: list[tuple[str, str, str | None]],
              label: str | None = None, extra: dict[str, Any] | None = None) -> None:
        """Open the run: `stages` lists (id, status, reason) for every stage of the plan;
        `extra`: more fields of the record (before `stages`, which stays last)."""
        moment = now_ms()
        self._t0 = time.monotonic()
        for sid, status, reason in stages:
            self._stages[sid] = self._stage_entry(sid, status, reason)

        def first_record(run_id: str) -> Iterator[str]:
            self.record = {
                "runId": run_id,
                "pid": os.getpid(),
                "pipelineId": pipeline_id,
                "graphPath": self.graph_path,
                "status": "running",
                "startedAt": iso_ms(moment),
                "finishedAt": None,
                "durationMs": None,
                "options": self.options,
                **self.executor,
                **(extra or {}),
                "stages": list(self._stages.values()),
            }
            return self._record_chunks()  # each entry's text kept for the next rewrite

        self.run_id = new_run_id(self.runs_dir, label or pipeline_id or "run", moment,
                                 text=first_record)
        (self.runs_dir / self.run_id).mkdir(exist_ok=True)
        if self.lock is not None:
            self.lock.describe(f"run {self.run_id}, pid {os.getpid()}")
        self._events = open(open_new_or_append(self.events_path), "a", encoding="utf-8")
        self.event("run-started", status="running")
        fast = (extra or {}).get("fastPath")
        if fast:  # the stages up to date by the stamp: one event, not one per stage
            self.event("stages-up-to-date", status="up-to-date",
                       more={"stages": fast["stages"], "reason": fast["reason"]})
        self._last_write = time.monotonic()  # the claim wrote the record: the first write

    @staticmethod
    def _stage_entry(sid: str, status: str, reason: str | None) -> dict[str, Any]:
        return _StageEntry(sid, status, reason).__dict__

    def log_path(self, stage_id: str) -> Path:
        if not self.started:  # doit ran a stage without our reporter: record it anyway
            self.start(None, [], label="doit")
        return self.runs_dir / self.run_id / stage_log_name(stage_id)

    def stage(self, stage_id: str) -> dict[str, Any]:
        if stage_id not in self._stages:  # a stage doit ran that the plan did not list
            self._stages[stage_id] = self._stage_entry(stage_id, "pending", None)
            self.record["stages"].append(self._stages[stage_id])
        return self._stages[stage_id]

    def stage_started(self, stage_id: str, reason: str | None) -> None:
        entry = self.stage(stage_id)
        self._entry_text.pop(stage_id, None)
        entry.update(status="running", reason=reason, startedAt=now_iso())
        # why it runs: for whoever reads the events of a run in progress (report, logs)
        self.event("stage-started", stage_id, status="running", more={"reason": reason})

    def stage_finished(self, stage_id: str, status: str, reason: str | None = None,
                       details: dict[str, Any] | None = None,
                       artifacts: list[dict] | None = None, error: str | None = None) -> None:
        entry = self.stage(stage_id)
        self._entry_text.pop(stage_id, None)
        entry["status"] = status
        if reason is not None:
            entry["reason"] = reason
        if error is not None:
            entry["error"] = error
        for key, value in (details or {}).items():
            if key in entry or key == "worker":  # where it ran: another executor's only
                entry[key] = value
        if status == "up-to-date" and not artifacts:
            self._up_to_date += 1  # said in one event with those next to it (see event)
        else:
            self.event("stage-finished", stage_id, status=status,
                       duration_ms=entry["durationMs"], artifacts=artifacts)
        self.write_record(force=status == "failed")

    def stages_with_status(self, status: str) -> list[str]:
        """The ids of the run's stages whose status is `status` now, in plan order."""
        return [sid for sid, entry in self._stages.items() if entry["status"] == status]

    def finish(self, status: str) -> None:
        if not self.started or self.record.get("finishedAt"):
            return
        for entry in self._stages.values():
            if entry["status"] == "running":
                self._entry_text.pop(entry["id"], None)
                entry["status"] = "failed"
                entry["error"] = entry["error"] or (
                    "interrupted" if status == "interrupted" else "did not finish")
        self.record.update(status=status, finishedAt=now_iso(),
                           durationMs=round((time.monotonic() - self._t0) * 1000))
        self.event("run-finished", status=status, duration_ms=self.record["durationMs"])
        self._held_lines_out(stop_holding=True)
        self.write_record(force=True)
        if self._events:
            try:
                self._events.close()
            except OSError as exc:
                self._storage_failed(exc, self.events_path)
            self._events = None

    def _storage_failed(self, exc: OSError, path: Path) -> None:
        """A record or event could not be written (a full disk, say): the run goes on,
        and ends failed saying so (`write_error`), instead of crashing mid-stage."""
        if self.write_error is None:
            why = "no space left on device" if exc.errno == errno.ENOSPC else \
                (exc.strerror or str(exc))
            self.write_error = f"cannot write {self.relative(path)}: {why}"

    def event(self, name: str, stage_id: str | None = None, status: str | None = None,
              duration_ms: int | None = None, artifacts: list[dict] | None = None,
              more: dict[str, Any] | None = None) -> None:
        """Append one event (`more`: fields of this kind of event only) to the run's
        JSONL log, and hand it to `on_event` (--json-logs)."""
        if self._events is None:
            return
        try:
            if self._up_to_date:  # stages found up to date since the last event: one line
                count, self._up_to_date = self._up_to_date, 0
                stages = "stage" if count == 1 else "stages"
                self._event("stages-up-to-date", None, "up-to-date", None, None,
                            {"stages": count, "reason": f"{count} {stages} up to date"})
            self._event(name, stage_id, status, duration_ms, artifacts, more)
        except OSError as exc:
            self._storage_failed(exc, self.events_path)

    def _event(self, name: str, stage_id: str | None, status: str | None,
               duration_ms: int | None, artifacts: list[dict] | None,
               more: dict[str, Any] | None = None) -> None:
        ts = now_iso()
        line = {"ts": ts, "runId": self.run_id, "event": name, "stageId": stage_id,
                "status": status, "durationMs": duration_ms, "artifacts": artifacts or []}
        if more:
            line.update(more)
        if self.masker:
            line = self.masker.mask_obj(line, RUNNER_MADE)
        if self._held is not None:
            self._held.append((_encode_line(line), line))
            return
        self._events.write(_encode_line(line) + "\n")
        self._events.flush()  # readable at once (`logs --follow`)
        if self.on_event is not None:
            self.on_event(line)

    def hold(self) -> None:
        """From now on, keep events and record rewrites in memory until `sync()`.

        The reporter holds them while doit's state of the stages they speak of is not
        committed yet (it commits in batches, see reporter.StateCommits), and syncs
        right after each commit: what the records say succeeded is always stored, and a
        batch of events costs one write instead of one write and flush a line. Failures
        and the end of the run write everything held first."""
        if self._held is None:
            self._held = []

    @property
    def holding(self) -> bool:
        """Are events or a record rewrite waiting for `sync()`?"""
        return bool(self._held) or self._record_held

    def sync(self) -> None:
        """Write what `hold` kept: the events in one write, then the record if due."""
        self._held_lines_out()
        if self._record_held:
            self._rewrite(time.monotonic())

    def _held_lines_out(self, stop_holding: bool = False) -> None:
        held = self._held
        if stop_holding:
            self._held = None
        if not held:
            return
        if not stop_holding:
            self._held = []
        if self._events is not None:
            try:
                self._events.write("".join(text + "\n" for text, _ in held))
                self._events.flush()
            except OSError as exc:
                self._storage_failed(exc, self.events_path)
        if self.on_event is not None:
            for _, line in held:
                self.on_event(line)

    def write_record(self, force: bool = False) -> None:
        """Rewrite the record: when forced, else at most once per interval. The interval
        is a second, or longer when a rewrite takes more than 2% of one (a record of tens
        of thousands of stages): the cost of keeping it current stays proportional to the
        run, not to the run times its size."""
        now = time.monotonic()
        if not force and now - self._last_write < self._write_interval:
            return
        if self._held is not None:
            if not force:  # after the held events, at the next sync
                self._record_held = True
                return
            self._held_lines_out()  # the events come first, as when they are not held
        self._rewrite(now)

    def _rewrite(self, now: float) -> None:
        self._record_held = False
        try:
            write_json_atomic(self.record_path, None, self._record_chunks())
        except OSError as exc:
            self._storage_failed(exc, self.record_path)
        self._last_write = time.monotonic()
        self._write_interval = max(RECORD_INTERVAL_S,
                                   (self._last_write - now) / RECORD_TIME_SHARE)


    def _record_chunks(self) -> Iterator[str]:
        """The record's JSON text in pieces, as `_json_chunks` of the masked record gives
        it, with the entries unchanged since the last rewrite from `_entry_text`."""
        mask = self.masker.mask_obj if self.masker else None
        known = self._entry_text

        def entry_text(entry: dict[str, Any]) -> str:
            encoded = known.get(entry["id"])
            if encoded is None:
                encoded = known[entry["id"]] = _encode_record(
                    mask(entry, RUNNER_MADE) if mask else entry)
            return encoded

        head = {key: value for key, value in self.record.items() if key != "stages"}
        return _json_chunks({**(mask(head, RUNNER_MADE) if mask else head),
                             "stages": self.record["stages"]}, entry_text)


# -- Reading the records back (for `pipeline logs`, `history`, `run --since`) ----------

# Other tools may keep their own records in the same folder (the upstream Node
# orchestrator writes `2026-11-27T23-58-55-957Z_full-refresh.json`, with no `runId`).
# Only records of our own shape are read; the others are left alone, unlisted.
#
# Our shape: a JSON object whose `runId` is its file's name (without `.json`), with a
# string `status`, a `startedAt` that is an ISO 8601 time and a `stages` list. A file
# that does not even read as a JSON object is ours when its name has the form of our run
# ids (a record just claimed by a starting run is empty): it is listed as unreadable.
RUN_ID_FORM = re.compile(r"\d{8}T\d{6}\.\d{3}Z_")
RUN_ID_TIME = "%Y%m%dT%H%M%S"  # then milliseconds and Z: see iso_ms
# The start of a record holds everything but `stages`, which we write last: a listing
# reads this much of each record and parses its head alone (a record of 10,000 stages
# is megabytes; its head is a few hundred bytes).
HEAD_BYTES = 4096
_STAGES_KEY = b',"stages":['


class ForeignRecord(ValueError):
    """A file under `.pipeline-runs/` that is not a record of this runner."""


def foreign_reason(stem: str, data: Any) -> str | None:
    """Why `data`, read from `.pipeline-runs/<stem>.json`, is not a record of this runner
    (e.g. `no runId`), or None when it is one. The one definition of our shape."""
    if not isinstance(data, dict):
        return "not a JSON object"
    run_id = data.get("runId")
    if run_id is None:
        return "no runId"
    if run_id != stem:
        return f"its runId {str(run_id)[:60]!r} is not its file name"
    if not isinstance(data.get("status"), str):
        return "no status"
    if parse_started(data.get("startedAt")) is None:
        return "no startedAt time"
    if not isinstance(data.get("stages"), list):
        return "no stages list"
    return None


def parse_started(stamp: Any) -> datetime | None:
    """An ISO 8601 time as an aware datetime (UTC when it names no zone); None if it is
    not one."""
    from datetime import datetime, timezone

    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp[:-1] + "+00:00" if stamp.endswith("Z") else stamp)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _id_time(run_id: str) -> datetime | None:
    """The start time our run ids begin with (`20261125T092603.539Z_...`); None when
    `run_id` does not begin with one."""
    from datetime import datetime, timezone

    if not RUN_ID_FORM.match(run_id):
        return None
    try:
        moment = datetime.strptime(run_id[:19], "%Y%m%dT%H%M%S.%f")
    except ValueError:  # the form of a time, but no real one (month 13)
        return None
    return moment.replace(tzinfo=timezone.utc)


def _read_head(path: Path) -> Any:
    """The record at `path` without its `stages` (replaced by an empty list when it has
    them): its start alone is parsed when that is where our writer put them. ValueError
    if it is not JSON, OSError if it cannot be read."""
    with open(path, "rb") as f:
        start = f.read(HEAD_BYTES)
        cut = start.find(_STAGES_KEY) if len(start) == HEAD_BYTES else -1
        if cut > 0:
            try:  # fails, and the whole file is read, if the key was not at the top level
                head = json.loads(start[:cut] + b"}")
            except ValueError:
                head = None
            if isinstance(head, dict):
                head["stages"] = []
                return head
        data = json.loads(start + f.read())
    if isinstance(data, dict) and isinstance(data.get("stages"), list):
        data["stages"] = []
    return data


class RecordFile:
    """One run record of ours under `.pipeline-runs/`, as a listing sees it."""

    __slots__ = ("run_id", "started", "head")

    def __init__(self, run_id: str, started: datetime, head: dict | None):
        self.run_id = run_id
        self.started = started  # its startedAt (the time in its id when unreadable)
        self.head = head  # the record without its stages; None when it does not read


def run_records(root: Path) -> list[RecordFile]:
    """The records of this runner under `.pipeline-runs/`, oldest first: ordered by
    `startedAt`, ties by file name. Files of another shape are skipped (see above)."""
    runs_dir = root / RUNS_DIR
    try:
        # the atomic writer's temporary files are hidden and end in .tmp: never listed
        entries = [e for e in os.scandir(runs_dir)
                   if e.name.endswith(".json") and not e.name.startswith(".")]
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for entry in entries:
        stem = entry.name[:-5]
        try:
            if not entry.is_file():
                continue
            data = _read_head(Path(entry.path))
        except (OSError, ValueError):
            data = None
        if not isinstance(data, dict):
            started = _id_time(stem)
            if started is not None:  # named like ours: ours, being claimed or damaged
                found.append(RecordFile(stem, started, None))
            continue
        if foreign_reason(stem, data) is None:
            found.append(RecordFile(stem, parse_started(data["startedAt"]), data))
    found.sort(key=lambda r: (r.started, r.run_id))
    return found


def recorded_run_ids(root: Path) -> list[str]:
    """Ids of the runs recorded under `.pipeline-runs/`, oldest first (see run_records)."""
    return [record.run_id for record in run_records(root)]


def match_run_ids(root: Path, prefix: str) -> list[str]:
    """The recorded runs `prefix` names: the exact id alone if it exists, else every id
    that starts with it (oldest first)."""
    ids = recorded_run_ids(root)
    if prefix in ids:
        return [prefix]
    return [run_id for run_id in ids if run_id.startswith(prefix)]


def foreign_record_message(root: Path, name: str) -> str | None:
    """For a name that no record of ours has: if it names a record file of another tool
    (exactly, or as the beginning of just one such file's name), one line saying so."""
    runs_dir = root / RUNS_DIR
    try:
        stems = [p.name[:-5] for p in runs_dir.iterdir()
                 if p.name.endswith(".json") and not p.name.startswith(".") and p.is_file()]
    except OSError:
        return None
    matches = [name] if name in stems else [s for s in stems if s.startswith(name)]
    if len(matches) != 1:
        return None
    stem = matches[0]
    try:
        reason = foreign_reason(stem, _read_head(runs_dir / f"{stem}.json"))
    except (OSError, ValueError):
        if _id_time(stem) is not None:
            return None  # ours, unreadable: listed as such
        reason = "not JSON"
    if reason is None:
        return None
    return (f"{RUNS_DIR}/{stem}.json is not a record of this runner ({reason}); "
            f"written by another tool?")


def read_run_record(root: Path, run_id: str) -> dict[str, Any]:
    """The run record as written; ValueError if it is not a JSON object (e.g. a record
    file just claimed and not yet written) or not of our shape (ForeignRecord), OSError
    if it cannot be read."""
    text = (root / RUNS_DIR / f"{run_id}.json").read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    reason = foreign_reason(run_id, data)
    if reason is not None:
        raise ForeignRecord(f"not a record of this runner ({reason})")
    return data


def run_events_path(root: Path, run_id: str) -> Path:
    """Where the run's JSONL events are appended."""
    return root / RUNS_DIR / f"{run_id}.log"


def stage_log_path(root: Path, run_id: str, stage_id: str) -> Path:
    """Where a stage's output is captured in a run (known before the record says so)."""
    return root / RUNS_DIR / run_id / stage_log_name(stage_id)


RUN_CANDIDATES_SHOWN = 3  # an ambiguous prefix lists this many ids


def resolve_run(root: Path, run_id: str | None, latest: bool) -> str:
    """The one run named by an id, a unique prefix, or --latest; UsageError otherwise."""
    if latest:
        ids = recorded_run_ids(root)
        if not ids:
            raise UsageError(f"no runs recorded yet under {RUNS_DIR}/")
        return ids[-1]
    assert run_id is not None
    matches = match_run_ids(root, run_id)
    if not matches:
        foreign = foreign_record_message(root, run_id)
        if foreign:
            raise UsageError(foreign)
        raise UsageError(f"unknown run '{run_id}' (see 'pipeline logs' for the recent runs)")
    if len(matches) > 1:
        shown = ", ".join(matches[-RUN_CANDIDATES_SHOWN:])  # the most recent ones
        more = len(matches) - RUN_CANDIDATES_SHOWN
        extra = f" and {more} more" if more > 0 else ""
        raise UsageError(f"run id '{run_id}' is ambiguous: {shown}{extra}")
    return matches[0]


def _abandoned_empty(run_id: str) -> dict[str, Any]:
    """The record of a run that died between claiming its id and writing its record."""
    from datetime import datetime, timezone

    stamp = run_id.split("_", 1)[0]
    try:
        started = iso(datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(
            tzinfo=timezone.utc))
    except ValueError:
        started = None
    return {"runId": run_id, "pid": None, "pipelineId": None, "graphPath": None,
            "status": "interrupted", "startedAt": started, "finishedAt": None,
            "durationMs": None, "options": {}, "stages": [],
            "error": "the run died before it wrote its record"}


def mark_abandoned_runs(root: Path, own_run_id: str | None = None, recent: int = 3) -> list[str]:
    """Records still `running` whose process is gone: mark them `interrupted`.

    Called by a run that holds the project's run lock, so no other run can be alive; every
    run does this as it starts, so an abandoned run is always among the newest records.
    """
    # Our run ids begin with the run's start time (its startedAt), so the newest records
    # of ours are the last names of that form: only those few are opened, not every
    # record (a run starts with this). read_run_record refuses another tool's file.
    try:
        names = sorted(name[:-5] for name in os.listdir(root / RUNS_DIR)
                       if name.endswith(".json") and RUN_ID_FORM.match(name))
    except OSError:
        return []
    marked = []
    for run_id in names[-recent:]:
        if run_id == own_run_id:
            continue
        try:  # the status is near the start of a record: skip finished ones unparsed
            with open(root / RUNS_DIR / f"{run_id}.json", "rb") as f:
                head = f.read(4096)
        except OSError:
            continue
        if not head.strip():  # claimed, never written (a version that claimed empty)
            write_json_atomic(root / RUNS_DIR / f"{run_id}.json", _abandoned_empty(run_id))
            marked.append(run_id)
            continue
        if b'"status":"running"' not in head:
            continue
        try:
            record = read_run_record(root, run_id)
        except (OSError, ValueError):
            continue
        if record.get("status") != "running":
            continue
        record["status"] = "interrupted"
        # the record is written at most once a second; the events file has every step
        stages = {s.get("id"): s for s in record.get("stages", []) if isinstance(s, dict)}
        for event in _read_events(root / RUNS_DIR / f"{run_id}.log"):
            stage = stages.get(event.get("stageId"))
            if stage is not None and event.get("event") in ("stage-started", "stage-finished"):
                stage["status"] = event.get("status") or stage.get("status")
        for stage in stages.values():
            if stage.get("status") == "running":
                stage["status"] = "failed"
                stage["error"] = "the run's process died"
        write_json_atomic(root / RUNS_DIR / f"{run_id}.json", record)
        marked.append(run_id)
    return marked


def _read_events(path: Path) -> list[dict]:
    """The complete JSON lines of an events file (a killed writer may leave half a line)."""
    events = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return events
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


# -- Pruning ---------------------------------------------------------------------------

DEFAULT_KEEP_RUNS = 100  # the newest runs kept whatever their age ...
DEFAULT_KEEP_DAYS = 30.0  # ... and every run younger than this
KEEP_RUNS_VARIABLE = "PIPELINE_KEEP_RUNS"
KEEP_DAYS_VARIABLE = "PIPELINE_KEEP_DAYS"


def keep_settings(graph_runs: int | None = None, graph_days: float | None = None,
                  environ=None) -> tuple[int, float]:
    """(runs, days) pruning keeps: $PIPELINE_KEEP_RUNS / $PIPELINE_KEEP_DAYS, else the
    graph's `keepRuns`, else 100 runs and 30 days. A malformed variable is a usage
    error naming it."""
    environ = os.environ if environ is None else environ
    runs = DEFAULT_KEEP_RUNS if graph_runs is None else graph_runs
    days = DEFAULT_KEEP_DAYS if graph_days is None else float(graph_days)
    text = environ.get(KEEP_RUNS_VARIABLE)
    if text:
        if not text.strip().isdigit() or int(text) < 1:
            raise UsageError(f"{KEEP_RUNS_VARIABLE}={text}: give a whole number of runs of "
                             f"at least 1")
        runs = int(text)
    text = environ.get(KEEP_DAYS_VARIABLE)
    if text:
        try:
            days = float(text)
        except ValueError:
            days = -1.0
        if not 0 <= days < float("inf"):
            raise UsageError(f"{KEEP_DAYS_VARIABLE}={text}: give a number of days of at "
                             f"least 0")
    return runs, days


def prune_runs(root: Path, keep_runs: int, keep_days: float, protect: str | None = None,
               now: datetime | None = None) -> list[str]:
    """Remove what this runner recorded of old runs: a run goes when it is neither among
    the newest `keep_runs` nor younger than `keep_days` (its age: the start time its id
    begins with, so that the names alone tell when nothing is old enough). Never
    removed: the run `protect` (the one in progress), a run still marked running, the
    newest run of each pipeline, and files of other tools. Each run's record, events and
    stage logs go together (a link is removed, never followed). Returns the removed
    ids, oldest first."""
    runs_dir = root / RUNS_DIR
    try:  # a cheap look first (every run prunes): most runs have nothing to prune
        names = sorted(name for name in os.listdir(runs_dir)
                       if name.endswith(".json") and RUN_ID_FORM.match(name))
    except OSError:
        return []
    cutoff_s = (time.time() if now is None else now.timestamp()) - keep_days * 86400.0
    # nothing is old enough: too few runs, or the oldest began after the cutoff (a
    # record's startedAt is the time its id begins with), or a cutoff before 1970
    if len(names) <= keep_runs or cutoff_s < 0 \
            or names[0] >= iso_ms(int(cutoff_s * 1000), RUN_ID_TIME):
        return []
    from datetime import datetime, timezone

    records = run_records(root)
    cutoff = datetime.fromtimestamp(cutoff_s, timezone.utc)
    newest_of: dict[Any, str] = {}
    for record in records:
        if record.head is not None:
            newest_of[record.head.get("pipelineId")] = record.run_id
    kept = set(newest_of.values()) | {protect}
    removed = []
    for record in records[:-keep_runs]:
        if record.run_id in kept or (_id_time(record.run_id) or record.started) >= cutoff:
            continue
        if record.head is not None and record.head.get("status") == "running":
            continue
        _remove_run(runs_dir, record.run_id)
        removed.append(record.run_id)
    return removed


def _remove_run(runs_dir: Path, run_id: str) -> None:
    import shutil

    for name in (f"{run_id}.json", f"{run_id}.log"):
        try:
            os.unlink(runs_dir / name)
        except FileNotFoundError:
            pass
    logs = runs_dir / run_id
    if logs.is_symlink() or logs.is_file():
        logs.unlink()
    elif logs.is_dir():
        shutil.rmtree(logs, ignore_errors=True)  # removes links inside, never follows them
