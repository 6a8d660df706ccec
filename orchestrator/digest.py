"""Content digests of files and directory trees, cached per process by stat identity."""

from __future__ import annotations

import hashlib
import os

_CHUNK = 1 << 20
# (path, mtime_ns, size, inode) -> digest; a file rewritten in place gets a new mtime.
_cache: dict[tuple, str] = {}


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, reusing a digest computed earlier in this process."""
    st = os.stat(path)
    key = (os.fspath(path), st.st_mtime_ns, st.st_size, st.st_ino)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    digest = h.hexdigest()
    _cache[key] = digest
    return digest


def tree_digest(path: str | os.PathLike) -> str:
    """One digest for a directory: names, kinds, link targets and file contents, in order.

    Empty directories count, so creating or removing one changes the digest.
    """
    h = hashlib.sha256()
    root = os.fspath(path)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        h.update(f"d {rel_dir}\n".encode("utf-8", "surrogateescape"))
        linked_dirs = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        for name in sorted(filenames + linked_dirs):
            full = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if os.path.islink(full):
                entry = f"l {rel} {os.readlink(full)}\n"
            else:
                try:
                    entry = f"f {rel} {file_digest(full)}\n"
                except OSError:  # vanished or unreadable: still a difference
                    entry = f"? {rel}\n"
            h.update(entry.encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def artifact_digest(path: str | os.PathLike, is_directory: bool) -> str | None:
    """Digest of an artifact on disk, or None when it does not exist (or has the wrong kind)."""
    try:
        if is_directory:
            return tree_digest(path) if os.path.isdir(path) else None
        return file_digest(path) if os.path.isfile(path) else None
    except OSError:
        return None


def text_digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
    return h.hexdigest()
