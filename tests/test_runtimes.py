"""The command builder: argv, environment and working directory per runtime."""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest
from conftest import Project

from orchestrator.graph import Command
from orchestrator.runtimes import ExecutableNotFound, build_invocation, runtime_of


def test_node_runs_the_node_on_path_with_args_as_given(tmp_path):
    command = Command("node", ("stages/a.mjs", "--x", "a b"))
    inv = build_invocation(command, tmp_path, dict(os.environ))
    assert inv.argv == (shutil.which("node"), "stages/a.mjs", "--x", "a b")
    assert inv.cwd == tmp_path
    assert runtime_of(Command("node")) == "node"


def _interpreter_named(directory, name: str) -> str:
    """A directory holding `name`, a link to the Python running the tests: the test's
    own interpreter under that name, whatever the host has on PATH (Debian and many CI
    images have `python3` and no `python`)."""
    directory.mkdir(exist_ok=True)
    link = directory / name
    link.symlink_to(os.path.realpath(sys.executable))
    return str(link)


@pytest.mark.parametrize("name", ["python3", "python"])
def test_python_puts_the_root_first_on_pythonpath(tmp_path, name):
    bin_dir = tmp_path / "bin"
    interpreter = _interpreter_named(bin_dir, name)
    env = {"PATH": str(bin_dir), "PYTHONPATH": "/elsewhere"}
    inv = build_invocation(Command(name, ("s.py",)), tmp_path, env)
    assert inv.argv[0] == interpreter
    assert inv.env["PYTHONPATH"] == f"{tmp_path}{os.pathsep}/elsewhere"
    env.pop("PYTHONPATH")
    assert build_invocation(Command(name), tmp_path, env).env["PYTHONPATH"] == str(tmp_path)


@pytest.mark.parametrize("name", ["python3", "python"])
def test_a_python_stage_runs_the_interpreter_of_that_name_on_path(tmp_path, name):
    """Through the command line: a stage whose executable is `python` (or `python3`)
    runs the one on the stages' PATH, with the root on PYTHONPATH (it imports a module
    of the project), on a PATH where nothing else is called so."""
    root = tmp_path / "project"
    (root / "pipeline").mkdir(parents=True)
    (root / "helper.py").write_text("WORD = 'imported'\n")
    (root / "stage.py").write_text(
        "import sys, helper\n"
        "open('out.txt', 'w').write(helper.WORD + ' ' + sys.argv[1])\n")
    (root / "pipeline" / "stage-graph.json").write_text(json.dumps({
        "version": "1", "pipelines": [{"id": "p", "stages": ["s"]}],
        "artifacts": [{"id": "out", "type": "file", "path": "out.txt"}],
        "stages": [{"id": "s", "command": {"executable": name, "args": ["stage.py", name]},
                    "outputs": [{"artifact": "out", "mode": "write"}]}]}))
    bin_dir = tmp_path / "bin"
    _interpreter_named(bin_dir, name)
    result = Project(root).pipeline("run", env={"PATH": str(bin_dir)})
    assert result.code == 0, result.text
    assert (root / "out.txt").read_text() == f"imported {name}"
    other = "python" if name == "python3" else "python3"
    graph = json.loads((root / "pipeline" / "stage-graph.json").read_text())
    graph["stages"][0]["command"]["executable"] = other
    (root / "pipeline" / "stage-graph.json").write_text(json.dumps(graph))
    missing = Project(root).pipeline("run", env={"PATH": str(bin_dir)})
    assert missing.code == 1
    assert f"executable '{other}' not found on PATH" in missing.text


def test_other_executables_are_taken_as_given_without_pythonpath(tmp_path):
    env = {"PATH": os.environ["PATH"]}
    inv = build_invocation(Command("sh", ("-c", "echo hi")), tmp_path, env)
    assert inv.argv == (shutil.which("sh"), "-c", "echo hi")
    assert "PYTHONPATH" not in inv.env


def test_a_path_executable_is_relative_to_the_root(tmp_path):
    script = tmp_path / "tools" / "run.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    inv = build_invocation(Command("tools/run.sh"), tmp_path, {"PATH": ""})
    assert inv.argv == (str(script),)


def test_missing_executables_are_named(tmp_path):
    with pytest.raises(ExecutableNotFound, match="'nope-xyz' not found on PATH"):
        build_invocation(Command("nope-xyz"), tmp_path, {"PATH": os.environ["PATH"]})
    with pytest.raises(ExecutableNotFound, match="'./missing.sh' not found or not executable"):
        build_invocation(Command("./missing.sh"), tmp_path, {"PATH": ""})
    with pytest.raises(ExecutableNotFound, match="'node' not found on PATH"):
        build_invocation(Command("node"), tmp_path, {"PATH": str(tmp_path)})


def test_a_found_executable_is_remembered_until_it_is_gone(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for directory in (first, second):
        directory.mkdir()
    tool = second / "my-tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    env_path = f"{first}{os.pathsep}{second}"
    assert build_invocation(Command("my-tool"), tmp_path, {"PATH": env_path}).argv[0] == str(tool)
    tool.unlink()
    with pytest.raises(ExecutableNotFound, match="'my-tool' not found on PATH"):
        build_invocation(Command("my-tool"), tmp_path, {"PATH": env_path})
    moved = first / "my-tool"
    moved.write_text("#!/bin/sh\n")
    moved.chmod(0o755)
    assert build_invocation(Command("my-tool"), tmp_path,
                            {"PATH": env_path}).argv[0] == str(moved)


def test_the_remembered_path_follows_a_changed_path_variable(tmp_path, monkeypatch):
    from orchestrator.runtimes import resolve_executable

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        tool = tmp_path / name / "my-other-tool"
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "a"))
    assert resolve_executable("my-other-tool", tmp_path) == str(tmp_path / "a" / "my-other-tool")
    monkeypatch.setenv("PATH", str(tmp_path / "b"))
    assert resolve_executable("my-other-tool", tmp_path) == str(tmp_path / "b" / "my-other-tool")
