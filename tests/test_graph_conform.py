"""The fast conformance check (`orchestrator/graph/conform.py`) says "valid" exactly when
jsonschema finds no problem: on the bundled graph, on a graph using every field, and on
many mutations of it (a value replaced, a key removed or added, anywhere)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.graph.conform import conformance_check, conforms
from orchestrator.graph.validate import _graph_validator, graph_schema

REPO = Path(__file__).resolve().parent.parent


def jsonschema_valid(data) -> bool:
    try:
        return next(iter(_graph_validator().iter_errors(data)), None) is None
    except RecursionError:
        return False


CHECK = conformance_check(graph_schema())


def every_field_graph() -> dict:
    hook_command = {"command": {"executable": "echo", "args": ["hi"]}, "description": "d"}
    return {
        "version": "1", "defaultPipeline": "all", "keepRuns": {"count": 3, "days": 1.5},
        "python": ".venv/bin/python",
        "pipelines": [{"id": "all", "description": "d", "stages": ["a", "b"]}],
        "artifacts": [
            {"id": "in", "type": "file", "path": "data/in.json", "format": "json",
             "description": "d", "schema": "schemas/in.json", "ignore": ["*.tmp"]},
            {"id": "out", "type": "directory", "path": "out"},
        ],
        "stages": [
            {"id": "a", "name": "A", "description": "d",
             "command": {"executable": "python3", "args": ["a.py", "--x"]},
             "inputs": [{"artifact": "in", "mode": "read", "optional": False},
                        {"type": "external", "kind": "http", "uri": "https://x",
                         "description": "d", "optional": True, "maxAge": "1.5h"}],
             "outputs": [{"artifact": "out", "mode": "write", "optional": True}],
             "environment": [{"name": "API_KEY", "required": True, "description": "d"}],
             "sideEffects": [{"type": "network", "description": "d", "maxAge": "30m"}],
             "timeout": 2.5, "retries": 2, "retryDelay": 0, "python": "py",
             "hooks": {"before": [{"move": {"from": "in", "to": "out"}}],
                       "after": [{"remove": "out"}], "onFailure": [hook_command]}},
            {"id": "b", "command": {"executable": "node"}, "dependsOn": ["a"]},
        ],
    }


def paths(node, prefix=()):
    """Every place in a document: (path to it, its value)."""
    yield prefix, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from paths(value, (*prefix, i))


PLACES = [p for p, _ in paths(every_field_graph()) if p]
VALUES = st.one_of(
    st.sampled_from(["", "x", "a b", "1bad", "bad id", "a\n", "external", "file",
                     "directory", "dir", "5m", "5x", "1.5h", ".5h", "x" * 201, "ok-id_1.2+@"]),
    st.integers(-2, 101), st.sampled_from([0.0, 1.0, 1.5, -0.5, 100.0, 101.0]),
    st.booleans(), st.none(), st.just([]), st.just({}), st.just(["a"]), st.just([{}]),
    st.just({"executable": "x"}), st.just({"type": "external"}), st.just({"artifact": "in"}),
    st.just({"move": {"from": "a", "to": "b"}, "remove": "x"}),
)
KEYS = st.sampled_from(["id", "type", "command", "stages", "remove", "move", "required",
                        "name", "artifact", "maxAge", "timeout", "x"])


def mutate(doc, place, action, value, key):
    parent = doc
    for part in place[:-1]:
        parent = parent[part]
    last = place[-1]
    if action == "replace":
        parent[last] = value
    elif action == "delete":
        if isinstance(parent, dict):
            del parent[last]
        elif isinstance(parent, list):
            parent.pop(last)
        else:  # an earlier mutation made the parent a scalar
            raise TypeError(f"no place {place}")
    elif isinstance(parent[last], dict):  # add a key
        parent[last][key] = value
    elif isinstance(parent[last], list):
        parent[last].append(value)
    return doc


def test_the_check_is_built_from_the_schema_and_valid_graphs_conform():
    assert CHECK is not None
    bundled = json.loads((REPO / "pipeline" / "stage-graph.json").read_text())
    for graph in (bundled, every_field_graph()):
        assert jsonschema_valid(graph)
        assert conforms(CHECK, graph)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(PLACES),
                          st.sampled_from(["replace", "delete", "add"]), VALUES, KEYS),
                min_size=1, max_size=3))
def test_the_check_agrees_with_jsonschema_on_mutated_graphs(mutations):
    doc = every_field_graph()
    for place, action, value, key in mutations:
        try:
            doc = mutate(doc, place, action, copy.deepcopy(value), key)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed the place
    assert conforms(CHECK, doc) == jsonschema_valid(doc), doc


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                              st.text(max_size=4)),
                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                            st.dictionaries(st.sampled_from(
                                                ["stages", "pipelines", "id", "command"]),
                                                inner, max_size=3)), max_leaves=20))
def test_the_check_agrees_with_jsonschema_on_any_document(doc):
    assert conforms(CHECK, doc) == jsonschema_valid(doc), doc


HOOK = ("stages", 0, "hooks", "before", 0)
INPUT = ("stages", 0, "inputs", 1)


@pytest.mark.parametrize("place, action, value, key", [
    (HOOK, "add", "x", "remove"),  # two of move / remove / command: oneOf fails
    (HOOK, "delete", None, None),
    (HOOK + ("move",), "replace", {}, None),
    (HOOK + ("move",), "delete", None, None),  # none of them
    (INPUT + ("type",), "replace", "artifact", None),  # then an artifact input
    (INPUT + ("type",), "replace", 1, None),
    (INPUT, "add", "5x", "maxAge"),
    (INPUT + ("maxAge",), "replace", "10d\n", None),
    (("stages", 0, "id"), "replace", "a\n", None),  # the id pattern's end is the end
    (("stages", 0, "id"), "replace", "x" * 201, None),
    (("stages", 0, "retries"), "replace", 1.0, None),  # an integer to JSON Schema
    (("stages", 0, "retries"), "replace", 1.5, None),
    (("stages", 0, "retries"), "replace", True, None),
    (("stages", 0, "retries"), "replace", 101, None),
    (("stages", 0, "timeout"), "replace", 0, None),
    (("keepRuns", "count"), "replace", 0, None),
    (("artifacts", 0, "type"), "replace", "dir", None),
    (("artifacts", 0, "ignore", 0), "replace", "", None),
    (("stages", 0, "environment", 0, "name"), "replace", "1X", None),
    (("stages", 0, "command", "executable"), "replace", "", None),
])
def test_the_check_agrees_with_jsonschema_on_edge_cases(place, action, value, key):
    doc = mutate(every_field_graph(), place, action, value, key)
    assert conforms(CHECK, doc) == jsonschema_valid(doc)


def test_a_schema_keyword_the_check_does_not_know_leaves_every_graph_to_jsonschema():
    schema = copy.deepcopy(graph_schema())
    schema["$defs"]["stage"]["propertyNames"] = {"maxLength": 5}
    assert conformance_check(schema) is None
    schema = copy.deepcopy(graph_schema())
    schema["$defs"]["artifact"]["properties"]["type"] = {"enum": ["file", 1]}
    assert conformance_check(schema) is None


def test_a_graph_nested_too_deeply_does_not_conform():
    doc = every_field_graph()
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    doc["stages"][0]["x"] = deep  # unknown fields are not walked: still valid
    assert conforms(CHECK, doc)
    doc["stages"][0]["dependsOn"] = deep  # walked: a list of strings, it is not one
    assert not conforms(CHECK, doc)
