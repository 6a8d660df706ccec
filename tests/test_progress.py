"""Live progress on a terminal: the running stage's line shows its elapsed time."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys


def run_on_terminal(project, env: dict) -> str:
    """Run `pipeline run t` with a pseudo-terminal as its stdout; return what it showed."""
    master, slave = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")}
    full_env.update(env)
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "run", "t"],
                            cwd=project.root, stdout=slave, stderr=slave, env=full_env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the terminal closed: the run ended
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def quiet_sleeper(project) -> None:
    graph = project.graph()
    graph["stages"].append({"id": "slow", "command": {
        "executable": "python3", "args": ["-c", "import time; time.sleep(1.6)"]}})
    graph["pipelines"].append({"id": "t", "stages": ["slow"]})
    project.write_graph(graph)


def test_the_running_stage_shows_its_elapsed_time_on_a_terminal(project):
    quiet_sleeper(project)
    shown = re.sub(r"\x1b\[[0-9;]*m", "", run_on_terminal(project, {}))
    assert "\r" in shown and "▶ [1/1] slow (never run)" in shown
    assert "1s" in shown  # the elapsed time, updated in place
    assert "✔ [1/1] slow done in" in shown


def test_no_live_progress_in_ci(project):
    quiet_sleeper(project)
    shown = run_on_terminal(project, {"CI": "true"})
    assert "✔ [1/1] slow done in" in shown
    assert "\x1b[" in shown  # still a terminal: colour stays
    lines = shown.replace("\r\n", "\n")
    assert "\r" not in lines
