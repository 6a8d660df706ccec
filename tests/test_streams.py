"""What goes to stdout and what to stderr: progress on stdout; failures, warnings and a
run that did not succeed on stderr, so `pipeline run > run.txt` still shows them."""

from __future__ import annotations

import os
import subprocess
import sys


def test_a_failed_stage_is_told_on_stderr_and_progress_stays_on_stdout(project):
    result = project.pipeline("run", env={"STUB_FAIL": "transform"})
    assert result.code == 1
    out, err = result.out.splitlines(), result.err.splitlines()
    assert out[0] == "▶ [1/3] extract (never run)"
    assert "transform: failing on purpose" in out  # the stage's own output, streamed
    assert not any(line.startswith(("✖", "    log:", "    rerun:")) for line in out)
    assert not any("failed in" in line for line in out)
    assert err[0] == "✖ [2/3] transform failed: exit code 3"
    assert err[1].startswith("    log: .pipeline-runs/")
    assert err[2:4] == ["    rerun: pipeline run-stage transform",
                        "    rerun: pipeline run full-refresh --from transform"]
    # stdout is not where stderr goes: the end of the stage's output is repeated there
    assert "    | transform: failing on purpose" in err
    assert err[-1].startswith("full-refresh failed in ")


def test_one_file_for_both_streams_gets_the_stage_output_once(project):
    """`pipeline run > run.txt 2>&1` (or a terminal): the output streamed on stdout is
    already where stderr goes, so its tail is not printed again."""
    log = project.root / "both.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUB_")}
    env["STUB_FAIL"] = "transform"
    with open(log, "w") as both:
        code = subprocess.run([sys.executable, "-m", "orchestrator", "run"], cwd=project.root,
                              env=env, stdout=both, stderr=subprocess.STDOUT,
                              timeout=120).returncode
    assert code == 1
    text = log.read_text()
    assert text.count("transform: failing on purpose") == 1
    assert "✖ [2/3] transform failed: exit code 3" in text


def test_a_run_that_succeeds_prints_nothing_on_stderr(project):
    result = project.pipeline("run")
    assert result.code == 0 and result.err == ""
    assert result.out.splitlines()[-1].startswith("full-refresh succeeded in ")


def test_log_level_error_prints_only_the_failure_on_stderr_and_nothing_on_stdout(project):
    result = project.pipeline("run", "--log-level", "error", env={"STUB_FAIL": "transform"})
    assert result.code == 1
    assert result.out == ""
    assert result.err.splitlines()[0] == "✖ [2/3] transform failed: exit code 3"
    assert "    | transform: failing on purpose" in result.err


def test_json_logs_tells_a_failure_as_an_event_and_keeps_stderr_for_warnings(project):
    """docs/cli.md: with --json-logs stdout is the events and nothing else; the failure is
    a stage-finished event there, and stderr has only warnings and errors."""
    import json

    result = project.pipeline("run", "--json-logs",
                              env={"STUB_FAIL": "transform",
                                   "GITHUB_STEP_SUMMARY": str(project.root / "no" / "dir")})
    assert result.code == 1
    events = [json.loads(line) for line in result.out.splitlines()]  # JSON, every line
    assert {"event": "stage-finished", "stageId": "transform", "status": "failed"}.items() \
        <= next(e for e in events if e.get("stageId") == "transform"
                and e["event"] == "stage-finished").items()
    assert result.err.startswith("pipeline: warning: cannot append the job summary")
    assert len(result.err.splitlines()) == 1, result.err


def test_an_error_under_json_prints_nothing_on_stdout(project):
    """docs/cli.md: a usage or graph error prints no JSON, only its line on stderr."""
    for argv in (["status", "no-such-pipeline", "--json"], ["describe", "nope", "--json"],
                 ["list", "--json", "--stages", "--pipelines"],
                 ["logs", "--latest", "--json"], ["history", "--limit", "0", "--json"]):
        result = project.pipeline(*argv)
        assert result.code == 2, (argv, result.text)
        assert result.out == "", argv
        lines = result.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("pipeline: error: "), (argv, lines)


def test_a_graph_error_is_one_line_per_problem_on_stderr(project):
    graph = project.graph()
    graph["stages"][1]["id"] = "extract"
    graph["stages"][2]["dependsOn"] = ["nowhere"]
    project.write_graph(graph)
    result = project.pipeline("status", "--json")
    assert result.code == 2 and result.out == ""
    lines = result.err.splitlines()
    assert len(lines) >= 2
    assert all(line.startswith("pipeline/stage-graph.json: ") for line in lines), lines


def test_force_is_given_as_the_reason(project):
    assert project.pipeline("run").code == 0
    result = project.pipeline("run", "--force")
    assert result.code == 0
    assert "▶ [1/3] extract (forced)" in result.out.splitlines()
    assert {s["reason"] for s in project.last_record()["stages"]} == {"forced"}


def test_force_keeps_a_stage_s_own_reason_when_it_has_one(project):
    assert project.pipeline("run").code == 0
    project.path("data/source.txt").write_text("changed\n")
    plan = project.pipeline("run", "--force", "--dry-run").out.splitlines()
    assert " ".join(plan[1].split()) == "run extract input changed: data/source.txt"
    assert " ".join(plan[3].split()) == "run publish forced"
    result = project.pipeline("run", "--force")
    assert "▶ [1/3] extract (input changed: data/source.txt)" in result.out.splitlines()
    assert project.last_record()["stages"][0]["reason"] == "input changed: data/source.txt"
