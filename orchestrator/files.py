"""Reading a file the user names, without hanging on one that is not a file."""

from __future__ import annotations

import os
import stat


class NotAFile(OSError):
    """The path names a FIFO, a socket or a device: reading it could block forever."""


def read_regular_file(path: str | os.PathLike) -> bytes:
    """The bytes of the regular file at `path` (symbolic links followed). A directory
    raises IsADirectoryError; a FIFO, socket or device NotAFile, without blocking:
    opening a FIFO for reading waits for a writer, so it is opened non-blocking and
    refused before anything is read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "Is a directory", os.fspath(path))
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) \
                else "a device"
            raise NotAFile(f"is {kind}, not a file")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=True) as f:
            fd = -1
            return f.read()
    finally:
        if fd >= 0:
            os.close(fd)


def replace_with_json(path: str, data) -> None:
    """Replace the cache file at `path` with `data` as compact JSON: written under a
    temporary name (never through a symbolic link) and renamed over it, which replaces a
    link rather than its target. On failure (a full disk) nothing is left behind and the
    OSError is raised."""
    import json

    # one write: json.dump makes many
    replace_with_bytes(path, json.dumps(data, separators=(",", ":")).encode("utf-8"))


def replace_with_bytes(path: str, data: bytes) -> None:
    """Replace the cache file at `path` with `data`, as `replace_with_json` does."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o644)
        with open(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
