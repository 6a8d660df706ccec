"""Translation of stages into doit task dicts, and the freshness rules' reasons."""

from __future__ import annotations

import json
import os
from pathlib import Path

from orchestrator.compile import (
    StageFreshness,
    compile_tasks,
    env_digests,
    freshness_of,
    script_paths,
)
from orchestrator.graph import load_graph

GRAPH = {
    "pipelines": [{"id": "p", "stages": ["a", "b"]}],
    "artifacts": [
        {"id": "in", "type": "file", "path": "data/in.txt"},
        {"id": "dir", "type": "directory", "path": "data/dir/"},
        {"id": "opt", "type": "file", "path": "data/opt.txt"},
        {"id": "cache", "type": "file", "path": "out/cache.json"},
        {"id": "out", "type": "file", "path": "out/out.txt"},
    ],
    "stages": [
        {"id": "a", "command": {"executable": "python3",
                                "args": ["tools/a.py", "data/in.txt", "--flag", "missing.py",
                                         "data/dir/x.py"]},
         "inputs": [{"artifact": "in"}, {"artifact": "dir"},
                    {"artifact": "opt", "optional": True},
                    {"artifact": "cache", "optional": True}],
         "outputs": [{"artifact": "out"}, {"artifact": "cache"}],
         "environment": [{"name": "TOKEN"}]},
        {"id": "b", "dependsOn": ["a"], "command": {"executable": "./tools/b.sh"},
         "inputs": [{"artifact": "out"}]},
    ],
}


def make(tmp_path: Path):
    for rel in ("tools/a.py", "tools/b.sh", "data/in.txt", "data/dir/x.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    (tmp_path / "g.json").write_text(json.dumps(GRAPH))
    return load_graph(tmp_path / "g.json", tmp_path)


def test_scripts_are_project_files_named_by_the_command_that_are_not_artifacts(tmp_path):
    graph = make(tmp_path)
    assert script_paths(graph, graph.stages["a"], tmp_path) == ["tools/a.py"]
    assert script_paths(graph, graph.stages["b"], tmp_path) == ["tools/b.sh"]


def test_tasks_carry_file_deps_task_deps_and_pipeline_groups(tmp_path):
    graph = make(tmp_path)
    tasks = {t.name: t for t in compile_tasks(graph, ["a", "b"], tmp_path,
                                              lambda s: (lambda: None), pipelines=True)}
    assert tasks["a"].file_dep == {"data/in.txt", "tools/a.py"}  # not dirs, optional, cache
    assert tasks["b"].file_dep == {"out/out.txt", "tools/b.sh"}
    assert tasks["b"].task_dep == ["a"]
    assert tasks["p"].task_dep == ["a", "b"] and tasks["p"].actions == []
    only_b = compile_tasks(graph, ["b"], tmp_path, lambda s: (lambda: None))
    assert only_b[0].task_dep == []  # unselected upstream stages are not pulled in


def freshness(graph, root, sid="a"):
    task = compile_tasks(graph, [sid], root, lambda s: (lambda: None))[0]
    return freshness_of(task)


def saved_after_run(check: StageFreshness, root: Path) -> dict:
    from orchestrator.digest import artifact_digest

    check(None, {})
    return {"pipeline": check.run_fingerprint(),
            "outputs": {a.path: artifact_digest(root / a.path, a.is_directory)
                        for a, _ in check.outputs}}


def test_freshness_reasons(tmp_path, monkeypatch):
    graph = make(tmp_path)
    monkeypatch.delenv("TOKEN", raising=False)
    check = freshness(graph, tmp_path)
    assert check(None, {}) is False and check.reasons == ["never run"]
    (tmp_path / "out").mkdir()
    (tmp_path / "out/out.txt").write_text("v1")
    values = saved_after_run(check, tmp_path)
    assert check(None, values) is True

    (tmp_path / "data/dir/new.txt").write_text("x")
    assert check(None, values) is False and check.reasons == ["input changed: data/dir/"]
    values = saved_after_run(check, tmp_path)

    (tmp_path / "data/opt.txt").write_text("now present")
    assert check(None, values) is False and check.reasons == ["input changed: data/opt.txt"]
    values = saved_after_run(check, tmp_path)

    monkeypatch.setenv("TOKEN", "abc")
    assert check(None, values) is False
    assert check.reasons == ["environment changed: TOKEN"]
    values = saved_after_run(check, tmp_path)
    assert "abc" not in json.dumps(values)

    (tmp_path / "out/cache.json").write_text("cache content never matters")
    assert check(None, values) is True

    (tmp_path / "out/out.txt").write_text("edited by hand")
    assert check(None, values) is False and check.reasons == ["output changed: out/out.txt"]
    os.remove(tmp_path / "out/out.txt")
    assert check(None, values) is False and check.reasons == ["output missing: out/out.txt"]


def test_env_digests_never_hold_the_value():
    graph_stage = type("S", (), {"environment": (type("V", (), {"name": "X"})(),)})()
    digests = env_digests(graph_stage, {"X": "value"})
    assert digests["X"] != "value" and len(digests["X"]) == 64
    assert env_digests(graph_stage, {}) == {"X": None}
