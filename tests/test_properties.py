"""Property-based tests: whatever a graph file or a command line holds, the answer is a
clear message and an exit code, never a traceback, in bounded time."""

from __future__ import annotations

import json
import os

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orchestrator.cli import main
from orchestrator.compile import compile_tasks
from orchestrator.errors import GraphError
from orchestrator.graph import load_graph

KEYS = ["pipelines", "stages", "artifacts", "id", "command", "executable", "args", "dependsOn",
        "inputs", "outputs", "artifact", "type", "path", "hooks", "before", "after",
        "onFailure", "move", "from", "to", "remove", "environment", "name", "required",
        "schema", "optional", "timeout", "retries", "retryDelay", "maxAge", "external",
        "file", "directory", "defaultPipeline", "kind", "uri"]
TEXT = st.one_of(st.sampled_from(KEYS + ["..", "/etc/passwd", "a b", "a/b", "-x", "", "a:b",
                                         "x\n", "\x00", "../../escape", "ünï", "1d", "5m"]),
                 st.text(max_size=12))
LEAF = st.one_of(TEXT, st.integers(-3, 10**12), st.booleans(), st.none(), st.floats())
JSONISH = st.recursive(LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(TEXT, inner, max_size=6)), max_leaves=40)

ID = st.one_of(st.sampled_from(["a", "b", "c", "get-modules"]), st.text(max_size=8))


@st.composite
def graphish(draw):
    """Graphs in roughly the right shape, so checks beyond the schema are reached."""
    artifacts = draw(st.lists(st.fixed_dictionaries({
        "id": ID, "type": st.sampled_from(["file", "directory", "dir"]),
        "path": st.one_of(TEXT, st.sampled_from(["data/a.json", "out/", "/abs", "../up"]))}),
        max_size=4))
    artifact_ids = [a["id"] for a in artifacts] or ["none"]
    stages = draw(st.lists(st.fixed_dictionaries({
        "id": ID,
        "command": st.fixed_dictionaries({"executable": TEXT,
                                          "args": st.lists(TEXT, max_size=3)}),
        "dependsOn": st.lists(ID, max_size=3),
        "inputs": st.lists(st.fixed_dictionaries({
            "artifact": st.one_of(st.sampled_from(artifact_ids), ID),
            "optional": st.booleans()}), max_size=2),
        "outputs": st.lists(st.fixed_dictionaries({
            "artifact": st.one_of(st.sampled_from(artifact_ids), ID)}), max_size=2),
        "hooks": st.fixed_dictionaries({"before": st.lists(st.one_of(
            st.fixed_dictionaries({"remove": st.sampled_from(artifact_ids)}),
            st.fixed_dictionaries({"move": st.fixed_dictionaries({
                "from": st.sampled_from(artifact_ids), "to": ID})})), max_size=2)}),
    }), max_size=4))
    stage_ids = [s["id"] for s in stages] or ["none"]
    pipelines = draw(st.lists(st.fixed_dictionaries({
        "id": ID, "stages": st.lists(st.one_of(st.sampled_from(stage_ids), ID), max_size=4)}),
        max_size=2))
    return {"pipelines": pipelines, "artifacts": artifacts, "stages": stages}


def check_load(path) -> None:
    """load_graph gives a graph that compiles, or GraphError lines naming the file."""
    try:
        graph = load_graph(path, path.parent.parent, cache=False)
    except GraphError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert "\n" not in problem and problem.startswith("pipeline/"), problem
        return
    compile_tasks(graph, list(graph.stages), graph.root, lambda stage: (lambda: None),
                  pipelines=True)


FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture
def graph_dir(tmp_path, monkeypatch):
    (tmp_path / "pipeline").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path / "pipeline"


@FAST
@given(data=JSONISH)
def test_any_json_document(graph_dir, data):
    path = graph_dir / "stage-graph.json"
    path.write_text(json.dumps(data))
    check_load(path)


@FAST
@given(data=graphish())
def test_graph_shaped_documents_in_json_and_yaml(graph_dir, data):
    path = graph_dir / "stage-graph.json"
    path.write_text(json.dumps(data))
    check_load(path)
    path = graph_dir / "stage-graph.yaml"
    path.write_text(yaml.safe_dump(data))
    check_load(path)


@FAST
@given(raw=st.binary(max_size=300))
def test_any_bytes(graph_dir, raw):
    for name in ("stage-graph.json", "stage-graph.yml"):
        path = graph_dir / name
        path.write_bytes(raw)
        check_load(path)


def test_huge_strings_and_deep_nesting_are_refused_quickly(graph_dir):
    path = graph_dir / "stage-graph.json"
    path.write_text(json.dumps({"stages": [{"id": "x" * 1_000_000}], "pipelines": []}))
    with pytest.raises(GraphError):
        load_graph(path, graph_dir.parent, cache=False)
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(GraphError):
        load_graph(path, graph_dir.parent, cache=False)


TOKENS = ["run", "run-stage", "list", "describe", "status", "logs", "history", "graph",
          "check", "doctor", "--only", "--skip", "--from", "--to", "-j", "--jobs",
          "--timeout", "--since", "--env-file", "-C", "-g", "--json", "--format", "dot",
          "--latest", "--stage", "--limit", "--dry-run", "--force", "x", "a,b", "-1", "0",
          "..", "/etc", "", "nope.env", "--log-level", "debug", "--wait", "g.json", "p"]


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=6)), max_size=6))
@example(argv=["-g", "a\x00b", "list"])
@example(argv=["-C", "a\x00b", "run"])
@example(argv=["-g", "g.json", "run", "--env-file", "a\x00b"])
@example(argv=["-g", "g.json", "run", "--since", "\x00"])
@example(argv=["logs", "\x00"])
@example(argv=["-h"])
@example(argv=["list", "--help"])
@example(argv=["x", "--version"])
def test_any_command_line(tmp_path, capsys, argv):
    """In a project whose graph is broken nothing can run: every line is answered with a
    code and at most a few lines, never a traceback."""
    project = tmp_path / "project"
    (project / "pipeline").mkdir(parents=True, exist_ok=True)
    (project / "pipeline" / "stage-graph.json").write_text("{broken")
    # and a valid one, reachable with -g, whose only stage cannot start (its input is
    # missing): lines that get past the options still run nothing
    (project / "g.json").write_text(json.dumps({
        "pipelines": [{"id": "p", "stages": ["x"]}],
        "artifacts": [{"id": "in", "type": "file", "path": "missing.txt"}],
        "stages": [{"id": "x", "command": {"executable": "false"},
                    "inputs": [{"artifact": "in"}]}]}))
    start = os.getcwd()
    os.chdir(project)
    try:
        code = main(list(argv))
    finally:
        os.chdir(start)
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in out + err
    assert "internal error" not in err, (argv, err)
    if code == 2:
        assert 1 <= len(err.strip().splitlines()) <= 40, err
