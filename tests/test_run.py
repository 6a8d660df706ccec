"""`pipeline run` / `run-stage` end to end on the fixture project: what ran, why, records."""

from __future__ import annotations

import json

ALL = {"extract": 1, "transform": 1, "publish": 1}


def reasons(record: dict) -> dict[str, str | None]:
    return {s["id"]: s["reason"] for s in record["stages"]}


def test_first_run_runs_every_stage_in_order_and_records_it(project):
    result = project.pipeline("run", "full-refresh")
    assert result.code == 0, result.text
    assert project.counts() == ALL
    out = result.out
    starts = [out.index(f"▶ [{i}/3] {sid}") for i, sid in enumerate(ALL, 1)]
    assert starts == sorted(starts)
    assert "✔ [3/3] publish done in" in out
    assert "transform: node stub running" in out  # the stage's own output streams through

    record = project.last_record()
    assert record["pipelineId"] == "full-refresh"
    assert record["status"] == "succeeded"
    assert record["graphPath"] == "pipeline/stage-graph.json"
    assert record["runId"].endswith("_full-refresh")
    assert isinstance(record["durationMs"], int)
    assert project.statuses(record) == {"extract": "succeeded", "transform": "succeeded",
                                        "publish": "succeeded"}
    for stage in record["stages"]:
        assert stage["reason"] == "never run"
        assert stage["exitCode"] == 0
        assert stage["cpuSeconds"] >= 0 and stage["peakRssKb"] > 0
        assert len(stage["fingerprint"]) == 64
        log = project.path(stage["logPath"])
        assert f"{stage['id']}: " in log.read_text()
    events = project.events(record)
    assert [e["event"] for e in events] == (["run-started"]
                                            + ["stage-started", "stage-finished"] * 3
                                            + ["run-finished"])
    common = {"ts", "runId", "event", "stageId", "status", "durationMs", "artifacts"}
    assert all(set(e) == (common | {"reason"} if e["event"] == "stage-started" else common)
               for e in events)
    assert all(e["reason"] == "never run" for e in events if e["event"] == "stage-started")
    finished = [e for e in events if e["event"] == "stage-finished"]
    assert finished[0]["artifacts"][0]["path"] == "build/raw.json"
    assert not list(project.path(".pipeline-runs").glob(".*.tmp"))


def test_second_run_runs_nothing_and_says_so(project):
    project.pipeline("run")
    result = project.pipeline("run")
    assert result.code == 0
    assert project.counts() == ALL
    assert "↷ [1/3] extract up to date (unchanged since" in result.out
    assert "0 ran, 3 up to date" in result.out
    assert set(project.statuses().values()) == {"up-to-date"}


def test_changed_input_reruns_the_chain_and_names_the_file(project):
    project.pipeline("run")
    project.path("data/source.txt").write_text("gamma\n")
    result = project.pipeline("run")
    assert result.code == 0
    assert project.counts() == {"extract": 2, "transform": 2, "publish": 2}
    assert reasons(project.last_record()) == {
        "extract": "input changed: data/source.txt",
        "transform": "input changed: build/raw.json",
        "publish": "input changed: build/clean.json",
    }


def test_touching_an_input_without_changing_it_runs_nothing(project):
    project.pipeline("run")
    path = project.path("data/source.txt")
    path.write_bytes(path.read_bytes())
    assert project.pipeline("run").code == 0
    assert project.counts() == ALL


def test_early_cutoff_identical_outputs_do_not_wake_dependents(project):
    project.pipeline("run")
    with open(project.path("stages/stub.py"), "a") as f:
        f.write("# a comment changes the script, not what it writes\n")
    result = project.pipeline("run")
    assert result.code == 0
    # extract and publish use stub.py; transform (node) reads extract's unchanged output
    assert project.counts() == {"extract": 2, "transform": 1, "publish": 2}
    assert reasons(project.last_record())["extract"] == "script changed: stages/stub.py"
    assert project.statuses()["transform"] == "up-to-date"


def test_changed_command_reruns_the_stage(project):
    project.pipeline("run")
    graph = project.graph()
    graph["stages"][2]["command"]["args"] += ["--out", "build/extra.json"]
    project.write_graph(graph)
    project.pipeline("run")
    assert project.counts()["publish"] == 2
    assert reasons(project.last_record())["publish"] == "command changed"


def test_environment_change_reruns_and_only_a_digest_is_kept(project):
    project.pipeline("run")
    secret = "s3cr3t-value-never-stored"
    result = project.pipeline("run", env={"STUB_MODE": secret})
    assert result.code == 0
    assert project.counts()["transform"] == 2
    assert reasons(project.last_record())["transform"] == "environment changed: STUB_MODE"
    project.pipeline("run", env={"STUB_MODE": secret})
    assert project.counts()["transform"] == 2  # same value: up to date
    for path in project.root.rglob("*"):
        if path.is_file() and ".counts" not in path.parts:
            assert secret.encode() not in path.read_bytes(), path


def test_missing_or_edited_output_makes_its_stage_run(project):
    project.pipeline("run")
    project.path("build/report.json").unlink()
    project.pipeline("run")
    assert reasons(project.last_record())["publish"] == "output missing: build/report.json"
    project.path("build/site/index.txt").write_text("hand edited\n")
    project.pipeline("run")
    assert reasons(project.last_record())["publish"] == "output changed: build/site/"
    assert project.counts()["publish"] == 3
    assert project.path("build/site/index.txt").read_text().startswith("publish ")


def test_stage_without_declared_inputs_or_with_external_input_always_runs(project):
    graph = project.graph()
    graph["stages"][0]["inputs"] = []
    graph["stages"][2]["inputs"].append({"type": "external", "kind": "http",
                                         "uri": "https://example.invalid/data.json"})
    project.write_graph(graph)
    project.pipeline("run")
    project.pipeline("run")
    assert project.counts() == {"extract": 2, "transform": 1, "publish": 2}
    why = reasons(project.last_record())
    assert why["extract"] == "no declared inputs"
    assert why["publish"] == "external input: https://example.invalid/data.json"


def test_failing_stage_stops_the_run_and_says_how_to_rerun(project):
    result = project.pipeline("run", env={"STUB_FAIL": "transform"})
    assert result.code == 1
    assert project.counts() == {"extract": 1, "transform": 1}
    record = project.last_record()
    assert record["status"] == "failed"
    assert project.statuses(record) == {"extract": "succeeded", "transform": "failed",
                                        "publish": "pending"}
    failed = record["stages"][1]
    assert failed["exitCode"] == 3 and failed["error"] == "exit code 3"
    assert "failing on purpose" in project.path(failed["logPath"]).read_text()
    assert "✖ [2/3] transform failed: exit code 3" in result.err
    assert f"log: {failed['logPath']}" in result.err
    assert "pipeline run-stage transform" in result.err
    assert "pipeline run full-refresh --from transform" in result.err
    assert "Traceback" not in result.text
    # the fix: the failed stage runs again, the one before it does not
    assert "last run failed" in project.pipeline("run", "--dry-run").out
    assert project.pipeline("run").code == 0
    assert project.counts() == {"extract": 1, "transform": 2, "publish": 1}
    assert reasons(project.last_record())["transform"] == "last run failed"


def rerun_lines(text: str) -> list[str]:
    return [line.strip()[len("rerun: "):] for line in text.splitlines()
            if line.strip().startswith("rerun: ")]


def test_rerun_hints_keep_the_global_options_given(project):
    """Started from the project's parent with -C and a graph whose path has a space: each
    hint repeats both, quoted for the shell, and runs as printed from there."""
    import shlex

    parent, name = project.root.parent, project.root.name
    (project.root / "pipeline" / "my graph.json").write_text(
        project.path("pipeline/stage-graph.json").read_text())
    graph = f"{name}/pipeline/my graph.json"
    result = project.pipeline("-C", name, "-g", graph, "run", cwd=parent,
                              env={"STUB_FAIL": "transform"})
    assert result.code == 1
    prefix = f"pipeline -C {name} -g '{graph}'"
    assert rerun_lines(result.err) == [f"{prefix} run-stage transform",
                                       f"{prefix} run full-refresh --from transform"]
    # logs repeats the -C it was given, and the run's graph as seen from where it is
    logs = project.pipeline("-C", name, "logs", "--latest", cwd=parent)
    assert rerun_lines(logs.out) == rerun_lines(result.err)
    inside = project.pipeline("logs", "--latest")
    assert rerun_lines(inside.out) == ["pipeline -g 'pipeline/my graph.json' run-stage transform",
                                       "pipeline -g 'pipeline/my graph.json' run full-refresh "
                                       "--from transform"]
    # the hint works as printed, from where the run was started
    again = project.pipeline(*shlex.split(rerun_lines(result.err)[1])[1:], cwd=parent)
    assert again.code == 0, again.text
    assert project.statuses() == {"extract": "skipped", "transform": "succeeded",
                                  "publish": "succeeded"}

    # run-stage: only the stage (no pipeline was run), the default graph: no -g
    failed = project.pipeline("--directory", name, "run-stage", "publish", cwd=parent,
                              env={"STUB_FAIL": "publish"})
    assert failed.code == 1
    assert rerun_lines(failed.err) == [f"pipeline -C {name} run-stage publish"]
    # a missing input: run-stage would stop on it again; the hint runs the pipeline up
    # to the stage, which writes it first
    project.path("build/raw.json").unlink()
    refused = project.pipeline("-C", name, "run-stage", "transform", cwd=parent)
    assert refused.code == 1
    assert rerun_lines(refused.err) == [f"pipeline -C {name} run full-refresh --to transform"]


def test_schema_violation_fails_the_stage_naming_artifact_schema_and_place(project):
    result = project.pipeline("run", env={"STUB_INVALID": "transform"})
    assert result.code == 1
    error = project.last_record()["stages"][1]["error"]
    assert "artifact 'clean' (build/clean.json)" in error
    assert "schemas/clean.schema.json" in error
    assert "$.digest" in error  # the JSON path of the first error
    assert project.statuses()["publish"] == "pending"


def test_a_required_output_not_written_fails_the_stage(project):
    result = project.pipeline("run", env={"STUB_NO_OUTPUT": "extract"})
    assert result.code == 1
    assert "stage 'extract' did not produce build/raw.json (artifact raw)" in result.err


def test_missing_executable_is_a_stage_failure_not_a_traceback(project):
    graph = project.graph()
    graph["stages"][0]["command"]["executable"] = "no-such-tool-xyz"
    project.write_graph(graph)
    result = project.pipeline("run")
    assert result.code == 1
    assert "executable 'no-such-tool-xyz' not found on PATH" in result.err
    assert "Traceback" not in result.text
    assert project.counts() == {}


def test_missing_required_input_stops_before_anything_runs(project):
    result = project.pipeline("run", "--only", "transform,publish")
    assert result.code == 1
    assert project.counts() == {}
    assert "transform failed: cannot start: missing input build/raw.json (artifact raw)" \
        in result.err
    assert rerun_lines(result.err) == ["pipeline run full-refresh --to transform"]
    assert project.statuses() == {"extract": "skipped", "transform": "failed",
                                  "publish": "pending"}


def test_filters_select_what_runs(project):
    project.pipeline("run")
    assert project.pipeline("run", "--force", "--skip", "extract").code == 0
    assert project.counts() == {"extract": 1, "transform": 2, "publish": 2}
    record = project.last_record()
    assert record["options"]["skip"] == ["extract"] and record["options"]["force"] is True
    assert project.statuses(record)["extract"] == "skipped"
    assert reasons(record)["extract"] == "--skip"
    project.pipeline("run", "--force", "--from", "transform", "--to", "transform")
    assert project.counts() == {"extract": 1, "transform": 3, "publish": 2}
    project.pipeline("run", "--force", "--only", "extract", "--only", "publish")
    assert project.counts() == {"extract": 2, "transform": 3, "publish": 3}


def test_filter_errors_exit_2_before_anything_runs(project):
    cases = {
        ("--only", "transfrom"): "unknown stage 'transfrom' (did you mean 'transform'?)",
        ("--only", "extract", "--skip", "extract"): "both --only and --skip",
        ("--from", "publish", "--to", "extract"): "--from 'publish' comes after --to 'extract'",
        ("nightly",): "unknown pipeline 'nightly'",
        ("--bogus",): "unrecognized arguments: --bogus",
    }
    for args, message in cases.items():
        result = project.pipeline("run", *args)
        assert result.code == 2, args
        assert message in result.err, (args, result.err)
        assert len(result.err.strip().splitlines()) == 1, result.err
    assert project.counts() == {}
    assert not list(project.path(".pipeline-runs").glob("*.json"))  # no run was recorded


def test_run_stage_runs_exactly_that_stage_even_when_up_to_date(project):
    project.pipeline("run")
    result = project.pipeline("run-stage", "transform")
    assert result.code == 0
    assert project.counts() == {"extract": 1, "transform": 2, "publish": 1}
    record = project.last_record()
    assert record["pipelineId"] is None and record["runId"].endswith("_transform")
    assert [s["id"] for s in record["stages"]] == ["transform"]
    assert reasons(record)["transform"] == "forced"


def test_run_stage_with_missing_input_names_the_file(project):
    result = project.pipeline("run-stage", "publish")
    assert result.code == 1
    assert "missing input build/clean.json (artifact clean)" in result.err
    assert project.counts() == {}


def test_dry_run_explains_and_executes_nothing(project):
    result = project.pipeline("run", "--dry-run")
    assert result.code == 0
    assert "run        extract" in result.out and "never run" in result.out
    assert project.counts() == {}
    assert not project.path(".pipeline-runs").exists()
    project.pipeline("run")
    project.path("data/source.txt").write_text("changed\n")
    result = project.pipeline("run", "--dry-run")
    lines = [line.strip() for line in result.out.splitlines()]
    assert any(line.startswith("run") and "extract" in line and
               "input changed: data/source.txt" in line for line in lines)
    assert any(line.startswith("may run") and "transform" in line for line in lines)
    result = project.pipeline("run", "--dry-run", "--force", "--skip", "publish")
    assert "forced" in result.out and "skipped" in result.out
    assert project.counts() == ALL


def test_records_of_runs_are_distinct_and_sorted(project):
    for _ in range(3):
        project.pipeline("run")
    ids = [r["runId"] for r in project.records()]
    assert len(set(ids)) == 3 and ids == sorted(ids)


def test_no_colour_when_not_a_terminal_or_with_no_color(project):
    assert "\x1b[" not in project.pipeline("run").out
    assert "\x1b[" not in project.pipeline("run", env={"NO_COLOR": "1"}).out


def test_default_pipeline_and_directory_option(project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = project.pipeline("-C", str(project.root), "run", cwd=elsewhere)
    assert result.code == 0, result.text
    assert project.counts() == ALL
    assert project.last_record()["pipelineId"] == "full-refresh"
    result = project.pipeline("-C", str(tmp_path / "nope"), "run", cwd=elsewhere)
    assert result.code == 2 and "no such directory" in result.err


def test_yaml_graph_through_graph_option(project):
    import yaml

    data = project.graph()
    project.path("pipeline/graph.yaml").write_text(yaml.safe_dump(data))
    project.path("pipeline/stage-graph.json").unlink()
    result = project.pipeline("-g", "pipeline/graph.yaml", "run")
    assert result.code == 0, result.text
    assert project.counts() == ALL
    assert project.last_record()["graphPath"] == "pipeline/graph.yaml"


def test_broken_graph_is_one_line_per_problem_and_exit_2(project):
    graph = project.graph()
    graph["stages"][1]["dependsOn"] = ["extrct"]
    project.write_graph(graph)
    result = project.pipeline("run")
    assert result.code == 2
    assert result.err.strip() == ("pipeline/stage-graph.json: stages[1].dependsOn[0]: unknown "
                                  "stage 'extrct' (did you mean 'extract'?)")
    project.path("pipeline/stage-graph.json").write_text('{"stages": [')
    result = project.pipeline("run")
    assert result.code == 2
    assert result.err.startswith("pipeline/stage-graph.json: line 1, column")
    assert "Traceback" not in result.text


def test_no_default_pipeline_lists_the_choices(project):
    graph = project.graph()
    graph["pipelines"] = [{"id": "a", "stages": ["extract"]}, {"id": "b", "stages": ["publish"]}]
    project.write_graph(graph)
    result = project.pipeline("run")
    assert result.code == 2
    assert "no default pipeline; name one of: a, b" in result.err


def test_cache_artifact_read_and_written_does_not_make_its_stage_stale(project):
    graph = project.graph()
    graph["artifacts"].append({"id": "cache", "type": "file", "path": "build/cache.json"})
    stage = graph["stages"][0]
    stage["inputs"].append({"artifact": "cache", "mode": "read", "optional": True})
    stage["outputs"].append({"artifact": "cache", "mode": "write"})
    stage["command"]["args"] += ["--out", "build/cache.json"]
    project.write_graph(graph)
    assert project.pipeline("run").code == 0
    project.path("build/cache.json").write_text(json.dumps({"carried": "over"}))
    assert project.pipeline("run").code == 0
    assert project.counts() == ALL


def test_interrupt_marks_the_run_interrupted_and_keeps_what_finished(project):
    import os
    import signal
    import subprocess
    import sys
    import time

    graph = project.graph()
    graph["stages"][1]["command"] = {
        "executable": "python3",
        "args": ["-c", "import time; print('sleeping', flush=True); time.sleep(60)"]}
    project.write_graph(graph)
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "run"], cwd=project.root,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    log_dirs = []
    while time.monotonic() < deadline and not log_dirs:
        time.sleep(0.1)
        log_dirs = list(project.root.glob(".pipeline-runs/*/transform.log"))
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground group
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, out
    assert "full-refresh interrupted" in out
    record = project.last_record()
    assert record["status"] == "interrupted"
    assert project.statuses(record) == {"extract": "succeeded", "transform": "failed",
                                        "publish": "pending"}
    assert record["stages"][1]["error"] == "interrupted"
    # what succeeded before the interrupt stays up to date
    result = project.pipeline("run", "--dry-run")
    assert "up to date extract" in " ".join(result.out.split())


def test_a_failure_keeps_when_the_stage_last_succeeded(project):
    project.pipeline("run")
    assert project.pipeline("run", "--force", env={"STUB_FAIL": "transform"}).code == 1
    status = json.loads(project.pipeline("status", "--json").out)
    transform = next(s for s in status["stages"] if s["id"] == "transform")
    assert transform["upToDate"] is False and transform["reason"] == "last run failed"
    assert transform["lastRun"] is not None
    assert project.doit("forget", "transform").code == 0
    assert "never run" in project.pipeline("run", "--dry-run").out
