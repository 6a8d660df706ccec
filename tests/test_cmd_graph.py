"""`pipeline graph`: Mermaid and DOT text for a pipeline's stages and artifacts."""

from __future__ import annotations

import re

from conftest import reference_project

MERMAID_NODE = re.compile(r'^  (\w+)(\[/"|\(\["|\["|\(")(.*?)("/\]|"\]\)|"\]|"\))$')
DOT_NODE = re.compile(r'^  (\w+) \[label="((?:[^"\\]|\\.)*)", (.*)\];$')


def mermaid_nodes(out: str) -> dict[str, tuple[str, str]]:
    """Generated name -> (first label line, shape opening)."""
    nodes = {}
    for line in out.splitlines():
        match = MERMAID_NODE.match(line)
        if match:
            nodes[match.group(1)] = (match.group(3).split("<br>")[0], match.group(2))
    return nodes


def mermaid_edges(out: str) -> set[tuple[str, str, str]]:
    """(from label, arrow, to label) for every edge."""
    names = {name: label for name, (label, _) in mermaid_nodes(out).items()}
    edges = set()
    for line in out.splitlines():
        match = re.match(r"^  (\w+) (-->|-->\|optional\||-\.->) (\w+)$", line)
        if match:
            edges.add((names[match.group(1)], match.group(2), names[match.group(3)]))
    return edges


BASIC_EDGES = {("source", "-->", "extract"), ("extract", "-->", "raw"),
               ("raw", "-->", "transform"), ("transform", "-->", "clean"),
               ("clean", "-->", "publish"), ("publish", "-->", "report"),
               ("publish", "-->", "site")}


def test_mermaid_is_the_default(project):
    result = project.pipeline("graph")
    assert result.code == 0, result.text
    lines = result.out.splitlines()
    assert lines[0] == "flowchart LR"
    nodes = mermaid_nodes(result.out)
    assert nodes == {"s_0": ("extract", '["'), "s_1": ("transform", '["'),
                     "s_2": ("publish", '["'), "a_0": ("source", '("'), "a_1": ("raw", '("'),
                     "a_2": ("clean", '("'), "a_3": ("report", '("'), "a_4": ("site", '(["')}
    assert '  a_4(["site<br>build/site/"])' in lines
    # stages linked by an artifact need no dashed dependsOn edge
    assert mermaid_edges(result.out) == BASIC_EDGES
    assert "  class s_0,s_1,s_2 stage" in lines
    assert result.out == project.pipeline("graph", "full-refresh").out  # deterministic


def test_dot(project):
    result = project.pipeline("graph", "--format", "dot")
    assert result.code == 0, result.text
    lines = result.out.splitlines()
    assert lines[0] == 'digraph "full-refresh" {' and lines[-1] == "}"
    labels = {}
    for line in lines:
        match = DOT_NODE.match(line)
        if match:
            labels[match.group(1)] = match.group(2).split("\\n")[0]
    assert labels["s_0"] == "extract" and labels["a_4"] == "site"
    assert '  a_2 [label="clean\\nbuild/clean.json", shape=note];' in lines
    assert '  a_4 [label="site\\nbuild/site/", shape=folder];' in lines
    edges = set()
    for line in lines:
        match = re.match(r"^  (\w+) -> (\w+)( \[.*\])?;$", line)
        if match:
            edges.add((labels[match.group(1)], "-->", labels[match.group(2)]))
    assert edges == BASIC_EDGES
    assert result.out == project.pipeline("graph", "--format", "dot").out


def test_dependson_without_an_artifact_is_dashed_and_optional_edges_are_labelled(project):
    graph = project.graph()
    graph["stages"].append({"id": "notify", "dependsOn": ["publish", "extract"],
                            "command": {"executable": "true"},
                            "inputs": [{"artifact": "raw"},
                                       {"type": "external", "kind": "http",
                                        "uri": "https://hooks.test/x", "optional": True}]})
    graph["pipelines"][0]["stages"].insert(0, "notify")
    project.write_graph(graph)
    result = project.pipeline("graph")
    assert result.code == 0, result.text
    edges = mermaid_edges(result.out)
    assert ("publish", "-.->", "notify") in edges
    assert ("extract", "-.->", "notify") not in edges  # raw already links them
    assert ("raw", "-->", "notify") in edges
    assert ("http", "-->|optional|", "notify") in edges
    assert mermaid_nodes(result.out)["s_3"] == ("notify", '["')  # run order, not listed order
    assert '  x_0[/"http<br>https://hooks.test/x"/]' in result.out.splitlines()
    dot = project.pipeline("graph", "--format", "dot").out.splitlines()
    assert "  s_2 -> s_3 [style=dashed];" in dot
    assert '  x_0 -> s_3 [label="optional"];' in dot


def test_unusual_ids_get_safe_names_and_escaped_labels(project):
    text = project.path("pipeline/stage-graph.json").read_text()
    for old, new in (('"extract"', '"ex.tract@1+a-b"'), ('"raw"', '"raw@v2.0"')):
        text = text.replace(old, new)
    project.path("pipeline/stage-graph.json").write_text(text)
    graph = project.graph()
    graph["artifacts"][0]["path"] = 'data/we"ird #1.txt'
    graph["pipelines"][0]["id"] = "full.refresh"
    project.write_graph(graph)
    result = project.pipeline("graph", "full.refresh")
    assert result.code == 0, result.text
    body = result.out.splitlines()[1:]
    names = [line.split()[0] for line in body if not line.startswith("  class")]
    assert all(re.fullmatch(r"[sax]_\d+(\W.*)?", name) for name in names)
    assert '  s_0["ex.tract@1+a-b"]' in body
    assert '  a_1("raw@v2.0<br>build/raw.json")' in body
    assert '  a_0("source<br>data/we#34;ird #35;1.txt")' in body
    dot = project.pipeline("graph", "--format", "dot", "full.refresh").out.splitlines()
    assert dot[0] == 'digraph "full.refresh" {'
    assert '  a_0 [label="source\\ndata/we\\"ird #1.txt", shape=note];' in dot


def test_another_pipeline_shows_only_its_stages(project):
    graph = project.graph()
    graph["pipelines"].append({"id": "quick", "stages": ["extract"]})
    project.write_graph(graph)
    result = project.pipeline("graph", "quick")
    assert result.code == 0, result.text
    assert set(label for label, _ in mermaid_nodes(result.out).values()) == \
        {"extract", "source", "raw"}


def test_bad_format_and_unknown_pipeline_are_usage_errors(project):
    bad = project.pipeline("graph", "--format", "svg")
    assert bad.code == 2 and bad.out == ""
    assert len(bad.err.splitlines()) == 1
    assert "invalid choice: 'svg'" in bad.err
    unknown = project.pipeline("graph", "full-refrsh")
    assert unknown.code == 2 and unknown.out == ""
    assert unknown.err.splitlines() == [
        "pipeline: error: unknown pipeline 'full-refrsh' (did you mean 'full-refresh'?); "
        "the pipelines are: full-refresh"]


def test_no_default_pipeline_is_a_usage_error(project):
    graph = project.graph()
    graph["pipelines"] = [{"id": "a", "stages": ["extract"]}, {"id": "b", "stages": ["publish"]}]
    project.write_graph(graph)
    result = project.pipeline("graph")
    assert result.code == 2 and result.out == ""
    assert result.err.splitlines() == [
        "pipeline: error: pipeline/stage-graph.json: no default pipeline; name one of: a, b"]


def test_reference_graph(tmp_path):
    ref = reference_project(tmp_path)
    result = ref.pipeline("graph")
    assert result.code == 0, result.text
    labels = {label for label, _ in mermaid_nodes(result.out).values()}
    assert {"create-module-list", "update-repository-data", "get-modules", "expand-module-list",
            "check-modules-js", "check-modules", "modules-temp", "cloned-modules"} <= labels
    edges = mermaid_edges(result.out)
    # the clone cache is both read (optionally) and written by get-modules
    assert ("modules-temp", "-->|optional|", "get-modules") in edges
    assert ("get-modules", "-->", "modules-temp") in edges
    assert ("cloned-modules", "-->", "check-modules") in edges
    assert not any(arrow == "-.->" for _, arrow, _ in edges)
    dot = ref.pipeline("graph", "--format", "dot")
    assert dot.code == 0, dot.text
    assert dot.out.count(" -> ") == sum(1 for _ in edges)
