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

__all__ = ["Executor", "LocalExecutor", "ProcessResult", "StartFailed"]


class Executor(Protocol):
    def run(self, argv: tuple[str, ...] | list[str], env: dict[str, str], cwd,
            log: BinaryIO, *, timeout: float | None = None, prefix: str | None = None,
            masker=None, echo: bool = True,
            before_output: Callable[[], None] | None = None) -> ProcessResult:
        """Run to the end (or the timeout); raise StartFailed if it cannot start."""

    def stop_all(self) -> None:
        """Stop every command still running (the run was interrupted)."""


class LocalExecutor:
    """Runs commands as child processes of this one."""

    def __init__(self):
        from orchestrator.process import isolate_descriptors

        isolate_descriptors()
        self.running = Running()

    def run(self, argv, env, cwd, log, *, timeout=None, prefix=None, masker=None,
            echo=True, before_output=None) -> ProcessResult:
        return run_process(argv, env, cwd, log, timeout=timeout, prefix=prefix,
                           masker=masker, echo=echo, before_output=before_output,
                           running=self.running)

    def stop_all(self) -> None:
        self.running.stop_all()
