"""The interpreter of Python stages: the graph's (or a stage's) `python` setting, a path
relative to the root or a virtualenv folder; `--python` / `PIPELINE_PYTHON` over it;
part of each Python stage's fingerprint (`interpreter changed`); reported by doctor. By
default the `python3` on PATH, never the runner's own virtualenv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Project

WHERE = """import json, sys
with open(sys.argv[1], "w") as out:
    json.dump({"prefix": sys.prefix, "executable": sys.executable}, out)
"""
COPY = """import {readFileSync, writeFileSync} from "node:fs";
writeFileSync(process.argv[3], readFileSync(process.argv[2]));
"""


def make_project(root: Path, python: str | None = None) -> Project:
    (root / "pipeline").mkdir(parents=True)
    (root / "stages").mkdir()
    (root / "stages" / "where.py").write_text(WHERE)
    (root / "stages" / "copy.mjs").write_text(COPY)
    (root / "data").mkdir()
    (root / "data" / "in.txt").write_text("in\n")
    graph = {
        "pipelines": [{"id": "full-refresh", "stages": ["where", "copy"]}],
        "artifacts": [{"id": "in", "type": "file", "path": "data/in.txt"},
                      {"id": "where", "type": "file", "path": "build/where.json"},
                      {"id": "copy", "type": "file", "path": "build/copy.txt"}],
        "stages": [
            {"id": "where", "command": {"executable": "python3",
                                        "args": ["stages/where.py", "build/where.json"]},
             "inputs": [{"artifact": "in"}], "outputs": [{"artifact": "where"}]},
            {"id": "copy", "command": {"executable": "node",
                                       "args": ["stages/copy.mjs", "data/in.txt",
                                                "build/copy.txt"]},
             "inputs": [{"artifact": "in"}], "outputs": [{"artifact": "copy"}]},
        ],
    }
    if python is not None:
        graph["python"] = python
    project = Project(root)
    project.write_graph(graph)
    (root / "dodo.py").write_text("from orchestrator.dodo import *  # noqa: F403\n")
    (root / "build").mkdir()
    return project


def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True,
                   timeout=120)
    return path


def ran_in(project: Project) -> str:
    return json.loads(project.path("build/where.json").read_text())["prefix"]


def reasons(project: Project) -> dict[str, str]:
    return {s["id"]: s.get("reason") for s in project.last_record()["stages"]}


@pytest.fixture(scope="module")
def venvs(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("venvs")
    return make_venv(base / "one"), make_venv(base / "two")


def test_the_graph_setting_chooses_the_interpreter_and_changing_it_reruns(tmp_path, venvs):
    one, two = venvs
    project = make_project(tmp_path / "p", python=".venv")  # a virtualenv folder
    os.symlink(one, project.path(".venv"))
    assert project.pipeline("run").code == 0
    assert ran_in(project) == str(project.path(".venv"))

    doctor = project.pipeline("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(doctor.out)["checks"]}
    check = checks["python for stages (.venv)"]
    assert check["ok"], check
    assert f"at {project.path('.venv/bin/python')}" in check["detail"]
    assert check["detail"].endswith('("python" of the graph; used by stage where)')
    assert "python for stages (python3)" not in checks  # no stage uses the default

    # --python over the graph: only the Python stage is out of date, and reruns
    status = json.loads(project.pipeline("status", "--json", "--python",
                                         str(two)).out)
    assert {s["id"]: s["reason"] for s in status["stages"]} == {
        "where": "interpreter changed", "copy": None}
    run = project.pipeline("run", "--python", str(two))
    assert run.code == 0, run.text
    assert ran_in(project) == str(two)
    assert project.statuses() == {"where": "succeeded", "copy": "up-to-date"}
    assert reasons(project)["where"] == "interpreter changed"
    # PIPELINE_PYTHON, as plain doit sees it too
    assert project.pipeline("run", env={"PIPELINE_PYTHON": str(two)}).code == 0
    assert project.statuses() == {"where": "up-to-date", "copy": "up-to-date"}
    back = project.doit("run", "full-refresh", env={"PIPELINE_PYTHON": str(one)})
    assert back.code == 0, back.text
    assert ran_in(project) == str(one)
    assert reasons(project)["where"] == "interpreter changed"
    # a stage's own setting wins over the graph's
    graph = project.graph()
    graph["stages"][0]["python"] = str(two)
    project.write_graph(graph)
    assert project.pipeline("run").code == 0
    assert ran_in(project) == str(two)
    assert reasons(project)["where"] == "interpreter changed"


def test_a_missing_interpreter_fails_the_stage_and_doctor(tmp_path):
    project = make_project(tmp_path / "p", python=".venv/bin/python")
    run = project.pipeline("run")
    assert run.code == 1
    assert ("Python interpreter '.venv/bin/python' (\"python\" of the graph) not found or "
            "not executable") in run.text
    doctor = project.pipeline("doctor")
    assert doctor.code == 1
    text = " ".join(doctor.out.split())
    assert "✖ python for stages (.venv/bin/python): " in text
    assert "fix: create the virtualenv (python3 -m venv DIR) or fix \"python\" of the graph" \
        in text
    bad = project.pipeline("run", "--python", "nowhere/python")
    assert bad.code == 2 and bad.out == ""
    assert bad.err.strip() == (f"pipeline: error: --python nowhere/python: no executable "
                               f"interpreter at {project.root / 'nowhere/python'} (a relative "
                               f"path is taken from the project root)")
    assert project.pipeline("run", "--dry-run", "--python", "nowhere").code == 2


def test_the_default_interpreter_is_not_the_runners_virtualenv(tmp_path):
    """With the runner's own virtualenv first on PATH (activated, as the README allows),
    a `python3` stage runs the next python3 on PATH; with only that virtualenv, it fails
    saying how to choose one."""
    assert sys.prefix != sys.base_prefix, "run the tests from the project's .venv"
    venv_bin = str(Path(sys.prefix) / "bin")
    assert (Path(venv_bin) / "python3").exists()
    project = make_project(tmp_path / "p")
    path = venv_bin + os.pathsep + os.environ["PATH"]
    run = project.pipeline("run", env={"PATH": path, "VIRTUAL_ENV": sys.prefix})
    assert run.code == 0, run.text
    assert os.path.realpath(ran_in(project)) != os.path.realpath(sys.prefix)
    doctor = json.loads(project.pipeline("doctor", "--json", env={"PATH": path}).out)
    check = next(c for c in doctor["checks"] if c["name"] == "python for stages (python3)")
    assert check["ok"] and venv_bin not in check["detail"]

    only = project.pipeline("run-stage", "where", env={"PATH": venv_bin})
    assert only.code == 1
    assert ("executable 'python3' not found on PATH but in the runner's own virtualenv, "
            "which Python stages do not use: set \"python\" in the graph, --python or "
            "PIPELINE_PYTHON to choose an interpreter") in only.text
