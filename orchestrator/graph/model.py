"""The stage graph as frozen data: `Graph`, `Stage`, `Artifact`, `Pipeline`, `Hook` ...

Nothing here reads a file or checks one: `read.py` builds these objects from a graph
file that `validate.py` found sound. A `Graph` never changes once built, so what later
commands derive from it is computed once (`cached_property`, or a slot of `Stage`) and
cached with it.
"""

from __future__ import annotations

import difflib
import json
import os
import posixpath
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable

from orchestrator.errors import UsageError

DEFAULT_PIPELINE = "full-refresh"
HOOK_MOMENTS = ("before", "after", "onFailure")
# side effects whose result depends on the outside world: such a stage always runs
OUTSIDE_WORLD_EFFECTS = frozenset({"network", "git"})


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


@dataclass(frozen=True, slots=True)
class Output:
    artifact: str
    optional: bool = False


@dataclass(frozen=True, slots=True)
class EnvVar:
    name: str
    required: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class Command:
    executable: str
    args: tuple[str, ...] = ()

    def as_list(self) -> list[str]:
        return [self.executable, *self.args]


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


@dataclass(frozen=True, slots=True)
class Hooks:
    before: tuple[Hook, ...] = ()
    after: tuple[Hook, ...] = ()
    on_failure: tuple[Hook, ...] = ()


NO_HOOKS = Hooks()  # shared by every stage without hooks
_NO_ARTIFACTS: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SideEffect:
    type: str
    description: str = ""
    max_age: float | None = None  # seconds a `network` / `git` result stays current

    @property
    def is_outside_world(self) -> bool:
        """The stage's result depends on something no fingerprint can see."""
        return self.type in OUTSIDE_WORLD_EFFECTS


@dataclass(frozen=True, slots=True)  # 10,000 of them in a big graph: no __dict__ each
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
    python: str | None = None  # its python3/python commands' interpreter (a path)
    # derived from the fields above when the stage is made (asked per check of every
    # stage); the command's digest on first use (a JSON dump and a sha256)
    cache_artifacts: frozenset[str] = field(init=False, repr=False, compare=False)
    external_inputs: tuple[Input, ...] = field(init=False, repr=False, compare=False)
    _command_digest: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cache, external = derived_stage_fields(self.inputs, self.outputs)
        object.__setattr__(self, "cache_artifacts", cache)
        object.__setattr__(self, "external_inputs", external)

    @property
    def command_digest(self) -> str:
        """Digest of the command line: a stage whose command changed must run again."""
        digest = self._command_digest
        if digest is None:
            from orchestrator.digest import text_digest

            digest = text_digest(json.dumps(self.command.as_list()))
            object.__setattr__(self, "_command_digest", digest)
        return digest


def derived_stage_fields(ins: tuple[Input, ...], outs: tuple[Output, ...]
                         ) -> tuple[frozenset[str], tuple[Input, ...]]:
    """A stage's `cache_artifacts` (what it both reads and writes: a cache carried between
    runs; one shared empty set for most) and `external_inputs`."""
    both = {i.artifact for i in ins if i.artifact} & {o.artifact for o in outs} \
        if ins and outs else None
    external = tuple([i for i in ins if i.artifact is None]) if ins else ()
    return (frozenset(both) if both else _NO_ARTIFACTS), external


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
    # `keepRuns`: how many recorded runs, and how many days of them, pruning keeps
    keep_runs: int | None = None
    keep_days: float | None = None
    python: str | None = None  # the Python stages' interpreter (a path), unless theirs
    # (place, unknown field, the known field it is close to): warned at load, by `check`
    misspelled: tuple[tuple[str, str, str], ...] = ()

    def misspelling_lines(self, most: int = 3) -> list[str]:
        """One line per misspelled field, `FILE: PLACE: unknown field (did you mean ...)`,
        the first `most` of them, then one line counting the rest."""
        lines = [f"{self.display}: {place}: unknown field (did you mean '{known}'?)"
                 for place, _key, known in self.misspelled[:most]]
        if len(self.misspelled) > most:
            lines.append(f"{self.display}: {len(self.misspelled) - most} more unknown "
                         f"field(s) like these ('pipeline check' lists them all)")
        return lines

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
            known = ", ".join(self.pipelines) or "none"
            raise UsageError(f"unknown pipeline '{pipeline_id}'"
                             f"{did_you_mean(pipeline_id, self.pipelines)}; "
                             f"the pipelines are: {known}") from None

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
        return tuple(sorted({posixpath.dirname(a.schema) for a in self.artifacts.values()
                             if a.schema}))

    @cached_property
    def script_candidates(self) -> dict[str, tuple[str, ...]]:
        """Per stage, the paths its command names that are its scripts if they are files
        (see `script_path`; compile checks that: it can change without the graph)."""
        paths, root = self.artifact_paths, self.root
        result = {}
        for stage in self.stages.values():
            found = {script_path(arg, root, paths) for arg in script_arguments(stage.command)}
            found.discard(None)
            result[stage.id] = tuple(sorted(found))
        return result

    def derive(self) -> "Graph":
        """Compute now what later commands ask of every stage, so a cached graph has it."""
        self.artifact_paths, self.script_candidates  # noqa: B018
        for stage in self.stages.values():
            stage.command_digest  # noqa: B018
        return self

    def writers(self, artifact_id: str) -> list[str]:
        return [s.id for s in self.stages.values()
                if any(o.artifact == artifact_id for o in s.outputs)]


# ---------------------------------------------------------------------------
# A stage's scripts: the one rule (docs/stage-graph-format.md, "Command")


def script_arguments(command: Command) -> tuple[str, ...]:
    """What in a command can name a script: its arguments, and its executable when that
    is a path (it contains `/`; a bare name is looked up on PATH)."""
    if "/" in command.executable:
        return (command.executable, *command.args)
    return command.args


def script_path(arg: str, root: Path, artifact_paths: frozenset[str]) -> str | None:
    """The project file `arg` names if it can be a script (its path relative to `root`,
    posix), else None.

    It can be one when it is not empty, not an option (`-x`), one line, inside the root
    (an absolute path below it counts), and neither an artifact's path nor inside a
    directory artifact: those are data the stage declares. It *is* one when that file
    exists, which callers check when they need to: a file can appear or go without the
    graph changing.
    """
    if not arg or arg.startswith("-") or "\n" in arg:
        return None
    rel = _project_relative(arg, root)
    if rel is None or _at_or_under(rel, artifact_paths):
        return None
    return rel


# an interpreter's options that take the next argument as their value, and those after
# which there is no program file (code on the command line, a module, standard input)
_NODE_VALUE_OPTIONS = frozenset({
    "-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions",
    "--input-type", "--env-file", "--title", "--disable-warning", "--watch-path",
    "--inspect-port"})
_NODE_NO_PROGRAM = frozenset({"-e", "--eval", "-p", "--print"})
_PYTHON_VALUE_OPTIONS = frozenset({"-W", "-X", "--check-hash-based-pycs"})
_PYTHON_NO_PROGRAM = frozenset({"-c", "-m"})
_SHELL_VALUE_OPTIONS = frozenset({"-o", "-O"})
_SHELL_NO_PROGRAM = frozenset({"-c", "-s"})
_SCRIPTING_NO_PROGRAM = frozenset({"-e", "-E"})  # ruby -e, perl -e / -E
_INTERPRETERS = {
    "node": (_NODE_VALUE_OPTIONS, _NODE_NO_PROGRAM),
    "python3": (_PYTHON_VALUE_OPTIONS, _PYTHON_NO_PROGRAM),
    "python": (_PYTHON_VALUE_OPTIONS, _PYTHON_NO_PROGRAM),
    **{name: (_SHELL_VALUE_OPTIONS, _SHELL_NO_PROGRAM)
       for name in ("sh", "bash", "dash", "zsh")},
    "ruby": (frozenset(), _SCRIPTING_NO_PROGRAM),
    "perl": (frozenset(), _SCRIPTING_NO_PROGRAM),
}


def interpreter_program(command: Command) -> tuple[list[str], str | None]:
    """(the interpreter's own options, the program argument) of a command whose
    executable is an interpreter (node, python3/python, sh/bash/dash/zsh, ruby, perl):
    the first argument after its options, which it runs as a file. The program is None
    when there is none (`-e CODE`, `-c CODE`, `-m MODULE`, only options, or another
    executable)."""
    rules = _INTERPRETERS.get(os.path.basename(command.executable))
    if rules is None:
        return [], None
    takes_value, no_program = rules
    args, options = command.args, []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return options, args[i + 1] if i + 1 < len(args) else None
        if not arg.startswith("-") or arg == "-":
            return options, (None if arg == "-" else arg)
        options.append(arg)
        if arg in no_program:
            return options, None
        if arg in takes_value and i + 1 < len(args):
            options.append(args[i + 1])
            i += 1
        i += 1
    return options, None


def missing_script(command: Command, root: Path, artifact_paths: frozenset[str],
                   rel: str) -> bool:
    """Is the script candidate `rel` (from `script_path`, naming no file) a script that
    is missing? Only when it is the program the command's interpreter runs: any other
    argument naming no file is data the command is given (an output the graph does not
    declare, a value), and is not a script by the rule above."""
    program = interpreter_program(command)[1]
    return program is not None and script_path(program, root, artifact_paths) == rel


def _at_or_under(rel: str, paths: frozenset[str]) -> bool:
    """Is `rel` one of `paths`, or inside one of them? (A lookup per directory level of
    `rel`, rather than a scan of every path.)"""
    while rel:
        if rel in paths:
            return True
        rel = rel.rpartition("/")[0]
    return False


def _project_relative(arg: str, root: Path) -> str | None:
    """`arg` as a path relative to `root`, posix; None if it points outside."""
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


def normalized_relative(path: str) -> str | None:
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
