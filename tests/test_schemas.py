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
    assert "$.lastUpdate: 'yesterday-ish' is not a 'date-time'" in result.out
    assert "Traceback" not in result.text
