"""Run one command as its own process group: copy its output, bound its time, measure it.

Each command gets a process group of its own, so a timeout or an interrupt reaches every
process it started (SIGTERM or SIGINT first, SIGKILL after a grace period), and a
terminal's Ctrl-C reaches the runner, which decides what the stage's processes get.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import BinaryIO, Callable

_CHUNK = 65536
def _grace_seconds() -> float:
    """Between the polite signal and SIGKILL: 10 s, or PIPELINE_KILL_GRACE seconds."""
    try:
        value = float(os.environ.get("PIPELINE_KILL_GRACE", "10"))
    except ValueError:
        return 10.0
    return value if 0 <= value < 3600 else 10.0


GRACE_S = _grace_seconds()
EXIT_POLL_S = 0.5  # how often a silent command is checked for having ended
DRAIN_S = 2.0  # output still read after the command ended (what its children print)
_HELD_OPEN_NOTE = (f"\n[pipeline] the command ended, but a process it started still held "
                   f"its output open {DRAIN_S:g} s later: stopped reading, and ended what "
                   f"was left of its process group\n").encode()


# Work the run wants done soon but not at once (reporter.StateCommits: committing doit's
# state and writing the records of the last stage ends), done by the main thread while
# it waits for a command: (when it is due, what does it), or None.
_soon: tuple[float, Callable[[], None]] | None = None
_MAIN_THREAD = threading.main_thread()


def do_soon(due: float, work: Callable[[], None]) -> None:
    """Have `work` done once `time.monotonic()` reaches `due`, by the main thread's next
    wait for a command (`run_process`), or by `do_due_work`. The earliest wins."""
    global _soon
    if _soon is None or due < _soon[0]:
        _soon = (due, work)


def do_due_work(now: float | None = None) -> None:
    """Do the work `do_soon` was given if it is due (always, with now=inf)."""
    global _soon
    if _soon is None or threading.current_thread() is not _MAIN_THREAD:
        return
    if (time.monotonic() if now is None else now) >= _soon[0]:
        work, _soon = _soon[1], None
        work()


def forget_soon() -> None:
    global _soon
    _soon = None


def _end_leftovers(pgid: int) -> None:
    """SIGTERM what is left of an ended command's process group, SIGKILL a second later."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    time.sleep(1.0)  # the group's leader is an unreaped zombie: nothing to wait on
    _kill_group(pgid)


@dataclass
class ProcessResult:
    exit_code: int
    cpu_seconds: float
    peak_rss_kb: int
    timed_out: bool = False
    worker: dict | None = None  # where it ran, when not here: {"address", "host"}


class StartFailed(Exception):
    """The operating system could not start the command."""


class Spawned:
    """A command started by `os.posix_spawn`: what the rest of this module uses of a
    `subprocess.Popen` (its pid, its output, its exit code)."""

    __slots__ = ("pid", "stdout", "returncode")

    def __init__(self, pid: int, stdout: BinaryIO):
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None


def start(argv, env: dict[str, str], cwd) -> Spawned | subprocess.Popen:
    """Start `argv` in a new session (its own process group), stdin from /dev/null,
    stdout and stderr into one pipe.

    Through `os.posix_spawn` when the executable is an absolute path (a stage's always
    is) and `cwd` is the working directory: the cheapest way to start a process from a
    large one (no copy of its page tables), about half a millisecond less per stage.
    Otherwise through `subprocess.Popen`. Either way the child inherits no descriptor
    but the three: Python opens its own non-inheritable, and `isolate_descriptors`
    marks those inherited from our parent so, before the first spawn, in whatever
    process starts it: the runner, or a Dask worker."""
    if _SPAWN and os.path.isabs(argv[0]) and os.fspath(cwd) == os.getcwd():
        if not _isolated:
            isolate_descriptors()
        read_end, write_end = os.pipe()  # both non-inheritable: closed at exec
        actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_DUP2, write_end, 1), (os.POSIX_SPAWN_DUP2, write_end, 2)]
        try:
            pid = os.posix_spawn(argv[0], list(argv), env, file_actions=actions,
                                 setsid=True, setsigdef=_DEFAULT_SIGNALS)
        except OSError as exc:
            os.close(read_end)
            raise StartFailed(exc.strerror or str(exc)) from None
        finally:
            os.close(write_end)
        return Spawned(pid, open(read_end, "rb", buffering=0))
    try:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
    except OSError as exc:
        raise StartFailed(exc.strerror or str(exc)) from None


# what Python ignores and Popen's restore_signals gives back to a child (a stage whose
# output pipe closes must die of SIGPIPE, as from a shell)
_DEFAULT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ")
                         if hasattr(signal, name))
_SPAWN = hasattr(os, "posix_spawn") and hasattr(os, "POSIX_SPAWN_DUP2") \
    and sys.platform.startswith("linux")


_isolated = False  # isolate_descriptors has run in this process


def isolate_descriptors() -> None:
    """Mark every descriptor above stderr that this process inherited as not to be
    inherited in turn (what Popen's close_fds does for each child): a stage must not
    hold open a pipe of whoever started the runner. Python's own are so already, and
    so are sqlite's: once per process is enough (the first spawn), not once a stage."""
    global _isolated
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    _isolated = True
    for fd in fds:
        if fd > 2:
            try:
                if os.get_inheritable(fd):
                    os.set_inheritable(fd, False)
            except OSError:
                pass  # the listing's own descriptor, closed meanwhile


def _console_writer(prefix: str | None, before_output: Callable[[], None] | None
                    ) -> Callable[[bytes], None]:
    """Copy to stdout as it comes; with a prefix, whole lines each marked with it (parallel
    stages would otherwise interleave mid-line)."""
    out = getattr(sys.stdout, "buffer", None)
    reader_gone = False

    def write(data: bytes) -> None:
        nonlocal reader_gone
        if reader_gone:  # `pipeline run | head`: the log still gets everything
            return
        if before_output is not None and data:
            before_output()
        try:
            if out is not None:
                out.write(data)
                out.flush()
            else:
                sys.stdout.write(data.decode("utf-8", "replace"))
                sys.stdout.flush()
        except BrokenPipeError:
            reader_gone = True

    if prefix is None:
        return write
    pending = bytearray()
    marker = f"[{prefix}] ".encode()

    def write_lines(data: bytes) -> None:
        if not data:  # end of output: the last, unterminated line
            if pending:
                write(marker + bytes(pending) + b"\n")
                pending.clear()
            return
        end = data.rfind(b"\n")
        if end < 0:  # the line goes on: keep it, copying only the new bytes
            pending.extend(data)
            return
        lines = data[:end].split(b"\n")
        if pending:
            lines[0] = bytes(pending) + lines[0]
            pending.clear()
        pending.extend(data[end + 1:])
        write(b"".join(marker + line + b"\n" for line in lines))

    return write_lines


class Running:
    """The commands started and not yet ended, so that an interrupted run can stop those
    of stages running in parallel threads (`stop_all`)."""

    def __init__(self):
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()

    def add(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.add(proc)

    def discard(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.discard(proc)

    def stop_all(self, first: int = signal.SIGINT) -> None:
        with self._lock:
            procs = list(self._procs)
        try:
            for proc in procs:
                stop(proc, first)
        except KeyboardInterrupt:  # a second interrupt: no more grace for anyone
            for proc in procs:
                _kill_group(proc.pid)
            raise


def run_process(argv: tuple[str, ...] | list[str], env: dict[str, str], cwd, log: BinaryIO,
                timeout: float | None = None, prefix: str | None = None,
                masker=None, echo: bool = True,
                before_output: Callable[[], None] | None = None,
                running: Running | None = None) -> ProcessResult:
    """Run argv to the end (or its timeout), copying its merged output to `log` and (with
    `echo`) the console. With a `masker` (masking.Masker), secrets become `***` in both,
    even when a chunk boundary splits one. `before_output` is called before output
    reaches the console (a live progress line must end first); `running` keeps the
    process while it runs."""
    proc = start(argv, env, cwd)
    if running is not None:
        running.add(proc)
    console = _console_writer(prefix, before_output) if echo else (lambda data: None)
    stream_masker = None
    if masker:
        from orchestrator.masking import StreamMasker

        stream_masker = StreamMasker(masker)
    deadline = time.monotonic() + timeout if timeout else None
    timed_out = False
    fd = proc.stdout.fileno()
    exited_at = None  # when the command itself ended, while its output is still open
    main = threading.current_thread() is _MAIN_THREAD
    try:
        while True:
            now = time.monotonic()
            wait = EXIT_POLL_S if exited_at is None else exited_at + DRAIN_S - now
            if deadline is not None:
                wait = min(wait, deadline - now)
            if main and _soon is not None:
                if now >= _soon[0]:
                    do_due_work(now)
                    continue
                wait = min(wait, _soon[0] - now)
            ready, _, _ = select.select([fd], [], [], max(0.0, wait))
            if not ready:
                if deadline is not None and time.monotonic() >= deadline:
                    timed_out = True
                    stop(proc, signal.SIGTERM)
                    break
                if exited_at is None:
                    if _has_exited(proc):
                        exited_at = time.monotonic()
                    continue
                if time.monotonic() >= exited_at + DRAIN_S:
                    # a process the command started holds its output open: stop waiting
                    log.write(_HELD_OPEN_NOTE)
                    _end_leftovers(proc.pid)
                    break
                continue
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                break
            if stream_masker is not None:
                chunk = stream_masker.feed(chunk)
                if not chunk:  # all held back: may be the start of a secret
                    continue
            log.write(chunk)
            log.flush()  # readable as it comes (`pipeline logs --follow --stage`)
            console(chunk)
        if stream_masker is not None:
            tail = stream_masker.flush()
            if tail:
                log.write(tail)
                console(tail)
        console(b"")  # the end: the console's last, unterminated line
        status, usage = _wait(proc, deadline)
        if status is None:  # closed its output but kept running past the deadline
            timed_out = True
            stop(proc, signal.SIGTERM)
            status, usage = _wait(proc, None)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (errors.Terminated)
        from orchestrator.errors import Terminated

        stop(proc, signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
        raise
    finally:
        proc.stdout.close()
        if running is not None:
            running.discard(proc)
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss // 1024
    return ProcessResult(proc.returncode, usage.ru_utime + usage.ru_stime, rss, timed_out)


def _wait(proc: subprocess.Popen, deadline: float | None):
    """(status, rusage) of the ended child, or (None, None) if the deadline passed first."""
    if deadline is None:
        _, status, usage = os.wait4(proc.pid, 0)
        return status, usage
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return status, usage
        if time.monotonic() >= deadline:
            return None, None
        time.sleep(0.02)


def stop(proc: subprocess.Popen, first: int, grace: float = GRACE_S) -> None:
    """Signal the whole process group, then SIGKILL it if it is still there after `grace`.

    A second interrupt during the grace period (SIGINT then SIGTERM: how CI runners
    cancel) ends the grace at once: the group is killed before the interrupt goes on.
    Does not reap the child: the caller's wait does (and so gets its resource usage).
    """
    try:
        os.killpg(proc.pid, first)
    except ProcessLookupError:
        return
    try:
        end = time.monotonic() + grace
        while time.monotonic() < end:
            if _has_exited(proc):
                break
            time.sleep(0.05)
    except KeyboardInterrupt:
        _kill_group(proc.pid)
        raise
    _kill_group(proc.pid)  # what is left of the group, if anything


def _has_exited(proc: subprocess.Popen) -> bool:
    """Has the child ended? (WNOWAIT: it is left for the caller to reap.)"""
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
