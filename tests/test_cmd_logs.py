"""`pipeline logs` on the fixture project: the list, one run, a stage's output, a live run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
from conftest import REPO

# a record of the upstream Node orchestrator, which writes into the same folder
FOREIGN = REPO / "fixtures" / "foreign-runs" / "2026-11-27T23-58-55-957Z_full-refresh.json"


def fits(text: str) -> bool:
    return all(len(line) <= 100 for line in text.splitlines())


def one_error_line(result) -> str:
    assert result.code == 2, result.text
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err
    return lines[0]


def two_runs(project) -> tuple[dict, dict]:
    """A successful run, then one where transform fails."""
    assert project.pipeline("run").code == 0
    project.path("data/source.txt").write_text("changed\n")
    assert project.pipeline("run", env={"STUB_FAIL": "transform"}).code == 1
    first, second = project.records()
    return first, second


def test_no_runs_yet_is_a_friendly_line(project):
    result = project.pipeline("logs")
    assert result.code == 0
    assert result.out.strip() == ("No runs yet: 'pipeline run' records each run under "
                                  ".pipeline-runs/.")
    result = project.pipeline("logs", "--json")
    assert result.code == 0 and json.loads(result.out) == {"runs": []}
    assert one_error_line(project.pipeline("logs", "--latest")) == \
        "pipeline: error: no runs recorded yet under .pipeline-runs/"


def test_list_shows_recent_runs_oldest_first_and_limit_keeps_the_newest(project):
    first, second = two_runs(project)
    result = project.pipeline("logs")
    assert result.code == 0, result.text
    lines = result.out.splitlines()
    assert lines[0].split() == ["STARTED", "(UTC)", "STATUS", "TIME", "PIPELINE", "RUN", "ID"]
    assert lines[1].startswith("✔ ") and lines[1].endswith(first["runId"])
    assert "succeeded" in lines[1] and "full-refresh" in lines[1]
    assert first["startedAt"][:19].replace("T", " ") in lines[1]
    assert lines[2].startswith("✖ ") and lines[2].endswith(second["runId"])
    assert "failed" in lines[2]
    assert len(lines) == 3 and fits(result.out)

    data = json.loads(project.pipeline("logs", "--json").out)
    assert data["runs"] == [
        {"runId": r["runId"], "pipelineId": "full-refresh", "command": "run",
         "status": r["status"], "startedAt": r["startedAt"], "durationMs": r["durationMs"]}
        for r in (first, second)]

    limited = json.loads(project.pipeline("logs", "--limit", "1", "--json").out)
    assert [r["runId"] for r in limited["runs"]] == [second["runId"]]
    assert one_error_line(project.pipeline("logs", "--limit", "0")) == \
        "pipeline: error: --limit 0: give a number of runs of at least 1"


def test_one_run_by_latest_or_prefix_and_json_is_the_record(project):
    first, second = two_runs(project)
    latest = project.pipeline("logs", "--latest")
    assert latest.code == 0, latest.text
    assert latest.out.splitlines()[0] == f"✖ run {second['runId']}: failed"
    assert fits(latest.out.replace(second["stages"][1]["logPath"], "LOG"))

    by_prefix = project.pipeline("logs", first["runId"][:19])  # up to the milliseconds
    assert by_prefix.code == 0, by_prefix.text
    out = by_prefix.out
    assert out.splitlines()[0] == f"✔ run {first['runId']}: succeeded"
    extract = next(ln for ln in out.splitlines() if ln.startswith("✔ extract"))
    stage = first["stages"][0]
    assert extract.split()[3:6] == [f"{stage['durationMs'] / 1000:.1f}s",
                                    f"{stage['cpuSeconds']:.2f}s",
                                    f"{stage['peakRssKb'] / 1024:.1f}"]
    assert extract.endswith("never run")

    as_json = project.pipeline("logs", second["runId"], "--json")
    record_file = project.path(f".pipeline-runs/{second['runId']}.json")
    assert json.loads(as_json.out) == json.loads(record_file.read_text())


def test_failed_run_shows_the_error_its_log_and_how_to_rerun(project):
    _, failed = two_runs(project)
    out = project.pipeline("logs", "--latest").out
    lines = out.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("✖ transform"))
    log_path = failed["stages"][1]["logPath"]
    assert lines[at + 1:at + 5] == [
        "    error: exit code 3",
        f"    log: {log_path}",
        "    rerun: pipeline run-stage transform",
        "    rerun: pipeline run full-refresh --from transform",
    ]
    assert any(ln.startswith("· publish") and "pending" in ln for ln in lines)

    stage_out = project.pipeline("logs", "--latest", "--stage", "transform")
    assert stage_out.code == 0
    assert stage_out.out == project.path(log_path).read_text()
    assert "transform: failing on purpose" in stage_out.out
    data = json.loads(project.pipeline("logs", "--latest", "--stage", "transform", "--json").out)
    assert data["stageId"] == "transform" and data["status"] == "failed"
    assert data["logPath"] == log_path and "failing on purpose" in data["output"]

    pending = project.pipeline("logs", "--latest", "--stage", "publish")
    assert pending.code == 0 and "printed nothing" in pending.out and "pending" in pending.out
    assert one_error_line(project.pipeline("logs", "--latest", "--stage", "transfrom")) == (
        f"pipeline: error: stage 'transfrom' is not in run {failed['runId']} "
        "(did you mean 'transform'?)")


def test_ambiguous_and_unknown_ids_and_bad_combinations_exit_2(project):
    first, second = two_runs(project)
    line = one_error_line(project.pipeline("logs", "2"))
    assert line.startswith("pipeline: error: run id '2' is ambiguous: ")
    assert first["runId"] in line and second["runId"] in line
    assert one_error_line(project.pipeline("logs", "nope")) == \
        "pipeline: error: unknown run 'nope' (see 'pipeline logs' for the recent runs)"
    assert "not both" in one_error_line(project.pipeline("logs", "2", "--latest"))
    assert "--stage needs a run" in one_error_line(project.pipeline("logs", "--stage", "x"))
    assert "--follow needs a run" in one_error_line(project.pipeline("logs", "--follow"))


def test_logs_work_when_the_graph_is_broken(project):
    project.pipeline("run")
    project.path("pipeline/stage-graph.json").write_text('{"stages": [')
    assert project.pipeline("status").code == 2  # the graph really is broken
    result = project.pipeline("logs", "--latest")
    assert result.code == 0, result.text
    assert "succeeded" in result.out.splitlines()[0]
    assert project.pipeline("logs").code == 0


def _slow_transform(project) -> None:
    """transform prints, sleeps 2 s, prints again; it writes nothing."""
    graph = project.graph()
    stage = next(s for s in graph["stages"] if s["id"] == "transform")
    stage["command"] = {"executable": "python3", "args": [
        "-c", "import time; print('tick', flush=True); time.sleep(2); print('tock')"]}
    stage["outputs"] = []
    graph["stages"] = [s for s in graph["stages"] if s["id"] != "publish"]
    graph["pipelines"][0]["stages"] = ["extract", "transform"]
    project.write_graph(graph)


def _start(project, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUB_")}
    env.pop("NO_COLOR", None)
    return subprocess.Popen([sys.executable, "-m", "orchestrator", *args], cwd=project.root,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _transform_started(project) -> bool:
    """The run's events say transform started (so it sleeps for about 2 s from now)."""
    runs = project.path(".pipeline-runs")
    return runs.is_dir() and any('"transform"' in p.read_text() for p in runs.glob("*.log"))


def test_follow_tails_a_run_in_progress_until_it_finishes(project):
    _slow_transform(project)
    run = _start(project, "run")
    try:
        deadline = time.monotonic() + 20
        while not _transform_started(project):
            assert time.monotonic() < deadline and run.poll() is None, "the run never started"
            time.sleep(0.05)
        assert project.last_record()["status"] == "running"  # we follow it live
        stage_follow = _start(project, "logs", "--latest", "--stage", "transform", "--follow")
        followed = project.pipeline("logs", "--latest", "--follow")
        stage_out, _ = stage_follow.communicate(timeout=20)
        assert run.wait(timeout=20) == 0
    finally:
        run.kill()
    record = project.last_record()
    assert record["status"] == "succeeded"
    assert followed.code == 0 and stage_follow.returncode == 0
    lines = [ln.split(" ", 1)[1] for ln in followed.out.splitlines()]  # drop the time
    durations = [re.search(r" in (\d+\.\d)s$", ln) for ln in lines]
    assert [re.sub(r" in \d+\.\ds$", " in Ns", ln) for ln in lines] == [
        f"▶ run {record['runId']} started", "▶ extract started", "✔ extract succeeded in Ns",
        "▶ transform started", "✔ transform succeeded in Ns", "✔ run finished: succeeded in Ns"]
    assert float(durations[4].group(1)) >= 1.9  # the 2 s sleep
    assert stage_out.splitlines() == ["tick", "tock"]


def test_follow_stops_after_a_grace_period_when_a_run_crashed(project):
    project.pipeline("run")
    record = project.last_record()
    events = project.path(f".pipeline-runs/{record['runId']}.log")
    # the run-finished event never made it: as if the run died before writing it
    events.write_text("".join(events.read_text().splitlines(keepends=True)[:-1]))
    started = time.monotonic()
    result = project.pipeline("logs", "--latest", "--follow")
    assert time.monotonic() - started < 10
    assert result.code == 0
    assert "run finished" not in result.out
    assert result.out.splitlines()[-1] == (f"run {record['runId']} ended as succeeded without "
                                           "finishing its events (it may have crashed)")


@pytest.mark.parametrize("how", ["killed", "pid reused"])
def test_follow_ends_when_the_runner_is_gone(project, how):
    project.pipeline("run")
    record = project.last_record()
    # as a SIGKILLed runner (or one on a machine since restarted) leaves it: running,
    # no run-finished event, its pid gone or now another, younger process's
    record["status"] = "running"
    if how == "killed":
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        record["pid"] = gone.pid
    else:
        record["pid"] = os.getpid()  # alive, but started after the run's startedAt
        record["startedAt"] = "2001-01-01T00:00:00.000Z"
    path = project.path(f".pipeline-runs/{record['runId']}.json")
    path.write_text(json.dumps(record))
    events = project.path(f".pipeline-runs/{record['runId']}.log")
    events.write_text("".join(events.read_text().splitlines(keepends=True)[:-1]))
    for args in (("logs", "--latest", "--follow"),
                 ("logs", "--latest", "--stage", "publish", "--follow")):
        started = time.monotonic()
        result = project.pipeline(*args)
        assert time.monotonic() - started < 10
        assert result.code == 1, result.text
        assert f"(pid {record['pid']}) is gone" in result.out.splitlines()[-1]


def test_an_unreadable_record_is_listed_as_such_and_refused_in_one_line(project):
    project.pipeline("run")
    project.path(".pipeline-runs/29990101T000000.000Z_broken.json").write_text('{"runId": ')
    listed = project.pipeline("logs")
    assert listed.code == 0
    last = listed.out.splitlines()[-1]
    assert "unreadable" in last and last.endswith("29990101T000000.000Z_broken")
    line = one_error_line(project.pipeline("logs", "--latest"))
    assert line.startswith("pipeline: error: .pipeline-runs/29990101T000000.000Z_broken.json: "
                           "unreadable run record")


def test_a_stage_that_printed_nothing_leaves_no_log_file(project):
    result = project.pipeline("run", env={"STUB_QUIET": "extract,transform"})
    assert result.code == 0, result.text
    record = project.last_record()
    entries = {s["id"]: s for s in record["stages"]}
    assert entries["extract"]["logPath"] is None and entries["transform"]["logPath"] is None
    assert project.path(entries["publish"]["logPath"]).read_text() == (
        "publish: python stub running\n")
    run_dir = project.path(f".pipeline-runs/{record['runId']}")
    assert sorted(p.name for p in run_dir.iterdir()) == ["publish.log"]

    quiet = project.pipeline("logs", "--latest", "--stage", "extract")
    assert quiet.code == 0
    assert "printed nothing" in quiet.out and "succeeded" in quiet.out
    data = json.loads(project.pipeline("logs", "--latest", "--stage", "extract", "--json").out)
    assert data["logPath"] is None and data["output"] is None


def test_a_quiet_failing_stage_still_reports_and_records(project):
    result = project.pipeline("run", env={"STUB_QUIET": "transform", "STUB_FAIL": "transform"})
    assert result.code == 1
    transform = next(s for s in project.last_record()["stages"] if s["id"] == "transform")
    # the stub prints its failure message on stderr, so the log exists with just that
    assert project.path(transform["logPath"]).read_text() == "transform: failing on purpose\n"
    assert transform["status"] == "failed" and transform["exitCode"] == 3


def add_foreign_records(project) -> list[str]:
    """The upstream tool's records beside ours: the fixture as it wrote it, and the same
    tool's run of a later day, named by its start as it names them (a name that sorts
    after every one of ours)."""
    runs = project.path(".pipeline-runs")
    runs.mkdir(exist_ok=True)
    shutil.copy(FOREIGN, runs / FOREIGN.name)
    later = json.loads(FOREIGN.read_text())
    later["startTime"] = "2027-01-02T03:04:05.678Z"
    name = "2027-01-02T03-04-05-678Z_full-refresh"
    (runs / f"{name}.json").write_text(json.dumps(later, indent=2))
    return [FOREIGN.stem, name]


def test_records_of_another_tool_are_not_listed_and_are_named_when_asked_for(project):
    first, second = two_runs(project)
    older, newer = add_foreign_records(project)
    listed = project.pipeline("logs")
    assert listed.code == 0, listed.text
    lines = listed.out.splitlines()
    assert len(lines) == 3, listed.out
    assert lines[1].endswith(first["runId"]) and lines[2].endswith(second["runId"])
    data = json.loads(project.pipeline("logs", "--json").out)
    assert [r["runId"] for r in data["runs"]] == [first["runId"], second["runId"]]
    assert project.pipeline("logs", "--latest").out.splitlines()[0] == \
        f"✖ run {second['runId']}: failed"

    said = (f"pipeline: error: .pipeline-runs/{older}.json is not a record of this runner "
            "(no runId); written by another tool?")
    for name in (older, "2026-11-27", f".pipeline-runs/{older}.json"):
        assert one_error_line(project.pipeline("logs", name)) == said
    # the record's path is taken from where the command was started, like -g
    from_parent = project.pipeline("-C", project.root.name, "logs",
                                   f"{project.root.name}/.pipeline-runs/{older}.json",
                                   cwd=project.root.parent)
    assert one_error_line(from_parent) == said
    assert one_error_line(project.pipeline("logs", newer, "--stage", "get-modules")) == \
        said.replace(older, newer)
    assert one_error_line(project.pipeline("run", "--since", older)) == said
    # a record of ours by its path; a JSON file elsewhere is no record
    by_path = project.pipeline("logs", f".pipeline-runs/{first['runId']}.json")
    assert by_path.out.splitlines()[0] == f"✔ run {first['runId']}: succeeded"
    assert one_error_line(project.pipeline("logs", "build/raw.json")) == \
        "pipeline: error: build/raw.json: not a record under this project's .pipeline-runs/"
    # untouched: the other tool's files are its own
    assert project.path(f".pipeline-runs/{older}.json").read_text() == FOREIGN.read_text()


def test_runs_are_ordered_by_start_time_then_file_name(project):
    """Not by file name: a run's id and its file name need not sort as its start does."""
    runs = project.path(".pipeline-runs")
    runs.mkdir()
    starts = {"20260101T000000.000Z_b": "2026-01-01T00:00:09.000Z",
              "20260101T000005.000Z_a": "2026-01-01T00:00:05.000Z",
              "20260101T000001.000Z_y": "2026-01-01T00:00:01.000Z",
              "20260101T000001.000Z_x": "2026-01-01T00:00:01.000Z",
              "20260101T000003.000Z_z": "2026-01-01T01:00:03.000+01:00"}
    for run_id, started in starts.items():
        record = {"runId": run_id, "pipelineId": "full-refresh", "graphPath": "g.json",
                  "status": "succeeded", "startedAt": started, "finishedAt": started,
                  "durationMs": 1, "options": {"command": "run"}, "stages": []}
        (runs / f"{run_id}.json").write_text(json.dumps(record))
    data = json.loads(project.pipeline("logs", "--json").out)
    order = ["20260101T000001.000Z_x", "20260101T000001.000Z_y", "20260101T000003.000Z_z",
             "20260101T000005.000Z_a", "20260101T000000.000Z_b"]
    assert [r["runId"] for r in data["runs"]] == order
    assert project.pipeline("logs", "--latest").out.splitlines()[0] == \
        "✔ run 20260101T000000.000Z_b: succeeded"
    limited = json.loads(project.pipeline("logs", "--limit", "2", "--json").out)
    assert [r["runId"] for r in limited["runs"]] == order[-2:]
