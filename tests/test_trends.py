"""The numbers of `history` and `report` (orchestrator/trends.py) and the graph layout,
on hand-made records: percentiles, regression flags, lanes from start and end times,
attempt segments, and records of older, interrupted or running runs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from orchestrator.layout import layers, layout
from orchestrator.trends import (
    Span,
    assign_lanes,
    percentile,
    run_bounds,
    stage_history,
    stage_spans,
)

T0 = datetime(2026, 11, 28, 3, 0, 0, tzinfo=timezone.utc)


def at(ms: float) -> str:
    return (T0 + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def stage(sid: str, status: str = "succeeded", start: float | None = 0, ms=None, **more):
    entry = {"id": sid, "status": status, "reason": "never run",
             "startedAt": at(start) if start is not None else None, "durationMs": ms}
    entry.update(more)
    return entry


def record(stages, status="succeeded", duration=None, **more):
    data = {"runId": "r", "status": status, "startedAt": at(0), "durationMs": duration,
            "stages": stages}
    data.update(more)
    return data


def run_of(durations: dict[str, float | None], statuses: dict[str, str] | None = None):
    statuses = statuses or {}
    return record([stage(sid, statuses.get(sid, "succeeded"), 0, ms)
                   for sid, ms in durations.items()])


# -- percentiles --------------------------------------------------------------------


@pytest.mark.parametrize("values, q, expected", [
    ([], 50, None),
    ([7.0], 50, 7.0),
    ([7.0], 95, 7.0),
    ([1.0, 2.0, 3.0], 50, 2.0),
    ([4.0, 1.0, 3.0, 2.0], 50, 2.5),  # unsorted input; the mean of the middle two
    ([float(v) for v in range(1, 21)], 95, 19.05),  # between the 19th and 20th
    ([float(v) for v in range(1, 101)], 95, 95.05),
    ([1.0, 100.0], 0, 1.0),
    ([1.0, 100.0], 100, 100.0),
])
def test_percentile_interpolates_between_closest_ranks(values, q, expected):
    got = percentile(values, q)
    assert got == (None if expected is None else pytest.approx(expected))


# -- the history of each stage --------------------------------------------------------


def test_history_counts_only_runs_a_stage_ran_in():
    runs = [run_of({"a": 1000, "b": 10}),
            run_of({"a": 1200, "b": None}, {"b": "up-to-date"}),
            run_of({"a": 1100, "b": 30}, {"b": "failed"})]
    a, b = stage_history(runs)
    assert (a["runs"], a["succeeded"], a["failed"], a["successRate"]) == (3, 3, 0, 1.0)
    assert (a["medianMs"], a["p95Ms"], a["lastMs"]) == (1100, 1190, 1100)
    assert a["durations"] == [1000, 1200, 1100]
    assert (b["runs"], b["failed"], b["upToDate"], b["successRate"]) == (2, 1, 1, 0.5)
    assert b["lastStatus"] == "failed" and b["durations"] == [10, 30]


def test_regression_flag_needs_fifty_percent_over_a_median_above_half_a_second():
    slow = stage_history([run_of({"s": 1000}), run_of({"s": 1000}), run_of({"s": 1501})])[0]
    assert slow["regression"] is True and slow["lastVsMedian"] == pytest.approx(0.501)
    at_limit = stage_history([run_of({"s": 1000}), run_of({"s": 1000}),
                              run_of({"s": 1500})])[0]
    assert at_limit["regression"] is False  # exactly 50% slower is not "more than"
    # a fast stage tripling its time is noise, not a regression
    fast = stage_history([run_of({"s": 100}), run_of({"s": 100}), run_of({"s": 400})])[0]
    assert fast["medianMs"] == 100 and fast["regression"] is False
    # the median is over the runs read, the last included: one run is never slower
    alone = stage_history([run_of({"s": 9000})])[0]
    assert alone["regression"] is False and alone["lastVsMedian"] == 0


def test_history_orders_stages_like_the_newest_run_and_reads_damaged_entries():
    old = record([stage("gone", ms=5), stage("a", ms=5)])
    new = record([stage("b", ms=True), stage("a", ms="slow"), "junk", {"id": 3},
                  {"status": "succeeded"}])
    rows = stage_history([old, new, {"stages": None}, {}])
    assert [r["id"] for r in rows] == ["b", "a", "gone"]
    b, a, _ = rows
    # a bool or a string is no duration; the run still counts
    assert b["runs"] == 1 and b["medianMs"] is None and b["durations"] == []
    assert a["runs"] == 2 and a["durations"] == [5]


# -- lanes -----------------------------------------------------------------------------


def spans(*pairs, unit: float = 1):
    return [Span(f"s{i}", start * unit, end * unit) for i, (start, end) in enumerate(pairs)]


def test_lanes_put_overlapping_stages_side_by_side_and_reuse_free_lanes():
    items = spans((0, 10), (0, 5), (5, 8), (10, 20), (6, 12), unit=100)  # not in order
    assert assign_lanes(items) == 3
    # taken in order of start, then end: (0,5) first; (10,20) takes the lowest free lane
    assert [s.lane for s in items] == [1, 0, 0, 0, 2]


def test_one_job_is_one_lane_even_when_a_stage_starts_as_the_last_ends():
    items = spans((0, 10), (10, 20), (20, 30), unit=100)
    assert assign_lanes(items) == 1
    assert [s.lane for s in items] == [0, 0, 0]


def test_rounding_to_the_millisecond_does_not_open_a_lane():
    # started 1 ms before the other "ended": the record's rounding, not parallelism
    items = spans((0, 100), (99, 200), (201, 300))
    assert assign_lanes(items) == 1
    assert assign_lanes(spans((0, 100), (97, 200))) == 2


def test_a_freed_lower_lane_is_taken_before_a_higher_one():
    items = spans((0, 10), (1, 3), (2, 9), (4, 6), unit=100)
    assert assign_lanes(items) == 3
    assert [s.lane for s in items] == [0, 1, 2, 1]


def test_stage_spans_from_start_times_and_durations():
    rec = record([stage("first", start=0, ms=100), stage("par-a", start=100, ms=300),
                  stage("par-b", start=110, ms=50), stage("late", start=400, ms=10),
                  stage("fresh", "up-to-date", start=None)], duration=420)
    got = {s.stage_id: (s.start_ms, s.end_ms, s.lane) for s in stage_spans(rec)}
    assert got == {"first": (0, 100, 0), "par-a": (100, 400, 0), "par-b": (110, 160, 1),
                   "late": (400, 410, 0)}


def test_a_running_stage_reaches_now_and_an_interrupted_one_the_last_known_end():
    running = record([stage("done", start=0, ms=1000),
                      stage("going", "running", start=1000)], status="running")
    now = T0 + timedelta(seconds=5)
    assert run_bounds(running, now) == (T0, 5000)
    going = [s for s in stage_spans(running, now) if s.stage_id == "going"][0]
    assert (going.start_ms, going.end_ms, going.open_ended) == (1000, 5000, True)
    # marked interrupted by the next run: no duration, no finishedAt
    dead = record([stage("done", start=0, ms=1000),
                   stage("died", "failed", start=1000, error="the run's process died")],
                  status="interrupted")
    assert run_bounds(dead, now) == (T0, 1000)
    died = [s for s in stage_spans(dead, now) if s.stage_id == "died"][0]
    assert (died.start_ms, died.end_ms, died.open_ended) == (1000, 1000, True)


def test_records_written_before_the_report_existed():
    # no attempts, hooks, cpu or memory; a start with no zone; an unreadable start
    old = {"runId": "r", "status": "failed", "startedAt": "2026-11-28T03:00:00",
           "stages": [{"id": "x", "status": "failed", "startedAt": "2026-11-28T03:00:01",
                       "durationMs": 500}, {"id": "y", "status": "failed",
                                            "startedAt": "yesterday", "durationMs": 1}]}
    (x,) = stage_spans(old)
    assert (x.start_ms, x.end_ms, x.segments) == (1000, 1500, [])
    assert stage_spans({"runId": "r", "status": "running", "stages": []}) == []


def test_retries_are_segments_of_the_bar():
    rec = record([stage("flaky", start=0, ms=1000, attempts=[
        {"attempt": 1, "status": "failed", "durationMs": 200},
        {"attempt": 2, "status": "failed", "durationMs": 200},
        {"attempt": 3, "status": "succeeded", "durationMs": 300}],
        hooks=[{"moment": "before", "durationMs": 100}])], duration=1000)
    (span,) = stage_spans(rec)
    # 100 before, 700 of attempts, 200 of waits spread over the two gaps
    assert span.segments == [(100, 300, "failed-attempt"), (400, 600, "failed-attempt"),
                             (700, 1000, "attempt")]


# -- the graph layout -----------------------------------------------------------------


def test_longest_path_layering_puts_a_stage_below_its_deepest_dependency():
    nodes = ["a", "b", "c", "d"]
    edges = [("a", "b"), ("b", "c"), ("a", "c"), ("a", "d")]
    assert layers(nodes, edges) == {"a": 0, "b": 1, "c": 2, "d": 1}


def test_barycenter_ordering_uncrosses_edges():
    # two chains listed crossed: a1->b2 and a2->b1; the second layer follows the first
    nodes = ["a1", "a2", "b1", "b2"]
    placed, width, rows = layout(nodes, [("a1", "b2"), ("a2", "b1")])
    x = {p.node: p.x for p in placed}
    assert (width, rows) == (2, 2)
    assert x["b2"] < x["b1"]  # under a1 and a2 respectively
    assert layout([], []) == ([], 0, 0)


def test_layout_of_a_thousand_stages_places_each_once():
    nodes = [f"s{i}" for i in range(1000)]
    edges = [(f"s{i // 2}", f"s{i}") for i in range(1, 1000)]  # a binary tree
    placed, width, rows = layout(nodes, edges)
    assert sorted(p.node for p in placed) == sorted(nodes)
    assert rows == 11 and width == 488  # s0; s1; s2-s3; ... s512-s999
    by_layer = {}
    for p in placed:
        by_layer.setdefault(p.layer, []).append(p.x)
    assert all(len(set(xs)) == len(xs) for xs in by_layer.values())
