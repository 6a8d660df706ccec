"""Content digests of files and directory trees, cached by stat identity.

A file whose path, modification time (ns), size and inode are unchanged is not read
again: like doit's own MD5 checker, a rewrite is recognised by its new mtime. The cache
lives for the process and, through `load_cache` / `save_cache`, across runs, so an
unchanged directory of thousands of files costs a walk and a stat per file.
"""

from __future__ import annotations

import hashlib
import os
import stat

_CHUNK = 1 << 20
# (path, mtime_ns, size, inode) -> digest; a file rewritten in place gets a new mtime.
# `_used` holds what this process looked up (what save_cache keeps); `_cache` what a
# previous run saved and this one has not looked up yet. An entry lives in one of them.
_used: dict[tuple, str] = {}
_cache: dict[tuple, str] = {}
_added = False
_cache_file: str | None = None


def file_digest(path: str | os.PathLike, st: os.stat_result | None = None) -> str:
    """sha256 of a file's bytes, reusing a digest computed earlier (`st`: its stat, if
    the caller has it)."""
    if st is None:
        st = os.stat(path)
    global _added
    key = (os.fspath(path), st.st_mtime_ns, st.st_size, st.st_ino)
    cached = _used.get(key)
    if cached is not None:
        return cached
    cached = _cache.pop(key, None)
    if cached is not None:
        _used[key] = cached
        return cached
    _added = True
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    digest = h.hexdigest()
    _used[key] = digest
    return digest


def tree_digest(path: str | os.PathLike) -> str:
    """One digest for a directory: names, kinds, link targets and file contents, in order.

    Empty directories count, so creating or removing one changes the digest. Symbolic
    links count by their target text and are not followed. The walk reads each directory
    once (`os.scandir`) and stats each file once; a directory that cannot be read is left
    out, like `os.walk` does.
    """
    h = hashlib.sha256()
    stack = [(os.fspath(path), "")]
    while stack:  # depth first, sorted: the order os.walk gives with sorted names
        dirpath, rel_dir = stack.pop()
        try:
            with os.scandir(dirpath) as it:
                entries = list(it)
        except OSError:
            continue
        h.update(f"d {rel_dir[:-1] or '.'}\n".encode("utf-8", "surrogateescape"))
        leaves, subdirs = [], []
        for entry in entries:
            try:
                real_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                real_dir = False
            (subdirs if real_dir else leaves).append(entry)
        leaves.sort(key=_name)
        for entry in leaves:
            rel = rel_dir + entry.name
            h.update(_leaf_line(entry, rel).encode("utf-8", "surrogateescape"))
        subdirs.sort(key=_name, reverse=True)
        stack.extend((entry.path, f"{rel_dir}{entry.name}/") for entry in subdirs)
    return h.hexdigest()


def _name(entry: os.DirEntry) -> str:
    return entry.name


def _leaf_line(entry: os.DirEntry, rel: str) -> str:
    try:
        if entry.is_symlink():
            return f"l {rel} {os.readlink(entry.path)}\n"
        st = entry.stat()
        if not stat.S_ISREG(st.st_mode):  # a fifo or device: never opened
            return f"? {rel}\n"
        return f"f {rel} {file_digest(entry.path, st)}\n"
    except OSError:  # vanished or unreadable: still a difference
        return f"? {rel}\n"


def artifact_digest(path: str | os.PathLike, is_directory: bool) -> str | None:
    """Digest of an artifact on disk, or None when it does not exist (or has the wrong kind)."""
    try:
        if is_directory:
            return tree_digest(path) if os.path.isdir(path) else None
        st = os.stat(path)  # one stat: is it a file, and has it changed
        return file_digest(path, st) if stat.S_ISREG(st.st_mode) else None
    except OSError:
        return None


def text_digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
    return h.hexdigest()


def load_cache(cache_file: str) -> None:
    """Take the digests a previous run saved (a missing or unreadable file is no cache)."""
    global _cache_file
    import pickle

    _cache_file = cache_file
    try:
        with open(cache_file, "rb") as f:
            saved = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError):
        return
    if isinstance(saved, dict):
        _cache.update(saved)  # a key also in _used has the same digest there


def save_cache() -> None:
    """Keep the digests this run used, for the next run; best effort."""
    global _added
    import pickle

    if _cache_file is None:
        return
    try:
        if not _added and os.path.exists(_cache_file):
            return
        os.makedirs(os.path.dirname(_cache_file), exist_ok=True)
        tmp = f"{_cache_file}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            pickle.dump(_used, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, _cache_file)
        _added = False
    except OSError:
        pass

