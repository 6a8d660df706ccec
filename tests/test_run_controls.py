"""Run controls: --continue-on-error, --jobs, timeouts and retries, counted from records."""

from __future__ import annotations

from datetime import datetime


def sleeper(name: str, seconds: float) -> dict:
    code = (f"import time; print('{name} start', flush=True); time.sleep({seconds}); "
            f"print('{name} end')")
    return {"executable": "python3", "args": ["-c", code]}


def add_stages(project, pipeline: str, *stages: dict) -> None:
    graph = project.graph()
    graph["stages"].extend(stages)
    graph["pipelines"].append({"id": pipeline, "stages": [s["id"] for s in stages]})
    project.write_graph(graph)


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_continue_on_error_runs_independent_stages_and_blocks_dependents(project):
    graph = project.graph()
    graph["stages"].append({
        "id": "side", "command": {"executable": "python3",
                                  "args": ["stages/stub.py", "side", "--in", "data/source.txt",
                                           "--out", "build/side.json"]},
        "inputs": [{"artifact": "source"}], "outputs": []})
    graph["pipelines"][0]["stages"].append("side")
    project.write_graph(graph)
    result = project.pipeline("run", "--continue-on-error", env={"STUB_FAIL": "transform"})
    assert result.code == 1
    assert project.counts() == {"extract": 1, "transform": 1, "side": 1}
    record = project.last_record()
    assert record["status"] == "degraded"
    assert project.statuses(record) == {"extract": "succeeded", "transform": "failed",
                                        "publish": "blocked", "side": "succeeded"}
    assert "⊘ [3/4] publish blocked: upstream 'transform' failed" in result.err
    # next time the blocked stage says why it runs
    project.pipeline("run")
    publish = next(s for s in project.last_record()["stages"] if s["id"] == "publish")
    assert publish["reason"] == "blocked in the last run"


def test_without_continue_a_failure_stops_independent_stages_too(project):
    boom = {"id": "boom", "command": {"executable": "python3",
                                      "args": ["-c", "raise SystemExit(2)"]}}
    add_stages(project, "pair", boom, {"id": "after", "command": sleeper("after", 0)})
    assert project.pipeline("run", "pair").code == 1
    assert project.statuses() == {"boom": "failed", "after": "pending"}
    assert project.last_record()["status"] == "failed"


def test_jobs_run_independent_stages_at_the_same_time(project):
    add_stages(project, "par", {"id": "a", "command": sleeper("a", 1.5)},
               {"id": "b", "command": sleeper("b", 1.5)})
    result = project.pipeline("run", "par", "--jobs", "2")
    assert result.code == 0, result.text
    assert "[a] a start" in result.out and "[b] b end" in result.out
    a, b = project.last_record()["stages"]
    a_start, b_start = parse(a["startedAt"]), parse(b["startedAt"])
    a_end = a_start.timestamp() + a["durationMs"] / 1000
    b_end = b_start.timestamp() + b["durationMs"] / 1000
    # the two intervals overlap: each started before the other ended
    assert a_start.timestamp() < b_end and b_start.timestamp() < a_end
    sequential = project.pipeline("run", "par", "--force", "--jobs", "1")
    assert sequential.code == 0
    a, b = project.last_record()["stages"]
    assert parse(b["startedAt"]).timestamp() >= parse(a["startedAt"]).timestamp() \
        + a["durationMs"] / 1000 - 0.05
    assert "[a]" not in sequential.out


def test_jobs_honour_dependencies(project):
    result = project.pipeline("run", "-j", "2")
    assert result.code == 0, result.text
    stages = {s["id"]: s for s in project.last_record()["stages"]}
    for upstream, downstream in (("extract", "transform"), ("transform", "publish")):
        up = stages[upstream]
        assert parse(stages[downstream]["startedAt"]).timestamp() >= \
            parse(up["startedAt"]).timestamp() + up["durationMs"] / 1000 - 0.05


def test_a_stage_timeout_stops_its_process_group(project):
    code = ("import subprocess, time; "
            "subprocess.Popen(['python3', '-c', 'import time; time.sleep(60)']); "
            "print('started', flush=True); time.sleep(60)")
    add_stages(project, "t", {"id": "hang", "timeout": 1,
                              "command": {"executable": "python3", "args": ["-c", code]}})
    result = project.pipeline("run", "t")
    assert result.code == 1
    assert "hang failed: timed out after 1s" in result.err
    stage = project.last_record()["stages"][0]
    assert stage["error"] == "timed out after 1s" and stage["durationMs"] < 15000
    import subprocess

    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "time.sleep(60)" not in ps  # the grandchild went with its group


def test_timeout_option_applies_to_stages_without_their_own(project):
    add_stages(project, "t", {"id": "slow", "command": sleeper("slow", 30)})
    result = project.pipeline("run", "t", "--timeout", "0.5")
    assert result.code == 1 and "timed out after 0.5s" in result.err
    assert project.last_record()["options"]["timeout"] == 0.5


def flaky(succeed_on: int, retries: int) -> dict:
    code = ("import os, sys; p = '.attempts'; "
            "n = int(open(p).read()) + 1 if os.path.exists(p) else 1; "
            "open(p, 'w').write(str(n)); print('attempt', n); "
            f"sys.exit(0 if n >= {succeed_on} else 1)")
    return {"id": "flaky", "retries": retries, "retryDelay": 0.05,
            "command": {"executable": "python3", "args": ["-c", code]}}


def test_retries_that_recover_record_every_attempt(project):
    add_stages(project, "f", flaky(succeed_on=3, retries=3))
    result = project.pipeline("run", "f")
    assert result.code == 0, result.text
    attempts = project.last_record()["stages"][0]["attempts"]
    assert [(a["attempt"], a["status"], a["exitCode"]) for a in attempts] == [
        (1, "failed", 1), (2, "failed", 1), (3, "succeeded", 0)]
    log = project.path(project.last_record()["stages"][0]["logPath"]).read_text()
    assert "--- attempt 3 of 4 ---" in log and "attempt 3" in log


def test_retries_that_give_up_fail_the_stage(project):
    add_stages(project, "f", flaky(succeed_on=10, retries=1))
    result = project.pipeline("run", "f")
    assert result.code == 1
    stage = project.last_record()["stages"][0]
    assert [a["status"] for a in stage["attempts"]] == ["failed", "failed"]
    assert stage["error"] == "exit code 1"


def test_bad_control_values_exit_2(project):
    for args in (("-j", "0"), ("--jobs", "many"), ("--timeout", "-1"), ("--timeout", "x")):
        result = project.pipeline("run", *args)
        assert result.code == 2 and len(result.err.strip().splitlines()) == 1, args
    graph = project.graph()
    graph["stages"][0]["retries"] = -1
    project.write_graph(graph)
    result = project.pipeline("run")
    assert result.code == 2 and "stages[0].retries" in result.err
    assert project.counts() == {}


def test_since_runs_what_changed_after_a_known_run_and_downstream(project):
    assert project.pipeline("run").code == 0
    good = project.last_record()["runId"]
    with open(project.path("stages/stub.mjs"), "a") as f:
        f.write("// changes transform's script only\n")
    result = project.pipeline("run", "--since", good[:19])  # a unique prefix
    assert result.code == 0, result.text
    assert project.counts() == {"extract": 1, "transform": 2, "publish": 2}
    record = project.last_record()
    assert project.statuses(record) == {"extract": "up-to-date", "transform": "succeeded",
                                        "publish": "succeeded"}
    reasons = {s["id"]: s["reason"] for s in record["stages"]}
    assert reasons == {"extract": f"unchanged since {good}",
                       "transform": f"inputs changed since {good}",
                       "publish": "upstream 'transform' runs"}
    assert record["options"]["since"] == good[:19]


def test_since_a_failed_run_reruns_what_did_not_succeed(project):
    assert project.pipeline("run", env={"STUB_FAIL": "publish"}).code == 1
    failed = project.last_record()["runId"]
    assert project.pipeline("run", "--since", failed).code == 0
    assert project.counts() == {"extract": 1, "transform": 1, "publish": 2}


def test_since_with_nothing_changed_runs_nothing(project):
    assert project.pipeline("run").code == 0
    good = project.last_record()["runId"]
    project.path(".doit.db").unlink()  # a fresh CI clone has no doit state: records suffice
    result = project.pipeline("run", "--since", good)
    assert result.code == 0
    assert project.counts() == {"extract": 1, "transform": 1, "publish": 1}
    assert "0 ran, 3 up to date" in result.out


def test_since_an_unknown_run_exits_2(project):
    result = project.pipeline("run", "--since", "1999")
    assert result.code == 2 and "unknown run '1999'" in result.err


def test_external_input_with_max_age_stays_fresh_until_it_expires(project):
    import json as json_module
    from datetime import datetime, timedelta, timezone

    graph = project.graph()
    graph["stages"][0]["inputs"].append({"type": "external", "kind": "http",
                                         "uri": "https://example.invalid/list", "maxAge": "1h"})
    project.write_graph(graph)
    assert project.pipeline("run").code == 0
    assert project.pipeline("run").code == 0
    assert project.counts()["extract"] == 1  # fresh for an hour
    # make the last success two hours old, as doit saved it
    import sqlite3

    db = sqlite3.connect(project.path(".doit.db"))
    row = db.execute("select task_data from doit where task_id='extract'").fetchone()
    data = json_module.loads(row[0])
    old = datetime.now(timezone.utc) - timedelta(hours=2)
    data["_values_:"]["run"]["finishedAt"] = old.isoformat().replace("+00:00", "Z")
    db.execute("update doit set task_data=? where task_id='extract'", (json_module.dumps(data),))
    db.commit()
    db.close()
    assert project.pipeline("run").code == 0
    assert project.counts()["extract"] == 2
    reason = project.last_record()["stages"][0]["reason"]
    assert reason == "external input: https://example.invalid/list"


def test_max_age_must_be_a_duration(project):
    graph = project.graph()
    graph["stages"][0]["inputs"].append({"type": "external", "maxAge": "soon"})
    project.write_graph(graph)
    result = project.pipeline("run")
    assert result.code == 2 and "stages[0].inputs[1].maxAge" in result.err


def test_log_level_warn_shows_only_a_failing_stages_output(project):
    result = project.pipeline("run", "--log-level", "warn", env={"STUB_FAIL": "transform"})
    assert result.code == 1
    assert "extract: python stub running" not in result.out  # not streamed
    assert "▶ [1/3] extract" in result.out
    assert "    | transform: failing on purpose" in result.err  # the failing stage's tail
    record = project.last_record()
    assert record["options"]["logLevel"] == "warn"
    log = project.path(record["stages"][0]["logPath"]).read_text()
    assert "extract: python stub running" in log  # the log keeps everything


def test_log_level_error_and_debug(project):
    quiet = project.pipeline("run", "--log-level", "error")
    assert quiet.code == 0
    assert quiet.out.splitlines()[-1].startswith("full-refresh succeeded")
    assert "▶" not in quiet.out and "stub running" not in quiet.out
    loud = project.pipeline("run", "--force", "--log-level", "debug")
    assert "$ " in loud.out and "stages/stub.py extract --in data/source.txt" in loud.out
    assert "doit: file_dep ['data/source.txt', 'stages/stub.py']" in loud.out


def test_json_logs_print_the_events_as_json_lines(project):
    import json

    result = project.pipeline("run", "--json-logs")
    assert result.code == 0
    events = [json.loads(line) for line in result.out.splitlines()]
    assert [e["event"] for e in events][0] == "run-started"
    assert events[-1]["event"] == "run-finished" and events[-1]["status"] == "succeeded"
    written = project.events(project.last_record())
    assert events == written


def test_a_closed_console_pipe_does_not_break_the_run(project):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "run"], cwd=project.root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # like `pipeline run | head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err
    assert project.last_record()["status"] == "succeeded"
    assert project.counts() == {"extract": 1, "transform": 1, "publish": 1}


def test_jobs_keep_every_slot_busy_and_never_run_more_at_once(project):
    """Six stages of 0.4 s under --jobs 2: never three at once, and a slot freed by a
    stage is taken by the next one at once, not after a poll interval (generous bound:
    a quarter of a second per hand-over, on a loaded machine)."""
    count, jobs, seconds = 6, 2, 0.4
    add_stages(project, "busy", *({"id": f"s{i}", "command": sleeper(f"s{i}", seconds)}
                                  for i in range(count)))
    result = project.pipeline("run", "busy", "--jobs", str(jobs))
    assert result.code == 0, result.text
    spans = sorted((parse(s["startedAt"]).timestamp(),
                    parse(s["startedAt"]).timestamp() + s["durationMs"] / 1000)
                   for s in project.last_record()["stages"])
    assert len(spans) == count
    # A record's times are whole milliseconds (startedAt cut, durationMs rounded), so a
    # span's end may read up to 2 ms late when the next stage took over its slot at once.
    resolution = 0.002
    for start, _ in spans:  # how many run at each start, this one included
        assert sum(1 for s, e in spans if s <= start < e - resolution) <= jobs, spans
    for k in range(jobs, count):  # the k-th start waits for the (k - jobs + 1)-th end
        freed = sorted(end for _, end in spans[:k])[k - jobs]
        assert spans[k][0] - freed < 0.25, (k, spans)
