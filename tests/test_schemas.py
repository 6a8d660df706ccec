"""Artifact validation against JSON Schemas that reference each other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Project

from orchestrator.graph import Artifact
from orchestrator.schemas import SchemaProblem, validate_artifact


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))


COPY_STAGE = """\
import os, shutil, sys
os.makedirs(os.path.dirname(sys.argv[2]), exist_ok=True)
shutil.copyfile(sys.argv[1], sys.argv[2])
"""


def schema_project(root: Path, files: dict[str, dict], schema: str, data) -> Project:
    """A project whose one stage `publish` copies data/in.json (holding `data`) to
    out/data.json, an artifact checked against `schema`; `files` are its schema files."""
    for rel, content in files.items():
        write(root / rel, content)
    write(root / "data/in.json", data)
    write(root / "stages/copy.py", COPY_STAGE)
    write(root / "pipeline/stage-graph.json", {
        "pipelines": [{"id": "full-refresh", "stages": ["publish"]}],
        "artifacts": [{"id": "input", "type": "file", "path": "data/in.json"},
                      {"id": "data", "type": "file", "path": "out/data.json",
                       "format": "json", "schema": schema}],
        "stages": [{"id": "publish",
                    "command": {"executable": "python3",
                                "args": ["stages/copy.py", "data/in.json", "out/data.json"]},
                    "inputs": [{"artifact": "input", "mode": "read"}],
                    "outputs": [{"artifact": "data", "mode": "write"}]}]})
    return Project(root)


@pytest.fixture
def root(tmp_path):
    write(tmp_path / "schemas/common/defs.schema.json", {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"module": {"type": "object", "required": ["name"],
                             "properties": {"name": {"type": "string"}}}}})
    write(tmp_path / "schemas/list.schema.json", {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "array", "items": {"$ref": "common/defs.schema.json#/$defs/module"}})
    return tmp_path


ARTIFACT = Artifact("modules", "file", "out/modules.json", "json", "schemas/list.schema.json")


def test_valid_data_passes_through_a_ref_to_another_file(root):
    write(root / "out/modules.json", [{"name": "a"}, {"name": "b"}])
    validate_artifact(root, ARTIFACT)


def test_errors_name_the_schema_and_json_paths(root):
    write(root / "out/modules.json", [{"name": "a"}, {"name": 5}, {}, {"name": 6}, {"name": 7}])
    with pytest.raises(SchemaProblem) as info:
        validate_artifact(root, ARTIFACT)
    message = str(info.value)
    assert "does not match schema schemas/list.schema.json" in message
    assert "$[1].name: 5 is not of type 'string'" in message
    assert "$[2]: 'name' is a required property" in message
    assert "(and 1 more)" in message


@pytest.mark.parametrize("content, expected", [
    (None, "out/modules.json not found"),
    ("{not json", "out/modules.json is not readable JSON"),
])
def test_unreadable_artifacts(root, content, expected):
    if content is not None:
        write(root / "out/modules.json", content)
    with pytest.raises(SchemaProblem, match=expected):
        validate_artifact(root, ARTIFACT)


def test_missing_broken_or_unresolvable_schemas(root):
    write(root / "out/modules.json", [])
    missing = Artifact("m", "file", "out/modules.json", schema="schemas/none.json")
    with pytest.raises(SchemaProblem, match="schema schemas/none.json not found"):
        validate_artifact(root, missing)
    write(root / "schemas/bad.json", {"type": 12})
    with pytest.raises(SchemaProblem, match="not a valid JSON Schema"):
        validate_artifact(root, Artifact("m", "file", "out/modules.json",
                                         schema="schemas/bad.json"))
    write(root / "schemas/dangling.json", {"items": {"$ref": "gone.json"}})
    write(root / "out/modules.json", [1])
    with pytest.raises(SchemaProblem, match="cannot resolve"):
        validate_artifact(root, Artifact("m", "file", "out/modules.json",
                                         schema="schemas/dangling.json"))


# ---------------------------------------------------------------------------
# `format` is asserted, as the upstream validator (Ajv with its formats) does


def test_date_time_uri_and_email_formats_are_checked(tmp_path):
    write(tmp_path / "schemas/entry.schema.json", {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"lastUpdate": {"type": "string", "format": "date-time"},
                       "url": {"type": "string", "format": "uri"},
                       "maintainer": {"type": "string", "format": "email"}}})
    artifact = Artifact("entry", "file", "out/entry.json", "json", "schemas/entry.schema.json")
    write(tmp_path / "out/entry.json", {"lastUpdate": "2024-11-27T23:58:55.957Z",
                                        "url": "https://github.com/MagicMirrorOrg/MagicMirror",
                                        "maintainer": "someone@example.org"})
    validate_artifact(tmp_path, artifact)

    for field, value, form in (("lastUpdate", "yesterday-ish", "date-time"),
                               ("url", "not a uri", "uri"),
                               ("maintainer", "nobody", "email")):
        write(tmp_path / "out/entry.json", {field: value})
        with pytest.raises(SchemaProblem) as info:
            validate_artifact(tmp_path, artifact)
        assert f"$.{field}: '{value}' is not a '{form}'" in str(info.value)


def test_the_formats_of_the_real_schemas_have_their_checkers_installed():
    # without the packages backing them, jsonschema skips these formats silently
    from jsonschema import validators

    for cls in (validators.Draft202012Validator, validators.Draft7Validator):
        assert {"date-time", "uri", "uri-reference", "email", "hostname"} \
            <= set(cls.FORMAT_CHECKER.checkers)


def test_a_stage_writing_a_bad_date_time_fails_the_run_naming_field_and_format(tmp_path):
    project = schema_project(tmp_path / "p", {"schemas/entry.schema.json": {
        "type": "object", "properties": {"lastUpdate": {"format": "date-time"}}}},
        "schemas/entry.schema.json", {"lastUpdate": "2024-11-27T23:58:55Z"})
    result = project.pipeline("run")
    assert result.code == 0, result.text

    write(project.path("data/in.json"), {"lastUpdate": "yesterday-ish"})
    result = project.pipeline("run")
    assert result.code == 1, result.text
    error = project.last_record()["stages"][0]["error"]
    assert error == ("artifact 'data' (out/data.json) does not match schema "
                     "schemas/entry.schema.json: $.lastUpdate: 'yesterday-ish' is not a "
                     "'date-time'")
    assert "$.lastUpdate: 'yesterday-ish' is not a 'date-time'" in result.err
    assert "Traceback" not in result.text


# ---------------------------------------------------------------------------
# `$ref` beside an `https` `$id`: resolved from local files, never over the network

SITE = "https://magicmirror.builders"


def upstream_schemas(root: Path) -> None:
    """The layout of the real catalogue: source schemas with an https $id refer to
    partials by relative path; one partial declares its $id, another none."""
    write(root / "dist/schemas/modules.stage.1.schema.json", {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SITE}/schemas/modules.stage.1.schema.json",
        "type": "array", "items": {"$ref": "../partials/module.core.json"}})
    write(root / "dist/partials/module.core.json", {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": f"{SITE}/partials/module.core.json",
        "type": "object", "required": ["name", "url"],
        "properties": {"name": {"type": "string"},
                       "url": {"$ref": "module.links.json#/$defs/url"},
                       "lastUpdate": {"type": "string", "format": "date-time"}}})
    write(root / "dist/partials/module.links.json", {
        "$defs": {"url": {"type": "string", "format": "uri"}}})


STAGE_1 = Artifact("modules-stage-1", "file", "website/data/modules.stage.1.json", "json",
                   "dist/schemas/modules.stage.1.schema.json")


def test_relative_refs_beside_an_https_id_resolve_to_local_partials(tmp_path):
    upstream_schemas(tmp_path)
    write(tmp_path / STAGE_1.path, [{"name": "MMM-TideClock",
                                     "url": "https://github.com/x/MMM-TideClock",
                                     "lastUpdate": "2024-11-27T23:58:55Z"}])
    validate_artifact(tmp_path, STAGE_1)  # was: Unresolvable: ../partials/module.core.json

    # the partials' constraints apply, two files deep
    write(tmp_path / STAGE_1.path, [{"name": "MMM-TideClock", "url": "not a uri"}, {}])
    with pytest.raises(SchemaProblem) as info:
        validate_artifact(tmp_path, STAGE_1)
    assert str(info.value) == (
        "does not match schema dist/schemas/modules.stage.1.schema.json: "
        "$[0].url: 'not a uri' is not a 'uri'; $[1]: 'name' is a required property; "
        "$[1]: 'url' is a required property")


def test_a_known_id_wins_over_the_path_beside_the_referring_file(tmp_path):
    upstream_schemas(tmp_path)
    # a schema of the graph's schema directory declares the partial's $id: it is used,
    # not the file at ../partials/module.core.json
    write(tmp_path / "dist/schemas/shared/core-by-id.json", {
        "$id": f"{SITE}/partials/module.core.json",
        "type": "object", "required": ["id"]})
    write(tmp_path / STAGE_1.path, [{"name": "n", "url": "https://x.org/"}])
    with pytest.raises(SchemaProblem, match=r"\$\[0\]: 'id' is a required property"):
        validate_artifact(tmp_path, STAGE_1)
    write(tmp_path / STAGE_1.path, [{"id": 1}])
    validate_artifact(tmp_path, STAGE_1)


def test_ids_are_found_in_every_schema_directory_of_the_graph(tmp_path):
    write(tmp_path / "schemas/a.schema.json", {
        "$id": "https://x.org/a.json", "$ref": "https://x.org/common/b.json"})
    write(tmp_path / "shared/b.schema.json", {"$id": "https://x.org/common/b.json",
                                              "type": "integer"})
    write(tmp_path / "out/a.json", "12")
    artifact = Artifact("a", "file", "out/a.json", "json", "schemas/a.schema.json")
    with pytest.raises(SchemaProblem, match="cannot resolve"):
        validate_artifact(tmp_path, artifact)  # only schemas/ is searched
    validate_artifact(tmp_path, artifact, ("schemas", "shared"))
    write(tmp_path / "out/a.json", '"twelve"')
    with pytest.raises(SchemaProblem, match="'twelve' is not of type 'integer'"):
        validate_artifact(tmp_path, artifact, ("schemas", "shared"))


@pytest.fixture
def no_network(monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("a schema was fetched over the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_refs_that_no_local_file_answers_are_never_fetched(tmp_path, no_network):
    write(tmp_path / "schemas/remote.schema.json", {
        "$id": "https://x.org/schemas/remote.json",
        "properties": {"a": {"$ref": "https://json.schemastore.org/package.json"},
                       "b": {"$ref": "../partials/absent.json"}}})
    artifact = Artifact("r", "file", "out/r.json", "json", "schemas/remote.schema.json")
    write(tmp_path / "out/r.json", {"a": {}})
    with pytest.raises(SchemaProblem) as info:
        validate_artifact(tmp_path, artifact)
    assert str(info.value) == (
        "schema schemas/remote.schema.json: cannot resolve $ref "
        "'https://json.schemastore.org/package.json' (in schemas/remote.schema.json: no "
        "schema file in schemas/ declares $id https://json.schemastore.org/package.json "
        "(schemas are never fetched over the network))")
    write(tmp_path / "out/r.json", {"b": {}})
    with pytest.raises(SchemaProblem) as info:
        validate_artifact(tmp_path, artifact)
    assert str(info.value) == (
        "schema schemas/remote.schema.json: cannot resolve $ref '../partials/absent.json' "
        "(in schemas/remote.schema.json: no schema file in schemas/ declares $id "
        "https://x.org/partials/absent.json, and there is no file partials/absent.json)")
    # the meta-schemas are known without the network
    write(tmp_path / "schemas/meta.schema.json",
          {"$ref": "https://json-schema.org/draft/2020-12/schema"})
    write(tmp_path / "out/r.json", {"type": 12})
    with pytest.raises(SchemaProblem, match=r"\$.type: 12 is not valid"):
        validate_artifact(tmp_path, Artifact("m", "file", "out/r.json", "json",
                                             "schemas/meta.schema.json"))


def test_a_partial_that_is_not_a_json_schema_is_one_line(tmp_path):
    upstream_schemas(tmp_path)
    write(tmp_path / "dist/partials/module.links.json", {"$defs": {"url": {"type": 12}}})
    write(tmp_path / STAGE_1.path, [{"name": "n", "url": "https://x.org/"}])
    with pytest.raises(SchemaProblem) as info:
        validate_artifact(tmp_path, STAGE_1)
    assert str(info.value).startswith(
        "schema dist/schemas/modules.stage.1.schema.json: dist/partials/module.links.json "
        "(reached through a $ref) is not a valid JSON Schema at $defs/url/type: 12 is not")


def test_a_changed_or_added_partial_is_seen_by_the_next_validation(tmp_path):
    upstream_schemas(tmp_path)
    write(tmp_path / STAGE_1.path, [{"name": "n", "url": "https://x.org/", "extra": 1}])
    validate_artifact(tmp_path, STAGE_1)
    core = json.loads((tmp_path / "dist/partials/module.core.json").read_text())
    core["additionalProperties"] = False
    write(tmp_path / "dist/partials/module.core.json", core)
    with pytest.raises(SchemaProblem, match="Additional properties are not allowed"):
        validate_artifact(tmp_path, STAGE_1)

    (tmp_path / "dist/partials/module.links.json").unlink()
    with pytest.raises(SchemaProblem, match="there is no file dist/partials/module.links"):
        validate_artifact(tmp_path, STAGE_1)
    write(tmp_path / "dist/partials/module.links.json", {"$defs": {"url": {"type": "string"}}})
    write(tmp_path / STAGE_1.path, [{"name": "n", "url": "any text"}])
    validate_artifact(tmp_path, STAGE_1)


def test_a_run_validates_through_https_ids_and_names_a_bad_field(tmp_path):
    project = schema_project(tmp_path / "p", {}, "dist/schemas/modules.stage.1.schema.json",
                             [{"name": "MMM-TideClock", "url": "https://x.org/t",
                               "lastUpdate": "2024-11-27T23:58:55Z"}])
    upstream_schemas(project.root)
    result = project.pipeline("run")
    assert result.code == 0, result.text

    write(project.path("data/in.json"), [{"name": "MMM-TideClock", "url": "https://x.org/t",
                                          "lastUpdate": "yesterday-ish"}])
    result = project.pipeline("run")
    assert result.code == 1
    assert project.last_record()["stages"][0]["error"] == (
        "artifact 'data' (out/data.json) does not match schema "
        "dist/schemas/modules.stage.1.schema.json: $[0].lastUpdate: 'yesterday-ish' is not "
        "a 'date-time'")
    assert "Traceback" not in result.text
