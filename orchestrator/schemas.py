"""Validate artifacts against their JSON Schemas; `$ref` between schema files resolves
relative to the referring file, like links between pages."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from orchestrator.graph import Artifact

MAX_ERRORS = 3


class SchemaProblem(Exception):
    """The artifact or its schema could not be read, or the artifact does not match."""


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaProblem(f"{what} not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SchemaProblem(f"{what} is not readable JSON: {exc}") from None


@lru_cache(maxsize=64)
def _validator(schema_path: Path, mtime_ns: int):
    """A validator for the schema at `schema_path` (re-read when the file changes)."""
    from jsonschema import validators
    from jsonschema.exceptions import SchemaError
    from referencing import Registry, Resource
    from referencing.exceptions import NoSuchResource
    from referencing.jsonschema import DRAFT202012

    schema = _load_json(schema_path, "schema")

    def retrieve(uri: str) -> Resource:
        if not uri.startswith("file:"):
            raise NoSuchResource(ref=uri)
        from urllib.parse import unquote, urlparse

        target = Path(unquote(urlparse(uri).path))
        try:
            contents = json.loads(target.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise NoSuchResource(ref=uri) from None
        return Resource.from_contents(contents, default_specification=DRAFT202012)

    base = schema_path.resolve().as_uri()
    resource = Resource.from_contents(schema, default_specification=DRAFT202012)
    registry = Registry(retrieve=retrieve).with_resource(base, resource)
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise SchemaProblem(f"schema is not a valid JSON Schema: {exc.message}") from None
    # formats are asserted (as Ajv with ajv-formats does upstream), not just annotations
    return cls({"$ref": base} if "$id" not in schema else schema, registry=registry,
               format_checker=cls.FORMAT_CHECKER)


def validate_artifact(root: Path, artifact: Artifact) -> None:
    """Raise SchemaProblem unless the artifact's file matches its schema."""
    from jsonschema.exceptions import ValidationError
    from referencing.exceptions import Unresolvable

    schema_path = root / artifact.schema
    try:
        mtime = schema_path.stat().st_mtime_ns
    except OSError:
        raise SchemaProblem(f"schema {artifact.schema} not found") from None
    validator = _validator(schema_path, mtime)
    data = _load_json(root / artifact.path, artifact.path)
    try:
        errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path)))
    except Unresolvable as exc:
        raise SchemaProblem(f"schema {artifact.schema}: cannot resolve $ref {exc}") from None
    except (ValidationError, RecursionError) as exc:
        raise SchemaProblem(f"schema {artifact.schema}: {exc}") from None
    if errors:
        shown = "; ".join(f"{e.json_path}: {_short(e.message)}" for e in errors[:MAX_ERRORS])
        more = f" (and {len(errors) - MAX_ERRORS} more)" if len(errors) > MAX_ERRORS else ""
        raise SchemaProblem(f"does not match schema {artifact.schema}: {shown}{more}")


def _short(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."
