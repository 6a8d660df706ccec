"""Plain doit on the same graph: `from orchestrator.dodo import *` in a dodo.py."""

from __future__ import annotations

ALL = {"extract": 1, "transform": 1, "publish": 1}


def test_doit_list_shows_stages_and_pipelines(project):
    result = project.doit("list")
    assert result.code == 0, result.text
    names = {line.split()[0] for line in result.out.splitlines() if line.strip()}
    assert names == {"extract", "transform", "publish", "full-refresh"}


def test_doit_run_pipeline_runs_stages_and_records_the_run(project):
    result = project.doit("run", "full-refresh")
    assert result.code == 0, result.text
    assert project.counts() == ALL
    assert "✔ [3/3] publish done in" in result.out
    record = project.last_record()
    assert record["pipelineId"] == "full-refresh"
    assert record["options"]["entryPoint"] == "doit"
    assert project.statuses(record) == {"extract": "succeeded", "transform": "succeeded",
                                        "publish": "succeeded"}


def test_plain_doit_runs_the_default_pipeline(project):
    assert project.doit().code == 0
    assert project.counts() == ALL


def test_state_is_shared_both_ways(project):
    project.pipeline("run")
    assert project.doit("run", "full-refresh").code == 0
    assert project.counts() == ALL
    project.path("data/source.txt").write_text("new\n")
    assert project.doit("run", "full-refresh").code == 0
    assert project.counts() == {"extract": 2, "transform": 2, "publish": 2}
    result = project.pipeline("run")
    assert result.code == 0
    assert "0 ran, 3 up to date" in result.out


def test_doit_always_execute_forces_a_rebuild(project):
    project.pipeline("run")
    assert project.doit("run", "-a", "full-refresh").code == 0
    assert project.counts() == {"extract": 2, "transform": 2, "publish": 2}


def test_doit_runs_every_stage_named_on_its_command_line(project):
    """Stage tasks skip doit's option parsing (they have no parameters); the names after
    the first must still be read as tasks, and an option after a name still refused."""
    ids = [s["id"] for s in project.graph()["stages"]]
    result = project.doit("run", ids[0], ids[1])
    assert result.code == 0, result.err
    assert project.counts() == {ids[0]: 1, ids[1]: 1}
    refused = project.doit("run", ids[0], "--no-such-option")
    assert refused.code != 0 and project.counts() == {ids[0]: 1, ids[1]: 1}


def test_doit_forget_makes_a_stage_run_again(project):
    project.pipeline("run")
    assert project.doit("forget", "transform").code == 0
    project.pipeline("run")
    assert project.counts() == {"extract": 1, "transform": 2, "publish": 1}


def test_doit_info_explains_a_stage(project):
    result = project.doit("info", "transform")
    assert result.code == 1  # doit's convention: 1 when the task is not up to date
    assert "stages/stub.mjs" in result.out and "never run" in result.out
    project.pipeline("run")
    result = project.doit("info", "transform")
    assert result.code == 0, result.text
    assert "up-to-date" in result.out


def test_doit_run_of_a_failing_stage_exits_non_zero(project):
    result = project.doit("run", "full-refresh", env={"STUB_FAIL": "extract"})
    assert result.code != 0
    assert "✖ [1/3] extract failed: exit code 3" in result.err
    assert project.last_record()["status"] == "failed"


def test_doit_reports_a_broken_graph_without_traceback(project):
    graph = project.graph()
    graph["stages"][0]["id"] = "transform"
    project.write_graph(graph)
    result = project.doit("list")
    assert result.code != 0
    assert "stages[1].id: duplicate stage id 'transform'" in result.err
    assert "Traceback" not in result.text


def test_graph_from_environment_variable(project):
    data = project.path("pipeline/stage-graph.json").read_text()
    project.path("other.json").write_text(data)
    project.path("pipeline/stage-graph.json").unlink()
    result = project.doit("run", "full-refresh", env={"PIPELINE_GRAPH": "other.json"})
    assert result.code == 0, result.text
    assert project.counts() == ALL


def test_artifact_written_by_stages_of_two_pipelines(project):
    graph = project.graph()
    graph["stages"].append({
        "id": "publish-v2", "dependsOn": ["transform"],
        "command": {"executable": "node",
                    "args": ["stages/stub.mjs", "publish-v2", "--in", "build/clean.json",
                             "--out", "build/report.json", "--out-dir", "build/site"]},
        "inputs": [{"artifact": "clean"}],
        "outputs": [{"artifact": "report"}, {"artifact": "site"}],
    })
    graph["pipelines"].append({"id": "v2", "stages": ["extract", "transform", "publish-v2"]})
    project.write_graph(graph)
    assert project.doit("list").code == 0
    assert project.doit("run", "v2").code == 0
    assert project.counts() == {"extract": 1, "transform": 1, "publish-v2": 1}
    assert project.pipeline("run", "full-refresh").code == 0
    assert project.counts() == {"extract": 1, "transform": 1, "publish-v2": 1, "publish": 1}
    assert project.pipeline("run", "v2").code == 0
    assert project.counts()["publish-v2"] == 2  # publish rewrote its outputs


def test_doit_parallel_runs_store_state_and_records_with_threads_or_processes(project):
    """`doit run -n 2` (worker threads by default here) and `-P process` (a worker
    process runs each stage and hands the task back): either way the next run finds
    every stage up to date, and the record holds what each stage's run measured."""
    for parallel in (["-n", "2"], ["-n", "2", "-P", "process"]):
        result = project.doit("run", *parallel, "-a", "full-refresh")
        assert result.code == 0, result.text
        record = project.last_record()
        for entry in record["stages"]:
            assert entry["status"] == "succeeded", entry
            assert entry["logPath"].endswith(f"{entry['id']}.log")
            assert entry["fingerprint"] and entry["attempts"][0]["exitCode"] == 0
            assert entry["durationMs"] is not None
        again = project.pipeline("run")
        assert again.code == 0 and "0 ran, 3 up to date" in again.out, (parallel, again.out)
    assert project.counts() == {"extract": 2, "transform": 2, "publish": 2}
