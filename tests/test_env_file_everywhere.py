"""`--env-file` on every command that judges the stages' environment (`status`,
`describe`, `doctor`, `run --dry-run`, `run-stage --dry-run`), and a dry run that refuses
a missing required variable as the real run does."""

from __future__ import annotations

import json

SECRET = "tok-3x4mpl3-v4lue"


def with_required_token(project) -> None:
    graph = project.graph()
    graph["stages"][1]["environment"] = [{"name": "ENVFILE_TOKEN", "required": True}]
    project.write_graph(graph)
    project.path("ci.env").write_text(f"ENVFILE_TOKEN='{SECRET}'\n")


def test_dry_run_refuses_a_missing_required_variable_like_the_run(project):
    with_required_token(project)
    expected = ("pipeline: error: required environment variable not set or empty: "
                "ENVFILE_TOKEN (stage transform)")
    for args in (("run",), ("run", "--dry-run"), ("run-stage", "transform", "--dry-run")):
        result = project.pipeline(*args)
        assert result.code == 2, (args, result.text)
        assert result.err.strip() == expected and result.out == "", args
    assert project.counts() == {}
    # with the file, the dry run plans and the run runs; the value is never printed
    dry = project.pipeline("run", "--dry-run", "--env-file", "ci.env")
    assert dry.code == 0, dry.text
    assert "transform" in dry.out and SECRET not in dry.text
    assert project.pipeline("run-stage", "transform", "--dry-run", "--env-file",
                            "ci.env").code == 0
    assert project.pipeline("run", "--env-file", "ci.env").code == 0
    assert project.counts() == {"extract": 1, "transform": 1, "publish": 1}


def test_status_and_describe_judge_with_the_env_file(project):
    """A declared variable's value is part of the stage's fingerprint: the status with the
    file the run used says up to date; without it, the variable changed."""
    with_required_token(project)
    assert project.pipeline("run", "--env-file", "ci.env").code == 0
    status = json.loads(project.pipeline("status", "--json", "--env-file", "ci.env").out)
    assert all(s["upToDate"] for s in status["stages"]), status
    without = json.loads(project.pipeline("status", "--json").out)
    transform = next(s for s in without["stages"] if s["id"] == "transform")
    assert transform["upToDate"] is False and "ENVFILE_TOKEN" in transform["reason"]

    described = project.pipeline("describe", "transform", "--json", "--env-file", "ci.env")
    assert described.code == 0 and SECRET not in described.text
    stage = json.loads(described.out)["stage"]
    assert stage["environment"][0]["set"] is True
    assert stage["status"]["status"] == "up to date"
    bare = json.loads(project.pipeline("describe", "transform", "--json").out)["stage"]
    assert bare["environment"][0]["set"] is False and bare["status"]["status"] == "run"
    text = project.pipeline("describe", "transform", "--env-file", "ci.env")
    assert "ENVFILE_TOKEN  required, set" in text.out and SECRET not in text.text


def test_doctor_counts_the_env_file(project):
    with_required_token(project)
    bare = project.pipeline("doctor")
    assert bare.code == 1 and "environment ENVFILE_TOKEN: required variable not set" in bare.out
    with_file = project.pipeline("doctor", "--json", "--env-file", "ci.env")
    assert SECRET not in with_file.text
    checks = {c["name"]: c for c in json.loads(with_file.out)["checks"]}
    assert checks["environment"]["ok"] and "ENVFILE_TOKEN" not in str(checks)


def test_a_bad_env_file_is_exit_2_on_every_command(project):
    project.path("bad.env").write_text("GOOD=1\nthis is not a line\n")
    for args in (("status",), ("describe", "extract"), ("doctor",), ("run", "--dry-run"),
                 ("run-stage", "extract", "--dry-run")):
        missing = project.pipeline(*args, "--env-file", "nope.env")
        assert missing.code == 2 and len(missing.err.splitlines()) == 1, (args, missing.text)
        assert "nope.env" in missing.err
        bad = project.pipeline(*args, "--env-file", "bad.env")
        assert bad.code == 2 and "bad.env:2" in bad.err, (args, bad.text)
    assert project.counts() == {}
