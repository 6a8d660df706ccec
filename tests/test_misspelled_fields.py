"""A misspelled graph field (`timeot`, `output`) is not an error (unknown fields are
allowed: graphs grow) but its setting is lost: `check` names it, and every command that
loads the graph warns once on stderr (also when the graph comes from the cache)."""

from __future__ import annotations

import json

TIMEOT = "pipeline/stage-graph.json: stages[1].timeot: unknown field (did you mean 'timeout'?)"
OUTPUT = "pipeline/stage-graph.json: stages[2].output: unknown field (did you mean 'outputs'?)"


def misspell(project) -> None:
    graph = project.graph()
    graph["stages"][1]["timeot"] = 5
    graph["stages"][2]["output"] = [{"artifact": "report"}]
    graph["stages"][2]["x-owner"] = "data team"  # an extension: far from every field
    graph["stages"][0]["inputs"][0]["optinal"] = True
    graph["stages"][0]["inputs"].append({"type": "external", "kind": "http", "url": "x"})
    project.write_graph(graph)


def test_check_names_each_misspelled_field(project):
    misspell(project)
    result = project.pipeline("check")
    assert result.code == 0, result.text  # warnings only
    text = " ".join(result.out.split())
    for line in ("stages[0].inputs[0].optinal: unknown field (did you mean 'optional'?)",
                 "stages[0].inputs[1].url: unknown field (did you mean 'uri'?)",
                 TIMEOT, OUTPUT):
        assert line in text, (line, result.out)
    assert "x-owner" not in result.text
    assert "pipeline: warning" not in result.err  # check reports them once, as findings
    found = json.loads(project.pipeline("check", "--json").out)["warnings"]
    timeot = next(f for f in found if f["place"] == "stages[1].timeot")
    assert timeot == {"code": "unknown-field", "message": "unknown field (did you mean "
                      "'timeout'?)", "place": "stages[1].timeot", "field": "timeot",
                      "didYouMean": "timeout"}


def test_every_command_warns_once_at_load_on_stderr(project):
    misspell(project)
    for _ in range(2):  # the second load is from the graph cache: still warned
        status = project.pipeline("status", "--json")
        assert status.code == 0
        json.loads(status.out)  # stdout stays one JSON document
        lines = status.err.splitlines()
        assert lines[0] == ("pipeline: warning: pipeline/stage-graph.json: "
                            "stages[0].inputs[0].optinal: unknown field (did you mean "
                            "'optional'?)")
        assert lines[-1] == ("pipeline: warning: pipeline/stage-graph.json: 1 more unknown "
                             "field(s) like these ('pipeline check' lists them all)")
        assert len(lines) == 4 and f"pipeline: warning: {TIMEOT}" in lines
    run = project.pipeline("run")
    assert run.code == 0
    assert run.err.count("did you mean") == 3 and len(run.err.splitlines()) == 4
    doit = project.doit("list")
    assert doit.code == 0 and f"warning: {TIMEOT}" in doit.err


def test_a_clean_graph_warns_nothing(project):
    assert project.pipeline("status").err == ""
    check = json.loads(project.pipeline("check", "--json").out)
    assert not [f for f in check["warnings"] if f["code"] == "unknown-field"]
