"""`pipeline report`: the HTML page and the Markdown of one run, and the job summary
`pipeline run` appends to GITHUB_STEP_SUMMARY. Real runs of the fixture project, and
hand-made records for what a real run cannot easily be (old, interrupted, 1,000 stages,
a regression)."""

from __future__ import annotations

import html
import json
import os
import re
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser

from conftest import Project
from test_cmd_history import write_record


class Page(HTMLParser):
    """The parts of a report the tests look at: elements with their classes and data."""

    def __init__(self, text: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def having(self, cls: str) -> list[dict]:
        return [a for _, a in self.elements if cls in (a.get("class") or "").split()]


def bars(text: str) -> dict[str, str]:
    """stage id -> the status class of its timeline bar."""
    found = {}
    for attrs in Page(text).having("bar"):
        statuses = [c for c in attrs["class"].split() if c.startswith("st-")]
        assert len(statuses) == 1, attrs
        assert attrs["data-stage"] not in found, "two bars for one stage"
        found[attrs["data-stage"]] = statuses[0]
    return found


def report_html(project: Project, *args: str) -> str:
    result = project.pipeline("report", "-o", "out.html", *args)
    assert result.code == 0, result.text
    assert result.err == ""
    assert result.out.startswith("wrote out.html (")
    return project.path("out.html").read_text(encoding="utf-8")


def markdown(project: Project, *args: str) -> str:
    result = project.pipeline("report", "--markdown", *args)
    assert result.code == 0, result.text
    return result.out


# -- a real run ---------------------------------------------------------------------


def test_report_of_a_failed_run_shows_timeline_graph_failure_and_hints(project):
    assert project.pipeline("run").code == 0
    assert project.pipeline("run", "--force", env={"STUB_FAIL": "publish"}).code == 1
    text = report_html(project)  # the latest run by default
    run_id = project.last_record()["runId"]
    assert f"run {run_id}" in text
    assert bars(text) == {"extract": "st-succeeded", "transform": "st-succeeded",
                          "publish": "st-failed"}
    page = Page(text)
    nodes = {a["data-stage"]: a["class"] for a in page.having("node")}
    assert nodes == {"extract": "node st-succeeded", "transform": "node st-succeeded",
                     "publish": "node st-failed"}
    edges = {(a["data-from"], a["data-to"]) for a in page.having("edge")}
    assert edges == {("extract", "transform"), ("transform", "publish")}
    # the failure: its last lines, its exit code, how to rerun it
    assert "publish: failing on purpose" in text
    assert "<code>pipeline run-stage publish</code>" in text
    assert "<code>pipeline run full-refresh --from publish</code>" in text
    # the header: the exact command line (recorded), the executor, the counts
    assert "<code>pipeline run --force</code>" in text
    assert "2 succeeded, 1 failed" in text
    # self-contained: nothing to fetch, and a policy that forbids any fetch
    assert "default-src 'none'" in text
    assert not re.search(r"(src|href)=\"(?!#)", text), "a link that is not a fragment"
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    # trends over both runs: each stage ran twice, publish failed once
    rows = {a["data-stage"]: a for a in page.having("trend")}
    assert set(rows) == {"extract", "transform", "publish"}
    assert ">50%<" in text  # publish's success rate


def test_a_degraded_run_reads_as_a_failure(project):
    """--continue-on-error ends `degraded` (exit 1, like `failed`): the console marks it
    ✖; the report must not show it as an unknown status in grey, nor as ❔."""
    result = project.pipeline("run", "--continue-on-error", env={"STUB_FAIL": "transform"})
    assert result.code == 1
    assert project.last_record()["status"] == "degraded"
    text = report_html(project)
    assert '<span class="badge st-degraded" id="run-status">degraded</span>' in text
    assert re.search(r"\.st-failed,\.st-degraded\{--c:var\(--fail\)\}", text)
    assert markdown(project).startswith("### ❌ full-refresh: degraded\n")


def test_a_fast_path_run_shows_its_stages_up_to_date_and_their_trends(project):
    """A run where nothing changed (the fast path: the most common run) records a count,
    not its stages. Its report drew every stage grey as `not in this run`, listed none
    and had no trends at all: now they are up to date, in the graph, the table and the
    trends of the runs before it."""
    for _ in range(3):  # ran; up to date (and the stamp written); the fast path
        assert project.pipeline("run").code == 0
    record = project.last_record()
    assert record["stages"] == [] and record["fastPath"]["stages"] == 3
    page = Page(report_html(project))
    ids = ["extract", "transform", "publish"]
    assert {a["data-stage"]: a["class"] for a in page.having("node")} == {
        sid: "node st-up-to-date" for sid in ids}
    rows = [a for tag, a in page.elements if tag == "tr" and a.get("id", "").startswith("s-")]
    assert len(rows) == 3
    assert [a["data-stage"] for a in page.having("trend")] == ids
    assert bars(report_html(project)) == {}  # nothing ran: no bar
    # the partial fast path: transform's script changed, extract is up to date unlisted
    with project.path("stages/stub.mjs").open("a") as f:
        f.write("// changed\n")
    assert project.pipeline("run").code == 0
    assert [s["id"] for s in project.last_record()["stages"]] == ["transform", "publish"]
    page = Page(report_html(project))
    assert {a["data-stage"]: a["class"] for a in page.having("node")} == {
        "extract": "node st-up-to-date", "transform": "node st-succeeded",
        "publish": "node st-up-to-date"}
    assert [a["data-stage"] for a in page.having("trend")] == ids


def test_a_plain_doit_run_shows_its_exact_command_line(project):
    """The header shows the command line that started the run; a run under plain doit
    showed `doit run`, rebuilt, whatever doit was given."""
    result = project.doit("run", "--always-execute", "full-refresh")
    assert result.code == 0, result.text
    assert project.last_record()["options"]["argv"] == [
        "doit", "run", "--always-execute", "full-refresh"]
    text = report_html(project)
    assert "<code>doit run --always-execute full-refresh</code></dd>" in text
    assert "`doit run --always-execute full-refresh`" in markdown(project)


def test_html_and_markdown_count_the_stages_alike(project):
    """The header's counts: one order (that of the statuses, not of the stages)."""
    assert project.pipeline("run").code == 0
    assert project.pipeline("run", "--force", env={"STUB_FAIL": "publish"}).code == 1
    assert project.pipeline("run").code == 0  # publish again, the others up to date
    assert [s["status"] for s in project.last_record()["stages"]] == [
        "up-to-date", "up-to-date", "succeeded"]
    assert "<dd>1 succeeded, 2 up-to-date</dd>" in report_html(project)
    assert "; 1 succeeded, 2 up-to-date." in markdown(project)


def test_markdown_and_the_job_summary_of_pipeline_run(project, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    env = {"GITHUB_STEP_SUMMARY": str(summary), "STUB_FAIL": "transform"}
    assert project.pipeline("run", env=env).code == 1
    text = summary.read_text()
    assert text.startswith("earlier step\n### ❌ full-refresh: failed")  # appended
    assert "| ❌ | transform | failed |" in text
    assert "| ✅ | extract | succeeded |" in text
    assert "transform: failing on purpose" in text
    assert "Rerun: `pipeline run-stage transform` or `pipeline run full-refresh --from " \
           "transform`" in text
    # the same Markdown as the command prints
    assert markdown(project) in text
    # --no-summary; and run-stage appends too
    assert project.pipeline("run", "--no-summary", env=env).code == 1
    assert summary.read_text() == text
    assert project.pipeline("run-stage", "extract", env=env).code == 0
    assert re.findall(r"^### ", summary.read_text(), re.M) == ["### "] * 2
    assert "### ✅ extract: succeeded" in summary.read_text()


def test_an_unwritable_job_summary_is_a_warning_and_keeps_the_run_exit_code(project,
                                                                              tmp_path):
    env = {"GITHUB_STEP_SUMMARY": str(tmp_path / "missing" / "summary.md")}
    result = project.pipeline("run", env=env)
    assert result.code == 0
    assert result.err.count("\n") == 1 and result.err.startswith(
        "pipeline: warning: cannot append the job summary to GITHUB_STEP_SUMMARY")
    result = project.pipeline("run", "--force", env={**env, "STUB_FAIL": "extract"})
    assert result.code == 1
    assert "warning: cannot append the job summary" in result.err


def test_a_secret_printed_by_a_failing_stage_stays_masked(project, tmp_path):
    secret = "s3cr3t-T0ken-value-4711"
    graph = project.graph()
    graph["stages"][0]["environment"] = [{"name": "API_TOKEN", "required": False}]
    graph["stages"][0]["command"] = {"executable": "python3", "args": [
        "-c", "import os, sys; print('token=' + os.environ['API_TOKEN']); "
              "print('<img src=x onerror=alert(1)> | ``` </pre>'); sys.exit(4)"]}
    project.write_graph(graph)
    summary = tmp_path / "summary.md"
    env = {"API_TOKEN": secret, "GITHUB_STEP_SUMMARY": str(summary)}
    assert project.pipeline("run", env=env).code == 1
    html = report_html(project)
    md = markdown(project)
    for text in (html, md, summary.read_text()):
        assert secret not in text
        assert "token=***" in text
        assert "exit code 4" in text
    # what a stage prints is text, never markup: escaped in HTML, fenced in Markdown
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt; | ``` &lt;/pre&gt;" in html
    assert "\n````text\ntoken=***\n<img src=x onerror=alert(1)> | ``` </pre>\n````\n" in md


def test_a_retried_stage_shows_its_attempts_as_segments(project):
    graph = project.graph()
    graph["stages"][0].update(retries=2, retryDelay=0.05, command={
        "executable": "python3", "args": ["-c", (
            "import os, sys, time\n"  # fails twice, then succeeds
            "os.makedirs('tries', exist_ok=True); n = len(os.listdir('tries'))\n"
            "open(f'tries/{n}', 'w').close(); time.sleep(0.05)\n"
            "sys.exit(0 if n == 2 else 5)")]},
        outputs=[])
    graph["stages"][1]["inputs"] = []
    project.write_graph(graph)
    assert project.pipeline("run", "--only", "extract").code == 0
    page = Page(report_html(project))
    kinds = [a["class"] for a in page.having("seg")]
    assert kinds == ["seg failed-attempt", "seg failed-attempt", "seg attempt"]
    assert "3 attempts: failed" in report_html(project)


def axis_labels(text: str) -> list[str]:
    """The timeline's tick labels, left to right."""
    axis = re.search(r'<g class="axis">(.*?)</g>', text, re.S).group(1)
    return re.findall(r"<text[^>]*>([^<]*)</text>", axis)


def test_timeline_ticks_of_a_short_run_are_distinct(project):
    """The bundled pipeline runs in well under a second: a 50 ms step printed to a tenth
    of a second read 0.0s 0.1s 0.1s 0.1s 0.2s. Each tick says its own time."""
    for run_id, length in (("20260101T000000.000Z_full-refresh", 300),
                           ("20260101T000001.000Z_full-refresh", 30),
                           ("20260101T000002.000Z_full-refresh", 130_000)):
        write_record(project, run_id, {"extract": ("succeeded", length)})
        record = json.loads(project.path(f".pipeline-runs/{run_id}.json").read_text())
        record["durationMs"] = length
        record["stages"][0]["startedAt"] = record["startedAt"]
        project.path(f".pipeline-runs/{run_id}.json").write_text(json.dumps(record))
        labels = axis_labels(report_html(project, run_id))
        assert len(labels) >= 3, labels
        assert len(set(labels)) == len(labels), labels
    assert axis_labels(report_html(project, "20260101T000000"))[:3] == ["0.00s", "0.05s",
                                                                         "0.10s"]
    assert axis_labels(report_html(project, "20260101T000002"))[:4] == [
        "0.0s", "20.0s", "40.0s", "1m00s"]


# -- runs in progress, interrupted, and from before the report -------------------------


def test_a_run_in_progress_and_then_interrupted(project, tmp_path):
    graph = project.graph()
    graph["stages"][1]["command"] = {"executable": "python3", "args": [
        "-c", "import time; print('working', flush=True); time.sleep(30)"]}
    project.write_graph(graph)
    summary = tmp_path / "summary.md"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
    runner = subprocess.Popen([sys.executable, "-m", "orchestrator", "run"],
                              cwd=project.root, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        log = None
        for _ in range(200):
            logs = list(project.path(".pipeline-runs").glob("*/transform.log"))
            if logs and "working" in logs[0].read_text():
                log = logs[0]
                break
            time.sleep(0.1)
        assert log is not None, "the slow stage did not start"
        text = report_html(project)
        assert bars(text) == {"extract": "st-succeeded", "transform": "st-running"}
        assert "so far (in progress)" in text
        assert "| transform | running |" in markdown(project)
        # why the running stage runs is in its stage-started event, whenever the record
        # was last rewritten: the report of the run in progress says it
        events = project.events(project.last_record())
        started = [e for e in events if e["event"] == "stage-started"
                   and e["stageId"] == "transform"]
        assert started and started[0]["reason"], events
        assert html.escape(started[0]["reason"]) in text
        os.killpg(runner.pid, signal.SIGINT)
        assert runner.wait(timeout=30) == 130
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
    text = report_html(project)
    assert project.last_record()["status"] == "interrupted"
    assert bars(text) == {"extract": "st-succeeded", "transform": "st-failed"}
    assert "badge st-interrupted" in text
    # the interrupted run still wrote its job summary
    assert summary.read_text().startswith("### ⚠️ full-refresh: interrupted")
    assert "| ❌ | transform | failed |" in summary.read_text()


def test_records_written_before_the_report_and_killed_runs(project):
    runs = project.path(".pipeline-runs")
    runs.mkdir()
    old = {"runId": "20260101T000000.000Z_full-refresh", "status": "failed",
           "startedAt": "2026-01-01T00:00:00.000Z", "pipelineId": "full-refresh",
           "options": {"command": "run", "only": ["extract"], "force": True, "jobs": 2},
           "stages": [{"id": "extract", "status": "failed", "durationMs": 20,
                       "startedAt": "2026-01-01T00:00:00.010Z", "error": "exit code 1"}]}
    (runs / f"{old['runId']}.json").write_text(json.dumps(old))
    # killed before it wrote anything but its claim; then marked by the next run
    dead = {"runId": "20260101T000001.000Z_full-refresh", "status": "interrupted",
            "startedAt": "2026-01-01T00:00:01.000Z", "pipelineId": "full-refresh",
            "finishedAt": None, "durationMs": None, "worker-pool": {"new": "field"},
            "stages": [{"id": "extract", "status": "failed", "worker": "tcp://10.0.0.1",
                        "startedAt": "2026-01-01T00:00:01.500Z",
                        "error": "the run's process died"},
                       {"id": "transform", "status": "pending"}]}
    (runs / f"{dead['runId']}.json").write_text(json.dumps(dead))
    text = report_html(project, old["runId"][:16])
    assert "pipeline run full-refresh --only extract --force -j 2" in text
    assert "rebuilt from the recorded options" in text
    assert bars(text) == {"extract": "st-failed"}
    text = report_html(project, "--latest")
    assert bars(text) == {"extract": "st-failed"}
    assert "worker tcp://10.0.0.1" in text
    assert "unknown (at least 0.5s)" in text
    md = markdown(project, f".pipeline-runs/{dead['runId']}.json")
    assert "### ⚠️ full-refresh: interrupted" in md
    # still `running`, its process long gone (killed -9, or a restart): said so
    gone = dict(dead, runId="20260101T000002.000Z_full-refresh", status="running",
                startedAt="2026-01-01T00:00:02.000Z", pid=2 ** 22 + 7)
    (runs / f"{gone['runId']}.json").write_text(json.dumps(gone))
    text = report_html(project, "--latest")
    assert f"its process (pid {gone['pid']}) is gone" in text
    assert "is gone: the next run marks it interrupted" in markdown(project)


def test_a_broken_graph_is_a_note_and_the_records_still_report(project):
    assert project.pipeline("run").code == 0
    project.path("pipeline/stage-graph.json").write_text("{ not json")
    text = report_html(project)
    assert "the stage graph does not load" in text
    assert set(bars(text)) == {"extract", "transform", "publish"}
    assert Page(text).having("node") == []


def test_a_doctored_log_path_is_not_embedded(project):
    assert project.pipeline("run", env={"STUB_FAIL": "extract"}).code == 1
    record = project.last_record()
    project.path("private.txt").write_text("do not embed me\n")
    record["stages"][0]["logPath"] = "private.txt"
    for path in project.path(".pipeline-runs").glob("*/extract.log"):
        path.unlink()
    project.path(f".pipeline-runs/{record['runId']}.json").write_text(json.dumps(record))
    text = report_html(project)
    assert "do not embed me" not in text
    assert "It printed nothing (or its log is gone)" in text


# -- trends --------------------------------------------------------------------------


def test_a_regression_is_flagged_like_history_does(project):
    for i, ms in enumerate([1000, 1100, 900, 1000, 2000]):
        write_record(project, f"20260101T0000{i:02d}.000Z_full-refresh",
                     {"extract": ("succeeded", ms), "transform": ("succeeded", 100)})
    write_record(project, "20260101T000010.000Z_other", {"x": ("succeeded", 5)},
                 pipeline="other")  # another pipeline: not in the trends
    history = json.loads(project.pipeline("history", "--json").out)
    extract = next(s for s in history["stages"] if s["id"] == "extract")
    assert extract["regression"] and extract["medianMs"] == 1000 and extract["p95Ms"] == 1820
    text = report_html(project, "20260101T000004")
    page = Page(text)
    assert [a["data-stage"] for a in page.having("regression")] == ["extract"]
    assert "Trends over the last 5 run(s) of full-refresh" in text
    md = markdown(project, "20260101T000004")
    assert "#### Slower than usual (1)" in md
    assert "| extract | 1.0s | 1.8s | 2.0s | +100% |" in md
    # --runs: fewer runs, other numbers; an earlier run sees only the runs before it
    assert "Trends over the last 2 run(s)" in report_html(project, "20260101T000004",
                                                          "--runs", "2")
    assert "Trends over the last 3 run(s)" in report_html(project, "20260101T000002")


def test_a_thousand_stage_report_is_made_in_under_a_second_and_two_megabytes(project):
    """Issue 18's bound, on 30 recorded runs of 1,000 stages (the trends read them all):
    the whole command, interpreter start included, the best of three tries (the machine
    may be busy with other work); docs/performance.md has the benchmark's times."""
    runs = project.path(".pipeline-runs")
    runs.mkdir()
    for n in range(30):
        stages = []
        for i in range(1000):
            status = "failed" if (n == 29 and i % 100 == 7) else "succeeded"
            stages.append({"id": f"stage-with-a-longish-name-{i:04d}", "status": status,
                           "reason": "input changed: data/some/longer/path.json",
                           "startedAt": f"2026-01-01T00:{n:02d}:{i % 60:02d}.{i % 1000:03d}Z",
                           "durationMs": 500 + (i * 37 + n * 11) % 700, "exitCode": 0,
                           "cpuSeconds": 0.25, "peakRssKb": 40000,
                           "attempts": [{"attempt": 1, "status": status, "durationMs": 500}],
                           "error": "exit code 1" if status == "failed" else None})
        run_id = f"20260101T00{n:02d}00.000Z_big"
        record = {"runId": run_id, "pipelineId": "big", "status": "failed",
                  "startedAt": f"2026-01-01T00:{n:02d}:00.000Z", "durationMs": 61000,
                  "stages": stages}
        (runs / f"{run_id}.json").write_text(json.dumps(record))
    took = []
    for _ in range(3):
        began = time.perf_counter()
        text = report_html(project)
        took.append(time.perf_counter() - began)
    assert min(took) < 1.0, took
    size = len(text.encode())
    assert size < 2_000_000, size
    assert len(bars(text)) == 1000
    assert "Trends over the last 30 run(s) of big" in text
    md = markdown(project)
    assert len(md.encode()) < 100_000  # a job summary, not a dump
    assert "10 failed" in md and "stage(s) not listed" in md


# -- bad input ---------------------------------------------------------------------------


def test_output_is_relative_to_where_the_command_started(project, tmp_path):
    assert project.pipeline("run").code == 0
    result = project.pipeline("-C", project.root.name, "report", "-o", "here.html",
                              cwd=project.root.parent)
    assert result.code == 0, result.text
    assert (project.root.parent / "here.html").is_file()
    assert not project.path("here.html").exists()
    result = project.pipeline("report", "-o", "-")
    assert result.code == 0 and result.out.startswith("<!doctype html>")


def test_bad_input_is_one_line_and_exit_2(project, tmp_path):
    result = project.pipeline("report")
    assert (result.code, result.err) == (2, "pipeline: error: no runs recorded yet under "
                                            ".pipeline-runs/\n")
    assert project.pipeline("run").code == 0
    cases = {("nope",): "unknown run 'nope'",
             ("--latest", "x"): "give a RUN_ID or --latest, not both",
             ("--runs", "0"): "--runs 0: give a number of runs of at least 1",
             ("-o", str(tmp_path)): "is a directory",
             ("-o", str(tmp_path / "no" / "r.html")): "cannot write it: No such file"}
    for args, message in cases.items():
        result = project.pipeline("report", *args)
        assert result.code == 2, (args, result.text)
        assert result.err.count("\n") == 1 and message in result.err, result.err
        assert "Traceback" not in result.err
    assert not list(tmp_path.glob("**/.r.html*"))
