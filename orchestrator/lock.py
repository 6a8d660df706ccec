"""One run at a time per project: an advisory lock on `.pipeline-runs/.lock`.

The lock is held through an open file descriptor (`flock`), so the operating system
releases it when the holder dies, however it dies: a dead run's lock is simply taken.
The file says who holds it, for the message a second run prints.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from orchestrator.errors import UsageError
from orchestrator.paths import LOCK_FILE


class RunLock:
    def __init__(self, root: Path):
        self.path = root / LOCK_FILE
        self._fd: int | None = None

    def acquire(self, wait: bool = False) -> None:
        """Take the lock, or raise UsageError naming the run that holds it (unless `wait`)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 400, 0).decode("utf-8", "replace").strip() or "another run"
            os.close(fd)
            raise UsageError(f"a run is already in progress in this project ({holder}); "
                             f"wait for it, or use --wait") from None
        self._fd = fd
        self.describe(f"pid {os.getpid()}")

    def describe(self, holder: str) -> None:
        """What a second run is told about the holder (pid, then run id once known)."""
        if self._fd is None:
            return
        data = holder.encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
