"""Run one command as a subprocess: wall time, exit code and peak memory of its process tree."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
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


# Runs the measured command and reports "seconds peak_kib exit_code" on the given fd.
# Why a launcher: on Linux a child's ru_maxrss starts at its parent's RSS when it forks
# (exec records the old address space's high-water mark), so a command spawned straight
# from this runner, which grows to tens of MiB generating 10,000-stage projects, would
# report at least that. This launcher is a bare interpreter (-S -I, only `os` and `time`),
# so the floor is its own few MiB.
_LAUNCHER = """
import os, sys, time
fd, argv = int(sys.argv[1]), sys.argv[2:]
start = time.perf_counter()
try:
    pid = os.posix_spawnp(argv[0], argv, os.environ)
except OSError as exc:
    sys.stderr.write(f"cannot start {argv[0]}: {exc.strerror}\\n")
    sys.exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
os.write(fd, f"{seconds} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}".encode())
"""


def run_once(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Sample:
    """Time one run of argv in cwd; its stdout is discarded, the end of stderr kept.

    The launcher times the command alone (not its own start-up) and reads os.wait4's
    rusage, which covers the command's waited-for descendants too: ru_maxrss is the peak
    of the largest single process of the tree (python, cp, make ...).
    """
    read_fd, write_fd = os.pipe()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-S", "-I", "-c", _LAUNCHER, str(write_fd),
                                 *argv], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, pass_fds=(write_fd,),
                                start_new_session=True)
        os.close(write_fd)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            try:  # the command stays in the launcher's process group
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            with os.fdopen(read_fd, "rb") as report:
                fields = report.read().split()
            proc.wait()
        finally:
            timer.cancel()
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", "replace")
    if timed_out.is_set():
        return Sample(timeout, -1, 0, tail)
    if len(fields) != 3:  # the launcher could not start the command
        return Sample(0.0, proc.returncode or 127, 0, tail)
    return Sample(float(fields[0]), int(fields[2]), int(fields[1]), tail)


def checked(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Sample:
    """run_once, raising CommandFailed unless the command succeeded."""
    sample = run_once(argv, cwd, env, timeout)
    if sample.code != 0:
        raise CommandFailed(argv, sample, timeout)
    return sample


def median(values: list[float]) -> float:
    return statistics.median(values)
