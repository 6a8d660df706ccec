"""Without -C, the project is found upward from the working directory, as git finds its
repository: the first directory holding pipeline/stage-graph.json (or $PIPELINE_GRAPH)."""

from __future__ import annotations

import json


def test_every_command_finds_the_project_from_a_subdirectory(project):
    inside = project.path("pipeline")
    run = project.pipeline("run", cwd=inside)
    assert run.code == 0, run.text
    assert project.counts() == {"extract": 1, "transform": 1, "publish": 1}
    # the records are the project's, not the subdirectory's
    assert not (inside / ".pipeline-runs").exists()
    assert len(project.records()) == 1
    deeper = project.path("build/site")
    deeper.mkdir(parents=True, exist_ok=True)
    logs = project.pipeline("logs", cwd=deeper)
    assert logs.code == 0 and project.last_record()["runId"] in logs.out
    status = project.pipeline("status", "--json", cwd=deeper)
    assert status.code == 0
    assert all(s["upToDate"] for s in json.loads(status.out)["stages"])
    # a rerun hint printed there works there
    stage = project.pipeline("run-stage", "extract", cwd=deeper)
    assert stage.code == 0 and project.counts()["extract"] == 2


def test_the_nearest_project_wins(project):
    """A project inside another (a fixture, a vendored repository) is its own."""
    nested = project.path("vendor/other")
    (nested / "pipeline").mkdir(parents=True)
    (nested / "pipeline" / "stage-graph.json").write_text(json.dumps({
        "pipelines": [{"id": "nested-only", "stages": ["n"]}],
        "stages": [{"id": "n", "command": {"executable": "true"}}]}))
    listed = project.pipeline("list", "--pipelines", cwd=nested / "pipeline")
    assert listed.code == 0 and "nested-only" in listed.out and "full-refresh" not in listed.out


def test_no_project_found_says_where_it_looked_and_mentions_C(tmp_path, project):
    alone = tmp_path / "elsewhere" / "deep"
    alone.mkdir(parents=True)
    for command in (["run"], ["logs"], ["status"], ["history"]):
        result = project.pipeline(*command, cwd=alone)
        assert result.code == 2, result.text
        assert result.out == ""
        assert result.err.splitlines() == [
            f"pipeline: error: no pipeline/stage-graph.json in {alone} or any directory "
            f"above it: run pipeline inside a project, or name its root with -C DIR (or the "
            f"graph with -g FILE)"]
    assert not (alone / ".pipeline-runs").exists()
    # -C names it: no search
    assert project.pipeline("-C", str(project.root), "list", cwd=alone).code == 0
    assert project.pipeline("-C", str(alone), "list", cwd=project.root).code == 2


def test_records_downloaded_into_a_folder_are_read_there(tmp_path, project):
    """docs/ci.md: records downloaded from CI into .pipeline-runs/ of any directory."""
    assert project.pipeline("run").code == 0
    download = tmp_path / "download"
    download.mkdir()
    (download / ".pipeline-runs").mkdir()
    record = project.last_record()
    (download / ".pipeline-runs" / f"{record['runId']}.json").write_text(json.dumps(record))
    logs = project.pipeline("logs", cwd=download)
    assert logs.code == 0 and record["runId"] in logs.out


def test_pipeline_graph_names_the_graph_the_search_looks_for(project):
    graph = project.path("pipeline/stage-graph.json")
    graph.rename(project.path("other.json"))
    inside = project.path("stages")
    result = project.pipeline("run", cwd=inside, env={"PIPELINE_GRAPH": "other.json"})
    assert result.code == 0, result.text
    assert project.counts() == {"extract": 1, "transform": 1, "publish": 1}
    assert project.last_record()["graphPath"] == "other.json"
    missing = project.pipeline("run", cwd=inside)
    assert missing.code == 2
    assert missing.err.startswith("pipeline: error: no pipeline/stage-graph.json in ")
    named = project.pipeline("list", cwd=inside, env={"PIPELINE_GRAPH": "nope.json"})
    assert named.code == 2
    assert named.err.startswith("pipeline: error: no nope.json ($PIPELINE_GRAPH) in ")


def test_an_env_file_is_found_from_where_you_started(project):
    """A path on the command line is taken from where you started, as -g and -o are:
    `--env-file ../.env` typed in a subdirectory names the file beside it, not one
    beside the root."""
    graph = project.graph()
    graph["stages"][0]["environment"] = [{"name": "A15_TOKEN", "required": True}]
    project.write_graph(graph)
    (project.root / "secrets.env").write_text("A15_TOKEN=from-the-root-file\n")
    inside = project.path("pipeline")
    for argv in (("run", "--dry-run"), ("status",), ("doctor",)):
        found = project.pipeline(*argv, "--env-file", "../secrets.env", cwd=inside)
        assert found.code == 0, (argv, found.text)
    missing = project.pipeline("run", "--env-file", "secrets.env", cwd=inside)
    assert missing.code == 2 and missing.out == ""
    assert missing.err.strip() == "pipeline: error: --env-file pipeline/secrets.env: no such file"
    run = project.pipeline("run", "--env-file", "../secrets.env", cwd=inside)
    assert run.code == 0, run.text
