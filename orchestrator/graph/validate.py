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
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

from orchestrator.errors import GraphError
from orchestrator.graph.model import HOOK_MOMENTS, did_you_mean, normalized_relative

MAX_PROBLEMS = 20
# the format's JSON Schema: package data of `orchestrator`, named in the docs
SCHEMA_FILE = Path(__file__).parent.parent / "stage-graph.schema.json"


def validate(data: Any, shown: str, root: Path) -> None:
    """Raise GraphError naming each problem of `data` (as parsed from the file `shown`)."""
    problems = _schema_problems(data, shown)
    if not problems:
        problems = _meaning_problems(data, shown, root)
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


def _schema_problems(data: dict, shown: str) -> list[str]:
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


def _meaning_problems(data: dict, shown: str, root: Path) -> list[str]:
    problems: list[str] = []

    def problem(where: Iterable[Any], message: str) -> None:
        # ids and paths come from the file: keep each problem on one line whatever they hold
        message = message.replace("\r", "\\r").replace("\n", "\\n")
        problems.append(f"{shown}: {location(where)}: {message}")

    def index_ids(key: str, what: str) -> dict[str, int]:
        seen: dict[str, int] = {}
        for i, item in enumerate(data.get(key, [])):
            if item["id"] in seen:
                problem([key, i, "id"], f"duplicate {what} id '{item['id']}' "
                                        f"(first at {key}[{seen[item['id']]}])")
            else:
                seen[item["id"]] = i
        return seen

    stages = index_ids("stages", "stage")
    artifacts = index_ids("artifacts", "artifact")
    pipelines = index_ids("pipelines", "pipeline")

    def known(where: list[Any], name: str, ids: dict[str, int], what: str) -> bool:
        if name in ids:
            return True
        problem(where, f"unknown {what} '{name}'{did_you_mean(name, ids)}")
        return False

    for pid, i in pipelines.items():
        if pid in stages:
            problem(["pipelines", i, "id"], f"'{pid}' is also a stage id; pipelines and stages "
                                            f"share one namespace of task names")
    default = data.get("defaultPipeline")
    if default is not None:
        known(["defaultPipeline"], default, pipelines, "pipeline")

    paths: dict[str, str] = {}
    inside_root = _inside_root_check(root)
    for i, artifact in enumerate(data.get("artifacts", [])):
        norm = normalized_relative(artifact["path"])
        if norm is None:
            problem(["artifacts", i, "path"], f"'{artifact['path']}' must be a relative path "
                                              f"inside the project root")
        elif not inside_root(norm):
            problem(["artifacts", i, "path"], f"'{artifact['path']}' leads outside the project "
                                              f"root through a symbolic link")
        elif norm in paths and paths[norm] != artifact["id"]:
            problem(["artifacts", i, "path"], f"'{artifact['path']}' is also the path of "
                                              f"artifact '{paths[norm]}'")
        else:
            paths[norm] = artifact["id"]
        schema = artifact.get("schema")
        if schema is not None and normalized_relative(schema) is None:
            problem(["artifacts", i, "schema"], f"'{schema}' must be a relative path inside "
                                                f"the project root")
        if artifact.get("ignore") and artifact.get("type") != "directory":
            problem(["artifacts", i, "ignore"], "only a directory artifact can ignore entries")

    for i, pipeline in enumerate(data.get("pipelines", [])):
        seen: set[str] = set()
        for j, sid in enumerate(pipeline["stages"]):
            if known(["pipelines", i, "stages", j], sid, stages, "stage") and sid in seen:
                problem(["pipelines", i, "stages", j], f"stage '{sid}' is listed twice")
            seen.add(sid)

    for i, stage in enumerate(data.get("stages", [])):
        for j, dep in enumerate(stage.get("dependsOn", [])):
            known(["stages", i, "dependsOn", j], dep, stages, "stage")
        for key in ("inputs", "outputs"):
            for j, item in enumerate(stage.get(key, [])):
                if "artifact" in item and item.get("type") != "external":
                    known(["stages", i, key, j, "artifact"], item["artifact"], artifacts,
                          "artifact")
        hooks_by_moment = stage.get("hooks") or {}
        for moment in HOOK_MOMENTS:  # other keys are unknown fields: allowed, not read
            for j, hook in enumerate(hooks_by_moment.get(moment, [])):
                where = ["stages", i, "hooks", moment, j]
                if "move" in hook:
                    known(where + ["move", "from"], hook["move"]["from"], artifacts, "artifact")
                    known(where + ["move", "to"], hook["move"]["to"], artifacts, "artifact")
                elif "remove" in hook:
                    known(where + ["remove"], hook["remove"], artifacts, "artifact")

    cycle = _find_cycle(data.get("stages", []), stages)
    if cycle:
        first = stages[cycle[0]]
        problem(["stages", first, "dependsOn"], "dependency cycle: " + " -> ".join(cycle))
    return problems


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

