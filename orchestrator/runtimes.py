"""How a stage's command becomes an argv and an environment: one small rule per runtime.

No shell is involved: the argv is passed to the operating system as is, with the
project root as working directory.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from orchestrator.graph import Command

PYTHON_EXECUTABLES = ("python3", "python")


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


def build_invocation(command: Command, root: Path,
                     base_env: dict[str, str] | None = None,
                     found_on_path: dict[tuple[str, str], str] | None = None) -> Invocation:
    """The argv, environment and working directory for one stage command.

    - node: the `node` on PATH;
    - python3 / python: the interpreter of that name on PATH (the system one, not the
      runner's virtualenv), with the root first on PYTHONPATH so stage scripts can import
      the project's modules;
    - anything else: as given.

    `base_env` (default: a copy of os.environ) becomes the invocation's environment and
    may be changed (PYTHONPATH); pass a dict of your own.
    """
    env = dict(os.environ) if base_env is None else base_env  # the caller's own copy
    executable = resolve_executable(command.executable, root, env.get("PATH"), found_on_path)
    if runtime_of(command) == "python":
        previous = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(root) + (os.pathsep + previous if previous else "")
    return Invocation(argv=(executable, *command.args), env=env, cwd=root)
