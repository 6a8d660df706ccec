"""Every stage accounted for: a failed or interrupted run names what did not run and the
stage it interrupted; one set of status marks in run output, `logs` and `history`;
`--wait` says whom it waits for; `logs` tells a run whose runner is gone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time


def with_a_fourth_stage(project):
    graph = project.graph()
    graph["stages"].append({"id": "announce", "dependsOn": ["publish"],
                            "command": {"executable": "python3", "args": ["-c", "pass"]}})
    graph["pipelines"][0]["stages"].append("announce")
    project.write_graph(graph)


def hanging(project, stage: int = 1, seconds: int = 60):
    graph = project.graph()
    graph["stages"][stage]["command"] = {
        "executable": "python3",
        "args": ["-c", f"import time; print('hanging', flush=True); time.sleep({seconds})"]}
    project.write_graph(graph)


def wait_for_log(project, stage: str, text: str = "hanging") -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(text in log.read_text()
               for log in project.root.glob(f".pipeline-runs/*/{stage}.log")):
            return
        time.sleep(0.05)
    raise AssertionError(f"{stage} never printed {text!r}")


def start(project, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUB_")}
    return subprocess.Popen([sys.executable, "-m", "orchestrator", "run", *args],
                            cwd=project.root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_after_a_failure_the_summary_names_the_stages_not_run(project):
    with_a_fourth_stage(project)
    assert project.pipeline("run", "--only", "extract").code == 0
    result = project.pipeline("run", env={"STUB_FAIL": "transform"})
    assert result.code == 1
    summary = result.err.splitlines()[-1]
    assert summary.startswith("full-refresh failed in ")
    assert ": 0 ran, 1 up to date, 1 failed, 2 not run. Record: " in summary


def test_an_interrupt_names_the_stage_in_flight(project):
    assert project.pipeline("run").code == 0  # transform once, with a duration
    hanging(project)
    proc = start(project)
    try:
        wait_for_log(project, "transform")
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    lines = err.splitlines()
    assert "✖ [2/3] transform interrupted" in lines
    assert ": 0 ran, 1 up to date, 1 interrupted, 1 not run. Record: " in lines[-2]
    assert lines[-1] == "pipeline: interrupted"
    assert "interrupted" not in out  # stdout keeps the progress only
    logs = project.pipeline("logs", "--latest")
    assert "✖ transform  failed" in logs.out and "interrupted" in logs.out
    # history: the last run of transform measured no duration; LAST is not the older one
    history = json.loads(project.pipeline("history", "--json").out)
    transform = next(s for s in history["stages"] if s["id"] == "transform")
    assert transform["lastStatus"] == "failed" and transform["lastMs"] is None
    assert transform["medianMs"] is not None and transform["lastVsMedian"] is None
    table = project.pipeline("history").out.splitlines()
    row = next(line for line in table if line.startswith("✖ transform "))
    assert row.split()[-3:] == [row.split()[-3], "-", "-"]


def test_one_set_of_marks_in_run_output_logs_and_history(project):
    graph = project.graph()
    graph["stages"].append({"id": "side", "command": {"executable": "python3",
                                                      "args": ["-c", "pass"]}})
    graph["pipelines"][0]["stages"].append("side")
    project.write_graph(graph)
    run = project.pipeline("run", "--continue-on-error", env={"STUB_FAIL": "transform"})
    assert run.code == 1
    assert "✖ [2/4] transform failed: exit code 3" in run.err
    assert "⊘ [3/4] publish blocked: upstream 'transform' failed" in run.err
    assert run.err.splitlines()[-1].startswith("full-refresh degraded in ")
    listed = project.pipeline("logs").out.splitlines()[-1]
    assert listed.startswith("✖ ") and "  degraded  " in listed
    shown = project.pipeline("logs", "--latest").out.splitlines()
    assert shown[0].startswith("✖ run ") and shown[0].endswith(": degraded")
    assert any(line.startswith("⊘ publish    blocked") for line in shown), shown
    assert any(line.startswith("✖ transform  failed") for line in shown), shown
    assert any(line.startswith("✔ extract    succeeded") for line in shown), shown
    history = project.pipeline("history").out.splitlines()
    assert any(line.startswith("✖ transform ") for line in history), history
    assert any(line.startswith("✔ extract ") for line in history), history
    # publish never ran and was never up to date: not `↷`, which says up to date
    # everywhere else, but `·`, not run
    assert any(line.startswith("· publish ") for line in history), history
    assert project.pipeline("run").code == 0
    assert project.pipeline("run", "--no-fast-path").code == 0  # extract: up to date
    history = project.pipeline("history", "--limit", "1").out.splitlines()
    assert any(line.startswith("↷ extract ") for line in history), history


def test_wait_says_that_it_waits_and_for_which_run(project):
    hanging(project, seconds=60)
    first = start(project, "--to", "transform")
    try:
        wait_for_log(project, "transform")
        holder = json.loads(next(project.root.glob(".pipeline-runs/*.json")).read_text())
        waiter = start(project, "--to", "extract", "--wait")
        time.sleep(1.5)
        assert waiter.poll() is None  # still waiting
    finally:
        os.killpg(first.pid, signal.SIGINT)
        first.communicate(timeout=60)
    out, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, (out, err)
    assert err.splitlines()[0] == (
        f"pipeline: waiting for the run in progress in this project (run {holder['runId']}, "
        f"pid {first.pid}) to end (--wait)")


def test_logs_tells_a_run_whose_runner_is_gone(project):
    """A record still `running` whose process is gone (killed with SIGKILL, or copied
    from another machine) is shown as abandoned, not as running."""
    assert project.pipeline("run").code == 0
    gone = subprocess.Popen(["true"])
    gone.wait()
    path = next(project.root.glob(".pipeline-runs/*.json"))
    record = json.loads(path.read_text())
    record.update(status="running", finishedAt=None, durationMs=None, pid=gone.pid)
    path.write_text(json.dumps(record))
    listed = project.pipeline("logs").out.splitlines()[-1]
    assert listed.startswith("✖ ") and "  abandoned  " in listed
    shown = project.pipeline("logs", "--latest").out.splitlines()
    assert shown[0] == f"✖ run {record['runId']}: abandoned"
    assert shown[1].startswith(f"  still marked running, but its runner (pid {gone.pid}) is gone")
    # a run alive is still shown running
    record["pid"] = os.getpid()
    path.write_text(json.dumps(record))
    assert "  running  " in project.pipeline("logs").out.splitlines()[-1]
