"""`pipeline run --dry-run --json` (and `run-stage`): the plan as one JSON document, with
the stage entries of `status --json` plus `action`, so CI can read what would run."""

from __future__ import annotations

import json


def plan(project, *args: str, env: dict | None = None) -> dict:
    result = project.pipeline(*args, "--dry-run", "--json", env=env)
    assert result.code == 0, result.text
    return json.loads(result.out)  # one document, nothing else on stdout


def actions(document: dict) -> dict[str, str]:
    return {s["id"]: s["action"] for s in document["stages"]}


def test_dry_run_json_says_what_would_run(project):
    fresh = plan(project, "run")
    assert fresh["pipeline"] == "full-refresh" and fresh["stage"] is None
    assert actions(fresh) == {"extract": "run", "transform": "run", "publish": "run"}
    assert fresh["stages"][0] == {"id": "extract", "upToDate": False, "reason": "never run",
                                  "lastRun": None, "action": "run"}
    assert project.counts() == {}  # nothing executed

    assert project.pipeline("run").code == 0
    project.path("data/source.txt").write_text("changed\n")
    changed = plan(project, "run", "--skip", "publish")
    assert actions(changed) == {"extract": "run", "transform": "may-run",
                                "publish": "skipped"}
    # the same entries as status --json, plus the action
    status = json.loads(project.pipeline("status", "--json").out)
    for entry, st in zip(changed["stages"][:2], status["stages"][:2]):
        assert {k: v for k, v in entry.items() if k != "action"} == st
    assert changed["stages"][2]["reason"] == "--skip"
    # a stage left out by a filter still says when it last succeeded, as status does
    assert changed["stages"][2]["lastRun"] == status["stages"][2]["lastRun"] is not None
    project.pipeline("run")
    assert actions(plan(project, "run")) == {"extract": "up-to-date",
                                             "transform": "up-to-date",
                                             "publish": "up-to-date"}


def test_run_stage_dry_run_json(project):
    document = plan(project, "run-stage", "transform")
    assert document["pipeline"] is None and document["stage"] == "transform"
    assert document["force"] is True and actions(document) == {"transform": "run"}


def test_json_without_dry_run_is_a_usage_error(project):
    result = project.pipeline("run", "--json")
    assert result.code == 2 and result.out == ""
    assert result.err.strip() == ("pipeline: error: --json is for --dry-run (the plan as "
                                  "JSON); a run's events as JSON lines are --json-logs")
    assert project.pipeline("run-stage", "extract", "--json").code == 2
    assert project.counts() == {}
