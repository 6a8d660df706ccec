"""How a stage's process starts: what it inherits from the runner, and what it does not."""

from __future__ import annotations

import os
import subprocess
import sys

from test_freshness import make


def stage_running(script: str) -> dict:
    return {"id": "probe", "command": {"executable": "sh", "args": ["-c", script]},
            "inputs": [{"artifact": "in"}], "outputs": [{"artifact": "out"}]}


def project_with(tmp_path, script: str):
    artifacts = [{"id": "in", "type": "file", "path": "data/in.txt"},
                 {"id": "out", "type": "file", "path": "out/probe.txt"}]
    return make(tmp_path, {"artifacts": artifacts, "stages": [stage_running(script)]},
                {"data/in.txt": "x\n"})


def test_a_stage_does_not_inherit_ignored_sigpipe(tmp_path):
    """Python ignores SIGPIPE; a stage must get it back (`yes | head` ends quietly)."""
    project = project_with(tmp_path, "mkdir -p out && grep SigIgn /proc/self/status "
                                     "> out/probe.txt")
    result = project.pipeline("run")
    assert result.code == 0, result.text
    ignored = int(project.path("out/probe.txt").read_text().split()[1], 16)
    assert not ignored & (1 << (13 - 1)), f"SIGPIPE ignored in the stage: {ignored:x}"


def test_a_stage_inherits_no_descriptor_of_whoever_started_the_runner(tmp_path):
    """A pipe of the runner's parent, open in the stage, would keep that parent waiting
    for its end as long as anything the stage started lives."""
    project = project_with(tmp_path, "mkdir -p out && for fd in /proc/$$/fd/*; do "
                                     "readlink $fd; done > out/probe.txt; true")
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)
    ours = os.readlink(f"/proc/self/fd/{write_end}")  # pipe:[inode]
    try:
        proc = subprocess.run([sys.executable, "-m", "orchestrator", "run"], cwd=project.root,
                              pass_fds=(write_end,), capture_output=True, text=True,
                              timeout=60)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    held = project.path("out/probe.txt").read_text().split()
    assert held and ours not in held, held


def test_run_process_itself_leaks_no_inherited_descriptor(tmp_path):
    """What a Dask worker calls, without any executor around it: a descriptor the
    calling process inherited still does not reach the command."""
    code = ("import io, os, sys\n"
            "from orchestrator.process import run_process\n"
            "log = io.BytesIO()\n"
            "run_process(['/bin/sh', '-c', 'for fd in /proc/$$/fd/*; do readlink $fd; done; "
            "true'], dict(os.environ), os.getcwd(), log, echo=False)\n"
            "print(log.getvalue().decode())\n")
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)
    ours = os.readlink(f"/proc/self/fd/{write_end}")
    try:
        proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, pass_fds=(write_end,),
                              capture_output=True, text=True, timeout=60)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr
    held = proc.stdout.split()
    assert held and ours not in held, held
