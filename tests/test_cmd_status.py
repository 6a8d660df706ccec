"""`pipeline status` on the fixture project: fresh, after a run, after an input changes."""

from __future__ import annotations

import json

IDS = ["extract", "transform", "publish"]


def status_json(project, *args: str) -> dict:
    result = project.pipeline("status", *args, "--json")
    assert result.code == 0, result.text
    return json.loads(result.out)


def fits(text: str) -> bool:
    return all(len(line) <= 100 for line in text.splitlines())


def test_before_any_run_every_stage_is_out_of_date_and_never_ran(project):
    result = project.pipeline("status")
    assert result.code == 0, result.text
    assert "Pipeline 'full-refresh': 0 of 3 stages up to date" in result.out
    for sid in IDS:
        line = next(ln for ln in result.out.splitlines() if f" {sid} " in ln)
        assert line.startswith("✖") and "out of date" in line and "never" in line
        assert line.endswith("never run")
    assert fits(result.out)

    data = status_json(project)
    assert data["pipeline"] == "full-refresh"
    assert [s["id"] for s in data["stages"]] == IDS
    for stage in data["stages"]:
        assert stage == {"id": stage["id"], "upToDate": False, "reason": "never run",
                         "lastRun": None}
    assert project.counts() == {}  # status executes nothing
    assert not project.path(".pipeline-runs").exists()


def test_after_a_run_every_stage_is_up_to_date_with_its_last_run(project):
    assert project.pipeline("run").code == 0
    record = project.last_record()
    data = status_json(project, "full-refresh")
    assert [s["id"] for s in data["stages"]] == IDS
    for stage in data["stages"]:
        assert stage["upToDate"] is True and stage["reason"] is None
        # the stage finished during that run
        assert record["startedAt"] <= stage["lastRun"] <= record["finishedAt"]

    result = project.pipeline("status")
    assert result.code == 0
    assert "3 of 3 stages up to date" in result.out
    extract = next(ln for ln in result.out.splitlines() if " extract " in ln)
    assert extract.startswith("✔") and "up to date" in extract
    assert record["startedAt"][:10] in extract  # the last run's date is shown
    assert project.counts() == {"extract": 1, "transform": 1, "publish": 1}


def test_a_changed_input_is_named_and_downstream_stages_may_run(project):
    project.pipeline("run")
    project.path("data/source.txt").write_text("changed\n")
    stages = {s["id"]: s for s in status_json(project)["stages"]}
    assert stages["extract"]["upToDate"] is False
    assert stages["extract"]["reason"] == "input changed: data/source.txt"
    assert stages["extract"]["lastRun"] is not None
    assert stages["transform"]["upToDate"] is False
    assert stages["transform"]["reason"] == "may run if 'extract' changes build/raw.json"
    assert stages["publish"]["reason"] == "may run if 'transform' changes build/clean.json"

    result = project.pipeline("status")
    lines = {sid: next(ln for ln in result.out.splitlines() if f" {sid} " in ln) for sid in IDS}
    assert "out of date" in lines["extract"]
    assert lines["extract"].endswith("input changed: data/source.txt")
    assert "may run" in lines["transform"]
    assert "'extract' changes build/raw.json" in lines["transform"]
    assert "1 of 3" not in result.out and "0 of 3 stages up to date" in result.out
    assert fits(result.out)
    assert project.counts() == {"extract": 1, "transform": 1, "publish": 1}


def test_unknown_pipeline_and_broken_graph_are_one_line_exit_2(project):
    result = project.pipeline("status", "full-refres")
    assert result.code == 2
    assert result.err.strip() == ("pipeline: error: unknown pipeline 'full-refres' "
                                  "(did you mean 'full-refresh'?); "
                                  "the pipelines are: full-refresh")
    assert result.out == ""

    project.path("pipeline/stage-graph.json").write_text('{"stages": [')
    result = project.pipeline("status", "--json")
    assert result.code == 2 and result.out == ""
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1
