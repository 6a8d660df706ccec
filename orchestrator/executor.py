"""Where a stage's command runs: the executor interface and the local executor.

The stage action (`stage_action.py`) asks an executor to "run this argv with this
environment in this directory, copy its output to this log (and the console), and say
how it ended and what it used". It does not know where the process runs: the local
executor starts it on this machine, in a process group of its own (`process.py`);
another executor (a cluster's workers) implements the same two methods.
"""

from __future__ import annotations

from typing import BinaryIO, Callable, Protocol

from orchestrator.process import ProcessResult, Running, StartFailed, run_process

__all__ = ["Executor", "ExecutorFailed", "LocalExecutor", "ProcessResult", "StartFailed"]


class ExecutorFailed(Exception):
    """The command did not run to an end where it was sent (its worker was lost, say):
    the stage fails with this message; `worker` says where, if known."""

    def __init__(self, message: str, worker: dict | None = None):
        super().__init__(message)
        self.worker = worker


class Executor(Protocol):
    def run(self, argv: tuple[str, ...] | list[str], env: dict[str, str], cwd,
            log: BinaryIO, *, timeout: float | None = None, prefix: str | None = None,
            masker=None, echo: bool = True,
            before_output: Callable[[], None] | None = None,
            declared: tuple[str, ...] = ()) -> ProcessResult:
        """Run to the end (or the timeout); raise StartFailed if it cannot start, and
        ExecutorFailed if it could not be followed to its end. `declared`: the variables
        the stage declares (an executor that sends the command elsewhere sends only
        those of `env`)."""

    def stop_all(self) -> None:
        """Stop every command still running (the run was interrupted)."""

    def close(self) -> None:
        """The run is over: let go of what running commands needed."""


class LocalExecutor:
    """Runs commands as child processes of this one."""

    def __init__(self):
        self.running = Running()

    def run(self, argv, env, cwd, log, *, timeout=None, prefix=None, masker=None,
            echo=True, before_output=None, declared=()) -> ProcessResult:
        return run_process(argv, env, cwd, log, timeout=timeout, prefix=prefix,
                           masker=masker, echo=echo, before_output=before_output,
                           running=self.running)

    def stop_all(self) -> None:
        self.running.stop_all()

    def close(self) -> None:
        pass
