"""What a killed run keeps: every stage that finished before the kill stays done."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time


def test_sigkill_mid_run_keeps_finished_stages_and_redoes_the_one_in_flight(project):
    graph = project.graph()
    stage = graph["stages"][1]
    stage["command"]["args"] = ["-e", "setTimeout(() => {}, 60000)"]  # transform hangs
    stage["outputs"] = []
    project.write_graph(graph)
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "run", "--to", "transform"],
                            cwd=project.root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(
            project.root.glob(".pipeline-runs/*/transform.log")):
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    record = project.last_record()  # still parseable
    assert record["status"] == "running"
    result = project.pipeline("run", "--dry-run", "--to", "transform")
    lines = [" ".join(line.split()) for line in result.out.splitlines()]
    assert "up to date extract" in lines
    assert any(line.startswith("run transform") for line in lines)
    assert project.counts() == {"extract": 1}
    # and the events file holds only complete lines
    events = project.path(f".pipeline-runs/{record['runId']}.log").read_text().splitlines()
    assert all(json.loads(line) for line in events)
