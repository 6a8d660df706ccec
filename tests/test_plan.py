"""Which stages a run covers, in which order (orchestrator/plan.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.errors import UsageError
from orchestrator.graph import load_graph
from orchestrator.plan import (
    Plan,
    Selection,
    make_selection,
    missing_inputs,
    plan_pipeline,
    plan_stage,
    stage_order,
)

# ---------------------------------------------------------------------------
# Helpers


def stage(sid: str, *deps: str, inputs=(), outputs=()) -> dict:
    data = {"id": sid, "command": {"executable": "python3", "args": [f"{sid}.py"]}}
    if deps:
        data["dependsOn"] = list(deps)
    if inputs:
        data["inputs"] = [i if isinstance(i, dict) else {"artifact": i} for i in inputs]
    if outputs:
        data["outputs"] = [{"artifact": o} for o in outputs]
    return data


def build_graph(root: Path, stages: list[dict], pipelines: dict[str, list[str]] | None = None,
                artifacts: list[dict] = ()):
    """Write the graph as JSON under `root` and load it; one pipeline `p` of every stage
    in file order unless `pipelines` says otherwise."""
    pipelines = pipelines or {"p": [s["id"] for s in stages]}
    data = {"pipelines": [{"id": pid, "stages": ids} for pid, ids in pipelines.items()],
            "artifacts": list(artifacts), "stages": stages}
    path = root / "pipeline" / "stage-graph.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return load_graph(path, root)


def plan(graph, pipeline="p", force=False, **filters) -> Plan:
    return plan_pipeline(graph, graph.pipeline(pipeline), make_selection(**filters), force)


def usage_error(graph, pipeline="p", **filters) -> str:
    with pytest.raises(UsageError) as info:
        plan(graph, pipeline, **filters)
    return str(info.value)


@pytest.fixture
def chain(tmp_path):
    """a -> b -> c -> d -> e, listed in that order."""
    return build_graph(tmp_path, [stage("a"), stage("b", "a"), stage("c", "b"),
                                  stage("d", "c"), stage("e", "d")])


# ---------------------------------------------------------------------------
# Order


def test_order_follows_the_listed_order_when_it_agrees_with_dependencies(chain):
    assert stage_order(chain, ("a", "b", "c", "d", "e")) == ["a", "b", "c", "d", "e"]


def test_order_puts_dependencies_first_when_the_listed_order_disagrees(tmp_path):
    graph = build_graph(tmp_path, [stage("publish", "build"), stage("build", "fetch"),
                                   stage("fetch")])
    assert stage_order(graph, ["publish", "build", "fetch"]) == ["fetch", "build", "publish"]


def test_order_of_a_diamond_breaks_ties_by_listed_order(tmp_path):
    graph = build_graph(tmp_path, [stage("top"), stage("left", "top"), stage("right", "top"),
                                   stage("bottom", "left", "right")])
    assert stage_order(graph, ["top", "left", "right", "bottom"]) == \
        ["top", "left", "right", "bottom"]
    assert stage_order(graph, ["bottom", "right", "left", "top"]) == \
        ["top", "right", "left", "bottom"]


def test_independent_stages_keep_their_listed_order(tmp_path):
    graph = build_graph(tmp_path, [stage("x"), stage("y"), stage("z")])
    assert stage_order(graph, ["z", "x", "y"]) == ["z", "x", "y"]


def test_a_ready_stage_listed_first_runs_before_a_later_listed_chain(tmp_path):
    graph = build_graph(tmp_path, [stage("a"), stage("b", "a"), stage("x")])
    # b waits for a; x is ready and listed before a
    assert stage_order(graph, ["b", "x", "a"]) == ["x", "a", "b"]


def test_dependencies_outside_the_pipeline_do_not_constrain_the_order(tmp_path):
    graph = build_graph(tmp_path, [stage("outside"), stage("a", "outside"), stage("b", "a"),
                                   stage("c", "outside")],
                        pipelines={"full-refresh": ["outside", "a", "b", "c"],
                                   "part": ["c", "b", "a"]})
    assert stage_order(graph, ["c", "b", "a"]) == ["c", "a", "b"]
    assert plan(graph, "part").order == ("c", "a", "b")
    assert "outside" not in plan(graph, "part").selected


def test_plan_of_a_whole_pipeline(chain):
    result = plan(chain)
    assert result == Plan("p", ("a", "b", "c", "d", "e"), ("a", "b", "c", "d", "e"), {}, False)


def test_plan_keeps_force(chain):
    assert plan(chain, force=True).force is True
    assert plan_pipeline(chain, chain.pipeline("p")).force is False


def test_plan_without_a_selection_uses_the_default_selection(chain):
    assert plan_pipeline(chain, chain.pipeline("p")).selected == ("a", "b", "c", "d", "e")


# ---------------------------------------------------------------------------
# Selection values


def test_make_selection_splits_commas_and_repeats():
    selection = make_selection(only=["a,b", "c", " d , ,e "], skip=["x", "y,z"],
                               start="a", stop="e")
    assert selection == Selection(("a", "b", "c", "d", "e"), ("x", "y", "z"), "a", "e")
    assert selection.as_options() == {"only": ["a", "b", "c", "d", "e"],
                                      "skip": ["x", "y", "z"], "from": "a", "to": "e"}


def test_make_selection_drops_duplicates_and_empty_items():
    assert make_selection(only=["a,a", "a", ","]).only == ("a",)
    assert make_selection(only=None, skip=None) == Selection()
    assert make_selection() == Selection()


# ---------------------------------------------------------------------------
# --only and --skip


def test_only_selects_those_stages_in_run_order(chain):
    result = plan(chain, only=["d,b"])
    assert result.order == ("a", "b", "c", "d", "e")
    assert result.selected == ("b", "d")
    assert result.skipped == {"a": "not in --only", "c": "not in --only", "e": "not in --only"}


def test_only_repeated(chain):
    assert plan(chain, only=["e", "a", "c"]).selected == ("a", "c", "e")


def test_skip_leaves_those_stages_out(chain):
    result = plan(chain, skip=["b", "d,e"])
    assert result.selected == ("a", "c")
    assert result.skipped == {"b": "--skip", "d": "--skip", "e": "--skip"}


def test_skip_and_only_of_different_stages(chain):
    result = plan(chain, only=["a,c"], skip=["e"])
    assert result.selected == ("a", "c")
    assert result.skipped == {"b": "not in --only", "d": "not in --only", "e": "not in --only"}


def test_same_stage_in_only_and_skip(chain):
    assert usage_error(chain, only=["a,b"], skip=["c", "b"]) == \
        "stage 'b' is given to both --only and --skip"


@pytest.mark.parametrize("option, filters", [
    ("--only", {"only": ["a", "bb"]}),
    ("--skip", {"skip": ["bb"]}),
    ("--from", {"start": "bb"}),
    ("--to", {"stop": "bb"}),
])
def test_unknown_stage_in_a_filter_with_suggestion(tmp_path, option, filters):
    graph = build_graph(tmp_path, [stage("a"), stage("b"), stage("build")])
    assert usage_error(graph, **filters) == f"{option}: unknown stage 'bb' (did you mean 'b'?)"


def test_unknown_stage_without_a_close_match(chain):
    assert usage_error(chain, only=["zzz"]) == "--only: unknown stage 'zzz'"


def test_suggestions_come_from_the_pipeline_only(tmp_path):
    graph = build_graph(tmp_path, [stage("fetch"), stage("publish")],
                        pipelines={"p": ["fetch"], "all": ["fetch", "publish"]})
    assert usage_error(graph, only=["publsh"]) == "--only: unknown stage 'publsh'"


@pytest.mark.parametrize("option, filters", [
    ("--only", {"only": ["publish"]}),
    ("--skip", {"skip": ["publish"]}),
    ("--from", {"start": "publish"}),
    ("--to", {"stop": "publish"}),
])
def test_a_graph_stage_not_in_the_pipeline(tmp_path, option, filters):
    graph = build_graph(tmp_path, [stage("fetch"), stage("build", "fetch"), stage("publish")],
                        pipelines={"p": ["fetch", "build"], "all": ["fetch", "build", "publish"]})
    assert usage_error(graph, **filters) == f"{option}: stage 'publish' is not in pipeline 'p'"


def test_skipping_every_stage_leaves_nothing_to_run(chain):
    assert usage_error(chain, skip=["a,b,c,d,e"]) == \
        "the filters leave no stage to run in pipeline 'p'"


# ---------------------------------------------------------------------------
# --from and --to


def test_from_starts_at_that_stage_inclusive(chain):
    result = plan(chain, start="c")
    assert result.selected == ("c", "d", "e")
    assert result.skipped == {"a": "before --from c", "b": "before --from c"}


def test_to_stops_after_that_stage_inclusive(chain):
    result = plan(chain, stop="b")
    assert result.selected == ("a", "b")
    assert result.skipped == {"c": "after --to b", "d": "after --to b", "e": "after --to b"}


def test_from_and_to_together(chain):
    result = plan(chain, start="b", stop="d")
    assert result.selected == ("b", "c", "d")
    assert result.skipped == {"a": "before --from b", "e": "after --to d"}


def test_from_and_to_the_same_stage(chain):
    assert plan(chain, start="c", stop="c").selected == ("c",)


def test_from_and_to_are_positions_in_the_run_order_not_the_listed_order(tmp_path):
    graph = build_graph(tmp_path, [stage("publish", "build"), stage("build", "fetch"),
                                   stage("fetch"), stage("notify")])
    # run order: fetch, build, publish, notify
    result = plan(graph, start="build", stop="publish")
    assert result.order == ("fetch", "build", "publish", "notify")
    assert result.selected == ("build", "publish")
    assert result.skipped == {"fetch": "before --from build", "notify": "after --to publish"}


def test_from_after_to(chain):
    assert usage_error(chain, start="d", stop="b") == \
        "--from 'd' comes after --to 'b' in pipeline 'p'"


def test_from_to_with_skip(chain):
    result = plan(chain, start="b", stop="d", skip=["c"])
    assert result.selected == ("b", "d")
    assert result.skipped == {"a": "before --from b", "c": "--skip", "e": "after --to d"}


def test_from_to_with_only(chain):
    result = plan(chain, start="b", stop="d", only=["a,b,d,e"])
    assert result.selected == ("b", "d")
    assert result.skipped == {"a": "before --from b", "c": "not in --only",
                              "e": "after --to d"}


def test_only_outside_the_from_to_range_leaves_nothing(chain):
    assert usage_error(chain, start="c", only=["a"]) == \
        "the filters leave no stage to run in pipeline 'p'"


def test_skipped_and_selected_cover_the_whole_order(chain):
    result = plan(chain, start="b", skip=["d"])
    assert set(result.selected) | set(result.skipped) == set(result.order)
    assert not set(result.selected) & set(result.skipped)


# ---------------------------------------------------------------------------
# run-stage


def test_plan_stage_is_exactly_that_stage_forced(chain):
    assert plan_stage(chain, "c") == Plan(None, ("c",), ("c",), {}, force=True)


def test_plan_stage_of_an_unknown_stage(chain):
    with pytest.raises(UsageError) as info:
        plan_stage(chain, "cc")
    assert str(info.value) == "unknown stage 'cc' (did you mean 'c'?)"


# ---------------------------------------------------------------------------
# Missing inputs

ARTIFACTS = [
    {"id": "source", "type": "file", "path": "data/source.txt"},
    {"id": "raw", "type": "file", "path": "build/raw.json"},
    {"id": "modules", "type": "directory", "path": "modules/"},
    {"id": "cache", "type": "directory", "path": "build/cache"},
    {"id": "extra", "type": "file", "path": "data/extra.txt"},
    {"id": "site", "type": "directory", "path": "build/site"},
]


@pytest.fixture
def data_graph(tmp_path):
    """extract(source, modules, extra?) -> raw; render(raw, cache) -> site, cache."""
    return build_graph(tmp_path, [
        stage("extract", inputs=["source", "modules", {"artifact": "extra", "optional": True},
                                 {"type": "external", "kind": "http"}],
              outputs=["raw"]),
        stage("render", "extract", inputs=["raw", "cache"], outputs=["site", "cache"]),
    ], artifacts=ARTIFACTS)


def test_missing_required_inputs_are_reported_per_stage(data_graph, tmp_path):
    result = missing_inputs(data_graph, plan(data_graph), tmp_path)
    assert result == {"extract": ["data/source.txt (artifact source)",
                                  "modules/ (artifact modules)"]}


def test_present_inputs_are_not_reported(data_graph, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "source.txt").write_text("x")
    (tmp_path / "modules").mkdir()
    assert missing_inputs(data_graph, plan(data_graph), tmp_path) == {}


def test_input_produced_by_an_earlier_selected_stage_is_not_missing(data_graph, tmp_path):
    result = missing_inputs(data_graph, plan(data_graph), tmp_path)
    assert "render" not in result


def test_input_produced_by_a_stage_left_out_is_missing(data_graph, tmp_path):
    result = missing_inputs(data_graph, plan(data_graph, only=["render"]), tmp_path)
    assert result == {"render": ["build/raw.json (artifact raw)"]}


def test_run_stage_reports_inputs_its_upstream_would_have_produced(data_graph, tmp_path):
    result = missing_inputs(data_graph, plan_stage(data_graph, "render"), tmp_path)
    assert result == {"render": ["build/raw.json (artifact raw)"]}


def test_input_written_by_a_later_stage_is_missing(tmp_path):
    graph = build_graph(tmp_path, [stage("use", inputs=["raw"]), stage("make", outputs=["raw"])],
                        artifacts=ARTIFACTS)
    assert missing_inputs(graph, plan(graph), tmp_path) == \
        {"use": ["build/raw.json (artifact raw)"]}


def test_optional_inputs_and_cache_artifacts_are_never_reported(data_graph, tmp_path):
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "raw.json").write_text("{}")
    result = missing_inputs(data_graph, plan(data_graph, only=["render"]), tmp_path)
    assert result == {}  # cache (build/cache/) is absent, and it is fine


def test_directory_artifact_must_be_a_directory(data_graph, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "source.txt").write_text("x")
    (tmp_path / "modules").write_text("a file, not a directory")
    assert missing_inputs(data_graph, plan(data_graph), tmp_path) == \
        {"extract": ["modules/ (artifact modules)"]}


def test_file_artifact_must_be_a_file(data_graph, tmp_path):
    (tmp_path / "data" / "source.txt").mkdir(parents=True)
    (tmp_path / "modules").mkdir()
    assert missing_inputs(data_graph, plan(data_graph), tmp_path) == \
        {"extract": ["data/source.txt (artifact source)"]}


def test_missing_inputs_are_looked_for_under_the_given_root(data_graph, tmp_path):
    other = tmp_path / "other-root"
    (other / "data").mkdir(parents=True)
    (other / "data" / "source.txt").write_text("x")
    (other / "modules").mkdir()
    assert missing_inputs(data_graph, plan(data_graph), other) == {}


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_checks_upstream_test_agrees_with_the_full_ancestry(tmp_path, data):
    """`check`'s upstream test walks only part of the graph; on any DAG and any pipeline
    (a subset, in any listed order) it answers like the transitive closure within it."""
    from orchestrator.commands.check import upstream_within

    n = data.draw(st.integers(1, 9))
    deps = [data.draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
            for i in range(n)]
    stages = [stage(f"s{i}", *(f"s{d}" for d in sorted(deps[i]))) for i in range(n)]
    members = data.draw(st.permutations([f"s{i}" for i in range(n)]))
    members = members[:data.draw(st.integers(1, n))]
    graph = build_graph(tmp_path, stages, pipelines={"p": list(members)})
    inside = set(members)

    def ancestry(sid: str) -> set[str]:
        found, todo = set(), [sid]
        while todo:
            for dep in graph.stages[todo.pop()].depends_on:
                if dep in inside and dep not in found:
                    found.add(dep)
                    todo.append(dep)
        return found

    upstream = upstream_within(graph, graph.pipelines["p"])
    for reader in members:
        expected = ancestry(reader)
        for writer in members:
            assert upstream(writer, reader) == (writer in expected), (writer, reader)
