"""Content digests of files and directory trees, cached by stat identity.

A file is not read again while its path, size, modification time, change time (both in
nanoseconds) and inode are all unchanged. The change time is what an edit cannot fake:
restoring the old modification time (`cp -p`, `touch -r`, `os.utime`, an rsync, a
checkout of an older file) sets it to now. Any difference in the five means the bytes
are read and compared, so touching a file costs a read, never a rerun.

A `DigestCache` (one per run) keeps digests by stat identity and, through its `load` /
`save`, across runs (as JSON: a state file is never code), so an unchanged directory of
thousands of files costs a walk and a stat per file.
"""

from __future__ import annotations

import hashlib
import os
import stat
from fnmatch import fnmatchcase

_CHUNK = 1 << 20

# version-control metadata: never content of a directory artifact (a `git fetch` that
# changes no file rewrites .git/FETCH_HEAD)
VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr", "_darcs"})


def signature(st: os.stat_result) -> tuple[int, int, int, int]:
    """What says a file may have changed: mtime_ns, size, inode, ctime_ns."""
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def _sha256_of(path: str | os.PathLike) -> str:
    # plain descriptor reads: a file object costs four more system calls (fstat, ioctl,
    # lseek, one more read) and its buffers, on the small files stages pass each other
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        while chunk := os.read(fd, _CHUNK):
            h.update(chunk)
    finally:
        os.close(fd)
    return h.hexdigest()


class DigestCache:
    """File digests by stat identity: (path, mtime_ns, size, inode, ctime_ns) -> sha256.

    One per run (the session's), or one per command that reads state; `cache_file`
    keeps them across runs. `_used` holds what this cache looked up (what `save` keeps);
    `_saved` what a previous run saved and this one has not looked up yet."""

    __slots__ = ("cache_file", "_used", "_saved", "_added", "read", "_prefix")

    def __init__(self, cache_file: str | None = None, root: str | None = None):
        self.cache_file = cache_file
        # a file under `root` is one entry whichever way it is named: the runner names
        # outputs by absolute path, doit its file_deps relative to the root (cwd), and
        # a stage's output is the next one's file_dep: read once, not twice
        self._prefix = os.path.join(root, "") if root else None
        self._used: dict[tuple, str] = {}
        # path -> [mtime_ns, size, inode, ctime_ns, digest] as a previous run saved it,
        # checked only when looked up (a no-op run of 10,000 stages looks up each once)
        self._saved: dict[str, list] = {}
        self._added = False
        self.read: list[str] = []  # the files this cache had to read, in order

    def file_digest(self, path: str | os.PathLike, st: os.stat_result | None = None) -> str:
        """sha256 of a file's bytes, reusing a digest computed earlier (`st`: its stat,
        if the caller has it)."""
        if st is None:
            st = os.stat(path)
        name = os.fspath(path)
        if self._prefix is not None and name.startswith(self._prefix):
            name = name[len(self._prefix):]
        key = (name, st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)
        cached = self._used.get(key)
        if cached is not None:
            return cached
        saved = self._saved.pop(key[0], None)
        cached = saved[4] if type(saved) is list and len(saved) == 5 and \
            saved[0] == key[1] and saved[1] == key[2] and saved[2] == key[3] and \
            saved[3] == key[4] and type(saved[4]) is str else None
        if cached is None:
            self._added = True
            self.read.append(os.fspath(path))
            cached = _sha256_of(path)
        self._used[key] = cached
        return cached

    def tree_digest(self, path: str | os.PathLike, ignore: tuple[str, ...] = ()) -> str:
        return tree_digest(path, ignore, self)

    def artifact_digest(self, path: str | os.PathLike, is_directory: bool,
                        ignore: tuple[str, ...] = ()) -> str | None:
        return artifact_digest(path, is_directory, ignore, self)

    def digest_of(self, root: str, artifact) -> str | None:
        return digest_of(root, artifact, self)

    def checker_class(self) -> type:
        """doit's checker class for a run, sharing this cache (doit makes the instance)."""
        return type("ContentChecker", (ContentChecker,), {"digests": self})

    def load(self) -> None:
        """Take the digests a previous run saved. The file is untrusted input: JSON only,
        and a missing, unreadable or odd-shaped one is no cache (rebuilt by this run)."""
        import json

        if self.cache_file is None:
            return
        try:
            with open(self.cache_file, encoding="utf-8") as f:
                saved = json.load(f)
        except (OSError, ValueError, RecursionError):
            return
        if isinstance(saved, dict):  # {path: [mtime_ns, size, inode, ctime_ns, digest]}
            self._saved = saved  # each entry is checked when it is looked up

    def save(self) -> None:
        """Keep the digests this run used, for the next run; best effort."""
        from orchestrator.files import replace_with_json

        if self.cache_file is None:
            return
        try:
            if not self._added and os.path.exists(self.cache_file):
                return
            replace_with_json(self.cache_file, {key[0]: [*key[1:], digest]
                                                for key, digest in self._used.items()})
            self._added = False
        except OSError:
            pass


def file_digest(path: str | os.PathLike, st: os.stat_result | None = None,
                cache: DigestCache | None = None) -> str:
    """sha256 of a file's bytes (through `cache` when given)."""
    if cache is not None:
        return cache.file_digest(path, st)
    return _sha256_of(path)


class Ignore:
    """Which entries of a directory artifact are not its content: version-control
    folders always, and the artifact's `ignore` patterns.

    A pattern without `/` matches an entry's name at any depth (`__pycache__`, `*.pyc`);
    with a trailing `/` it matches directories only (`node_modules/`); with a `/`
    elsewhere it matches the path relative to the artifact (`build/*.tmp`)."""

    __slots__ = ("names", "dir_names", "paths", "dir_paths")

    def __init__(self, patterns: tuple[str, ...] = ()):
        self.names: list[str] = []
        self.dir_names: list[str] = []  # VCS_DIRS are checked first, by name
        self.paths: list[str] = []
        self.dir_paths: list[str] = []
        for pattern in patterns:
            dir_only = pattern.endswith("/")
            body = pattern.rstrip("/")
            if "/" in body:
                (self.dir_paths if dir_only else self.paths).append(body.lstrip("/"))
            else:
                (self.dir_names if dir_only else self.names).append(body)

    def skips(self, name: str, rel: str, is_dir: bool) -> bool:
        if name in VCS_DIRS:  # also a `.git` file (a worktree's or submodule's link)
            return True
        for pattern in self.names:
            if fnmatchcase(name, pattern):
                return True
        for pattern in self.paths:
            if fnmatchcase(rel, pattern):
                return True
        if is_dir:
            for pattern in self.dir_names:
                if fnmatchcase(name, pattern):
                    return True
            for pattern in self.dir_paths:
                if fnmatchcase(rel, pattern):
                    return True
        return False


_NO_IGNORE = Ignore()
_IGNORES: dict[tuple[str, ...], Ignore] = {(): _NO_IGNORE}


def ignore_for(patterns: tuple[str, ...]) -> Ignore:
    ignore = _IGNORES.get(patterns)
    if ignore is None:
        ignore = _IGNORES[patterns] = Ignore(patterns)
    return ignore


def tree_digest(path: str | os.PathLike, ignore: tuple[str, ...] = (),
                cache: DigestCache | None = None) -> str:
    """One digest for a directory: names, kinds, link targets and file contents, in order.

    Empty directories count, so creating or removing one changes the digest. Symbolic
    links count by their target text and are not followed. Version-control folders and
    entries matching `ignore` (see `Ignore`) are left out. The walk reads each directory
    once (`os.scandir`) and stats each file once; a directory that cannot be read is left
    out, like `os.walk` does. `cache` spares reading files whose stat is unchanged.
    """
    skip = ignore_for(tuple(ignore))
    cache = DigestCache() if cache is None else cache
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
            if skip.skips(entry.name, rel_dir + entry.name, real_dir):
                continue
            (subdirs if real_dir else leaves).append(entry)
        leaves.sort(key=_name)
        for entry in leaves:
            rel = rel_dir + entry.name
            h.update(_leaf_line(entry, rel, cache).encode("utf-8", "surrogateescape"))
        subdirs.sort(key=_name, reverse=True)
        stack.extend((entry.path, f"{rel_dir}{entry.name}/") for entry in subdirs)
    return h.hexdigest()


def _name(entry: os.DirEntry) -> str:
    return entry.name


def _leaf_line(entry: os.DirEntry, rel: str, cache: DigestCache) -> str:
    try:
        if entry.is_symlink():
            return f"l {rel} {os.readlink(entry.path)}\n"
        st = entry.stat()
        if not stat.S_ISREG(st.st_mode):  # a fifo or device: never opened
            return f"? {rel}\n"
        return f"f {rel} {cache.file_digest(entry.path, st)}\n"
    except OSError:  # vanished or unreadable: still a difference
        return f"? {rel}\n"


def artifact_digest(path: str | os.PathLike, is_directory: bool,
                    ignore: tuple[str, ...] = (), cache: DigestCache | None = None
                    ) -> str | None:
    """Digest of an artifact on disk, or None when it does not exist (or has the wrong kind)."""
    try:
        if is_directory:
            return tree_digest(path, ignore, cache) if os.path.isdir(path) else None
        st = os.stat(path)  # one stat: is it a file, and has it changed
        return file_digest(path, st, cache) if stat.S_ISREG(st.st_mode) else None
    except OSError:
        return None


def digest_of(root: str, artifact, cache: DigestCache | None = None) -> str | None:
    """`artifact_digest` of a graph artifact under the project root."""
    return artifact_digest(os.path.join(root, artifact.path), artifact.is_directory,
                           artifact.ignore, cache)


def text_digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
    return h.hexdigest()


class ContentChecker:
    """doit's file_dep checker (`check_file_uptodate`): a file is unchanged while its
    signature (mtime_ns, size, inode, ctime_ns) is, and otherwise while its content
    digest is. doit's MD5 checker trusts an unchanged mtime, which `cp -p` or
    `touch -r` restore; the change time they cannot. State: [*signature, sha256].

    doit makes the instance itself; a run's session hands doit a subclass whose
    `digests` is the run's cache (`DigestCache.checker_class`)."""

    CheckerError = OSError
    digests: DigestCache | None = None

    def __init__(self):
        if self.digests is None:
            self.digests = DigestCache()

    def exists(self, file_path) -> bool:
        return os.path.exists(file_path)

    def info(self, file_path) -> os.stat_result:
        return os.stat(file_path)

    def check_modified(self, file_path, file_stat, state) -> bool:
        if not isinstance(state, (list, tuple)) or len(state) != 5:
            return True  # another checker's state: compare afresh
        if tuple(state[:4]) == signature(file_stat):
            return False
        return self.digests.file_digest(file_path, file_stat) != state[4]

    def get_state(self, dep, current_state):
        st = os.stat(dep)
        sig = signature(st)
        if isinstance(current_state, (list, tuple)) and len(current_state) == 5 \
                and tuple(current_state[:4]) == sig:
            return None  # unchanged: doit keeps what it has
        return [*sig, self.digests.file_digest(dep, st)]
