"""One run at a time per project: an advisory lock on the project root directory.

The lock is a `flock` on an open descriptor of the root directory itself, so:

- the operating system releases it when the holder dies, however it dies: a dead run's
  lock is simply taken;
- no cleaning can remove it: deleting `.pipeline-runs/` (or `.doit.db`) in the middle of
  a run leaves the lock held, and a second run is still refused.

Who holds it (pid, then run id) is written to `.pipeline-runs/.lock`, for the message a
second run prints; that file is information only, never followed through a symbolic
link, and its loss costs only the message. Before anything is written, the state paths
(`.pipeline-runs/`, `.doit.db`, the lock file) are refused when they are symbolic links
leading outside the root: a run writes only inside the project.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from orchestrator.errors import UsageError
from orchestrator.paths import CACHE_DIR, FAST_PATH_DIR, LOCK_FILE, RUNS_DIR, STATE_DB

# where a run writes: never through a link (sqlite writes its log and shared memory
# beside the state DB)
STATE_PATHS = (RUNS_DIR, STATE_DB, STATE_DB + "-wal", STATE_DB + "-shm", STATE_DB + "-journal",
               LOCK_FILE, CACHE_DIR, FAST_PATH_DIR)


def waiting_message(holder: str) -> str:
    """What `--wait` says when another run holds the project."""
    return f"pipeline: waiting for the run in progress in this project ({holder}) to end (--wait)"


class RunLock:
    def __init__(self, root: Path, can_wait: bool = True):
        self.root = root
        self.can_wait = can_wait  # the command has --wait (plain doit has not)
        self.path = root / LOCK_FILE  # who holds it (information only)
        self._fd: int | None = None

    def acquire(self, wait: bool = False, on_wait=None) -> None:
        """Take the lock, or raise UsageError naming the run that holds it (unless `wait`:
        then `on_wait(holder)` is told whom it waits for, and it waits), or refusing state
        paths that are symbolic links."""
        refuse_linked_state(self.root)
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if wait:
                try:
                    if on_wait is not None:  # may refuse to wait (raise)
                        on_wait(self._holder() or "another run")
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:  # refused, or interrupted while waiting
                    os.close(fd)
                    raise
                self._claimed(fd)
                return
            os.close(fd)
            holder = self._holder() or "another run"
            advice = ("wait for it, or use --wait" if self.can_wait
                      else "wait for it to end, then run again")
            raise UsageError(f"a run is already in progress in this project ({holder}); "
                             f"{advice}") from None
        self._claimed(fd)

    def _claimed(self, fd: int) -> None:
        self._fd = fd
        try:
            self._write_holder(f"pid {os.getpid()}")
        except OSError as exc:
            self.release()
            raise UsageError(f"cannot write {LOCK_FILE}: {exc.strerror or exc}") from None

    def describe(self, holder: str) -> None:
        """What a second run is told about the holder (pid, then run id once known);
        best effort."""
        if self._fd is None:
            return
        try:
            self._write_holder(holder)
        except OSError:
            pass

    def _write_holder(self, holder: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        refuse_linked_state(self.root)  # the folder may have been replaced meanwhile
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                     | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, holder.encode())
        finally:
            os.close(fd)

    def _holder(self) -> str:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return ""
        try:
            return os.read(fd, 400).decode("utf-8", "replace").strip()
        finally:
            os.close(fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def refuse_linked_state(root: Path) -> None:
    """UsageError when a path the run writes is a symbolic link leading outside the
    project root: writing through it would change a file elsewhere."""
    real_root = os.path.realpath(root)
    for name in STATE_PATHS:
        path = root / name
        if not os.path.islink(path):
            continue
        target = os.path.realpath(path)
        if target != real_root and not target.startswith(real_root + os.sep):
            raise UsageError(f"{name} is a symbolic link leading outside the project root "
                             f"(to {target}); refusing to write through it")
