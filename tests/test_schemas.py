"""Artifact validation against JSON Schemas that reference each other."""

from __future__ import annotations

import json

import pytest

from orchestrator.graph import Artifact
from orchestrator.schemas import SchemaProblem, validate_artifact


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))


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
