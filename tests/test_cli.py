"""The command line's own parsing: which command module a line needs."""

from __future__ import annotations

import os
import subprocess
import sys

from orchestrator.cli import main, requested_module


def test_only_the_named_commands_module_is_needed():
    assert requested_module(["run", "--force"]) == "run"
    assert requested_module(["-C", "dir", "-g", "g.json", "run-stage", "x"]) == "run"
    assert requested_module(["--directory", "list", "status"]) == "status"  # -C's value
    assert requested_module(["logs", "--latest"]) == "logs"
    assert requested_module(["--help"]) is None
    assert requested_module(["nonsense"]) is None
    assert requested_module([]) is None


def test_version_and_usage_errors(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("pipeline ")
    assert main(["nonsense"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown command 'nonsense'" in err[0]
    assert main([]) == 2  # no command: the help, on stderr
    assert "COMMAND" in capsys.readouterr().err


# A bug as it happens: a helper that forgot its `return` (here console.one_line, which
# `pipeline list` uses for every description), so a caller meets a None it never expected.
FORGOTTEN_RETURN = """
import sys
import orchestrator.console
orchestrator.console.one_line = lambda text: None
from orchestrator.cli import main
sys.exit(main(sys.argv[1:]))
"""


def with_forgotten_return(project, *args: str, debug: bool = False):
    env = {k: v for k, v in os.environ.items() if k != "PIPELINE_DEBUG"}
    if debug:
        env["PIPELINE_DEBUG"] = "1"
    return subprocess.run([sys.executable, "-c", FORGOTTEN_RETURN, *args], cwd=project.root,
                          env=env, capture_output=True, text=True, timeout=60)


def test_an_internal_error_is_exit_3_and_one_line_saying_it_is_a_bug(project):
    result = with_forgotten_return(project, "list")
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pipeline: internal error (this is a bug): TypeError: ")
    assert " at orchestrator/" in lines[0]  # the innermost frame of ours
    assert lines[0].endswith("(set PIPELINE_DEBUG=1 to see the traceback)")


def test_pipeline_debug_prints_the_traceback_of_an_internal_error(project):
    result = with_forgotten_return(project, "list", debug=True)
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("Traceback (most recent call last):")
    last = result.stderr.splitlines()[-1]
    assert last.startswith("pipeline: internal error (this is a bug): TypeError: ")
    assert last.endswith("(the traceback is above)")


def test_usage_and_graph_errors_stay_exit_2(project):
    assert project.pipeline("list", "--bogus").code == 2
    project.path("pipeline/stage-graph.json").write_text("{broken")
    broken = project.pipeline("list")
    assert broken.code == 2 and "internal error" not in broken.err, broken.err
