"""Run one command as a subprocess: wall time, exit code and peak memory of its process tree."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Sample:
    seconds: float
    code: int  # exit code; -1 when it was killed for running past the timeout
    peak_kib: int  # largest resident set of any process in the tree (ru_maxrss, KiB)
    stderr_tail: str = ""


class CommandFailed(Exception):
    """A measured command exited non-zero or timed out: its result is not a timing."""

    def __init__(self, argv: list[str], sample: Sample, timeout: float):
        self.sample = sample
        what = (f"timed out after {timeout:g} s" if sample.code == -1
                else f"exited {sample.code}")
        tail = sample.stderr_tail.strip().splitlines()[-1:] or [""]
        super().__init__(f"{' '.join(argv[:4])} ... {what}: {tail[0][:200]}")


def run_once(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Sample:
    """Time one run of argv in cwd; its stdout is discarded, the end of stderr kept.

    os.wait4 gives the rusage of the child including its waited-for descendants, so
    ru_maxrss is the peak of the largest single process of the tree (python, cp, make...).
    """
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", "replace")
    code = -1 if timed_out.is_set() else proc.returncode
    return Sample(seconds, code, usage.ru_maxrss, tail)


def checked(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Sample:
    """run_once, raising CommandFailed unless the command succeeded."""
    sample = run_once(argv, cwd, env, timeout)
    if sample.code != 0:
        raise CommandFailed(argv, sample, timeout)
    return sample


def median(values: list[float]) -> float:
    return statistics.median(values)
