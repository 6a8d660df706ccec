"""The command line's own parsing: which command module a line needs."""

from __future__ import annotations

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
    assert len(err) == 1 and "invalid choice: 'nonsense'" in err[0]
    assert main([]) == 2  # no command: the help, on stderr
    assert "COMMAND" in capsys.readouterr().err
