"""Reading, validating and freezing a stage graph (orchestrator/graph/).

Every graph is written under tmp_path, and the working directory is tmp_path, so a
problem names the file as `pipeline/stage-graph.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from orchestrator.errors import GraphError, UsageError
from orchestrator.graph import Artifact, Command, Hook, Input, Output, load_graph

GRAPH = "pipeline/stage-graph.json"


# ---------------------------------------------------------------------------
# Helpers


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_graph(data, rel: str = GRAPH) -> Path:
    """Write `data` as JSON (or YAML when `rel` says so) under the working directory."""
    path = Path(rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix in (".yaml", ".yml"):
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    else:
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def write_raw(content: str | bytes, rel: str = GRAPH) -> Path:
    path = Path(rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def load(data, rel: str = GRAPH):
    return load_graph(write_graph(data, rel), Path.cwd())


def problems(data, rel: str = GRAPH) -> list[str]:
    """The problems load_graph reports for `data`; fails if it loads."""
    path = write_graph(data, rel)
    with pytest.raises(GraphError) as info:
        load_graph(path, Path.cwd())
    return info.value.problems


def only_problem(data, rel: str = GRAPH) -> str:
    found = problems(data, rel)
    assert len(found) == 1, found
    return found[0]


def stage(sid: str, *deps: str, **extra) -> dict:
    data = {"id": sid, "command": {"executable": "python3", "args": [f"stages/{sid}.py"]}}
    if deps:
        data["dependsOn"] = list(deps)
    data.update(extra)
    return data


def minimal(*stages: dict, artifacts=(), pipeline=None) -> dict:
    stages = stages or (stage("a"),)
    ids = [s["id"] for s in stages]
    return {
        "pipelines": [{"id": "full-refresh", "stages": pipeline or ids}],
        "artifacts": list(artifacts),
        "stages": list(stages),
    }


def valid_graph() -> dict:
    return {
        "version": "1",
        "defaultPipeline": "full-refresh",
        "pipelines": [
            {"id": "full-refresh", "description": "everything",
             "stages": ["get-modules", "build", "publish"]},
            {"id": "quick", "stages": ["build"]},
        ],
        "artifacts": [
            {"id": "lock", "type": "file", "path": "package-lock.json"},
            {"id": "modules", "type": "directory", "path": "modules/"},
            {"id": "data", "type": "file", "path": "./build//data.json", "format": "json",
             "schema": "schemas/data.schema.json", "description": "the data"},
            {"id": "cache", "type": "directory", "path": "build/cache"},
            {"id": "site", "type": "directory", "path": "website\\site\\"},
            {"id": "old-site", "type": "directory", "path": "website/old-site"},
        ],
        "stages": [
            {
                "id": "get-modules",
                "name": "Get modules",
                "command": {"executable": "npm", "args": ["ci"]},
                "inputs": [{"artifact": "lock", "mode": "read"},
                           {"type": "external", "kind": "http", "uri": "https://example.org",
                            "optional": True}],
                "outputs": [{"artifact": "modules", "mode": "write"}],
                "environment": [{"name": "NPM_TOKEN", "required": True,
                                 "description": "registry token"}],
                "sideEffects": [{"type": "network", "description": "downloads"}],
            },
            {
                "id": "build",
                "dependsOn": ["get-modules"],
                "command": {"executable": "node", "args": ["build.mjs", "--out", "build"]},
                "inputs": [{"artifact": "modules"}, {"artifact": "cache", "optional": True}],
                "outputs": [{"artifact": "data"}, {"artifact": "cache", "optional": True}],
            },
            {
                "id": "publish",
                "description": "copy the site",
                "dependsOn": ["build"],
                "command": {"executable": "python3", "args": ["publish.py"]},
                "inputs": [{"artifact": "data"}],
                "outputs": [{"artifact": "site"}],
                "hooks": {
                    "before": [{"move": {"from": "site", "to": "old-site"}}],
                    "after": [{"remove": "old-site"}],
                    "onFailure": [{"move": {"from": "old-site", "to": "site"},
                                   "description": "restore"},
                                  {"command": {"executable": "echo", "args": ["failed"]}}],
                },
            },
        ],
    }


def same_content(a, b) -> None:
    assert a.stages == b.stages
    assert a.artifacts == b.artifacts
    assert a.pipelines == b.pipelines
    assert a.version == b.version
    assert a.default_pipeline_id == b.default_pipeline_id


# ---------------------------------------------------------------------------
# A valid graph


def test_valid_json_graph_is_frozen_with_stages_in_file_order():
    graph = load(valid_graph())

    assert list(graph.stages) == ["get-modules", "build", "publish"]
    assert [s.index for s in graph.stages.values()] == [0, 1, 2]
    assert list(graph.pipelines) == ["full-refresh", "quick"]
    assert graph.pipelines["full-refresh"].stages == ("get-modules", "build", "publish")
    assert graph.pipelines["full-refresh"].description == "everything"
    assert graph.version == "1"
    assert graph.display == GRAPH
    assert graph.root == Path.cwd()
    assert graph.path == Path.cwd() / GRAPH

    get = graph.stage("get-modules")
    assert get.name == "Get modules"
    assert get.command == Command("npm", ("ci",))
    assert get.command.as_list() == ["npm", "ci"]
    assert get.inputs[0] == Input(artifact="lock", optional=False)
    assert get.external_inputs == (Input(artifact=None, optional=True, kind="http",
                                         uri="https://example.org"),)
    assert get.outputs == (Output("modules", False),)
    assert get.environment[0].name == "NPM_TOKEN" and get.environment[0].required
    assert get.side_effects[0].type == "network"

    build = graph.stage("build")
    assert build.depends_on == ("get-modules",)
    assert build.outputs == (Output("data"), Output("cache", optional=True))

    publish = graph.stage("publish")
    assert publish.description == "copy the site"
    assert publish.hooks.before == (Hook("move", source="site", target="old-site"),)
    assert publish.hooks.after == (Hook("remove", source="old-site"),)
    assert publish.hooks.on_failure[1] == Hook("command", command=Command("echo", ("failed",)))
    assert publish.hooks.before[0].describe(graph) == "move website/site/ -> website/old-site/"
    assert publish.hooks.after[0].describe(graph) == "remove website/old-site/"
    assert publish.hooks.on_failure[1].describe(graph) == "run echo failed"


def test_artifact_paths_are_normalized_and_directories_display_with_a_slash():
    graph = load(valid_graph())

    assert graph.artifacts["modules"] == Artifact("modules", "directory", "modules")
    assert graph.artifacts["modules"].is_directory
    assert graph.artifacts["modules"].display_path == "modules/"
    assert graph.artifacts["data"].path == "build/data.json"
    assert graph.artifacts["data"].display_path == "build/data.json"
    assert graph.artifacts["data"].format == "json"
    assert graph.artifacts["data"].schema == "schemas/data.schema.json"
    assert graph.artifacts["data"].description == "the data"
    assert graph.artifacts["site"].path == "website/site"
    assert graph.artifacts["site"].display_path == "website/site/"
    assert not graph.artifacts["lock"].is_directory
    assert graph.artifacts["lock"].display_path == "package-lock.json"


@pytest.mark.parametrize("rel", ["pipeline/stage-graph.yaml", "pipeline/stage-graph.yml",
                                 "pipeline/STAGE-GRAPH.YAML"])
def test_the_same_graph_as_yaml_loads_to_the_same_data(rel):
    from_json = load(valid_graph())
    from_yaml = load(valid_graph(), rel)

    same_content(from_json, from_yaml)
    assert from_yaml.display == rel


def test_hand_written_yaml_graph_loads():
    path = write_raw(
        "# the graph\n"
        "pipelines:\n"
        "  - id: full-refresh\n"
        "    stages: [fetch, build]\n"
        "artifacts:\n"
        "  - {id: raw, type: file, path: build/raw.json}\n"
        "stages:\n"
        "  - id: fetch\n"
        "    command: {executable: python3, args: [fetch.py]}\n"
        "    outputs: [{artifact: raw}]\n"
        "  - id: build\n"
        "    dependsOn: [fetch]\n"
        "    command:\n"
        "      executable: node\n"
        "      args: [build.mjs, '--verbose']\n"
        "    inputs:\n"
        "      - artifact: raw\n",
        "pipeline/stage-graph.yaml")
    graph = load_graph(path, Path.cwd())

    assert list(graph.stages) == ["fetch", "build"]
    assert graph.stage("build").command.as_list() == ["node", "build.mjs", "--verbose"]
    assert graph.stage("build").inputs == (Input("raw"),)


def test_utf8_byte_order_mark_is_accepted():
    path = write_raw(b"\xef\xbb\xbf" + json.dumps(minimal()).encode())
    assert list(load_graph(path, Path.cwd()).stages) == ["a"]


def test_unknown_fields_are_accepted_everywhere():
    data = valid_graph()
    data["x-top"] = {"anything": [1, 2]}
    for item in data["pipelines"] + data["artifacts"] + data["stages"]:
        item["x-note"] = "extra"
    get, build, publish = data["stages"]
    get["command"]["shell"] = False
    for item in get["inputs"] + get["outputs"] + get["environment"] + get["sideEffects"]:
        item["x-note"] = 1
    publish["hooks"]["x-comment"] = "hooks grow too"
    publish["hooks"]["before"][0]["x-note"] = True
    publish["hooks"]["before"][0]["move"]["x-note"] = None
    publish["hooks"]["onFailure"][1]["command"]["cwd"] = "."

    same_content(load(data), load(valid_graph(), "pipeline/plain.json"))


@pytest.mark.parametrize("extra", [
    [1, 2],
    [{"move": "to be designed"}],
    ["remove"],
], ids=["numbers", "move-as-text", "a-string"])
def test_an_unknown_hook_moment_is_an_unknown_field_and_is_accepted(extra):
    # hooks may grow new moments; whatever they hold, the graph still loads
    # and only before/after/onFailure are read.
    data = valid_graph()
    data["stages"][2]["hooks"]["onSuccess"] = extra

    graph = load(data)

    assert graph.stage("publish").hooks == load(valid_graph(), "pipeline/plain.json") \
        .stage("publish").hooks


def test_cache_artifacts_are_those_a_stage_both_reads_and_writes():
    graph = load(valid_graph())

    assert graph.stage("build").cache_artifacts == frozenset({"cache"})
    assert graph.stage("get-modules").cache_artifacts == frozenset()
    assert graph.stage("publish").cache_artifacts == frozenset()


def test_writers_of_an_artifact():
    graph = load(valid_graph())

    assert graph.writers("data") == ["build"]
    assert graph.writers("lock") == []


def test_graph_path_below_the_working_directory_is_shown_relative(in_tmp):
    path = write_graph(minimal())

    graph = load_graph(in_tmp / path, in_tmp)

    assert graph.display == GRAPH


def test_graph_path_outside_the_working_directory_is_shown_absolute(in_tmp, monkeypatch):
    path = write_graph({"stages": []})
    (in_tmp / "elsewhere").mkdir()
    monkeypatch.chdir(in_tmp / "elsewhere")

    with pytest.raises(GraphError) as info:
        load_graph(in_tmp / path, in_tmp)

    assert info.value.problems == [f"{in_tmp / GRAPH}: top level: "
                                   f"'pipelines' is a required property"]


# ---------------------------------------------------------------------------
# Files that cannot be read as a graph

BOMB = 'lol: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + "".join(
    f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]\n"
    for prev, name in zip("abcdef", "bcdefg"))  # 10**7 values through aliases


@pytest.mark.parametrize("rel, content, expected", [
    (GRAPH, None, f"{GRAPH}: graph file not found"),
    (GRAPH, "<dir>", f"{GRAPH}: is a directory, not a graph file"),
    (GRAPH, "", f"{GRAPH}: file is empty"),
    (GRAPH, " \n\t\r\n  ", f"{GRAPH}: file is empty"),
    ("pipeline/g.yaml", "\n\n", "pipeline/g.yaml: file is empty"),
    (GRAPH, b'{"stages": "\xff\xfe"}', f"{GRAPH}: not UTF-8 text (byte 12: "),
    (GRAPH, '{\n  "stages": [\n    {"id": "a",}\n  ]\n}',
     f"{GRAPH}: line 3, column 16: invalid JSON: "),
    (GRAPH, '{"pipelines": [], "stages": [], "x": NaN}',
     f"{GRAPH}: invalid JSON: NaN is not valid JSON"),
    ("pipeline/g.yaml", "stages:\n  - id: a\n    command: [unclosed\n",
     "pipeline/g.yaml: line 4, column 1: invalid YAML: "),
    ("pipeline/g.yaml", "a: 1\n---\nb: 2\n", "pipeline/g.yaml: line 2, column 1: invalid YAML: "),
    ("pipeline/g.yaml", "a: !!python/object:os.system x\n", "pipeline/g.yaml: line 1, column 4: "
                                                             "invalid YAML: "),
    ("pipeline/g.yaml", "pipelines: []\nstages: [\x07]\n", "pipeline/g.yaml: invalid YAML: "),
    (GRAPH, '[{"pipelines": [], "stages": []}]',
     f"{GRAPH}: top level must be an object with 'pipelines', 'stages' and 'artifacts', "
     f"not a list"),
    (GRAPH, '"a graph"', f"{GRAPH}: top level must be an object with 'pipelines', 'stages' "
                         f"and 'artifacts', not a string"),
    ("pipeline/g.yml", "# only a comment\n", "pipeline/g.yml: top level must be an object "
                                             "with 'pipelines', 'stages' and 'artifacts', "
                                             "not null"),
    (GRAPH, "[" * 100_000, f"{GRAPH}: nesting is too deep to be a stage graph"),
    (GRAPH, "[" * 100_000 + "]" * 100_000, f"{GRAPH}: nesting is too deep to be a stage graph"),
    ("pipeline/g.yaml", "[" * 100_000, "pipeline/g.yaml: nesting is too deep to be a stage graph"),
    ("pipeline/g.yaml", BOMB, "pipeline/g.yaml: too large: more than 1000000 values"),
    (GRAPH, '{"pipelines": [], "x": [' + ",".join(["0"] * 1_000_000) + "]}",
     f"{GRAPH}: too large: more than 1000000 values"),
    ("pipeline/g.yaml", "&a [*a]\n", "pipeline/g.yaml: the document contains itself "
                                     "(a recursive YAML alias)"),
    ("pipeline/g.yaml", "pipelines: []\nstages: &s [{id: a, more: *s}]\n",
     "pipeline/g.yaml: the document contains itself (a recursive YAML alias)"),
], ids=["missing", "directory", "empty", "whitespace", "empty-yaml", "not-utf8",
        "invalid-json", "json-nan", "invalid-yaml", "two-yaml-documents", "yaml-python-tag",
        "yaml-control-character", "json-list", "json-string", "yaml-null", "deep-open",
        "deep-closed", "deep-yaml", "yaml-alias-bomb", "json-too-large", "recursive-alias",
        "recursive-alias-inside"])
def test_unreadable_file_is_one_graph_error_naming_the_file(rel, content, expected):
    if content == "<dir>":
        Path(rel).mkdir(parents=True)
    elif content is not None:
        write_raw(content, rel)

    with pytest.raises(GraphError) as info:
        load_graph(Path(rel), Path.cwd())

    assert len(info.value.problems) == 1, info.value.problems
    problem = info.value.problems[0]
    assert problem.startswith(expected), problem
    assert "\n" not in problem, f"a problem is one line: {problem!r}"
    assert str(info.value) == problem


def test_missing_graph_named_by_absolute_path_outside_cwd(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(GraphError) as info:
        load_graph(tmp_path / "nowhere.json", tmp_path)
    assert info.value.problems == [f"{tmp_path / 'nowhere.json'}: graph file not found"]


# ---------------------------------------------------------------------------
# Schema problems


def test_missing_stages_is_reported_at_top_level():
    data = minimal()
    del data["stages"]
    assert only_problem(data) == f"{GRAPH}: top level: 'stages' is a required property"


def test_stage_without_command():
    data = minimal(stage("a"), stage("b"))
    del data["stages"][1]["command"]
    assert only_problem(data) == f"{GRAPH}: stages[1]: 'command' is a required property"


def test_command_args_must_be_strings():
    data = minimal(stage("a"))
    data["stages"][0]["command"]["args"] = ["run.py", 3]
    assert only_problem(data) == f"{GRAPH}: stages[0].command.args[1]: 3 is not of type 'string'"


@pytest.mark.parametrize("executable, shown", [(["python3"], "['python3']"), (7, "7"),
                                                (None, "None")])
def test_command_executable_must_be_a_string(executable, shown):
    data = minimal(stage("a"))
    data["stages"][0]["command"]["executable"] = executable
    assert only_problem(data) == (f"{GRAPH}: stages[0].command.executable: "
                                  f"{shown} is not of type 'string'")


def test_command_executable_must_not_be_empty():
    data = minimal(stage("a"))
    data["stages"][0]["command"]["executable"] = ""
    assert only_problem(data).startswith(f"{GRAPH}: stages[0].command.executable: ")


def test_artifact_type_is_file_or_directory():
    data = minimal(artifacts=[{"id": "raw", "type": "folder", "path": "raw"}])
    assert only_problem(data) == (f"{GRAPH}: artifacts[0].type: "
                                  f"'folder' is not one of ['file', 'directory']")


@pytest.mark.parametrize("bad_id", ["a b", "a:b", "-a", "", "a/b"])
def test_stage_id_characters(bad_id):
    data = minimal(stage("ok"), stage(bad_id))
    data["pipelines"][0]["stages"] = ["ok"]
    problem = only_problem(data)
    assert problem.startswith(f"{GRAPH}: stages[1].id: {bad_id!r} ")


@pytest.mark.parametrize("key", ["pipelines", "artifacts"])
def test_pipeline_and_artifact_id_characters(key):
    data = minimal(artifacts=[{"id": "raw", "type": "file", "path": "raw"}])
    data[key][0]["id"] = "x:y"
    assert only_problem(data).startswith(f"{GRAPH}: {key}[0].id: 'x:y' does not match ")


def test_input_must_be_an_artifact_or_external():
    data = minimal(stage("a", inputs=[{"mode": "read"}, "raw"]))
    assert problems(data) == [
        f"{GRAPH}: stages[0].inputs[0]: 'artifact' is a required property",
        f"{GRAPH}: stages[0].inputs[1]: 'raw' is not of type 'object'",
    ]


def test_hook_must_be_exactly_one_kind():
    data = minimal(stage("a", hooks={"before": [{"remove": "x", "move": {"from": "x",
                                                                         "to": "y"}}]}))
    assert only_problem(data).startswith(f"{GRAPH}: stages[0].hooks.before[0]: ")


def test_schema_problems_are_all_reported_in_document_order():
    data = minimal(stage("a"), stage("b"))
    del data["stages"][1]["command"]
    data["stages"][0]["command"]["args"] = [1]
    data["artifacts"] = [{"id": "x", "type": "pipe", "path": "x"}]
    assert problems(data) == [
        f"{GRAPH}: artifacts[0].type: 'pipe' is not one of ['file', 'directory']",
        f"{GRAPH}: stages[0].command.args[0]: 1 is not of type 'string'",
        f"{GRAPH}: stages[1]: 'command' is a required property",
    ]


# ---------------------------------------------------------------------------
# Meaning problems


def test_duplicate_stage_id_names_the_first_place():
    data = minimal(stage("a"), stage("b"), stage("a"), pipeline=["a", "b"])
    assert only_problem(data) == (f"{GRAPH}: stages[2].id: duplicate stage id 'a' "
                                  f"(first at stages[0])")


def test_duplicate_artifact_id_names_the_first_place():
    data = minimal(artifacts=[{"id": "raw", "type": "file", "path": "one"},
                              {"id": "raw", "type": "file", "path": "two"}])
    assert only_problem(data) == (f"{GRAPH}: artifacts[1].id: duplicate artifact id 'raw' "
                                  f"(first at artifacts[0])")


def test_duplicate_pipeline_id_names_the_first_place():
    data = minimal()
    data["pipelines"] += [{"id": "other", "stages": []}, {"id": "full-refresh", "stages": []}]
    assert only_problem(data) == (f"{GRAPH}: pipelines[2].id: duplicate pipeline id "
                                  f"'full-refresh' (first at pipelines[0])")


def test_unknown_stage_in_a_pipeline_with_suggestion():
    data = minimal(stage("get-modules"), stage("build"),
                   pipeline=["get-modules", "get-modulez", "build"])
    assert only_problem(data) == (f"{GRAPH}: pipelines[0].stages[1]: unknown stage "
                                  f"'get-modulez' (did you mean 'get-modules'?)")


def test_unknown_stage_in_depends_on_with_suggestion():
    data = minimal(stage("get-modules"), stage("build"), stage("publish", "get-modulez"))
    assert only_problem(data) == (f"{GRAPH}: stages[2].dependsOn[0]: unknown stage "
                                  f"'get-modulez' (did you mean 'get-modules'?)")


def test_unknown_stage_without_a_close_match_has_no_suggestion():
    data = minimal(stage("build", "zzzz"))
    assert only_problem(data) == f"{GRAPH}: stages[0].dependsOn[0]: unknown stage 'zzzz'"


@pytest.mark.parametrize("key", ["inputs", "outputs"])
def test_unknown_artifact_in_inputs_and_outputs(key):
    data = minimal(stage("a", **{key: [{"artifact": "raw"}, {"artifact": "clen"}]}),
                   artifacts=[{"id": "raw", "type": "file", "path": "raw.json"},
                              {"id": "clean", "type": "file", "path": "clean.json"}])
    assert only_problem(data) == (f"{GRAPH}: stages[0].{key}[1].artifact: unknown artifact "
                                  f"'clen' (did you mean 'clean'?)")


def test_external_input_needs_no_artifact():
    data = minimal(stage("a", inputs=[{"type": "external", "kind": "http"}]))
    assert load(data).stage("a").external_inputs == (Input(None, kind="http"),)


def test_unknown_default_pipeline():
    data = minimal()
    data["defaultPipeline"] = "full-refrsh"
    assert only_problem(data) == (f"{GRAPH}: defaultPipeline: unknown pipeline 'full-refrsh' "
                                  f"(did you mean 'full-refresh'?)")


def test_pipeline_id_equal_to_a_stage_id():
    data = minimal(stage("build"))
    data["pipelines"].append({"id": "build", "stages": ["build"]})
    problem = only_problem(data)
    assert problem.startswith(f"{GRAPH}: pipelines[1].id: 'build' is also a stage id")


def test_self_cycle():
    data = minimal(stage("x"), stage("a", "a"))
    assert only_problem(data) == f"{GRAPH}: stages[1].dependsOn: dependency cycle: a -> a"


def test_three_stage_cycle_is_shown_in_full():
    data = minimal(stage("a", "b"), stage("b", "c"), stage("c", "a"))
    assert only_problem(data) == (f"{GRAPH}: stages[0].dependsOn: "
                                  f"dependency cycle: a -> b -> c -> a")


def test_cycle_behind_an_acyclic_prefix_shows_only_the_cycle():
    data = minimal(stage("start", "b"), stage("b", "c"), stage("c", "d"), stage("d", "b"))
    assert only_problem(data) == (f"{GRAPH}: stages[1].dependsOn: "
                                  f"dependency cycle: b -> c -> d -> b")


def test_diamond_is_not_a_cycle():
    data = minimal(stage("a"), stage("b", "a"), stage("c", "a"), stage("d", "b", "c"))
    assert list(load(data).stages) == ["a", "b", "c", "d"]


@pytest.mark.parametrize("path", ["/etc/passwd", "C:\\data\\x", "c:relative", "\\\\server\\share",
                                  "\\etc\\passwd", "//server/share/x", "a/../..\\up",
                                  "../escape", "build/../../escape", ".", "./", "a/.."])
def test_artifact_path_must_stay_inside_the_root(path):
    data = minimal(artifacts=[{"id": "ok", "type": "file", "path": "ok.txt"},
                              {"id": "bad", "type": "file", "path": path}])
    assert only_problem(data) == (f"{GRAPH}: artifacts[1].path: '{path}' must be a relative "
                                  f"path inside the project root")


def test_artifact_path_through_a_symlink_leading_outside_the_root(in_tmp, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (in_tmp / "link").symlink_to(outside, target_is_directory=True)
    data = minimal(artifacts=[{"id": "bad", "type": "directory", "path": "link/data"}])
    assert only_problem(data) == (f"{GRAPH}: artifacts[0].path: 'link/data' leads outside "
                                  f"the project root through a symbolic link")


def test_symbolic_links_are_judged_by_where_they_lead(in_tmp, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "f.json").write_text("{}")
    (in_tmp / "real").mkdir()
    (in_tmp / "inside-link").symlink_to(in_tmp / "real", target_is_directory=True)
    (in_tmp / "real" / "to-outside.json").symlink_to(outside / "f.json")
    (in_tmp / "real" / "to-root").symlink_to(in_tmp, target_is_directory=True)
    data = minimal(artifacts=[
        {"id": "a", "type": "file", "path": "inside-link/x.json"},  # through a link, inside
        {"id": "b", "type": "file", "path": "real/to-outside.json"},  # the file is a link out
        {"id": "c", "type": "file", "path": "real/to-root/y.json"},  # back to the root
        {"id": "d", "type": "file", "path": "real/z.json"},  # same directory as b, inside
    ])
    assert only_problem(data) == (f"{GRAPH}: artifacts[1].path: 'real/to-outside.json' leads "
                                  f"outside the project root through a symbolic link")


def test_schema_path_outside_the_root():
    data = minimal(artifacts=[{"id": "raw", "type": "file", "path": "raw.json",
                               "schema": "../schemas/raw.json"}])
    assert only_problem(data) == (f"{GRAPH}: artifacts[0].schema: '../schemas/raw.json' must "
                                  f"be a relative path inside the project root")


def test_two_artifacts_with_the_same_path():
    data = minimal(artifacts=[{"id": "modules", "type": "directory", "path": "modules/"},
                              {"id": "other", "type": "file", "path": "x"},
                              {"id": "deps", "type": "directory", "path": "./modules"}])
    assert only_problem(data) == (f"{GRAPH}: artifacts[2].path: './modules' is also the path "
                                  f"of artifact 'modules'")


def test_stage_listed_twice_in_a_pipeline():
    data = minimal(stage("a"), stage("b"), pipeline=["a", "b", "a"])
    assert only_problem(data) == f"{GRAPH}: pipelines[0].stages[2]: stage 'a' is listed twice"


def test_hooks_naming_unknown_artifacts():
    data = minimal(
        stage("a", hooks={"before": [{"move": {"from": "x", "to": "y"}}],
                          "after": [{"remove": "site"}, {"remove": "sitte"}],
                          "onFailure": [{"command": {"executable": "true"}}]}),
        artifacts=[{"id": "site", "type": "directory", "path": "site"}])
    assert problems(data) == [
        f"{GRAPH}: stages[0].hooks.before[0].move.from: unknown artifact 'x'",
        f"{GRAPH}: stages[0].hooks.before[0].move.to: unknown artifact 'y'",
        f"{GRAPH}: stages[0].hooks.after[1].remove: unknown artifact 'sitte' "
        f"(did you mean 'site'?)",
    ]


def test_several_meaning_problems_are_all_reported():
    data = minimal(stage("a", "nope", outputs=[{"artifact": "missing"}]), stage("b", "b"),
                   artifacts=[{"id": "abs", "type": "file", "path": "/abs"}],
                   pipeline=["a", "b", "ghost"])
    data["defaultPipeline"] = "other"
    assert problems(data) == [
        f"{GRAPH}: defaultPipeline: unknown pipeline 'other'",
        f"{GRAPH}: artifacts[0].path: '/abs' must be a relative path inside the project root",
        f"{GRAPH}: pipelines[0].stages[2]: unknown stage 'ghost'",
        f"{GRAPH}: stages[0].dependsOn[0]: unknown stage 'nope'",
        f"{GRAPH}: stages[0].outputs[0].artifact: unknown artifact 'missing'",
        f"{GRAPH}: stages[1].dependsOn: dependency cycle: b -> b",
    ]


def test_many_problems_are_capped_with_a_count_of_the_rest():
    data = minimal(stage("a", *[f"missing-{i}" for i in range(25)]))
    found = problems(data)
    assert len(found) == 21
    assert found[0] == f"{GRAPH}: stages[0].dependsOn[0]: unknown stage 'missing-0'"
    assert found[19] == f"{GRAPH}: stages[0].dependsOn[19]: unknown stage 'missing-19'"
    assert found[20] == f"{GRAPH}: ... and 5 more problems"


def test_yaml_graph_problems_name_the_yaml_file():
    data = minimal(stage("a", "b"))
    assert only_problem(data, "pipeline/g.yml") == (
        "pipeline/g.yml: stages[0].dependsOn[0]: unknown stage 'b'")


# ---------------------------------------------------------------------------
# Pipelines and stages by id


def test_default_pipeline_field_wins_over_full_refresh():
    data = minimal()
    data["pipelines"].append({"id": "nightly", "stages": ["a"]})
    data["defaultPipeline"] = "nightly"
    assert load(data).default_pipeline().id == "nightly"


def test_default_pipeline_is_full_refresh_when_not_named():
    data = minimal()
    data["pipelines"].insert(0, {"id": "nightly", "stages": ["a"]})
    assert load(data).default_pipeline().id == "full-refresh"


def test_default_pipeline_is_the_only_pipeline():
    data = minimal()
    data["pipelines"][0]["id"] = "nightly"
    assert load(data).default_pipeline().id == "nightly"


def test_no_default_pipeline_among_several_lists_them():
    data = minimal()
    data["pipelines"] = [{"id": "nightly", "stages": ["a"]}, {"id": "hourly", "stages": ["a"]}]
    graph = load(data)
    with pytest.raises(UsageError) as info:
        graph.default_pipeline()
    assert str(info.value) == f"{GRAPH}: no default pipeline; name one of: nightly, hourly"


def test_pipeline_by_id():
    data = minimal()
    data["pipelines"].append({"id": "nightly", "stages": []})
    graph = load(data)
    assert graph.pipeline("nightly").stages == ()
    with pytest.raises(UsageError) as info:
        graph.pipeline("nighty")
    assert str(info.value) == ("unknown pipeline 'nighty' (did you mean 'nightly'?); "
                               "the pipelines are: full-refresh, nightly")


def test_unknown_stage_id_is_a_usage_error_with_suggestion():
    graph = load(valid_graph())
    with pytest.raises(UsageError) as info:
        graph.stage("biuld")
    assert str(info.value) == "unknown stage 'biuld' (did you mean 'build'?)"
    with pytest.raises(UsageError) as info:
        graph.stage("nope")
    assert str(info.value) == "unknown stage 'nope'"


def test_loaded_graph_is_immutable():
    graph = load(valid_graph())
    with pytest.raises(AttributeError):
        graph.stage("build").id = "other"  # type: ignore[misc]

