"""`pipeline check`: validation plus lint, on copies of the fixture project's graph."""

from __future__ import annotations

import json

from conftest import REFERENCE, REPO, Project, reference_project


def check_json(project) -> tuple[int, dict]:
    result = project.pipeline("check", "--json")
    return result.code, json.loads(result.out)


def codes(findings: list[dict]) -> list[str]:
    return [f["code"] for f in findings]


def stage(graph: dict, sid: str) -> dict:
    return next(s for s in graph["stages"] if s["id"] == sid)


def test_clean_graph(project):
    result = project.pipeline("check")
    assert result.code == 0, result.text
    assert result.out == ("✔ pipeline/stage-graph.json: valid, no warnings "
                          "(1 pipeline(s), 3 stage(s), 5 artifact(s))\n")
    code, report = check_json(project)
    assert code == 0
    assert report == {"ok": True, "errors": [], "warnings": []}


def test_read_without_depending_on_the_writer(project):
    graph = project.graph()
    del stage(graph, "publish")["dependsOn"]  # publish reads clean, written by transform
    project.write_graph(graph)
    result = project.pipeline("check")
    assert result.code == 1
    assert ("✖ pipeline/stage-graph.json: stages[2].inputs[0]: pipeline 'full-refresh': stage "
            "'publish' reads artifact 'clean' (build/clean.json) written by 'transform' but "
            "does not depend on it; add 'transform' to its dependsOn [unordered-read]") \
        in " ".join(line.strip() for line in result.out.splitlines())
    assert all(len(line) <= 100 for line in result.out.splitlines())
    assert result.out.splitlines()[-1].startswith("pipeline/stage-graph.json: 1 error, 0 warnings")

    code, report = check_json(project)
    assert code == 1 and report["ok"] is False
    assert report["errors"] == [{
        "code": "unordered-read", "place": "stages[2].inputs[0]", "pipeline": "full-refresh",
        "stage": "publish", "artifact": "clean", "writer": "transform",
        "message": report["errors"][0]["message"]}]
    assert report["warnings"] == []


def test_a_folder_read_before_a_stage_writes_into_it_is_an_unordered_read(project):
    """Another artifact id, the same bytes: extract reads the folder build/, which
    transform writes a file into, and publish reads a file inside the folder build/site/
    that publish itself writes (its own: fine). The run's up-to-date decision of extract
    would depend on the order; check says so, naming both artifacts."""
    graph = project.graph()
    graph["artifacts"].append({"id": "build", "type": "directory", "path": "build/"})
    stage(graph, "extract")["inputs"].append({"artifact": "build", "mode": "read",
                                              "optional": True})
    graph["artifacts"].append({"id": "page", "type": "file", "path": "build/site/index.html"})
    stage(graph, "publish")["inputs"].append({"artifact": "page", "mode": "read",
                                              "optional": True})
    project.write_graph(graph)
    code, report = check_json(project)
    assert code == 1
    found = [(e["stage"], e["artifact"], e["writer"]) for e in report["errors"]
             if e["code"] == "unordered-read"]
    assert found == [("extract", "build", "transform"), ("extract", "build", "publish")]
    assert ("stage 'extract' reads artifact 'build' (build/), and 'transform' writes "
            "artifact 'clean' (build/clean.json) inside it but does not depend on it; add "
            "'transform' to its dependsOn") in report["errors"][0]["message"]


def test_transitive_dependency_orders_the_read(project):
    graph = project.graph()
    # publish depends on transform, which depends on extract: reading raw is ordered
    stage(graph, "publish")["inputs"].append({"artifact": "raw", "mode": "read"})
    project.write_graph(graph)
    assert project.pipeline("check").code == 0


def test_dependency_through_a_stage_outside_the_pipeline_does_not_order_it(project):
    graph = project.graph()
    graph["stages"].append({"id": "bridge", "dependsOn": ["transform"],
                            "command": {"executable": "python3", "args": ["-c", "pass"]}})
    stage(graph, "publish")["dependsOn"] = ["bridge"]
    graph["pipelines"].append({"id": "bridging", "stages": ["bridge"]})
    project.write_graph(graph)
    code, report = check_json(project)
    assert code == 1
    assert [(e["code"], e["pipeline"], e["stage"], e["writer"]) for e in report["errors"]] == \
        [("unordered-read", "full-refresh", "publish", "transform")]


def test_a_stage_reading_its_own_output_is_a_cache_not_a_hazard(project):
    graph = project.graph()
    graph["artifacts"].append({"id": "cache", "type": "directory", "path": "build/cache/"})
    stage(graph, "extract")["inputs"].append({"artifact": "cache", "mode": "read",
                                              "optional": True})
    stage(graph, "extract")["outputs"].append({"artifact": "cache", "mode": "write"})
    project.write_graph(graph)
    code, report = check_json(project)
    assert code == 0 and report["errors"] == []


def test_two_writers_in_one_pipeline(project):
    graph = project.graph()
    graph["artifacts"].append({"id": "notes", "type": "file", "path": "build/notes.txt"})
    stage(graph, "extract")["outputs"].append({"artifact": "notes", "mode": "write"})
    stage(graph, "publish")["outputs"].append({"artifact": "notes", "mode": "write"})
    project.write_graph(graph)
    result = project.pipeline("check")
    assert result.code == 1
    assert "[duplicate-writer]" in result.out
    code, report = check_json(project)
    assert report["errors"] == [{
        "code": "duplicate-writer", "place": "pipelines[0]", "pipeline": "full-refresh",
        "artifact": "notes", "stages": ["extract", "publish"],
        "message": "pipeline 'full-refresh': stages 'extract', 'publish' all write artifact "
                   "'notes' (build/notes.txt); the last one wins"}]


def test_writers_in_different_pipelines_are_fine(project):
    graph = project.graph()
    graph["stages"].append({"id": "publish-v2", "dependsOn": ["transform"],
                            "command": {"executable": "python3", "args": ["-c", "pass"]},
                            "inputs": [{"artifact": "clean", "mode": "read"}],
                            "outputs": [{"artifact": "report", "mode": "write"}]})
    graph["pipelines"].append({"id": "next", "stages": ["extract", "transform", "publish-v2"]})
    graph["defaultPipeline"] = "full-refresh"
    project.write_graph(graph)
    code, report = check_json(project)
    assert code == 0, report
    assert report == {"ok": True, "errors": [], "warnings": []}


def test_several_pipelines_without_a_default_say_which_one_run_picks(project):
    graph = project.graph()
    graph["pipelines"].append({"id": "quick", "stages": ["extract"]})
    project.write_graph(graph)
    result = project.pipeline("check")
    assert result.code == 0, result.text
    out = " ".join(line.strip() for line in result.out.splitlines())
    assert ("! pipeline/stage-graph.json: top level: no defaultPipeline among 2 pipelines "
            "(full-refresh, quick): 'pipeline run' with no pipeline named runs "
            "'full-refresh', the one of that name; set defaultPipeline to choose "
            "[implicit-default-pipeline]") in out
    code, report = check_json(project)
    assert report["warnings"] == [{
        "code": "implicit-default-pipeline", "place": "top level",
        "pipelines": ["full-refresh", "quick"], "picks": "full-refresh",
        "message": report["warnings"][0]["message"]}]
    # and that is what run does
    assert project.pipeline("run").out.splitlines()[-1].startswith("full-refresh succeeded")

    graph["pipelines"][0]["id"] = "nightly"
    project.write_graph(graph)
    code, report = check_json(project)
    assert code == 0
    assert report["warnings"][0]["picks"] is None
    assert report["warnings"][0]["message"] == (
        "no defaultPipeline among 2 pipelines (nightly, quick), none called 'full-refresh': "
        "'pipeline run' with no pipeline named exits 2; set defaultPipeline to one of them")
    assert project.pipeline("run").code == 2

    graph["defaultPipeline"] = "quick"
    project.write_graph(graph)
    assert check_json(project) == (0, {"ok": True, "errors": [], "warnings": []})


def test_listed_before_a_dependency(project):
    graph = project.graph()
    graph["pipelines"][0]["stages"] = ["transform", "extract", "publish"]
    project.write_graph(graph)
    result = project.pipeline("check")
    assert result.code == 1
    assert ("✖ pipeline/stage-graph.json: pipelines[0].stages[0]: pipeline 'full-refresh' "
            "lists 'transform' before 'extract', which it depends on; list 'extract' first "
            "[listed-before-dependency]") in " ".join(ln.strip() for ln in result.out.splitlines())
    code, report = check_json(project)
    assert codes(report["errors"]) == ["listed-before-dependency"]
    assert report["errors"][0]["stage"] == "transform"
    assert report["errors"][0]["dependsOn"] == "extract"


def test_warnings_do_not_fail(project):
    graph = project.graph()
    graph["artifacts"] += [
        {"id": "lookup", "type": "file", "path": "data/lookup.csv"},  # read, missing
        {"id": "spare", "type": "file", "path": "data/spare.txt"},  # unused, present
    ]
    stage(graph, "transform")["inputs"].append({"artifact": "lookup", "mode": "read",
                                                "optional": True})
    graph["stages"].append({"id": "lonely", "command": {"executable": "python3",
                                                        "args": ["-c", "pass"]}})
    project.write_graph(graph)
    project.path("data/spare.txt").write_text("x")
    result = project.pipeline("check")
    assert result.code == 0, result.text
    out = " ".join(line.strip() for line in result.out.splitlines())
    assert ("! pipeline/stage-graph.json: artifacts[5]: artifact 'lookup' (data/lookup.csv) is "
            "written by no stage and does not exist [never-written]") in out
    assert ("! pipeline/stage-graph.json: artifacts[6]: artifact 'spare' (data/spare.txt) is "
            "not used by any stage [unused-artifact]") in out
    assert ("! pipeline/stage-graph.json: stages[3]: stage 'lonely' is in no pipeline") in out
    assert "[stage-in-no-pipeline]" in out
    assert result.out.splitlines()[-1].startswith("✔ pipeline/stage-graph.json: valid, 3 warnings")

    code, report = check_json(project)
    assert code == 0 and report["ok"] is True and report["errors"] == []
    assert codes(report["warnings"]) == ["never-written", "unused-artifact",
                                         "stage-in-no-pipeline"]
    assert report["warnings"][0]["artifact"] == "lookup"
    assert report["warnings"][0]["path"] == "data/lookup.csv"
    assert report["warnings"][2] == {
        "code": "stage-in-no-pipeline", "place": "stages[3]", "stage": "lonely",
        "message": report["warnings"][2]["message"]}

    # the external input on disk (data/source.txt) is not flagged; a missing one is
    project.path("data/source.txt").unlink()
    code, report = check_json(project)
    assert [w["artifact"] for w in report["warnings"] if w["code"] == "never-written"] == \
        ["source", "lookup"]


def test_a_folder_filled_by_stages_writing_inside_it_is_written(project):
    """A folder artifact no stage declares as its output, read by a stage, while stages
    write file artifacts inside it (and a file inside a folder a stage writes): written,
    not `never-written`; a folder nothing writes into still is."""
    graph = project.graph()
    graph["artifacts"] += [
        {"id": "reports", "type": "directory", "path": "build/reports/"},
        {"id": "summary", "type": "file", "path": "build/reports/summary.txt"},
        {"id": "www", "type": "directory", "path": "build/www"},
        {"id": "index", "type": "file", "path": "build/www/index.html"},
        {"id": "empty", "type": "directory", "path": "build/empty"}]
    stage(graph, "transform")["outputs"] += [{"artifact": "summary"}, {"artifact": "www"}]
    stage(graph, "publish")["inputs"] += [{"artifact": "reports"}, {"artifact": "index"},
                                          {"artifact": "empty"}]
    project.write_graph(graph)
    result = project.pipeline("check", "--json")
    assert result.code == 0, result.text
    report = json.loads(result.out)
    assert [w["artifact"] for w in report["warnings"] if w["code"] == "never-written"] == \
        ["empty"], report


def test_artifact_used_only_by_a_hook_is_used(project):
    graph = project.graph()
    graph["artifacts"].append({"id": "old-site", "type": "directory", "path": "build/old/"})
    stage(graph, "publish")["hooks"] = {"after": [{"remove": "old-site"}]}
    project.write_graph(graph)
    code, report = check_json(project)
    assert codes(report["warnings"]) == ["never-written"]


def test_errors_and_warnings_together(project):
    graph = project.graph()
    graph["pipelines"][0]["stages"] = ["extract", "publish", "transform"]
    graph["stages"].append({"id": "lonely", "command": {"executable": "python3",
                                                        "args": ["-c", "pass"]}})
    project.write_graph(graph)
    result = project.pipeline("check")
    assert result.code == 1
    assert result.out.splitlines()[-1].startswith("pipeline/stage-graph.json: 1 error, 1 warning")


def test_broken_graph_is_exit_2_with_the_usual_lines(project):
    graph = project.graph()
    stage(graph, "publish")["dependsOn"] = ["transfrom"]
    project.write_graph(graph)
    result = project.pipeline("check")
    assert result.code == 2
    assert result.out == ""
    assert result.err == ("pipeline/stage-graph.json: stages[2].dependsOn[0]: unknown stage "
                          "'transfrom' (did you mean 'transform'?)\n")
    assert project.pipeline("check", "--json").code == 2


def test_reference_graph(tmp_path):
    project = reference_project(tmp_path)
    result = project.pipeline("check")
    assert result.code == 0, result.text
    assert result.out.splitlines()[-1] == ("✔ pipeline/stage-graph.json: valid, 4 warnings "
                                           "(1 pipeline(s), 6 stage(s), 14 artifact(s))")
    # its network / git stages run every time: said, with where and what to do
    warnings = json.loads(project.pipeline("check", "--json").out)["warnings"]
    assert [(w["code"], w["stage"], w["place"]) for w in warnings] == [
        ("always-runs", "create-module-list", "stages[0].sideEffects[0]"),
        ("always-runs", "update-repository-data", "stages[1].sideEffects[0]"),
        ("always-runs", "get-modules", "stages[2].sideEffects[0]"),
        ("always-runs", "check-modules", "stages[5].sideEffects[1]")]
    assert warnings[2]["message"] == (
        "stage 'get-modules' runs on every run (side effect: network); give the side "
        "effect a \"maxAge\" to keep a recent result")
    # get-modules reads and writes modules-temp (its cache): no hazard; dropping a
    # dependsOn makes one
    graph = json.loads(REFERENCE.read_text())
    stage(graph, "check-modules")["dependsOn"] = []
    project.write_graph(graph)
    code, report = check_json(project)
    assert code == 1
    hazards = {(e["stage"], e["artifact"], e["writer"]) for e in report["errors"]}
    assert hazards == {("check-modules", "modules-stage-5", "check-modules-js"),
                       ("check-modules", "cloned-modules", "get-modules")}


def test_bundled_graph_is_clean():
    result = Project(REPO).pipeline("check", "--json")
    assert result.code == 0, result.text
    assert json.loads(result.out)["ok"] is True
