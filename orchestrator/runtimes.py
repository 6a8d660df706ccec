"""How a stage's command becomes an argv and an environment: one small rule per runtime.

No shell is involved: the argv is passed to the operating system as is, with the
project root as working directory.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from orchestrator.graph import Command

if TYPE_CHECKING:
    from orchestrator.graph import Graph, Stage

PYTHON_EXECUTABLES = ("python3", "python")
# the Python stages' interpreter for this run, over the graph's `python` settings;
# `--python PATH` sets it for the stages of one command
PYTHON_VARIABLE = "PIPELINE_PYTHON"


class ExecutableNotFound(Exception):
    """The command's executable is not on PATH (or not in the project)."""


@dataclass(frozen=True)
class Invocation:
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path


def runtime_of(command: Command) -> str:
    """`node`, `python` or `other`: which rule builds the invocation."""
    name = os.path.basename(command.executable)
    if name == "node":
        return "node"
    if name in PYTHON_EXECUTABLES:
        return "python"
    return "other"


def runtime_name(command: Command) -> str:
    """`node`, `python`, or the executable's own name for anything else."""
    runtime = runtime_of(command)
    return runtime if runtime != "other" else os.path.basename(command.executable)


def resolve_executable(executable: str, root: Path, path_env: str | None = None,
                       found_on_path: dict[tuple[str, str], str] | None = None) -> str:
    """An absolute path for `executable`: a path (with a slash) is taken relative to the
    root; a bare name is looked up on PATH. `found_on_path` ((name, PATH) -> where it was
    found; a run's own) spares a run of thousands of stages running the same few tools
    searching PATH again: a remembered file is only checked to still be there."""
    if "/" in executable or os.sep in executable:
        candidate = Path(executable)
        if not candidate.is_absolute():
            candidate = root / candidate
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
        raise ExecutableNotFound(f"executable '{executable}' not found or not executable")
    search = os.environ.get("PATH", os.defpath) if path_env is None else path_env
    key = (executable, search)
    found = found_on_path.get(key) if found_on_path is not None else None
    if found is None or not os.path.isfile(found):
        found = shutil.which(executable, path=search)
        if found is None:
            raise ExecutableNotFound(f"executable '{executable}' not found on PATH")
        if found_on_path is not None:
            found_on_path[key] = found
    return found


@dataclass(frozen=True)
class Interpreter:
    """The interpreter chosen for a stage's `python3` / `python` commands."""

    path: str  # absolute
    setting: str  # as written
    source: str  # where it was chosen: `PIPELINE_PYTHON` (or --python), the stage, the graph


def uses_python_on_path(command: Command) -> bool:
    """A `python3` / `python` command by name (a path to an interpreter is kept as is)."""
    return command.executable in PYTHON_EXECUTABLES


def stage_interpreter(graph: Graph, stage: Stage, root: Path,
                      environ: Mapping[str, str] | None = None) -> Interpreter | None:
    """The interpreter configured for the stage's Python commands, or None for the
    default (the one on PATH, the runner's own virtualenv skipped): `PIPELINE_PYTHON`
    (which `--python` sets), else the stage's `python`, else the graph's. A relative
    path is taken from the root; a directory is a virtualenv (its `bin/python`)."""
    environ = os.environ if environ is None else environ
    if environ.get(PYTHON_VARIABLE):
        setting, source = environ[PYTHON_VARIABLE], PYTHON_VARIABLE
    elif stage.python:
        setting, source = stage.python, f"stage {stage.id}"
    elif graph.python:
        setting, source = graph.python, "graph"
    else:
        return None
    return Interpreter(interpreter_path(setting, root), setting, source)


def interpreter_path(setting: str, root: Path) -> str:
    """An interpreter setting as an absolute path: a relative one is taken from the root
    (an absolute one stays); a directory is a virtualenv, whose `bin/python` it means."""
    path = os.path.normpath(os.path.join(str(root), setting))
    if os.path.isdir(path):
        path = os.path.join(path, "bin", "python")
    return path


def is_executable_file(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def runner_environment_bin() -> str | None:
    """The `bin` folder of the virtualenv running `pipeline` (None outside one): never
    where a stage's default interpreter is looked up."""
    if sys.prefix == sys.base_prefix:
        return None
    return os.path.realpath(os.path.join(sys.prefix, "bin"))


def without_runner_environment(search: str) -> str:
    """PATH without the runner's own virtualenv (an activated `.venv`)."""
    skipped = runner_environment_bin()
    if skipped is None:
        return search
    return os.pathsep.join(d for d in search.split(os.pathsep)
                           if not d or os.path.realpath(d) != skipped)


def resolve_python(executable: str, root: Path, path_env: str | None = None,
                   interpreter: Interpreter | None = None,
                   found_on_path: dict[tuple[str, str], str] | None = None) -> str:
    """The interpreter a `python3` / `python` command runs: the configured one, else
    that name on PATH without the runner's own virtualenv."""
    if interpreter is not None:
        if is_executable_file(interpreter.path):
            return interpreter.path
        raise ExecutableNotFound(f"Python interpreter '{interpreter.setting}' "
                                 f"({_source_text(interpreter)}) not found or not executable")
    search = os.environ.get("PATH", os.defpath) if path_env is None else path_env
    try:
        return resolve_executable(executable, root, without_runner_environment(search),
                                  found_on_path)
    except ExecutableNotFound:
        if runner_environment_bin() is None or shutil.which(executable, path=search) is None:
            raise
        raise ExecutableNotFound(
            f"executable '{executable}' not found on PATH but in the runner's own "
            f"virtualenv, which Python stages do not use: set \"python\" in the graph, "
            f"--python or {PYTHON_VARIABLE} to choose an interpreter") from None


def _source_text(interpreter: Interpreter) -> str:
    if interpreter.source == PYTHON_VARIABLE:
        return f"--python / {PYTHON_VARIABLE}"
    return f"\"python\" of the {interpreter.source}"


def build_invocation(command: Command, root: Path,
                     base_env: dict[str, str] | None = None,
                     found_on_path: dict[tuple[str, str], str] | None = None,
                     interpreter: Interpreter | None = None) -> Invocation:
    """The argv, environment and working directory for one stage command.

    - node: the `node` on PATH;
    - python3 / python: the stage's `interpreter` when one is configured, else the
      interpreter of that name on PATH without the runner's own virtualenv (the system
      one), with the root first on PYTHONPATH so stage scripts can import the project's
      modules;
    - anything else: as given.

    `base_env` (default: a copy of os.environ) becomes the invocation's environment and
    may be changed (PYTHONPATH); pass a dict of your own.
    """
    env = dict(os.environ) if base_env is None else base_env  # the caller's own copy
    if uses_python_on_path(command):
        executable = resolve_python(command.executable, root, env.get("PATH"), interpreter,
                                    found_on_path)
    else:
        executable = resolve_executable(command.executable, root, env.get("PATH"),
                                        found_on_path)
    if runtime_of(command) == "python":
        previous = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(root) + (os.pathsep + previous if previous else "")
    return Invocation(argv=(executable, *command.args), env=env, cwd=root)
