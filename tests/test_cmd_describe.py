"""`pipeline describe ID` for stages, pipelines and artifacts, on real fixture projects."""

from __future__ import annotations

import json
import re

from conftest import reference_project

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def fields(out: str) -> dict[str, str]:
    """`  label:   value` lines of the human output, by label."""
    found = {}
    for line in out.splitlines():
        match = re.match(r"^  (\w[\w ]*):\s+(\S.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def block(out: str, label: str) -> list[str]:
    """The indented items under `  label:`."""
    lines = out.splitlines()
    start = lines.index(f"  {label}:")
    items = []
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        items.append(line.strip())
    return items


def test_stage_human(project):
    result = project.pipeline("describe", "transform")
    assert result.code == 0, result.text
    out = result.out
    assert out.splitlines()[0] == "stage transform"
    f = fields(out)
    assert f["runtime"] == "node"
    assert f["command"] == ("node stages/stub.mjs transform --in build/raw.json "
                            "--out build/clean.json")
    assert f["pipelines"] == "full-refresh"
    assert f["depends on"] == "extract"
    assert f["side effects"] == "none"
    assert f["status"] == "run (never run)"
    assert f["last success"] == "never"
    assert block(out, "inputs") == ["raw  build/raw.json"]
    assert block(out, "outputs") == ["clean  build/clean.json  (schema schemas/clean.schema.json)"]
    assert block(out, "environment") == ["STUB_MODE  optional, not set"]
    assert all(len(line) <= 100 for line in out.splitlines())


def test_environment_says_set_but_never_shows_the_value(project):
    secret = "s3cret-token-value"
    human = project.pipeline("describe", "transform", env={"STUB_MODE": secret})
    assert block(human.out, "environment") == ["STUB_MODE  optional, set"]
    data = project.pipeline("describe", "transform", "--json", env={"STUB_MODE": secret})
    assert data.code == 0, data.text
    assert json.loads(data.out)["stage"]["environment"] == [
        {"name": "STUB_MODE", "required": False, "set": True, "description": ""}]
    assert secret not in human.text + data.text


def test_status_follows_doit_state_and_the_last_success(project):
    assert project.pipeline("run").code == 0
    record = project.last_record()
    data = json.loads(project.pipeline("describe", "extract", "--json").out)["stage"]
    assert data["status"]["status"] == "up to date"
    assert data["status"]["reason"] == ""
    last = data["status"]["lastSucceeded"]
    assert ISO.match(last) and record["startedAt"] <= last <= record["finishedAt"]
    assert fields(project.pipeline("describe", "extract").out)["last success"] == last

    project.path("data/source.txt").write_text("changed\n")
    human = project.pipeline("describe", "extract")
    assert fields(human.out)["status"] == "run (input changed: data/source.txt)"
    assert fields(human.out)["last success"] == last
    # describing is not running: nothing ran, no new record
    assert project.counts() == {"extract": 1, "transform": 1, "publish": 1}
    assert len(project.records()) == 1


def test_stage_json(project):
    result = project.pipeline("describe", "publish", "--json")
    assert result.code == 0, result.text
    data = json.loads(result.out)
    assert list(data) == ["stage"]
    stage = data["stage"]
    assert stage["command"] == ["python3", "stages/stub.py", "publish", "--in",
                                "build/clean.json", "--out", "build/report.json",
                                "--out-dir", "build/site"]
    assert stage["runtime"] == "python"
    assert stage["dependsOn"] == ["transform"]
    assert stage["inputs"] == [{"artifact": "clean", "type": "file", "path": "build/clean.json",
                                "schema": "schemas/clean.schema.json", "optional": False,
                                "cache": False}]
    assert [o["path"] for o in stage["outputs"]] == ["build/report.json", "build/site/"]
    assert stage["hooks"] == {"before": [], "after": [], "onFailure": []}
    assert stage["status"] == {"status": "run", "reason": "never run", "lastSucceeded": None}


def test_hooks_external_inputs_and_flags(project):
    graph = project.graph()
    graph["artifacts"].append({"id": "old-site", "type": "directory", "path": "build/old-site"})
    publish = graph["stages"][2]
    publish["hooks"] = {"before": [{"move": {"from": "site", "to": "old-site"}}],
                        "after": [{"remove": "old-site"}],
                        "onFailure": [{"command": {"executable": "echo", "args": ["undo"]}}]}
    publish["inputs"].append({"type": "external", "kind": "http", "uri": "https://x.test/a"})
    publish["inputs"].append({"artifact": "old-site", "optional": True})
    publish["sideEffects"] = [{"type": "network", "description": "posts the report"}]
    publish["environment"] = [{"name": "PUBLISH_KEY", "required": True,
                               "description": "where to post"}]
    project.write_graph(graph)
    result = project.pipeline("describe", "publish")
    assert result.code == 0, result.text
    assert block(result.out, "hooks") == ["before: move build/site/ -> build/old-site/",
                                          "after: remove build/old-site/",
                                          "onFailure: run echo undo"]
    assert block(result.out, "inputs")[1:] == ["external http: https://x.test/a",
                                               "old-site  build/old-site/  [optional]"]
    assert block(result.out, "side effects") == ["network: posts the report  [always runs]"]
    assert block(result.out, "environment") == ["PUBLISH_KEY  required, not set  where to post"]
    # an external input can never be fingerprinted: the stage always runs
    assert fields(result.out)["status"].startswith("run (")
    data = json.loads(project.pipeline("describe", "publish", "--json").out)["stage"]
    assert data["hooks"]["onFailure"] == ["run echo undo"]
    assert data["inputs"][1] == {"external": True, "kind": "http", "uri": "https://x.test/a",
                                 "optional": False}


def test_pipeline_in_run_order(project):
    graph = project.graph()
    graph["pipelines"][0]["stages"] = ["publish", "extract", "transform"]
    graph["pipelines"][0]["description"] = "Everything, from the source on."
    project.write_graph(graph)
    result = project.pipeline("describe", "full-refresh")
    assert result.code == 0, result.text
    lines = result.out.splitlines()
    assert lines[0] == "pipeline full-refresh (default)"
    assert fields(result.out)["description"] == "Everything, from the source on."
    assert [line.split()[:3] for line in lines[-3:]] == [
        ["1.", "extract", "python"], ["2.", "transform", "node"], ["3.", "publish", "python"]]
    assert lines[-1].endswith("after transform")
    data = json.loads(project.pipeline("describe", "full-refresh", "--json").out)
    assert list(data) == ["pipeline"]
    assert [s["id"] for s in data["pipeline"]["stages"]] == ["extract", "transform", "publish"]
    assert data["pipeline"]["default"] is True


def test_artifact(project):
    result = project.pipeline("describe", "clean")
    assert result.code == 0, result.text
    f = fields(result.out)
    assert result.out.splitlines()[0] == "artifact clean"
    assert f["type"] == "file"
    assert f["path"] == "build/clean.json  (does not exist)"
    assert f["format"] == "json"
    assert f["schema"] == "schemas/clean.schema.json"
    assert f["written by"] == "transform"
    assert f["read by"] == "publish"
    project.pipeline("run")
    data = json.loads(project.pipeline("describe", "clean", "--json").out)
    assert data == {"artifact": {"id": "clean", "type": "file", "path": "build/clean.json",
                                 "format": "json", "schema": "schemas/clean.schema.json",
                                 "description": "", "exists": True, "writers": ["transform"],
                                 "readers": ["publish"]}}
    assert fields(project.pipeline("describe", "source").out)["written by"] == "no stage"


def test_an_id_naming_a_pipeline_and_an_artifact_describes_both(project):
    graph = project.graph()
    graph["artifacts"].append({"id": "full-refresh", "type": "file", "path": "build/all.json"})
    project.write_graph(graph)
    result = project.pipeline("describe", "full-refresh")
    assert result.code == 0, result.text
    headings = [line for line in result.out.splitlines() if line and not line.startswith(" ")]
    assert headings == ["pipeline full-refresh (default)", "artifact full-refresh"]
    data = json.loads(project.pipeline("describe", "full-refresh", "--json").out)
    assert list(data) == ["pipeline", "artifact"]
    assert data["artifact"]["path"] == "build/all.json"


def test_unknown_id_is_one_line_with_a_suggestion(project):
    for wrong, meant in (("transfrom", "transform"), ("full-refrsh", "full-refresh"),
                         ("sorce", "source")):
        result = project.pipeline("describe", wrong)
        assert result.code == 2
        assert result.out == ""
        assert result.err.splitlines() == [
            f"pipeline: error: no stage, pipeline or artifact '{wrong}' "
            f"(did you mean '{meant}'?)"]
    missing = project.pipeline("describe")
    assert missing.code == 2 and len(missing.err.splitlines()) == 1


def test_reference_graph_stage(tmp_path):
    ref = reference_project(tmp_path)
    result = ref.pipeline("describe", "get-modules")
    assert result.code == 0, result.text
    assert all(len(line) <= 100 for line in result.out.splitlines())
    assert result.out.splitlines()[0] == "stage get-modules (Fetch module repositories)"
    f = fields(result.out)
    assert f["command"] == "python3 scripts/get_modules.py"
    assert f["depends on"] == "update-repository-data"
    assert f["status"] == "run (never run)"
    assert "modules-temp  modules_temp/  [optional, cache]" in block(result.out, "inputs")
    assert "skipped-modules  website/data/skipped_modules.json  [optional]" in \
        block(result.out, "outputs")
    effects = block(result.out, "side effects")
    assert effects[0] == ("network: HEAD requests against repository URLs to validate "
                          "reachability.  [always runs]")
    assert [e.split(":")[0] for e in effects] == ["network", "git", "filesystem"]
    data = json.loads(ref.pipeline("describe", "update-repository-data", "--json").out)["stage"]
    assert data["inputs"][1]["uri"] == "https://modules.magicmirror.builders/data/gitHubData.json"
    assert data["environment"][0]["name"] == "GITHUB_TOKEN"
