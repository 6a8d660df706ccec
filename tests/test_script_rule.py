"""What a stage's script is: one rule (orchestrator/graph/model.py, `script_path`), used
by the run's fingerprint (compile), `pipeline describe` and `pipeline doctor` alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.commands.doctor import scripts, stage_commands
from orchestrator.compile import script_paths
from orchestrator.graph import (
    Command,
    interpreter_program,
    load_graph,
    script_arguments,
    script_path,
)

ARTIFACTS = frozenset({"data/in.txt", "site"})  # a file and a directory artifact
ROOT = Path("/project")


@pytest.mark.parametrize("arg, rel", [
    ("tools/a.py", "tools/a.py"),
    ("./tools/../tools/a.py", "tools/a.py"),
    ("/project/tools/a.py", "tools/a.py"),  # absolute, below the root
    ("settings.toml", "settings.toml"),  # any name: whether it is a file decides
    ("site-tools.js", "site-tools.js"),  # beside the directory artifact, not in it
    ("", None),
    ("-v", None),
    ("--out=x.py", None),
    ("two\nlines.py", None),
    ("../elsewhere/a.py", None),
    ("/other/a.py", None),
    (".", None),
    ("data/in.txt", None),  # an artifact: data the stage declares
    ("site/page.js", None),  # inside a directory artifact
    ("site", None),
])
def test_script_path(arg, rel):
    assert script_path(arg, ROOT, ARTIFACTS) == rel


@pytest.mark.parametrize("executable, args, program", [
    ("python3", ["stages/x.py", "1", "build/e.json"], "stages/x.py"),
    ("/usr/bin/python3", ["-u", "-W", "ignore", "-X", "dev", "x.py"], "x.py"),
    ("python", ["-m", "pkg.tool", "a.py"], None),
    ("python3", ["-c", "print(1)", "a.py"], None),
    ("python3", ["-"], None),
    ("node", ["--import", "tsx", "stages/x.ts", "out.json"], "stages/x.ts"),
    ("node", ["-e", "1", "x.js"], None),
    ("node", ["--", "x.js"], "x.js"),
    ("bash", ["-e", "-o", "pipefail", "x.sh"], "x.sh"),
    ("perl", ["-e", "1", "x.pl"], None),
    ("sh", ["-c", "echo", "x.sh"], None),
    ("sh", ["scripts/x.sh", "a"], "scripts/x.sh"),
    ("npx", ["tool.js"], None),  # not an interpreter this rule knows
])
def test_the_program_an_interpreter_runs(executable, args, program):
    assert interpreter_program(Command(executable, tuple(args)))[1] == program


def test_a_path_like_executable_can_be_a_script_a_name_on_path_cannot():
    assert script_arguments(Command("./tools/run.sh", ("x",))) == ("./tools/run.sh", "x")
    assert script_arguments(Command("python3", ("x",))) == ("x",)


GRAPH = {
    "pipelines": [{"id": "p", "stages": ["a"]}],
    "artifacts": [{"id": "in", "type": "file", "path": "data/in.txt"},
                  {"id": "site", "type": "directory", "path": "site"}],
    "stages": [{"id": "a", "command": {"executable": "python3", "args": [
        "tools/a.py", "settings.toml", "data/in.txt", "site/page.js", "1.5", "--flag",
        "ROOT/tools/b.py", "tools/gone.py"]}},
        # the program python runs is missing; the path after it is an undeclared output
        {"id": "b", "command": {"executable": "python3", "args": [
            "-W", "ignore", "tools/gone.py", "build/undeclared.json"]}}],
}


def test_doctor_counts_as_scripts_the_files_a_run_fingerprints(tmp_path):
    for rel in ("tools/a.py", "tools/b.py", "settings.toml", "data/in.txt", "site/page.js"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    text = json.dumps(GRAPH).replace("ROOT/", str(tmp_path) + "/")
    (tmp_path / "g.json").write_text(text)
    graph = load_graph(tmp_path / "g.json", tmp_path, cache=False)
    fingerprinted = script_paths(graph, graph.stages["a"], tmp_path)
    assert fingerprinted == ["settings.toml", "tools/a.py", "tools/b.py"]

    [missing] = scripts(graph, list(stage_commands(graph)), tmp_path)
    assert (missing.name, missing.ok) == ("script tools/gone.py", False)
    assert missing.detail == "missing (used by stage b)"  # not a's: a only passes it on
    (tmp_path / "tools/gone.py").write_text("")
    [present] = scripts(graph, list(stage_commands(graph)), tmp_path)
    assert present.ok and present.detail == "4 script file(s) present"
