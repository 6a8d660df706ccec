"""`pipeline history`, and the GitHub Actions workflow we ship as the CI example."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml
from conftest import REPO, Project


def history(project: Project, *args: str) -> dict:
    result = project.pipeline("history", "--json", *args)
    assert result.code == 0, result.text
    return json.loads(result.out)


def by_id(data: dict) -> dict[str, dict]:
    return {stage["id"]: stage for stage in data["stages"]}


def write_record(project: Project, run_id: str, stages: dict[str, tuple[str, int | None]],
                 pipeline: str | None = "full-refresh") -> None:
    """A run record in the shape `pipeline run` writes; `stages` maps id -> (status, ms)."""
    runs = project.path(".pipeline-runs")
    runs.mkdir(exist_ok=True)
    entries = [{"id": sid, "status": status, "reason": None, "error": None,
                "startedAt": None, "durationMs": ms, "exitCode": 0 if ms else None,
                "logPath": None, "cpuSeconds": None, "peakRssKb": None, "fingerprint": None,
                "hooks": [], "attempts": []}
               for sid, (status, ms) in stages.items()]
    stamp = run_id.split("_", 1)[0]
    started = (f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:"
               f"{stamp[13:19]}Z")
    failed = any(status == "failed" for status, _ in stages.values())
    record = {"runId": run_id, "pipelineId": pipeline, "graphPath": "pipeline/stage-graph.json",
              "status": "failed" if failed else "succeeded", "startedAt": started,
              "finishedAt": started, "durationMs": 1, "options": {"command": "run"},
              "stages": entries}
    (runs / f"{run_id}.json").write_text(json.dumps(record, indent=2))


def synthetic_runs(project: Project, durations: dict[str, list[int | None]]) -> None:
    """One succeeded run per position in the duration lists (None: up to date then)."""
    count = max(len(values) for values in durations.values())
    for i in range(count):
        stages = {}
        for sid, values in durations.items():
            if i < len(values):
                ms = values[i]
                stages[sid] = ("succeeded", ms) if ms is not None else ("up-to-date", None)
        write_record(project, f"20260101T0000{i:02d}.000Z_full-refresh", stages)


# -- real runs on the fixture project ---------------------------------------------------


def run_four_times(project: Project) -> None:
    """succeeded, forced, forced with transform failing, then a plain run that reruns
    transform (its last run failed) and finds publish up to date (same input content)."""
    assert project.pipeline("run").code == 0
    assert project.pipeline("run", "--force").code == 0
    assert project.pipeline("run", "--force", env={"STUB_FAIL": "transform"}).code == 1
    assert project.pipeline("run").code == 0
    assert project.statuses() == {"extract": "up-to-date", "transform": "succeeded",
                                  "publish": "up-to-date"}


def test_counts_and_success_rates_over_real_runs(project):
    run_four_times(project)
    data = history(project)
    assert data["runs"] == 4 and data["pipeline"] is None
    assert [s["id"] for s in data["stages"]] == ["extract", "transform", "publish"]
    stages = by_id(data)
    # extract was up to date in the last run: listed apart, not counted as a run
    assert (stages["extract"]["runs"], stages["extract"]["succeeded"],
            stages["extract"]["upToDate"]) == (3, 3, 1)
    assert (stages["transform"]["runs"], stages["transform"]["succeeded"],
            stages["transform"]["failed"], stages["transform"]["successRate"]) == (4, 3, 1, 0.75)
    # publish was left pending when transform failed: not a run either
    assert (stages["publish"]["runs"], stages["publish"]["successRate"],
            stages["publish"]["upToDate"]) == (2, 1.0, 1)
    for stage in data["stages"]:
        assert stage["medianMs"] > 0 and stage["lastMs"] > 0
        assert stage["regression"] is False  # stub stages take far less than 0.5 s
        assert stage["lastStatus"] == "succeeded"


def test_last_duration_is_that_of_the_newest_run_where_the_stage_ran(project):
    run_four_times(project)
    records = project.records()
    stages = by_id(history(project))
    extract_ran = [s for r in records for s in r["stages"]
                   if s["id"] == "extract" and s["status"] == "succeeded"]
    assert stages["extract"]["lastMs"] == extract_ran[-1]["durationMs"]
    transform = [s["durationMs"] for r in records for s in r["stages"] if s["id"] == "transform"]
    assert stages["transform"]["lastMs"] == transform[-1]
    assert stages["transform"]["medianMs"] == round(sorted(transform)[1:3][0] / 2
                                                    + sorted(transform)[1:3][1] / 2)


def test_limit_reads_only_the_newest_runs(project):
    run_four_times(project)
    data = history(project, "--limit", "2")
    assert data["runs"] == 2
    transform = by_id(data)["transform"]
    assert (transform["runs"], transform["failed"], transform["successRate"]) == (2, 1, 0.5)
    # pending in the failed run, up to date in the last: no run, so no rate or durations
    publish = by_id(data)["publish"]
    assert (publish["runs"], publish["upToDate"], publish["successRate"], publish["medianMs"],
            publish["lastMs"], publish["lastVsMedian"]) == (0, 1, None, None, None, None)
    result = project.pipeline("history", "--limit", "2")
    publish_line = next(line for line in result.out.splitlines() if " publish " in line)
    assert publish_line.split() == ["↷", "publish", "0", "0", "-", "1", "-", "-", "-"]


def test_pipeline_filter_leaves_out_run_stage_records(project):
    run_four_times(project)
    assert project.pipeline("run-stage", "extract").code == 0
    assert by_id(history(project))["extract"]["runs"] == 4
    data = history(project, "--pipeline", "full-refresh")
    assert data["runs"] == 4 and data["pipeline"] == "full-refresh"
    assert by_id(data)["extract"]["runs"] == 3


def test_human_table_fits_100_columns(project):
    run_four_times(project)
    result = project.pipeline("history")
    assert result.code == 0, result.text
    lines = result.out.splitlines()
    assert lines[0].startswith("4 runs of every pipeline")
    assert all(len(line) <= 100 for line in lines)
    transform = next(line for line in lines if " transform " in line)
    assert transform.split()[1:4] == ["transform", "4", "1"] and "75%" in transform


# -- the median and regression rule, on synthetic records ------------------------------


def test_median_last_and_regression_rule(project):
    synthetic_runs(project, {
        "slow": [1000, 1000, 1000, 1000, 1600],  # +60% over a 1 s median: a regression
        "borderline": [1000, 1000, 1000, 1000, 1500],  # exactly +50%: not more than 50%
        "quick": [100, 100, 100, 100, 300],  # +200%, but a 0.1 s median is noise
        "even": [1000, 2000, 1200, 1100],  # median of an even count: 1150
        "cached": [800, None, None, None, 2000],  # up-to-date runs do not enter the median
    })
    data = history(project)
    assert data["runs"] == 5
    stages = by_id(data)
    assert (stages["slow"]["medianMs"], stages["slow"]["lastMs"],
            stages["slow"]["lastVsMedian"], stages["slow"]["regression"]) == (1000, 1600, 0.6,
                                                                             True)
    assert (stages["borderline"]["lastVsMedian"], stages["borderline"]["regression"]) == (0.5,
                                                                                          False)
    assert (stages["quick"]["lastVsMedian"], stages["quick"]["regression"]) == (2.0, False)
    assert (stages["even"]["medianMs"], stages["even"]["lastMs"]) == (1150, 1100)
    assert stages["even"]["lastVsMedian"] == round((1100 - 1150) / 1150, 3)
    assert stages["even"]["runs"] == 4 and stages["even"]["regression"] is False
    assert (stages["cached"]["runs"], stages["cached"]["upToDate"],
            stages["cached"]["medianMs"], stages["cached"]["regression"]) == (2, 3, 1400, False)


def test_regression_is_flagged_in_the_table(project):
    synthetic_runs(project, {"slow": [1000, 1000, 1700], "steady": [900, 1000, 950, 1000, 900]})
    result = project.pipeline("history")
    assert result.code == 0, result.text
    slow = next(line for line in result.out.splitlines() if " slow " in line)
    steady = next(line for line in result.out.splitlines() if " steady " in line)
    assert slow.startswith("!") and "+70%" in slow and slow.endswith("slower")
    assert "1.0s" in slow and "1.7s" in slow
    assert "slower" not in steady and "-5%" in steady
    assert "more than 50% longer than the median" in result.out


def test_failed_runs_count_against_the_success_rate(project):
    write_record(project, "20260101T000000.000Z_full-refresh", {"a": ("succeeded", 10)})
    write_record(project, "20260101T000001.000Z_full-refresh", {"a": ("failed", 5)})
    write_record(project, "20260101T000002.000Z_full-refresh", {"a": ("failed", 5)})
    stage = by_id(history(project))["a"]
    assert (stage["runs"], stage["succeeded"], stage["failed"]) == (3, 1, 2)
    assert stage["successRate"] == 0.333 and stage["lastStatus"] == "failed"


def test_records_of_another_tool_are_not_counted(project):
    from test_cmd_logs import add_foreign_records

    run_four_times(project)
    add_foreign_records(project)
    data = history(project)
    assert data["runs"] == 4
    assert [s["id"] for s in data["stages"]] == ["extract", "transform", "publish"]
    assert history(project, "--limit", "1")["runs"] == 1
    assert by_id(history(project, "--limit", "1"))["transform"]["lastStatus"] == "succeeded"
    assert history(project, "--pipeline", "full-refresh")["runs"] == 4


def test_unreadable_records_are_skipped(project):
    write_record(project, "20260101T000000.000Z_full-refresh", {"a": ("succeeded", 10)})
    project.path(".pipeline-runs/20260101T000001.000Z_full-refresh.json").write_text("")
    project.path(".pipeline-runs/20260101T000002.000Z_full-refresh.json").write_text("[1]")
    data = history(project)
    assert data["runs"] == 1 and by_id(data)["a"]["runs"] == 1


# -- no records, bad input ----------------------------------------------------------------


def test_no_records_is_a_friendly_line_and_empty_json(project):
    result = project.pipeline("history")
    assert result.code == 0
    assert result.out.startswith("No runs recorded yet under .pipeline-runs/")
    assert history(project) == {"runs": 0, "pipeline": None, "fastPathRuns": 0,
                                "partialFastPathRuns": 0, "stages": []}


def test_a_pipeline_in_the_graph_without_runs_is_not_an_error(project):
    result = project.pipeline("history", "--pipeline", "full-refresh")
    assert result.code == 0, result.text
    assert "No runs of pipeline 'full-refresh'" in result.out
    assert history(project, "--pipeline", "full-refresh") == {
        "runs": 0, "pipeline": "full-refresh", "fastPathRuns": 0, "partialFastPathRuns": 0,
        "stages": []}


def test_unknown_pipeline_exits_2_with_a_suggestion(project):
    result = project.pipeline("history", "--pipeline", "full-refrsh")
    assert result.code == 2 and result.out == ""
    assert result.err.strip().splitlines() == [
        "pipeline: error: unknown pipeline 'full-refrsh': in no run record nor in the graph "
        "(did you mean 'full-refresh'?)"]


def test_a_pipeline_known_only_from_records_needs_no_graph(project):
    write_record(project, "20260101T000000.000Z_old-pipeline", {"a": ("succeeded", 10)},
                 pipeline="old-pipeline")
    project.path("pipeline/stage-graph.json").write_text("{ broken")
    assert history(project, "--pipeline", "old-pipeline")["runs"] == 1
    assert history(project)["runs"] == 1  # no --pipeline: the graph is never read
    result = project.pipeline("history", "--pipeline", "old-pipelin")
    assert result.code == 2
    assert "did you mean 'old-pipeline'?" in result.err and "graph does not load" in result.err
    assert "Traceback" not in result.text


def test_limit_must_be_positive(project):
    for value in ("0", "-3"):
        result = project.pipeline("history", "--limit", value)
        assert result.code == 2 and "at least 1" in result.err
    result = project.pipeline("history", "--limit", "many")
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1


# -- the CI example -------------------------------------------------------------------------


WORKFLOW = REPO / ".github" / "workflows" / "pipeline.yml"


def test_workflow_is_valid_yaml_with_the_documented_steps():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"pull_request", "schedule", "workflow_dispatch"} <= set(triggers)
    assert triggers["schedule"][0]["cron"]
    jobs = workflow["jobs"]
    assert len(jobs) >= 1
    steps = [step for job in jobs.values() for step in job["steps"]]
    uses = [step.get("uses", "") for step in steps]
    runs = [step.get("run", "") for step in steps]
    setup_python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    setup_node = next(s for s in steps if s.get("uses", "").startswith("actions/setup-node"))
    assert str(setup_python["with"]["python-version"]) == "3.11"
    assert str(setup_node["with"]["node-version"]) == "20"
    assert any(u.startswith("actions/checkout") for u in uses)
    assert any("pip install" in r for r in runs)
    commands = "\n".join(runs)
    for command in ("pipeline doctor", "pipeline run full-refresh --dry-run",
                    "pipeline run full-refresh --only create-module-list",
                    "pipeline run full-refresh --force"):
        assert command in commands
    # doctor comes before any run, in every job that runs the pipeline
    for job in jobs.values():
        text = [s.get("run", "") for s in job["steps"]]
        run_at = [i for i, r in enumerate(text) if "pipeline run" in r]
        if run_at:
            doctor_at = [i for i, r in enumerate(text) if "pipeline doctor" in r]
            assert doctor_at and doctor_at[0] < run_at[0]
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and all(s.get("if") == "always()" for s in uploads)
    assert all(".pipeline-runs" in str(s["with"]["path"]) for s in uploads)
    # each job makes the HTML report before its upload, and uploads it with the records
    for job in jobs.values():
        names = [s.get("uses", "") or s.get("run", "") for s in job["steps"]]
        report_at = [i for i, n in enumerate(names)
                     if "pipeline report --latest -o .pipeline-runs/report.html" in n]
        upload_at = [i for i, n in enumerate(names) if n.startswith("actions/upload-artifact")]
        assert report_at and upload_at and report_at[0] < upload_at[0]
        assert job["steps"][report_at[0]].get("if") == "always()"
        # in the uploaded folder: the records stay at the artifact's top level
        assert ".pipeline-runs/" in job["steps"][upload_at[0]]["with"]["path"].split()
    # upload-artifact leaves out dot-directories unless told otherwise
    assert all(s["with"].get("include-hidden-files") is True for s in uploads)
    # the pull request job must not do the forced rebuild, the scheduled one must
    forced = [job for job in jobs.values()
              if any("--force" in s.get("run", "") for s in job["steps"])]
    assert forced and all("pull_request" not in str(job.get("if", "")) for job in forced)


def test_nightly_job_keeps_earlier_records_for_the_trends():
    """A fresh CI machine has only its own run: the report's trends (and `slower`) need
    the records of earlier nights. The nightly job restores them from the Actions cache
    before it runs, and saves them with this run's, even when the run failed."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow["jobs"]["rebuild"]["steps"]
    names = [s.get("uses", "") or s.get("run", "") for s in steps]
    restore = [i for i, n in enumerate(names) if n.startswith("actions/cache/restore@")]
    save = [i for i, n in enumerate(names) if n.startswith("actions/cache/save@")]
    run = next(i for i, n in enumerate(names) if "pipeline run full-refresh --force" in n)
    report = next(i for i, n in enumerate(names) if "pipeline report --latest" in n)
    assert restore and save and restore[0] < run < report < save[0]
    restored, saved = steps[restore[0]]["with"], steps[save[0]]["with"]
    assert steps[save[0]].get("if") == "always()"
    # one path list for both (a cache restores only under the paths it was saved with);
    # the records, never the machine's own caches or its lock
    assert restored["path"] == saved["path"]
    assert ".pipeline-runs/" in restored["path"].split()
    assert {"!.pipeline-runs/.cache/", "!.pipeline-runs/.lock"} <= set(restored["path"].split())
    # a new key each run (a cache entry is never overwritten), found again by its prefix
    assert saved["key"] == restored["key"] and "github.run_id" in saved["key"]
    prefix = restored["restore-keys"].strip()
    assert saved["key"].startswith(prefix) and "github.run_id" not in prefix


def run_steps(project: Project, steps: list[dict], names: list[str], env_file) -> None:
    """Run the workflow steps named `names` in the project, as GitHub runs a `run:` step
    (bash -eo pipefail; GITHUB_ENV lines become the next steps' environment), with
    `pipeline` this checkout's."""
    bin_dir = env_file.parent / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "pipeline"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m orchestrator "$@"\n')
    wrapper.chmod(0o755)
    for name in names:
        step = next(s for s in steps if s.get("name") == name)
        extra = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        env = {**os.environ, **extra, "GITHUB_ENV": str(env_file),
               "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               "PYTHONPATH": str(REPO)}
        subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                       cwd=project.root, env=env, check=True, capture_output=True)


def test_nightly_report_is_of_this_night_only(project, tmp_path):
    """With earlier nights' records restored, a night whose run recorded nothing (doctor
    failed first) must not upload the newest restored run, or last night's report.html,
    as its own; a night that ran reports its run, with the earlier ones in its trends."""
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["rebuild"]["steps"]
    shown = ["Remember the newest earlier record", "What ran, how long each stage took, "
             "what failed", "Report of the run"]
    assert project.pipeline("run").code == 0  # last night, as restored from the cache
    report = project.path(".pipeline-runs/report.html")
    report.write_text("last night's report")
    env_file = tmp_path / "github_env"
    env_file.write_text("")
    run_steps(project, steps, shown, env_file)  # tonight: doctor failed, nothing ran
    assert not report.exists()
    env_file.write_text("")
    run_steps(project, steps, shown[:1], env_file)
    assert project.pipeline("run", "--force").code == 0  # tonight ran
    run_steps(project, steps, shown[1:], env_file)
    text = report.read_text()
    assert project.last_record()["runId"] in text
    assert "Trends over the last 2 run(s)" in text


def test_workflow_commands_exist_in_this_cli(project):
    """The flags the workflow uses are accepted by this version of the CLI."""
    assert project.pipeline("run", "full-refresh", "--dry-run").code == 0
    assert project.pipeline("run", "full-refresh", "--only", "extract").code == 0
    assert project.pipeline("run", "full-refresh", "--force").code == 0
    assert project.pipeline("logs", "--latest").code == 0
    assert project.pipeline("report", "--latest", "-o", "report.html").code == 0
    assert project.path("report.html").stat().st_size > 0
