"""Read a stage graph (JSON or YAML), validate it (schema, then meaning), freeze it.

Everything here is pure data: no process is started, nothing is written. A problem
is reported as ``<file>: <place>: <message>`` so the user can go straight to it.
"""

from __future__ import annotations

import difflib
import json
import os
import posixpath
from dataclasses import dataclass, field, fields
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

from orchestrator.errors import GraphError, UsageError

DEFAULT_GRAPH = Path("pipeline") / "stage-graph.json"
DEFAULT_PIPELINE = "full-refresh"
# A YAML file can expand (through aliases) into far more data than it holds; past this
# many values it is refused instead of being walked.
MAX_VALUES = 1_000_000
MAX_PROBLEMS = 20
HOOK_MOMENTS = ("before", "after", "onFailure")
# side effects whose result depends on the outside world: such a stage always runs
OUTSIDE_WORLD_EFFECTS = frozenset({"network", "git"})


def _compact_pickle(cls):
    """Pickle a frozen, slotted dataclass as a call with its field values.

    Such classes get a `__setstate__` from dataclasses that looks their fields up for
    every object; tens of thousands of them made loading a cached graph twice as slow.
    """
    names = tuple(f.name for f in fields(cls))

    def __reduce__(self):
        return cls, tuple([getattr(self, name) for name in names])

    cls.__reduce__ = __reduce__
    return cls


@_compact_pickle
@dataclass(frozen=True, slots=True)  # thousands of them in a big graph
class Artifact:
    id: str
    type: str  # "file" | "directory"
    path: str  # relative to the root, posix, no trailing slash
    format: str | None = None
    schema: str | None = None
    description: str = ""
    ignore: tuple[str, ...] = ()  # directory artifacts: glob patterns not part of it

    @property
    def is_directory(self) -> bool:
        return self.type == "directory"

    @property
    def display_path(self) -> str:
        return self.path + "/" if self.is_directory else self.path


@_compact_pickle
@dataclass(frozen=True, slots=True)
class Input:
    artifact: str | None  # None for an external input
    optional: bool = False
    kind: str | None = None
    uri: str | None = None
    max_age: float | None = None  # seconds an external input stays fresh after a success

    @property
    def is_external(self) -> bool:
        return self.artifact is None


@_compact_pickle
@dataclass(frozen=True, slots=True)
class Output:
    artifact: str
    optional: bool = False


@_compact_pickle
@dataclass(frozen=True, slots=True)
class EnvVar:
    name: str
    required: bool = False
    description: str = ""


@_compact_pickle
@dataclass(frozen=True, slots=True)
class Command:
    executable: str
    args: tuple[str, ...] = ()

    def as_list(self) -> list[str]:
        return [self.executable, *self.args]


@_compact_pickle
@dataclass(frozen=True, slots=True)
class Hook:
    """One step run around a stage: move or remove an artifact, or run a command."""

    kind: str  # "move" | "remove" | "command"
    source: str | None = None  # artifact id (move: from, remove: what)
    target: str | None = None  # artifact id (move: to)
    command: Command | None = None

    def describe(self, graph: "Graph") -> str:
        if self.kind == "move":
            return (f"move {graph.artifacts[self.source].display_path} -> "
                    f"{graph.artifacts[self.target].display_path}")
        if self.kind == "remove":
            return f"remove {graph.artifacts[self.source].display_path}"
        return "run " + " ".join(self.command.as_list())


@_compact_pickle
@dataclass(frozen=True, slots=True)
class Hooks:
    before: tuple[Hook, ...] = ()
    after: tuple[Hook, ...] = ()
    on_failure: tuple[Hook, ...] = ()


NO_HOOKS = Hooks()  # shared by every stage without hooks
_NO_ARTIFACTS: frozenset[str] = frozenset()
_DEFAULT_RETRY_DELAY = 1.0  # one float object for every stage that does not set it


@_compact_pickle
@dataclass(frozen=True, slots=True)
class SideEffect:
    type: str
    description: str = ""
    max_age: float | None = None  # seconds a `network` / `git` result stays current

    @property
    def is_outside_world(self) -> bool:
        """The stage's result depends on something no fingerprint can see."""
        return self.type in OUTSIDE_WORLD_EFFECTS


@dataclass(frozen=True)
class Stage:
    id: str
    command: Command
    index: int  # position in the graph's stages list
    name: str = ""
    description: str = ""
    depends_on: tuple[str, ...] = ()
    inputs: tuple[Input, ...] = ()
    outputs: tuple[Output, ...] = ()
    environment: tuple[EnvVar, ...] = ()
    side_effects: tuple[SideEffect, ...] = ()
    hooks: Hooks = field(default_factory=lambda: NO_HOOKS)
    timeout: float | None = None  # seconds; None: the run's --timeout, if any
    retries: int = 0  # extra attempts after a failure
    retry_delay: float = 1.0  # seconds before the first retry; doubles after each

    @cached_property  # asked for per check of every stage; the stage never changes
    def cache_artifacts(self) -> frozenset[str]:
        """Artifacts this stage both reads and writes: a cache carried between runs."""
        read = {i.artifact for i in self.inputs if i.artifact}
        both = read & {o.artifact for o in self.outputs}
        return frozenset(both) if both else _NO_ARTIFACTS  # most stages: share one

    @cached_property
    def external_inputs(self) -> tuple[Input, ...]:
        return tuple(i for i in self.inputs if i.is_external)

    @cached_property
    def command_digest(self) -> str:
        """Digest of the command line: a stage whose command changed must run again."""
        from orchestrator.digest import text_digest

        return text_digest(json.dumps(self.command.as_list()))


@_compact_pickle
@dataclass(frozen=True, slots=True)
class Pipeline:
    id: str
    stages: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class Graph:
    path: Path  # absolute path of the graph file
    root: Path  # absolute project root; artifact paths are relative to it
    display: str  # the graph path as messages show it
    pipelines: dict[str, Pipeline]
    stages: dict[str, Stage]  # in file order
    artifacts: dict[str, Artifact]
    version: str | None = None
    default_pipeline_id: str | None = None

    def default_pipeline(self) -> Pipeline:
        """`defaultPipeline`, else `full-refresh`, else the only pipeline."""
        if self.default_pipeline_id:
            return self.pipelines[self.default_pipeline_id]
        if DEFAULT_PIPELINE in self.pipelines:
            return self.pipelines[DEFAULT_PIPELINE]
        if len(self.pipelines) == 1:
            return next(iter(self.pipelines.values()))
        names = ", ".join(self.pipelines) or "none"
        raise UsageError(f"{self.display}: no default pipeline; name one of: {names}")

    def pipeline(self, pipeline_id: str) -> Pipeline:
        try:
            return self.pipelines[pipeline_id]
        except KeyError:
            raise UsageError(f"unknown pipeline '{pipeline_id}'"
                             f"{did_you_mean(pipeline_id, self.pipelines)}") from None

    def stage(self, stage_id: str) -> Stage:
        try:
            return self.stages[stage_id]
        except KeyError:
            raise UsageError(f"unknown stage '{stage_id}'"
                             f"{did_you_mean(stage_id, self.stages)}") from None

    @cached_property  # every stage's script detection asks; computed once per graph
    def artifact_paths(self) -> frozenset[str]:
        return frozenset(a.path for a in self.artifacts.values())

    @cached_property
    def schema_dirs(self) -> tuple[str, ...]:
        """The directories (relative to the root) holding the artifacts' schema files:
        where a schema's `$ref` is looked up by `$id`."""
        import posixpath

        return tuple(sorted({posixpath.dirname(a.schema) for a in self.artifacts.values()
                             if a.schema}))

    @cached_property
    def script_candidates(self) -> dict[str, tuple[str, ...]]:
        """Per stage, the command's arguments (and a path-like executable) that name a
        project path outside every artifact: its scripts, if they are files (compile
        checks that; it can change without the graph changing)."""
        paths = self.artifact_paths
        result = {}
        for stage in self.stages.values():
            candidates = list(stage.command.args)
            if "/" in stage.command.executable:
                candidates.insert(0, stage.command.executable)
            found = set()
            for arg in candidates:
                if not arg or arg.startswith("-") or "\n" in arg:
                    continue
                rel = _project_relative(arg, self.root)
                if rel is not None and rel not in paths and not _inside_artifact(rel, paths):
                    found.add(rel)
            result[stage.id] = tuple(sorted(found))
        return result

    def derive(self) -> "Graph":
        """Compute now what later commands ask of every stage, so a cached graph has it."""
        self.artifact_paths, self.script_candidates  # noqa: B018
        for stage in self.stages.values():
            stage.cache_artifacts, stage.external_inputs, stage.command_digest  # noqa: B018
        return self

    def writers(self, artifact_id: str) -> list[str]:
        return [s.id for s in self.stages.values()
                if any(o.artifact == artifact_id for o in s.outputs)]


def _inside_artifact(rel: str, artifact_paths: frozenset[str]) -> bool:
    """Is `rel` inside a directory artifact? (parents, shortest last)"""
    head = rel.rpartition("/")[0]
    while head:
        if head in artifact_paths:
            return True
        head = head.rpartition("/")[0]
    return False


def _project_relative(arg: str, root: Path) -> str | None:
    """`arg` as a path relative to `root`, posix; None if it points outside."""
    import os

    if os.path.isabs(arg):
        rel = os.path.relpath(arg, root)
    else:
        rel = arg
    rel = os.path.normpath(rel).replace(os.sep, "/")
    if rel.startswith("../") or rel in ("..", "."):
        return None
    return rel


_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_age(text: str | None) -> float | None:
    """`"30m"` -> 1800.0 (the schema already checked the form)."""
    if not text:
        return None
    return float(text[:-1]) * _AGE_UNITS[text[-1]]


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


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
    cached = _cache_get(root, key) if key else None
    if cached is not None:
        return cached
    graph = _validate(_parse_document(raw, path, shown), path, root, shown)
    if key and write_cache:
        _cache_put(root, key, graph.derive())
    return graph


_CACHE_DIR = Path(".pipeline-runs") / ".cache"
_CACHE_FORMAT = "6"  # bump when the frozen classes change shape


def _cache_key(raw: bytes, path: Path, root: Path, shown: str) -> str:
    import hashlib

    from orchestrator import __version__

    h = hashlib.sha256()
    for part in (__version__, _CACHE_FORMAT, str(path), str(root), shown):
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    h.update(Path(__file__).with_name("stage-graph.schema.json").read_bytes())
    h.update(raw)
    return h.hexdigest()[:40]


def _cache_get(root: Path, key: str) -> Graph | None:
    import pickle

    try:
        with open(root / _CACHE_DIR / f"graph-{key}.pickle", "rb") as f:
            graph = pickle.load(f)
    except Exception:  # a cache from other code (an edited checkout, say) is no cache
        return None
    return graph if isinstance(graph, Graph) else None


def _cache_put(root: Path, key: str, graph: Graph) -> None:
    """Best effort: a project whose .pipeline-runs/ is not writable just validates anew."""
    import os
    import pickle

    folder = root / _CACHE_DIR
    if os.path.islink(root / _CACHE_DIR.parent):  # never written through a link (the
        return  # run itself refuses such a folder: lock.refuse_linked_state)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"graph-{key}.pickle"
        tmp = folder / f".graph-{key}.{os.getpid()}.tmp"
        tmp.write_bytes(pickle.dumps(graph, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, target)
        for old in folder.glob("graph-*.pickle"):  # only the latest graph is kept
            if old != target:
                old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError, TypeError):
        pass


def _validate(data: Any, path: Path, root: Path, shown: str) -> Graph:
    problems = _schema_problems(data, shown)
    if not problems:
        problems = _meaning_problems(data, shown, root)
    if problems:
        if len(problems) > MAX_PROBLEMS:
            extra = len(problems) - MAX_PROBLEMS
            problems = problems[:MAX_PROBLEMS] + [f"{shown}: ... and {extra} more problems"]
        raise GraphError(problems)
    return _freeze(data, path, root, shown)


def _read_bytes(path: Path, shown: str) -> bytes:
    try:
        return path.read_bytes()
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
# Validation, first against the JSON Schema, then for meaning


@lru_cache(maxsize=1)
def graph_schema() -> dict:
    schema_path = Path(__file__).with_name("stage-graph.schema.json")
    return json.loads(schema_path.read_text(encoding="utf-8"))


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


def _normalized_relative(path: str) -> str | None:
    """`path` normalized (posix, no trailing slash) if it stays inside the root, else None.

    Backslashes count as separators; absolute paths in either convention (`/x`, `\\x`,
    `C:\\x`, `//server/share`) and drive-relative ones (`c:x`) are refused."""
    posix = path.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":" and posix[0].isascii()
                                 and posix[0].isalpha()):
        return None
    norm = posixpath.normpath(posix)
    if norm in (".", "") or norm == ".." or norm.startswith("../"):
        return None
    return norm


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
        norm = _normalized_relative(artifact["path"])
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
        if schema is not None and _normalized_relative(schema) is None:
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
            path=intern(_normalized_relative(a["path"]) or a["path"]),
            format=a.get("format"),
            schema=_normalized_relative(a["schema"]) if a.get("schema") else None,
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
        )
    pipelines = {p["id"]: Pipeline(p["id"], tuple(map(intern, p["stages"])),
                                   p.get("description", ""))
                 for p in data["pipelines"]}
    return Graph(path=path, root=root, display=shown, pipelines=pipelines, stages=stages,
                 artifacts=artifacts, version=data.get("version"),
                 default_pipeline_id=data.get("defaultPipeline"))
