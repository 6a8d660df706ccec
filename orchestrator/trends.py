"""The numbers of recorded runs, computed in one place for `history` and `report`.

Everything here is pure: it takes run records (dicts as read from `.pipeline-runs/`)
and returns plain data. Records are read defensively: a field written before it
existed, a stage still running, a run interrupted, or a key another version adds are all
fine; anything that is not of the expected type counts as absent.

- `stage_history(records)`: per stage, in how many runs it ran (succeeded or failed; up
  to date, skipped, blocked or pending do not count), its success rate, the median, the
  95th percentile and the last of its durations in those runs, the last against the
  median, and the regression flag: the last duration more than 50% above the median,
  with a median over 0.5 s (below that, a few milliseconds of noise would look like a
  slowdown).
- `percentile(values, q)`: linear interpolation between the closest ranks (the method
  of numpy's default and of `statistics.quantiles(..., method="inclusive")`), so the
  median is `percentile(values, 50)` and one value is its own every percentile.
- `stage_spans(record)` and `assign_lanes(spans)`: when each stage ran in one run, and
  on which lane of a timeline: a stage takes the lowest lane free at its start, so
  stages that ran at the same time sit side by side and `-j 1` gives one lane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orchestrator.ledger import parse_started

LANE_SLACK_MS = 2.0  # a stage's start and duration are each rounded to the ms (see below)
REGRESSION_RATIO = 1.5  # the last run is more than 50% slower than the median...
REGRESSION_MIN_MEDIAN_MS = 500  # ... and the median is over 0.5 s
RAN = ("succeeded", "failed")


def number(value: Any) -> float | None:
    """`value` if it is a finite int or float (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def stages_of(record: dict) -> list[dict]:
    """A record's stage entries that are objects with a string id."""
    stages = record.get("stages")
    if not isinstance(stages, list):
        return []
    return [s for s in stages if isinstance(s, dict) and isinstance(s.get("id"), str)]


# -- percentiles and the history of each stage ----------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) of `values` by linear interpolation; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def is_regression(median: float | None, last: float | None) -> bool:
    return bool(median is not None and last is not None
                and median > REGRESSION_MIN_MEDIAN_MS and last > REGRESSION_RATIO * median)


def stage_history(records: list[dict]) -> list[dict[str, Any]]:
    """Per stage id, its counts and durations over `records` (oldest first).

    Stages are listed in the order of the newest run that has them, so the table reads
    like the current pipeline; stages only older runs had come after. One pass over the
    records' entries, whatever the number of stages. Each entry's `durations` lists the
    durations of the runs it ran in, oldest first (the report draws them)."""
    order: dict[str, None] = {}
    for record in reversed(records):
        for stage in stages_of(record):
            order.setdefault(stage["id"], None)
    statuses: dict[str, list[str]] = {sid: [] for sid in order}
    durations: dict[str, list[float]] = {sid: [] for sid in order}  # runs it ran, oldest first
    last_status: dict[str, str | None] = dict.fromkeys(order)
    # the duration of the newest run it ran in: none when that run did not measure one
    # (an interrupted stage), not an older run's
    last_ms: dict[str, float | None] = dict.fromkeys(order)
    for record in records:
        for stage in stages_of(record):
            stage_id, status = stage["id"], stage.get("status")
            statuses[stage_id].append(status)
            if status in RAN:
                last_status[stage_id] = status
                duration = number(stage.get("durationMs"))
                last_ms[stage_id] = duration
                if duration is not None:
                    durations[stage_id].append(duration)
    return [summarise(sid, statuses[sid], durations[sid], last_status[sid], last_ms[sid])
            for sid in order]


def summarise(stage_id: str, statuses: list, durations: list[float],
              last_status: str | None, last: float | None) -> dict[str, Any]:
    """One stage's line of the history: counts, rate, median, p95, last, the verdict."""
    succeeded = statuses.count("succeeded")
    failed = statuses.count("failed")
    runs = succeeded + failed
    median = percentile(durations, 50)
    p95 = percentile(durations, 95)
    vs_median = None
    if median and last is not None:  # no ratio against a zero median
        vs_median = round((last - median) / median, 3)
    return {"id": stage_id, "runs": runs, "succeeded": succeeded, "failed": failed,
            "upToDate": statuses.count("up-to-date"),
            "successRate": round(succeeded / runs, 3) if runs else None,
            "medianMs": round(median) if median is not None else None,
            "p95Ms": round(p95) if p95 is not None else None,
            "lastMs": round(last) if last is not None else None,
            "lastVsMedian": vs_median, "regression": is_regression(median, last),
            "lastStatus": last_status, "durations": [round(d) for d in durations]}


# -- one run's timeline ---------------------------------------------------------------


@dataclass
class Span:
    """When one stage ran, in milliseconds from the start of the run."""

    stage_id: str
    start_ms: float
    end_ms: float
    open_ended: bool = False  # still running (or never finished): `end_ms` is a bound
    lane: int = 0
    segments: list[tuple[float, float, str]] = field(default_factory=list)  # start, end, kind


def _ms_between(start: datetime, stamp: Any) -> float | None:
    moment = parse_started(stamp)
    return None if moment is None else (moment - start).total_seconds() * 1000


def run_bounds(record: dict, now: datetime | None = None) -> tuple[datetime | None, float]:
    """The run's start, and its length in ms: as recorded; for a run with no length (in
    progress, or interrupted before it wrote one), up to `now` while it is running, else
    up to the end of the last stage known to have ended."""
    start = parse_started(record.get("startedAt"))
    if start is None:
        return None, 0.0
    length = number(record.get("durationMs"))
    if length is None:
        length = _ms_between(start, record.get("finishedAt"))
    if length is None and record.get("status") == "running" and now is not None:
        length = max(0.0, (now - start).total_seconds() * 1000)
    if length is None:
        ends = [s_end for s in stages_of(record)
                if (s_end := _stage_end(start, s)) is not None]
        length = max(ends, default=0.0)
    return start, max(0.0, length)


def _stage_end(run_start: datetime, stage: dict) -> float | None:
    began = _ms_between(run_start, stage.get("startedAt"))
    duration = number(stage.get("durationMs"))
    if began is None or duration is None:
        return None
    return began + duration


def stage_spans(record: dict, now: datetime | None = None) -> list[Span]:
    """The stages of `record` that started, in the order they started, each with its
    lane and its segments (see `segments`). A stage with a start but no duration ran
    until the end of the run, or is still running: it is drawn to the run's end."""
    start, length = run_bounds(record, now)
    if start is None:
        return []
    spans = []
    for stage in stages_of(record):
        began = _ms_between(start, stage.get("startedAt"))
        if began is None:
            continue  # never started: up to date, skipped, pending
        began = max(0.0, began)
        duration = number(stage.get("durationMs"))
        open_ended = duration is None
        end = max(began, length) if open_ended else began + max(0.0, duration)
        span = Span(stage["id"], began, end, open_ended)
        span.segments = segments(stage, began, end)
        spans.append(span)
    spans.sort(key=lambda s: (s.start_ms, s.end_ms))
    assign_lanes(spans)
    return spans


def assign_lanes(spans: list[Span]) -> int:
    """Put each span, in order of start, on the lowest lane free when it starts; the
    number of lanes used. A lane is free at the moment its last span ended, give or take
    LANE_SLACK_MS: a record's start times and durations are rounded to the millisecond
    each, so a stage that started as another ended may seem to overlap it by one or two,
    and `-j 2` would show a third lane."""
    import heapq

    lane_ends: list[float] = []  # end of each lane's last span, by lane
    free: list[int] = []  # lanes free now (heap)
    busy: list[tuple[float, int]] = []  # (end, lane) of the lanes in use (heap)
    for span in sorted(spans, key=lambda s: (s.start_ms, s.end_ms)):
        while busy and busy[0][0] <= span.start_ms + LANE_SLACK_MS:
            heapq.heappush(free, heapq.heappop(busy)[1])
        lane = heapq.heappop(free) if free else len(lane_ends)
        if lane == len(lane_ends):
            lane_ends.append(span.end_ms)
        lane_ends[lane] = span.end_ms
        span.lane = lane
        heapq.heappush(busy, (span.end_ms, lane))
    return len(lane_ends)


def segments(stage: dict, start: float, end: float) -> list[tuple[float, float, str]]:
    """The parts of a stage's bar: its attempts (`attempt` for each failed one but the
    last, `final` for the last) when it had more than one. The record keeps each
    attempt's duration, not its start: attempts are laid end to end after the `before`
    hooks, the time left over (the waits between attempts) spread evenly between them."""
    attempts = [a for a in stage.get("attempts") or () if isinstance(a, dict)]
    if len(attempts) < 2:
        return []
    lengths = [max(0.0, number(a.get("durationMs")) or 0.0) for a in attempts]
    before = sum(max(0.0, number(h.get("durationMs")) or 0.0)
                 for h in stage.get("hooks") or ()
                 if isinstance(h, dict) and h.get("moment") == "before")
    total = end - start
    spare = max(0.0, total - before - sum(lengths))
    after = sum(max(0.0, number(h.get("durationMs")) or 0.0)
                for h in stage.get("hooks") or ()
                if isinstance(h, dict) and h.get("moment") in ("after", "onFailure"))
    gap = max(0.0, spare - after) / (len(lengths) - 1)
    parts = []
    at = start + min(before, total)
    for i, length in enumerate(lengths):
        finish = min(end, at + length)
        failed = attempts[i].get("status") == "failed"
        parts.append((at, finish, "failed-attempt" if failed else "attempt"))
        at = min(end, finish + gap)
    return parts
