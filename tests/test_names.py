"""Every stage keeps its own log; ids that cannot be file names are refused; a file the
user names that is not a file (a FIFO) is refused instead of hanging."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from orchestrator.ledger import stage_log_name

PUNCTUATED = ["a+b", "a@b", "a_b", "a.b", "a-b"]
LONG = ["x" * 199 + "1", "x" * 199 + "2"]


def _echo_stage(sid: str) -> dict:
    return {"id": sid, "command": {"executable": "python3",
                                   "args": ["-c", f"print('I am ' + {sid!r})"]},
            "inputs": [{"artifact": "in"}]}


def test_stages_whose_ids_differ_only_in_punctuation_or_far_in_keep_their_own_logs(
        make_project):
    project = make_project("basic")
    ids = PUNCTUATED + LONG
    project.write_graph({
        "pipelines": [{"id": "p", "stages": ids}],
        "artifacts": [{"id": "in", "type": "file", "path": "data/source.txt"}],
        "stages": [_echo_stage(sid) for sid in ids]})
    result = project.pipeline("run", "p")
    assert result.code == 0, result.text
    record = project.last_record()
    logs = [s["logPath"] for s in record["stages"]]
    assert len(set(logs)) == len(ids)
    for sid in ids:
        shown = project.pipeline("logs", "--latest", "--stage", sid)
        assert shown.code == 0, shown.text
        assert f"I am {sid}" in shown.out
        others = [o for o in ids if o != sid]
        assert not any(f"I am {o}\n" in shown.out for o in others), (sid, shown.out)


def test_log_names_are_one_per_id():
    names = [stage_log_name(i) for i in PUNCTUATED + LONG
             + ["a/b", "a%2Fb", ".x", "", "é", "x" * 300 + "a", "x" * 300 + "b", "a\nb"]]
    assert len(set(names)) == len(names)
    assert all("/" not in n and not n.startswith(".") and len(n) <= 255 for n in names)
    assert stage_log_name("a+b") == "a+b.log"  # a graph id is its own name


@pytest.mark.parametrize("where", ["stages", "artifacts", "pipelines"])
def test_an_id_with_a_trailing_line_break_is_refused(make_project, where):
    project = make_project("basic")
    graph = project.graph()
    if where == "stages":
        graph["stages"][0]["id"] = "extract\n"
    elif where == "artifacts":
        graph["artifacts"][0]["id"] = "source\n"
    else:
        graph["pipelines"][0]["id"] = "full-refresh\n"
    project.write_graph(graph)
    result = project.pipeline("check")
    assert result.code == 2, result.text
    assert f"{where}[0].id" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("flag", ["-g", "--env-file"])
def test_a_fifo_given_as_a_file_is_refused_not_waited_on(project, tmp_path, flag):
    fifo = tmp_path / "named-pipe"
    os.mkfifo(fifo)
    argv = ["-g", str(fifo), "list"] if flag == "-g" else \
        ["run", "--dry-run", "--env-file", str(fifo)]
    proc = subprocess.run([sys.executable, "-m", "orchestrator", *argv], cwd=project.root,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert "is a FIFO, not a file" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
