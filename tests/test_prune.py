"""Records are pruned: the newest runs and the recent ones stay, the rest go whole."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import Project
from test_freshness import copy_stage, make


def two_pipelines(tmp_path: Path, **graph_extra) -> Project:
    artifacts = [{"id": "in", "type": "file", "path": "data/in.txt"},
                 {"id": "a", "type": "file", "path": "out/a"},
                 {"id": "b", "type": "file", "path": "out/b"}]
    stages = [copy_stage("first", ["in"], "a", ["data/in.txt"]),
              copy_stage("second", ["in"], "b", ["data/in.txt"])]
    return make(tmp_path, {"artifacts": artifacts, "stages": stages, "pipelines": [
        {"id": "all", "stages": ["first", "second"]}, {"id": "one", "stages": ["first"]}],
        **graph_extra}, {"data/in.txt": "x\n"})


def run_ids(project: Project) -> list[str]:
    return [r["runId"] for r in project.records() if "runId" in r]


def aged(project: Project, days: float) -> None:
    """Make every run so far `days` older: its id (which begins with its start time, the
    age pruning goes by), and so its record, events and log folder, and its startedAt."""
    from datetime import datetime, timedelta, timezone

    runs = project.path(".pipeline-runs")
    for run_id in run_ids(project):
        stamp, label = run_id.split("_", 1)
        moment = datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(
            tzinfo=timezone.utc) - timedelta(days=days)
        new_id = moment.strftime("%Y%m%dT%H%M%S.") + f"{moment.microsecond // 1000:03d}Z_{label}"
        record = json.loads((runs / f"{run_id}.json").read_text())
        record["runId"] = new_id
        record["startedAt"] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        (runs / f"{new_id}.json").write_text(json.dumps(record))
        (runs / f"{run_id}.json").unlink()
        for suffix in (".log", ""):
            if os.path.lexists(runs / f"{run_id}{suffix}"):
                os.rename(runs / f"{run_id}{suffix}", runs / f"{new_id}{suffix}")


def test_runs_beyond_the_newest_and_older_than_the_days_are_removed_whole(tmp_path):
    project = two_pipelines(tmp_path)
    env = {"PIPELINE_KEEP_RUNS": "3", "PIPELINE_KEEP_DAYS": "1"}
    assert project.pipeline("run", "one", env=env).code == 0
    for _ in range(3):
        assert project.pipeline("run", "all", "--force", env=env).code == 0
    assert len(run_ids(project)) == 4  # all younger than a day: nothing goes
    aged(project, 2)
    before = run_ids(project)
    foreign = project.path(".pipeline-runs/2026-11-27T23-58-55-957Z_full-refresh.json")
    foreign.write_text(json.dumps({"pipeline": "full-refresh", "status": "success"}))
    assert project.pipeline("run", "all", "--force", env=env).code == 0
    after = run_ids(project)
    # the newest 3 stay; the first is the newest (only) run of pipeline 'one': it stays
    assert after == [before[0], *before[2:], after[-1]], (before, after)
    gone = before[1]
    runs = project.path(".pipeline-runs")
    assert not (runs / f"{gone}.json").exists() and not (runs / f"{gone}.log").exists()
    assert not (runs / gone).exists()  # its stage logs too
    assert foreign.exists()  # another tool's file is never touched


def test_logs_prune_by_hand_and_the_graph_setting(tmp_path):
    project = two_pipelines(tmp_path, keepRuns={"count": 1, "days": 0})
    for _ in range(3):
        assert project.pipeline("run", "all", "--force",
                                env={"PIPELINE_KEEP_RUNS": "50"}).code == 0
    assert len(run_ids(project)) == 3
    result = project.pipeline("logs", "--prune")
    assert result.code == 0, result.text
    assert "Removed 2 runs" in result.out, result.text
    assert len(run_ids(project)) == 1
    again = project.pipeline("logs", "--prune", "--json")
    assert json.loads(again.out) == {"removed": [], "keepRuns": 1, "keepDays": 0}


def test_a_linked_stage_log_folder_is_removed_not_followed(tmp_path):
    project = two_pipelines(tmp_path)
    for _ in range(2):
        assert project.pipeline("run", "all", "--force").code == 0
    old = run_ids(project)[0]
    folder = project.path(f".pipeline-runs/{old}")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine\n")
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()
    folder.symlink_to(outside)
    aged(project, 40)
    result = project.pipeline("logs", "--prune", env={"PIPELINE_KEEP_RUNS": "1"})
    assert result.code == 0, result.text
    assert not os.path.lexists(folder)
    assert (outside / "keep.txt").read_text() == "mine\n"


def test_malformed_settings_are_refused_before_anything_runs(tmp_path):
    project = two_pipelines(tmp_path)
    for name, value in (("PIPELINE_KEEP_RUNS", "0"), ("PIPELINE_KEEP_RUNS", "ten"),
                        ("PIPELINE_KEEP_DAYS", "-1"), ("PIPELINE_KEEP_DAYS", "nan")):
        result = project.pipeline("run", env={name: value})
        assert result.code == 2, result.text
        assert result.err.count("\n") == 1 and f"{name}={value}" in result.err
    assert project.counts() == {}
    bad_graph = two_pipelines(tmp_path / "g", keepRuns={"count": 0})
    result = bad_graph.pipeline("check")
    assert result.code == 2 and "keepRuns" in result.text, result.text


def test_fast_path_runs_prune_too(tmp_path):
    project = two_pipelines(tmp_path)
    env = {"PIPELINE_KEEP_RUNS": "2", "PIPELINE_KEEP_DAYS": "0"}
    for _ in range(6):
        assert project.pipeline("run", "all", env=env).code == 0
    records = project.records()
    assert len(records) == 2, [r["runId"] for r in records]
    assert any("fastPath" in r for r in records)
