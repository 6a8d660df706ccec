"""One error type per kind of failure; the CLI turns each into one line and an exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_STAGE_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3  # a bug of ours (an unexpected exception), as doit and pre-commit use
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (stages stopped, hooks run, record `interrupted`)."""


class PipelineError(Exception):
    """Base of every error the CLI reports as a message rather than a traceback."""

    exit_code = EXIT_USAGE

    def lines(self) -> list[str]:
        return [str(self)]


class UsageError(PipelineError):
    """A bad command line: unknown id, contradictory filters, a bad flag."""


class GraphError(PipelineError):
    """The graph file cannot be read, or does not mean anything runnable.

    Holds every problem found, each already formatted as ``file: place: message``.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def lines(self) -> list[str]:
        return self.problems


class StageFailed(PipelineError):
    """A stage could not start, exited non-zero, or wrote an invalid artifact."""

    exit_code = EXIT_STAGE_FAILED
