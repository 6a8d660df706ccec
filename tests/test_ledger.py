"""Run ids and the run ledger's files."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from orchestrator import ledger as ledger_module
from orchestrator.ledger import RunLedger, new_run_id, safe_name


def test_run_ids_are_sortable_unique_within_a_millisecond_and_safe(tmp_path):
    moment = int(datetime(2026, 11, 25, 9, 0, 0, 123456, tzinfo=timezone.utc).timestamp()
                 * 1000)
    ids = [new_run_id(tmp_path, "full-refresh", moment) for _ in range(3)]
    assert ids == ["20261125T090000.123Z_full-refresh", "20261125T090000.124Z_full-refresh",
                   "20261125T090000.125Z_full-refresh"]
    weird = new_run_id(tmp_path, "../nightly build/ünïcode:*?", moment)
    assert "/" not in weird and " " not in weird and ":" not in weird
    assert weird.startswith("20261125T090000.123Z_")
    assert (tmp_path / f"{weird}.json").exists()


def test_safe_name_never_yields_a_path_or_an_empty_name():
    assert safe_name("..") == "_"
    assert safe_name("a/b\\c") == "a_b_c"
    assert len(safe_name("x" * 500)) == 80


def test_record_is_throttled_but_always_written_on_failure_and_finish(tmp_path, monkeypatch):
    writes = []
    real = ledger_module.write_json_atomic
    monkeypatch.setattr(ledger_module, "write_json_atomic",
                        lambda path, data, chunks=None: (writes.append(ledger.record["status"]),
                                                         real(path, data, chunks)))
    ledger = RunLedger(tmp_path, "g.json", {"force": False})
    stages = [(f"s{i}", "pending", None) for i in range(1000)]
    ledger.start("p", stages)
    for i in range(999):
        ledger.stage_started(f"s{i}", "never run")
        ledger.stage_finished(f"s{i}", "succeeded", details={"durationMs": 1})
    ledger.stage_finished("s999", "failed", error="boom")
    ledger.finish("failed")
    # start + (at most a few throttled writes) + failure + finish, not one per stage
    assert len(writes) < 20
    record = json.loads(ledger.record_path.read_text())
    assert record["status"] == "failed"
    assert [s["status"] for s in record["stages"]].count("succeeded") == 999
    events = ledger.events_path.read_text().splitlines()
    assert len(events) == 2 + 999 * 2 + 1
    assert not list(tmp_path.glob(".pipeline-runs/.*.tmp"))


def test_a_slow_record_is_rewritten_less_often(tmp_path, monkeypatch):
    """A rewrite that takes 50 ms (a record of tens of thousands of stages) is repeated
    every 2.5 s, not every second: rewriting stays within its share (2%) of the run,
    whatever the record's size."""
    write_s = 0.05
    expected_gap = write_s / ledger_module.RECORD_TIME_SHARE
    assert expected_gap > ledger_module.RECORD_INTERVAL_S
    clock = [0.0]
    monkeypatch.setattr(ledger_module.time, "monotonic", lambda: clock[0])
    writes = []

    def slow_write(path, data, chunks=None):
        writes.append(clock[0])
        clock[0] += write_s

    monkeypatch.setattr(ledger_module, "write_json_atomic", slow_write)
    ledger = RunLedger(tmp_path, "g.json", {})
    ledger.start("p", [(f"s{i}", "pending", None) for i in range(400)])
    for i in range(400):  # a stage finishes every 0.1 s: 40 s of run
        clock[0] += 0.1
        ledger.stage_finished(f"s{i}", "succeeded")
    gaps = [b - a for a, b in zip(writes, writes[1:])]
    assert len(gaps) >= 10 and all(gap >= expected_gap for gap in gaps), gaps
    assert len(writes) * write_s <= 1.25 * ledger_module.RECORD_TIME_SHARE * clock[0]


def test_stages_found_up_to_date_are_one_event_between_others(tmp_path):
    """The event log holds events, not a line per stage found up to date: those found
    up to date since the previous event are counted in one `stages-up-to-date` event,
    written before the next event (or the run's end); the record still lists each. The
    same lines reach --json-logs (`on_event`)."""
    printed = []
    ledger = RunLedger(tmp_path, "g.json", on_event=printed.append)
    ids = ["a", 'quo"te', "ünï\\code", "ran", "b"]
    ledger.start("p", [(sid, "pending", None) for sid in ids])
    for sid in ids[:3]:
        ledger.stage_finished(sid, "up-to-date", reason="unchanged")
    ledger.stage_started("ran", "never ran")
    ledger.stage_finished("ran", "succeeded")
    ledger.stage_finished("b", "up-to-date", reason="unchanged")
    ledger.finish("succeeded")
    lines = [json.loads(line) for line in ledger.events_path.read_text().splitlines()]
    assert lines == printed
    assert [(e["event"], e["stageId"], e.get("stages")) for e in lines] == [
        ("run-started", None, None), ("stages-up-to-date", None, 3),
        ("stage-started", "ran", None), ("stage-finished", "ran", None),
        ("stages-up-to-date", None, 1), ("run-finished", None, None)]
    assert lines[1]["reason"] == "3 stages up to date" and lines[4]["reason"] == \
        "1 stage up to date"
    assert lines[1]["status"] == "up-to-date" and lines[1]["runId"] == ledger.run_id
    assert {s["id"]: s["status"] for s in ledger.record["stages"]} == {
        "a": "up-to-date", 'quo"te': "up-to-date", "ünï\\code": "up-to-date",
        "ran": "succeeded", "b": "up-to-date"}


def test_a_rewrite_encodes_the_entries_changed_since_the_last_and_reads_whole(
        tmp_path, monkeypatch):
    """A 10,000-stage record is rewritten every few seconds while a run goes: each
    rewrite encodes the entries that changed since the previous one and reuses the rest,
    and the file is, every time, the whole record as it is then, secrets masked."""
    from orchestrator.masking import Masker

    encoded = []
    real = ledger_module._encode_record
    monkeypatch.setattr(ledger_module, "_encode_record",
                        lambda data: (encoded.append(data.get("id")), real(data))[1])
    ledger = RunLedger(tmp_path, "g.json", {"note": "uses hunter2"})
    ledger.masker = Masker(["hunter2"])
    ledger.start("p", [(f"s{i}", "pending", None) for i in range(100)])
    assert len(encoded) == 101  # the claim's first content: the head and every entry
    encoded.clear()

    def rewritten() -> dict:
        encoded.clear()
        ledger.write_record(force=True)
        return json.loads(ledger.record_path.read_text())

    assert len(rewritten()["stages"]) == 100
    assert encoded == [None]  # the head alone: no entry changed since
    ledger.stage_started("s3", "never ran")
    ledger.stage_finished("s4", "blocked", reason="hunter2 said no")
    record = rewritten()
    assert sorted(filter(None, encoded)) == ["s3", "s4"]
    assert record["options"] == {"note": "uses ***"}
    assert record["stages"][3]["status"] == "running"
    assert record["stages"][4]["reason"] == "*** said no"
    assert record["stages"][5] == {**ledger.record["stages"][5], "hooks": [],
                                   "attempts": [], "warnings": []}
    ledger.stage_finished("s3", "succeeded", details={"durationMs": 7})
    ledger.stage("late")  # a stage doit ran that the plan did not list
    ledger.stage_started("s9", "never ran")
    record = rewritten()
    assert sorted(filter(None, encoded)) == ["late", "s3", "s9"]
    assert (record["stages"][3]["status"], record["stages"][3]["durationMs"]) == \
        ("succeeded", 7)
    encoded.clear()
    ledger.finish("interrupted")  # s9, still running, ends failed
    record = json.loads(ledger.record_path.read_text())
    assert list(filter(None, encoded)) == ["s9"]
    assert (record["stages"][9]["status"], record["stages"][9]["error"]) == \
        ("failed", "interrupted")
    assert record["stages"][-1]["id"] == "late" and record["status"] == "interrupted"
    assert "hunter2" not in ledger.record_path.read_text()


def test_a_record_written_in_pieces_reads_as_the_same_json(tmp_path):
    from orchestrator.ledger import write_json_atomic

    record = {"runId": "r", "status": "running", "options": {"a": [1, "ü"]},
              "stages": [{"id": "s1", "reason": 'quo"te'}, {"id": "s2", "hooks": ()}],
              "finishedAt": None}
    for data in (record, {"stages": []}, {"stages": [{"id": "only"}]}, {"x": 1}, [1, 2]):
        write_json_atomic(tmp_path / "r.json", data)
        expected = json.loads(json.dumps(data))
        if isinstance(data, dict) and data.get("stages"):
            expected = {**{k: v for k, v in expected.items() if k != "stages"},
                        "stages": expected["stages"]}
        assert json.loads((tmp_path / "r.json").read_text()) == expected


def test_a_listing_reads_a_big_record_by_its_head_and_any_layout_whole(tmp_path, monkeypatch):
    """Our writer puts `stages` last: a listing parses the start of a big record alone.
    A record laid out otherwise (indented, keys in another order) is read whole, and
    another tool's file is never listed, whatever its size."""
    from orchestrator.ledger import run_records, write_json_atomic

    runs = tmp_path / ".pipeline-runs"
    runs.mkdir()
    stages = [{"id": f"s{i}", "status": "succeeded", "reason": "x" * 40} for i in range(2000)]

    def record(run_id: str, started: str) -> dict:
        return {"runId": run_id, "pipelineId": "p", "status": "succeeded",
                "startedAt": started, "options": {"only": ['"stages":[' * 3]},
                "stages": stages}

    write_json_atomic(runs / "20260101T000002.000Z_p.json",
                      record("20260101T000002.000Z_p", "2026-01-01T00:00:02.000Z"))
    indented = record("20260101T000001.000Z_p", "2026-01-01T00:00:01.000Z")
    (runs / "20260101T000001.000Z_p.json").write_text(
        json.dumps({"stages": indented.pop("stages"), **indented}, indent=2))
    (runs / "2026-01-01T00-00-03-000Z_p.json").write_text(
        json.dumps({"pipelineId": "p", "status": "success", "startTime": "2026-01-01",
                    "stages": stages}))
    assert (runs / "20260101T000002.000Z_p.json").stat().st_size > 10 * ledger_module.HEAD_BYTES

    parsed = []
    real_loads = ledger_module.json.loads
    monkeypatch.setattr(ledger_module.json, "loads",
                        lambda text: (parsed.append(len(text)), real_loads(text))[1])
    found = run_records(tmp_path)
    assert [r.run_id for r in found] == ["20260101T000001.000Z_p", "20260101T000002.000Z_p"]
    assert [r.head["stages"] for r in found] == [[], []]
    assert found[1].head["options"] == {"only": ['"stages":[' * 3]}
    # the compact record's head alone was parsed; the other two were read whole
    assert sorted(parsed)[0] < ledger_module.HEAD_BYTES
    assert sum(size < ledger_module.HEAD_BYTES for size in parsed) == 1


def test_an_abandoned_looking_file_of_another_tool_is_left_alone(tmp_path):
    from orchestrator.ledger import mark_abandoned_runs

    runs = tmp_path / ".pipeline-runs"
    runs.mkdir()
    theirs = runs / "20991231T235959.999Z_theirs.json"
    theirs.write_text('{"status":"running","startedAt":"2099-12-31T23:59:59Z","stages":[]}')
    ours = RunLedger(tmp_path, "g.json")
    ours.start("p", [("a", "pending", None)])
    ours.stage_started("a", "never run")
    ours.write_record(force=True)  # then it dies without finishing
    assert mark_abandoned_runs(tmp_path) == [ours.run_id]
    assert json.loads(theirs.read_text())["status"] == "running"
    assert json.loads(ours.record_path.read_text())["status"] == "interrupted"


def test_unreadable_files_count_as_ours_only_when_named_like_our_run_ids(tmp_path):
    from orchestrator.ledger import run_records

    runs = tmp_path / ".pipeline-runs"
    runs.mkdir()
    for name in ("20261128T010203.004Z_claimed", "20261399T000000.000Z_no-such-month",
                 "2026-11-27T23-58-55-957Z_half-written", "notes"):
        (runs / f"{name}.json").write_text("")
    found = run_records(tmp_path)
    assert [(r.run_id, r.head) for r in found] == [("20261128T010203.004Z_claimed", None)]
    assert found[0].started == datetime(2026, 11, 28, 1, 2, 3, 4000, tzinfo=timezone.utc)


def test_a_run_id_is_claimed_with_its_first_content(tmp_path):
    runs = tmp_path / "runs"
    first = new_run_id(runs, "p", content=lambda run_id: {"runId": run_id, "n": 1})
    second = new_run_id(runs, "p", moment=datetime_of(first),
                        content=lambda run_id: {"runId": run_id, "n": 2})
    assert first != second  # the same millisecond: the next one
    for run_id, n in ((first, 1), (second, 2)):
        assert json.loads((runs / f"{run_id}.json").read_text()) == {"runId": run_id, "n": n}
    assert sorted(p.name for p in runs.iterdir()) == [f"{first}.json", f"{second}.json"]


def datetime_of(run_id: str) -> int:
    """The start in a run id, in milliseconds since the epoch."""
    return round(datetime.strptime(run_id.split("_")[0], "%Y%m%dT%H%M%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp() * 1000)


def test_an_empty_record_left_by_a_killed_run_is_repaired_by_the_next(project):
    runs = project.path(".pipeline-runs")
    runs.mkdir()
    (runs / "20261127T235855.957Z_full-refresh.json").write_bytes(b"")
    assert project.pipeline("run").code == 0
    repaired = json.loads((runs / "20261127T235855.957Z_full-refresh.json").read_text())
    assert repaired["status"] == "interrupted"
    assert repaired["error"] == "the run died before it wrote its record"
    assert repaired["startedAt"].startswith("2026-11-27T23:58:55.957")
    listing = project.pipeline("logs")
    assert listing.code == 0 and "unreadable" not in listing.out, listing.out
