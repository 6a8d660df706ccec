"""`pipeline list` on the fixture project and on the reference graph."""

from __future__ import annotations

import json

from conftest import reference_project


def section(out: str, title: str) -> list[str]:
    """The lines of one section of the human output (after its title, up to a blank line)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title + " ("))
    body = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        body.append(line)
    return body


def test_human_output_has_the_three_sections(project):
    result = project.pipeline("list")
    assert result.code == 0, result.text
    assert result.err == ""
    assert section(result.out, "Pipelines") == ["  full-refresh  3 stages  (default)"]
    stages = section(result.out, "Stages")
    assert [line.split() for line in stages] == [
        ["extract", "python", "full-refresh"],
        ["transform", "node", "full-refresh"],
        ["publish", "python", "full-refresh"]]
    artifacts = {line.split()[0]: line.split()[1:] for line in section(result.out, "Artifacts")}
    assert artifacts == {
        "source": ["file", "data/source.txt"],
        "raw": ["file", "build/raw.json"],
        "clean": ["file", "build/clean.json", "schema", "schemas/clean.schema.json"],
        "report": ["file", "build/report.json", "schema", "schemas/clean.schema.json"],
        "site": ["directory", "build/site/"]}


def test_json_has_the_documented_shape(project):
    result = project.pipeline("list", "--json")
    assert result.code == 0, result.text
    data = json.loads(result.out)
    assert list(data) == ["pipelines", "stages", "artifacts"]
    assert data["pipelines"] == [{"id": "full-refresh", "description": "",
                                  "stages": ["extract", "transform", "publish"],
                                  "default": True}]
    assert data["stages"][1] == {"id": "transform", "name": "", "runtime": "node",
                                 "pipelines": ["full-refresh"], "description": ""}
    assert [s["runtime"] for s in data["stages"]] == ["python", "node", "python"]
    assert data["artifacts"][2] == {"id": "clean", "type": "file", "path": "build/clean.json",
                                    "format": "json", "schema": "schemas/clean.schema.json",
                                    "description": ""}
    assert data["artifacts"][4]["path"] == "build/site/"
    assert data["artifacts"][4]["schema"] is None


def test_a_selector_limits_the_output_to_its_section(project):
    for name, count in (("pipelines", 1), ("stages", 3), ("artifacts", 5)):
        result = project.pipeline("list", f"--{name}", "--json")
        assert result.code == 0, result.text
        assert list(json.loads(result.out)) == [name]
        human = project.pipeline("list", f"--{name}")
        titles = [line for line in human.out.splitlines() if line and not line.startswith(" ")]
        assert titles == [f"{name.capitalize()} ({count})"]


def test_two_selectors_are_a_usage_error(project):
    result = project.pipeline("list", "--stages", "--artifacts")
    assert result.code == 2
    assert result.out == ""
    assert len(result.err.splitlines()) == 1
    assert "not allowed with argument" in result.err


def test_runtime_of_another_executable_is_its_name_and_stages_show_their_pipelines(project):
    graph = project.graph()
    graph["stages"][0]["command"]["executable"] = "tools/bin/make-raw"
    graph["stages"][0]["description"] = "Extract the source\ninto raw JSON. " + "x" * 150
    graph["pipelines"].append({"id": "quick", "stages": ["extract"], "description": "just one"})
    graph["stages"].append({"id": "orphan", "command": {"executable": "true"}})
    project.write_graph(graph)
    result = project.pipeline("list", "--json")
    stages = {s["id"]: s for s in json.loads(result.out)["stages"]}
    assert stages["extract"]["runtime"] == "make-raw"
    assert stages["extract"]["pipelines"] == ["full-refresh", "quick"]
    assert stages["orphan"]["pipelines"] == []

    human = project.pipeline("list")
    assert human.code == 0, human.text
    assert all(len(line) <= 100 for line in human.out.splitlines())
    extract = next(line for line in section(human.out, "Stages") if "extract" in line)
    # the description's newline does not break the table; its long end is cut
    assert extract.split()[:4] == ["extract", "make-raw", "full-refresh,", "quick"]
    assert "Extract the source into raw JSON." in extract and extract.endswith("…")
    orphan = next(line for line in section(human.out, "Stages") if "orphan" in line)
    assert orphan.split() == ["orphan", "true", "-"]
    assert "  quick         1 stage   just one" in human.out


def test_broken_graph_is_reported_not_listed(project):
    project.path("pipeline/stage-graph.json").write_text("{ not json")
    result = project.pipeline("list")
    assert result.code == 2
    assert result.out == ""
    assert "invalid JSON" in result.err and len(result.err.splitlines()) == 1


def test_reference_graph(tmp_path):
    ref = reference_project(tmp_path)
    result = ref.pipeline("list")
    assert result.code == 0, result.text
    assert all(len(line) <= 100 for line in result.out.splitlines())
    assert "full-refresh  6 stages  (default) Full catalogue refresh" in result.out
    stages = [line.split()[:3] for line in section(result.out, "Stages")]
    assert stages[2] == ["get-modules", "python", "full-refresh"]
    assert len(stages) == 6
    # a schema that does not fit beside its path goes on the next line, whole
    assert "      schema dist/schemas/modules.stage.1.schema.json" in result.out
    data = json.loads(ref.pipeline("list", "--json").out)
    assert len(data["artifacts"]) == 14
    assert {a["id"]: a["type"] for a in data["artifacts"]}["modules-temp"] == "directory"
