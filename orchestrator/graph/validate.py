"""Is a parsed graph document a stage graph? First against the JSON Schema
(`orchestrator/stage-graph.schema.json`), then for meaning: unique ids, references that
exist, artifact paths inside the root, no dependency cycle.

Each problem is one line, ``<file>: <place>: <message>``, so the user can go straight to
it; all are reported (up to `MAX_PROBLEMS`), not just the first.
"""

from __future__ import annotations

import json
import os
import posixpath
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

from orchestrator.errors import GraphError
from orchestrator.graph.model import HOOK_MOMENTS, did_you_mean, normalized_relative

MAX_PROBLEMS = 20
# the format's JSON Schema: package data of `orchestrator`, named in the docs
SCHEMA_FILE = Path(__file__).parent.parent / "stage-graph.schema.json"


def validate(data: Any, shown: str, root: Path) -> None:
    """Raise GraphError naming each problem of `data` (as parsed from the file `shown`)."""
    problems = schema_problems(data, shown)
    if not problems:
        problems = meaning_problems(data, shown, root)
    if problems:
        if len(problems) > MAX_PROBLEMS:
            extra = len(problems) - MAX_PROBLEMS
            problems = problems[:MAX_PROBLEMS] + [f"{shown}: ... and {extra} more problems"]
        raise GraphError(problems)


# ---------------------------------------------------------------------------
# Validation, first against the JSON Schema, then for meaning


@lru_cache(maxsize=1)
def graph_schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def location(parts: Iterable[Any]) -> str:
    """A JSON path as a reader writes it: ``stages[2].dependsOn[0]``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "top level"


def _inlined(node: Any, defs: dict, seen: tuple[str, ...] = ()) -> Any:
    """`node` with each local `{"$ref": "#/$defs/x"}` replaced by the definition itself.

    jsonschema resolves a `$ref` every time it meets one: at 10,000 stages that was a
    third of validating a graph. A reference with sibling keywords, or one that leads
    back to a definition it is inside, is kept as it is."""
    if isinstance(node, list):
        return [_inlined(item, defs, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and len(node) == 1 and ref.startswith("#/$defs/"):
        name = ref[len("#/$defs/"):]
        if name in defs and name not in seen:
            return _inlined(defs[name], defs, (*seen, name))
    return {key: _inlined(value, defs, seen) for key, value in node.items()}


@lru_cache(maxsize=1)
def _graph_validator():
    from jsonschema import Draft202012Validator

    schema = graph_schema()
    return Draft202012Validator(_inlined(schema, schema.get("$defs", {})))


@lru_cache(maxsize=1)
def _conformance_check():
    from orchestrator.graph.conform import conformance_check

    return conformance_check(graph_schema())


def schema_problems(data: dict, shown: str) -> list[str]:
    """Each place where `data` breaks the JSON Schema, as jsonschema words it. A graph
    that conforms is known to without importing jsonschema (see `conform.py`)."""
    from orchestrator.graph.conform import conforms

    check = _conformance_check()
    if check is not None and conforms(check, data):
        return []
    from jsonschema.exceptions import best_match

    validator = _graph_validator()
    problems = []
    try:
        errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
        for error in errors:
            best = best_match([error])
            message = best.message if len(best.message) <= 160 else best.message[:157] + "..."
            problems.append(f"{shown}: {location(best.absolute_path)}: {message}")
    except RecursionError:
        return [f"{shown}: nesting is too deep to be a stage graph"]
    return problems


def _inside_root_check(root: Path) -> Callable[[str], bool]:
    """A test of normalized relative paths: False when an existing symbolic link on the
    way leads outside the root. Each directory is resolved once, however many artifacts
    lie in it (a graph of 10,000 files in one directory: one resolution, not 10,000)."""
    real_root = os.path.realpath(root)
    inside_prefix = real_root.rstrip(os.sep) + os.sep
    real_dirs: dict[str, str] = {"": real_root}

    def inside(rel: str) -> bool:
        parent, name = posixpath.split(rel)
        real_parent = real_dirs.get(parent)
        if real_parent is None:
            real_parent = real_dirs[parent] = os.path.realpath(os.path.join(root, parent))
        full = os.path.join(real_parent, name)
        if os.path.islink(full):
            full = os.path.realpath(full)
        return full == real_root or full.startswith(inside_prefix)
    return inside


# ---------------------------------------------------------------------------
# Misspelled fields: unknown fields are allowed (graphs grow), but one that is close to
# a field the format knows is most likely a typo whose setting would be lost.


def misspelled_fields(data: dict) -> list[tuple[str, str, str]]:
    """(place, unknown field, the known field it is close to), in document order, for
    each unknown field of an object the schema describes that is close to one of its
    known fields (`stages[1].timeot` -> `timeout`)."""
    schema = graph_schema()
    found: list[tuple[str, str, str]] = []
    _misspelled(data, _inlined(schema, schema.get("$defs", {})), [], found)
    return found


def _misspelled(node: Any, schema: Any, path: list, found: list) -> None:
    if not isinstance(schema, dict):
        return
    if "if" in schema:  # an input: external or an artifact's
        branch = "then" if _matches_if(node, schema["if"]) else "else"
        _misspelled(node, schema.get(branch), path, found)
    properties = schema.get("properties")
    if isinstance(node, dict) and isinstance(properties, dict):
        for key, value in node.items():
            if key in properties:
                _misspelled(value, properties[key], [*path, key], found)
                continue
            close = _closest_field(str(key), properties)
            if close is not None:
                found.append((location([*path, key]), str(key), close))
    items = schema.get("items")
    if isinstance(node, list) and isinstance(items, dict):
        for i, item in enumerate(node):
            _misspelled(item, items, [*path, i], found)


def _matches_if(node: Any, condition: dict) -> bool:
    """The schema's `if` as it is written there: required keys, and constant values."""
    if not isinstance(node, dict):
        return False
    if any(key not in node for key in condition.get("required", ())):
        return False
    return all(node.get(key) == rule["const"]
               for key, rule in condition.get("properties", {}).items()
               if key in node and isinstance(rule, dict) and "const" in rule)


def _closest_field(key: str, known: Iterable[str]) -> str | None:
    import difflib

    by_lower = {name.lower(): name for name in known}
    if key.lower() in by_lower:  # `DependsOn`, `dependson`
        return by_lower[key.lower()]
    close = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


# ---------------------------------------------------------------------------
# Meaning, one function per rule (as `commands/check.py` lints): each returns the
# problems it finds. A rule of one artifact, pipeline or stage also takes its index in
# the file and the item itself. `meaning_problems` runs them so that the problems come
# in the order of the document.


def meaning_problems(data: dict, shown: str, root: Path) -> list[str]:
    """What is wrong with a schema-valid document beyond its shape."""
    doc = Document(data, shown, root)
    problems = duplicate_ids(doc) + pipelines_named_like_stages(doc)
    problems += unknown_default_pipeline(doc)
    problems += _each(doc, "artifacts", (artifact_path, schema_path, ignore_in_directories))
    problems += _each(doc, "pipelines", (pipeline_stages,))
    problems += _each(doc, "stages", (unknown_dependencies, unknown_artifacts,
                                      unknown_hook_artifacts))
    problems += dependency_cycle(doc)
    return problems


Rule = Callable[["Document", int, dict], list[str]]


def _each(doc: Document, key: str, rules: tuple[Rule, ...]) -> list[str]:
    """The problems `rules` find in each item of `key`, item by item."""
    problems: list[str] = []
    for i, item in enumerate(doc.data.get(key, [])):
        for rule in rules:
            problems += rule(doc, i, item)
    return problems


class Document:
    """A schema-valid graph document, with what several rules look up."""

    def __init__(self, data: dict, shown: str, root: Path):
        self.data = data
        self.shown = shown
        self.root = root
        # id -> index of its first definition
        self.stages = _first_index(data.get("stages", []))
        self.artifacts = _first_index(data.get("artifacts", []))
        self.pipelines = _first_index(data.get("pipelines", []))

    def problem(self, where: Iterable[Any], message: str) -> str:
        # ids and paths come from the file: keep each problem on one line whatever they hold
        message = message.replace("\r", "\\r").replace("\n", "\\n")
        return f"{self.shown}: {location(where)}: {message}"

    def unknown(self, where: Iterable[Any], name: str, ids: dict[str, int], what: str) -> str:
        return self.problem(where, f"unknown {what} '{name}'{did_you_mean(name, ids)}")

    @cached_property
    def artifact_places(self) -> list[tuple[str | None, bool]]:
        """Per artifact: its path normalized (None when it is not a relative path inside
        the root), and whether it stays inside the root through symbolic links."""
        inside_root = _inside_root_check(self.root)
        places = []
        for artifact in self.data.get("artifacts", []):
            norm = normalized_relative(artifact["path"])
            places.append((norm, norm is not None and inside_root(norm)))
        return places

    @cached_property
    def path_owners(self) -> dict[str, str]:
        """Normalized path -> the id of the first artifact soundly at that path."""
        owners: dict[str, str] = {}
        for artifact, (norm, inside) in zip(self.data.get("artifacts", []),
                                            self.artifact_places):
            if inside:
                owners.setdefault(norm, artifact["id"])
        return owners


def _first_index(items: list[dict]) -> dict[str, int]:
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        first.setdefault(item["id"], i)
    return first


# -- the whole document


def duplicate_ids(doc: Document) -> list[str]:
    """Stage, artifact and pipeline ids are each unique."""
    problems = []
    for key, what, first in (("stages", "stage", doc.stages),
                             ("artifacts", "artifact", doc.artifacts),
                             ("pipelines", "pipeline", doc.pipelines)):
        if len(first) == len(doc.data.get(key, [])):
            continue  # no duplicate (most graphs): nothing to look for
        for i, item in enumerate(doc.data[key]):
            at = first[item["id"]]
            if at != i:
                message = f"duplicate {what} id '{item['id']}' (first at {key}[{at}])"
                problems.append(doc.problem([key, i, "id"], message))
    return problems


def pipelines_named_like_stages(doc: Document) -> list[str]:
    """Pipelines and stages share one namespace: the names of doit's tasks."""
    return [doc.problem(["pipelines", i, "id"], f"'{pid}' is also a stage id; pipelines and "
                                                f"stages share one namespace of task names")
            for pid, i in doc.pipelines.items() if pid in doc.stages]


def unknown_default_pipeline(doc: Document) -> list[str]:
    """`defaultPipeline` names a pipeline."""
    default = doc.data.get("defaultPipeline")
    if default is None or default in doc.pipelines:
        return []
    return [doc.unknown(["defaultPipeline"], default, doc.pipelines, "pipeline")]


def dependency_cycle(doc: Document) -> list[str]:
    """No stage depends on itself, directly or through others."""
    cycle = _find_cycle(doc.data.get("stages", []), doc.stages)
    if not cycle:
        return []
    return [doc.problem(["stages", doc.stages[cycle[0]], "dependsOn"],
                        "dependency cycle: " + " -> ".join(cycle))]


# -- each artifact


def artifact_path(doc: Document, i: int, artifact: dict) -> list[str]:
    """An artifact's path stays inside the root (symbolic links included) and is no
    other artifact's."""
    where, path = ["artifacts", i, "path"], artifact["path"]
    norm, inside = doc.artifact_places[i]
    if norm is None:
        return [doc.problem(where, f"'{path}' must be a relative path inside the project root")]
    if not inside:
        return [doc.problem(where, f"'{path}' leads outside the project root through a "
                                   f"symbolic link")]
    owner = doc.path_owners[norm]
    if owner != artifact["id"]:
        return [doc.problem(where, f"'{path}' is also the path of artifact '{owner}'")]
    return []


def schema_path(doc: Document, i: int, artifact: dict) -> list[str]:
    """An artifact's schema file is inside the root."""
    schema = artifact.get("schema")
    if schema is None or normalized_relative(schema) is not None:
        return []
    return [doc.problem(["artifacts", i, "schema"], f"'{schema}' must be a relative path "
                                                    f"inside the project root")]


def ignore_in_directories(doc: Document, i: int, artifact: dict) -> list[str]:
    """Only a directory has entries to ignore."""
    if artifact.get("ignore") and artifact.get("type") != "directory":
        return [doc.problem(["artifacts", i, "ignore"],
                            "only a directory artifact can ignore entries")]
    return []


# -- each pipeline


def pipeline_stages(doc: Document, i: int, pipeline: dict) -> list[str]:
    """A pipeline lists stages that exist, each once."""
    problems = []
    seen: set[str] = set()
    for j, sid in enumerate(pipeline["stages"]):
        if sid not in doc.stages:
            problems.append(doc.unknown(["pipelines", i, "stages", j], sid, doc.stages, "stage"))
        elif sid in seen:
            problems.append(doc.problem(["pipelines", i, "stages", j],
                                        f"stage '{sid}' is listed twice"))
        seen.add(sid)
    return problems


# -- each stage


def unknown_dependencies(doc: Document, i: int, stage: dict) -> list[str]:
    """`dependsOn` names stages."""
    return [doc.unknown(["stages", i, "dependsOn", j], dep, doc.stages, "stage")
            for j, dep in enumerate(stage.get("dependsOn", [])) if dep not in doc.stages]


def unknown_artifacts(doc: Document, i: int, stage: dict) -> list[str]:
    """Inputs and outputs name artifacts (an external input names none)."""
    return [doc.unknown(["stages", i, key, j, "artifact"], item["artifact"], doc.artifacts,
                        "artifact")
            for key in ("inputs", "outputs") for j, item in enumerate(stage.get(key, []))
            if "artifact" in item and item.get("type") != "external"
            and item["artifact"] not in doc.artifacts]


def unknown_hook_artifacts(doc: Document, i: int, stage: dict) -> list[str]:
    """`move` and `remove` hooks name artifacts."""
    hooks = stage.get("hooks")
    if not hooks:
        return []
    named = []  # (where, artifact id)
    for moment in HOOK_MOMENTS:  # other keys are unknown fields: allowed, not read
        for j, hook in enumerate(hooks.get(moment, [])):
            where = ["stages", i, "hooks", moment, j]
            if "move" in hook:
                named += [(where + ["move", "from"], hook["move"]["from"]),
                          (where + ["move", "to"], hook["move"]["to"])]
            elif "remove" in hook:
                named.append((where + ["remove"], hook["remove"]))
    return [doc.unknown(where, name, doc.artifacts, "artifact")
            for where, name in named if name not in doc.artifacts]


def _find_cycle(stage_list: list[dict], ids: dict[str, int]) -> list[str] | None:
    """The first `dependsOn` cycle found, as a closed path, or None. Iterative DFS."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    deps = {s["id"]: [d for d in s.get("dependsOn", []) if d in ids] for s in stage_list}
    for start in deps:
        if state.get(start):
            continue
        path: list[str] = [start]
        iters = [iter(deps[start])]
        state[start] = 1
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(deps[nxt]))
    return None

