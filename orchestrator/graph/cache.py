"""The validated-graph cache: JSON, signed, and never code.

Validating a large graph costs more than the rest of a no-op run, so a graph that
validated is kept under `.pipeline-runs/.cache/graph-<key>.json`, keyed by the graph
file's bytes, its path, the schema and this code's version. A state file is untrusted
input: `.pipeline-runs/` may come from a CI artifact of another machine or a pull
request. So:

- the file is plain JSON: each model object is written as the list of its field values
  and read back by calling the model's own class for that place with them; nothing
  else can be constructed;
- its first line is an HMAC-SHA256 of the rest under a key of this user's, kept outside
  the project (`$XDG_CACHE_HOME/pipeline-orchestrator/graph-cache.key`, else
  `~/.cache/...`, mode 0600). A cache written elsewhere, or edited, does not verify and
  is ignored: the graph is validated anew. Without a usable key there is no cache.

Any unreadable, unverified or odd-shaped file is no cache; nothing here raises.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from sys import intern

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
    derived_stage_fields,
)
from orchestrator.paths import CACHE_DIR, RUNS_DIR

_KEY_BYTES = 32


def _key_file() -> Path | None:
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.path.expanduser("~"), ".cache") if os.path.expanduser("~") != "~"
        else None)
    if not base:
        return None
    return Path(base) / "pipeline-orchestrator" / "graph-cache.key"


def signing_key(create: bool) -> bytes | None:
    """This user's key for signing caches (made when `create` and missing)."""
    path = _key_file()
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            key = os.read(fd, 64)
        finally:
            os.close(fd)
        return key if len(key) == _KEY_BYTES else None
    except FileNotFoundError:
        if not create:
            return None
    except OSError:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = os.urandom(_KEY_BYTES)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        try:
            os.write(fd, key)
        finally:
            os.close(fd)
        return key
    except FileExistsError:  # made by another process meanwhile
        return signing_key(create=False)
    except OSError:
        return None


# -- encoding: each object as the list of its field values, in the model's order --------
# (JSON arrays, parsed by the C parser; a generic object hook per object was slower)


def _command(c: Command) -> list:
    return [c.executable, list(c.args)]


def _hook(h: Hook) -> list:
    return [h.kind, h.source, h.target, _command(h.command) if h.command else None]


def _stage(s: Stage) -> list:
    hooks = None if s.hooks is NO_HOOKS else [[_hook(h) for h in s.hooks.before],
                                              [_hook(h) for h in s.hooks.after],
                                              [_hook(h) for h in s.hooks.on_failure]]
    return [s.id, _command(s.command), s.index, s.name, s.description, list(s.depends_on),
            [[i.artifact, i.optional, i.kind, i.uri, i.max_age] for i in s.inputs],
            [[o.artifact, o.optional] for o in s.outputs],
            [[e.name, e.required, e.description] for e in s.environment],
            [[e.type, e.description, e.max_age] for e in s.side_effects],
            hooks, s.timeout, s.retries, s.retry_delay, s.python]


def _encode(graph: Graph, key: str) -> bytes:
    """A header line (the graph's key, fields, artifacts and pipelines), then one line
    per stage (its fields and its script candidates): read back a line at a time, so a
    large graph's parsed JSON is never all in memory at once."""
    header = {"key": key, "version": graph.version,
              "defaultPipeline": graph.default_pipeline_id, "python": graph.python,
              "keepRuns": [graph.keep_runs, graph.keep_days],
              "artifacts": [[a.id, a.type, a.path, a.format, a.schema, a.description,
                             list(a.ignore)] for a in graph.artifacts.values()],
              "pipelines": [[p.id, list(p.stages), p.description]
                            for p in graph.pipelines.values()],
              "stages": len(graph.stages),
              "misspelled": [list(m) for m in graph.misspelled]}
    scripts = graph.script_candidates
    lines = [_dumps(header)]
    lines += [_dumps([*_stage(s), list(scripts[s.id]), s.command_digest])
              for s in graph.stages.values()]
    return "\n".join(lines).encode()


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _strings(values) -> tuple[str, ...]:
    return tuple(map(intern, values))  # intern refuses anything but a str


def _decode_command(c) -> Command:
    return Command(intern(c[0]), _strings(c[1]))


def _decode_hook(h) -> Hook:
    return Hook(h[0], h[1], h[2], _decode_command(h[3]) if h[3] is not None else None)


class _StageBeingRead:
    """A stage as the cache decoder fills it: `Stage`'s slots, without the frozen
    dataclass's checked `__setattr__`, so each field is one plain store (a tenth of the
    cost). Once whole it becomes a `Stage` by `__class__` assignment, which Python allows
    between classes of the same slots."""

    __slots__ = Stage.__slots__


_new = object.__new__


def _decode_stage(r) -> Stage:
    """A stage from its line: its fifteen fields, its script candidates and its command
    digest (the script candidates are taken by `_decode`)."""
    (sid, command, index, name, description, depends, inputs, outputs, environment,
     effects, hooks, timeout, retries, retry_delay, python, _scripts, digest) = r
    if type(index) is not int or type(retries) is not int:
        raise TypeError("not a stage")
    # made as copy and pickle make a frozen dataclass: without its __init__ and checks
    stage = _new(_StageBeingRead)
    ins = tuple([Input(intern(a) if a else a, o, k, u, m) for a, o, k, u, m in inputs])
    outs = tuple([Output(intern(a), o) for a, o in outputs])
    stage.id = intern(sid)
    stage.command = _decode_command(command)
    stage.index, stage.name, stage.description = index, name, description
    stage.depends_on = _strings(depends) if depends else ()
    stage.inputs, stage.outputs = ins, outs
    stage.environment = tuple([EnvVar(n, q, d) for n, q, d in environment]) \
        if environment else ()
    stage.side_effects = tuple([SideEffect(t, d, m) for t, d, m in effects]) \
        if effects else ()
    stage.hooks = NO_HOOKS if hooks is None else \
        Hooks(*(tuple(map(_decode_hook, moment)) for moment in hooks))
    stage.timeout, stage.retries, stage.retry_delay = timeout, retries, retry_delay
    stage.python = python
    stage._command_digest = intern(digest)  # derived when the graph validated
    stage.cache_artifacts, stage.external_inputs = derived_stage_fields(ins, outs)
    stage.__class__ = Stage
    return stage


def _decode(body: bytes, key: str, path: Path, root: Path, shown: str) -> Graph:
    text = body.decode("utf-8")
    scan = json.JSONDecoder().scan_once  # the C scanner, one value at a time
    header, end = scan(text, 0)
    if header["key"] != key:
        raise ValueError("another graph's cache")
    artifacts = {}
    for a in header["artifacts"]:
        artifact = Artifact(intern(a[0]), intern(a[1]), intern(a[2]), a[3], a[4], a[5],
                            _strings(a[6]))
        artifacts[artifact.id] = artifact
    pipelines = {p[0]: Pipeline(p[0], _strings(p[1]), p[2]) for p in header["pipelines"]}
    stages, scripts = {}, {}
    size = len(text)
    while end < size:
        if text[end] != "\n":
            raise ValueError("not a line of ours")
        row, end = scan(text, end + 1)
        stage = _decode_stage(row)
        stages[stage.id] = stage
        scripts[stage.id] = _strings(row[-2]) if row[-2] else ()
    if len(stages) != header["stages"]:
        raise ValueError("a truncated cache")
    graph = Graph(path=path, root=root, display=shown, pipelines=pipelines, stages=stages,
                  artifacts=artifacts, version=header["version"],
                  default_pipeline_id=header["defaultPipeline"], python=header["python"],
                  misspelled=tuple(tuple(map(str, m)) for m in header["misspelled"]),
                  keep_runs=header["keepRuns"][0], keep_days=header["keepRuns"][1])
    graph.__dict__["script_candidates"] = scripts  # a cached property, computed before
    return graph


# -- the file ------------------------------------------------------------------------


def cache_path(root: Path, key: str) -> Path:
    return root / CACHE_DIR / f"graph-{key}.json"


def get(root: Path, key: str, path: Path, shown: str) -> Graph | None:
    """The cached graph for `key`, if a verified cache of ours holds it."""
    secret = signing_key(create=False)
    if secret is None:
        return None
    try:
        with open(cache_path(root, key), "rb") as f:
            signature, _, body = f.read().partition(b"\n")
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(signature, expected):
            return None
        return _decode(body, key, path, root, shown)
    except Exception:  # any odd file is no cache: the graph is validated anew
        return None


def put(root: Path, key: str, graph: Graph) -> None:
    """Best effort: a project whose .pipeline-runs/ is not writable just validates anew."""
    if os.path.islink(root / RUNS_DIR) or os.path.islink(root / CACHE_DIR):
        return  # never written through a link (a run refuses one: lock.refuse_linked_state)
    secret = signing_key(create=True)
    if secret is None:
        return
    folder = root / CACHE_DIR
    try:
        body = _encode(graph, key)
        signature = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
        folder.mkdir(parents=True, exist_ok=True)
        target = cache_path(root, key)
        tmp = folder / f".graph-{key}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(signature + b"\n" + body)
        os.replace(tmp, target)
        for old in (*folder.glob("graph-*.json"), *folder.glob("graph-*.pickle")):
            if old != target:  # only the latest graph is kept; old pickles are removed
                old.unlink(missing_ok=True)
    except (OSError, TypeError, ValueError):
        pass
