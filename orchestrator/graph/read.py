"""From a graph file to a `Graph`: read it (JSON or YAML), refuse what is unreadable or
too large, have it validated (`validate.py`), freeze it into the model (`model.py`).

A graph that validated before is taken from a cache instead (see `load_graph`). Nothing
else is written; no process is started.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from orchestrator import paths
from orchestrator.errors import GraphError
from orchestrator.graph import cache as graph_cache
from orchestrator.graph.model import (
    NO_HOOKS,
    Artifact,
    Command,
    EnvVar,
    Graph,
    Hook,
    Hooks,
    Input,
    Output,
    Pipeline,
    SideEffect,
    Stage,
    normalized_relative,
    parse_age,
)
from orchestrator.graph.validate import SCHEMA_FILE, misspelled_fields, validate

DEFAULT_GRAPH = Path(paths.DEFAULT_GRAPH)
# A YAML file can expand (through aliases) into far more data than it holds; past this
# many values it is refused instead of being walked.
MAX_VALUES = 1_000_000
_DEFAULT_RETRY_DELAY = 1.0  # one float object for every stage that does not set it


def display_path(path: Path) -> str:
    """The path relative to the working directory when it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------
# Loading


def resolve_graph_path(root: Path, graph: str | Path | None) -> Path:
    """`graph` as given (relative to the working directory), else the default under root."""
    if graph is None:
        return (root / DEFAULT_GRAPH).absolute()
    return Path(graph).absolute()


def load_graph(path: Path, root: Path | None = None, cache: bool = True,
               write_cache: bool = True) -> Graph:
    """Read, validate and freeze the graph at `path`; raise GraphError naming each problem.

    A graph that validated before, byte for byte, is taken from a cache under
    `.pipeline-runs/.cache/` instead of being validated again: on a large graph,
    validation costs more than everything else a no-op run does. Only commands that run
    stages write the cache (`write_cache`); the others just use it.
    """
    path = Path(path).absolute()
    root = Path(root).absolute() if root is not None else Path.cwd()
    shown = display_path(path)
    raw = _read_bytes(path, shown)
    key = _cache_key(raw, path, root, shown) if cache else None
    cached = graph_cache.get(root, key, path, shown) if key else None
    if cached is not None:
        return cached
    data = _parse_document(raw, path, shown)
    validate(data, shown, root)
    graph = _freeze(data, path, root, shown)
    misspelled = misspelled_fields(data)
    if misspelled:
        graph = replace(graph, misspelled=tuple(misspelled))
    if key and write_cache:
        graph_cache.put(root, key, graph.derive())
    return graph


# bump when the frozen classes change shape (the cache holds their field values in order)
_CACHE_FORMAT = "10"


def _cache_key(raw: bytes, path: Path, root: Path, shown: str) -> str:
    import hashlib

    from orchestrator import __version__

    h = hashlib.sha256()
    for part in (__version__, _CACHE_FORMAT, str(path), str(root), shown):
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    h.update(SCHEMA_FILE.read_bytes())
    h.update(raw)
    return h.hexdigest()[:40]


# ---------------------------------------------------------------------------
# Reading


def _read_bytes(path: Path, shown: str) -> bytes:
    from orchestrator.files import NotAFile, read_regular_file

    try:
        return read_regular_file(path)
    except NotAFile as exc:
        raise GraphError([f"{shown}: {exc}"]) from None
    except FileNotFoundError:
        raise GraphError([f"{shown}: graph file not found"]) from None
    except IsADirectoryError:
        raise GraphError([f"{shown}: is a directory, not a graph file"]) from None
    except OSError as exc:
        raise GraphError([f"{shown}: cannot read graph file: {exc.strerror}"]) from None
    except ValueError:  # e.g. a NUL byte in the path
        raise GraphError([f"{shown!r}: not a usable file path"]) from None


def _parse_document(raw: bytes, path: Path, shown: str) -> Any:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GraphError([f"{shown}: not UTF-8 text (byte {exc.start}: {exc.reason})"]) from None
    if not text.strip():
        raise GraphError([f"{shown}: file is empty"])
    is_yaml = path.suffix.lower() in (".yaml", ".yml")
    try:
        data = _parse_yaml(text, shown) if is_yaml else _parse_json(text, shown)
        # a JSON value takes at least one character, and JSON cannot alias: a short
        # enough JSON text needs no count (a 10,000-stage graph: a fifth of a second)
        size = _count_values(data) if is_yaml or len(text) > MAX_VALUES else 0
    except RecursionError:
        raise GraphError([f"{shown}: nesting is too deep to be a stage graph"]) from None
    except _SelfReference:
        raise GraphError([f"{shown}: the document contains itself "
                          f"(a recursive YAML alias)"]) from None
    if size > MAX_VALUES:
        raise GraphError([f"{shown}: too large: more than {MAX_VALUES} values"])
    if not isinstance(data, dict):
        raise GraphError([f"{shown}: top level must be an object with 'pipelines', 'stages' "
                          f"and 'artifacts', not {_type_name(data)}"])
    return data


def _parse_json(text: str, shown: str) -> Any:
    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        return json.loads(text, parse_constant=reject_constant)
    except json.JSONDecodeError as exc:
        raise GraphError([f"{shown}: line {exc.lineno}, column {exc.colno}: "
                          f"invalid JSON: {exc.msg}"]) from None
    except ValueError as exc:
        raise GraphError([f"{shown}: invalid JSON: {exc}"]) from None


def _parse_yaml(text: str, shown: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise GraphError([f"{shown}: {where}invalid YAML: {exc.problem}"]) from None
    except yaml.YAMLError as exc:  # e.g. a ReaderError for a control character
        detail = (str(exc).strip().splitlines() or ["unreadable"])[0]
        position = getattr(exc, "position", None)
        where = f" (character {position + 1})" if isinstance(position, int) else ""
        raise GraphError([f"{shown}: invalid YAML: {detail}{where}"]) from None


class _SelfReference(Exception):
    pass


def _count_values(data: Any) -> int:
    """How many values `data` holds once every shared (aliased) part is expanded.

    Iterative, so depth cannot exhaust the stack; a YAML structure that contains
    itself is refused.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        node, done = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        key = id(node)
        children = list(node.values()) if isinstance(node, dict) else node
        if done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes.get(id(c), 1) for c in children)
            if sizes[key] > MAX_VALUES:
                return sizes[key]
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise _SelfReference()
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if isinstance(c, (dict, list)))
    return sizes.get(id(data), 1)


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null", int: "a number", float: "a number"}.get(type(value), "a value")


# ---------------------------------------------------------------------------
# Freezing validated data into dataclasses


def _command(raw: dict) -> Command:
    from sys import intern  # arguments often repeat artifact paths: share the strings

    return Command(intern(raw["executable"]), tuple(map(intern, raw.get("args", []))))


def _hook(raw: dict) -> Hook:
    if "move" in raw:
        return Hook("move", source=raw["move"]["from"], target=raw["move"]["to"])
    if "remove" in raw:
        return Hook("remove", source=raw["remove"])
    return Hook("command", command=_command(raw["command"]))


def _freeze(data: dict, path: Path, root: Path, shown: str) -> Graph:
    # one string object per id however often it is named (less memory, smaller cache)
    from sys import intern

    artifacts = {
        intern(a["id"]): Artifact(
            id=intern(a["id"]), type=intern(a["type"]),
            path=intern(normalized_relative(a["path"]) or a["path"]),
            format=a.get("format"),
            schema=normalized_relative(a["schema"]) if a.get("schema") else None,
            description=a.get("description", ""),
            ignore=tuple(a.get("ignore", ())))
        for a in data.get("artifacts", [])
    }
    stages = {}
    for index, s in enumerate(data["stages"]):
        inputs = tuple(
            Input(artifact=None, optional=bool(i.get("optional", False)),
                  kind=i.get("kind"), uri=i.get("uri"), max_age=parse_age(i.get("maxAge")))
            if i.get("type") == "external" else
            Input(artifact=intern(i["artifact"]), optional=bool(i.get("optional", False)))
            for i in s.get("inputs", []))
        hooks = s.get("hooks") or {}
        stages[intern(s["id"])] = Stage(
            id=intern(s["id"]), command=_command(s["command"]), index=index,
            name=s.get("name", ""), description=s.get("description", ""),
            depends_on=tuple(map(intern, s.get("dependsOn", []))),
            inputs=inputs,
            outputs=tuple(Output(intern(o["artifact"]), bool(o.get("optional", False)))
                          for o in s.get("outputs", [])),
            environment=tuple(EnvVar(e["name"], bool(e.get("required", False)),
                                     e.get("description", ""))
                              for e in s.get("environment", [])),
            side_effects=tuple(SideEffect(e["type"], e.get("description", ""),
                                          parse_age(e.get("maxAge")))
                               for e in s.get("sideEffects", [])),
            hooks=Hooks(before=tuple(map(_hook, hooks.get("before", []))),
                        after=tuple(map(_hook, hooks.get("after", []))),
                        on_failure=tuple(map(_hook, hooks.get("onFailure", []))))
            if hooks else NO_HOOKS,
            timeout=s.get("timeout"), retries=s.get("retries", 0),
            retry_delay=s.get("retryDelay", _DEFAULT_RETRY_DELAY),
            python=s.get("python"),
        )
    pipelines = {p["id"]: Pipeline(p["id"], tuple(map(intern, p["stages"])),
                                   p.get("description", ""))
                 for p in data["pipelines"]}
    return Graph(path=path, root=root, display=shown, pipelines=pipelines, stages=stages,
                 artifacts=artifacts, version=data.get("version"),
                 default_pipeline_id=data.get("defaultPipeline"), python=data.get("python"),
                 keep_runs=(data.get("keepRuns") or {}).get("count"),
                 keep_days=(data.get("keepRuns") or {}).get("days"))
