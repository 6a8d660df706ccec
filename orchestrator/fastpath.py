"""The whole-graph fast path: a `pipeline run` where nothing changed, without doit.

After a run in which every selected stage ended succeeded or up to date, the session
writes a *stamp* for that selection (`stamp_path`): everything the up-to-date decision
of those stages reads, as plain data:

- the stat (size, mtime_ns, ctime_ns, inode) of every file it reads: each stage's
  inputs, scripts and imported modules, its outputs, every file and folder inside its
  directory artifacts (as their digest walks them), the script candidates that are
  not files, the --env-file, doit's state file (`.doit.db` and its `-wal`, so that
  `doit run` and `doit forget` invalidate the stamp) and the graph file (also by
  digest);
- a digest of the environment the decision reads: each selected stage's declared
  variables, `PATH`, and every `PIPELINE_*` variable;
- when the stamp expires: the soonest `maxAge` of an external input or a `network` /
  `git` side effect (a selection with a stage that always runs gets no stamp).

The next `pipeline run` of the same selection (`selection_key`) takes the run lock,
stats everything, and if all matches writes a small record ("all N stages up to
date") and exits 0, without importing doit or reading the graph. Anything else falls
back to the full path, which decides stage by stage as always.

What the stamp vouches for is what the run decided on, not what the files are when it
ends: a file changed after the stages that read or wrote it were done (a person editing
an input while a later stage runs, a stage meddling with another's files, the graph
edited mid-run) is seen by nobody. So the session snapshots every covered path before
doit starts (`snapshot`; the graph file's stat is taken before it was read) and each
stage's outputs when it succeeds; a stamp is written only when every path's stat at the
end is the one it had before the run or the one its writer left (`build`, `before` and
`outputs`). Otherwise the next run decides stage by stage.

A file written within `RACY_NS` of the stamp could be rewritten in the same tick of
the filesystem's clock without its stat changing (git's "racily clean" problem): its
content digest is kept too and compared on the fast path; a folder in that window
cannot be checked that way, so such a stamp is not written.

The *partial fast path*: beside each stamp lies a side file (`side_path`, `side_data`):
which stages cover each path, each stage's declared variables (with a digest of their
values) and finite expiry, a digest of PATH and the PIPELINE_* variables. It is written
before the stamp, which keeps its sha256 (`stagesDigest`), and read only when the stamp
declines. If what changed is only some stages' own (`changed_stages`), `take` returns a
`Partial` that still holds the run lock: the run adopts the lock, doit decides those
stages and everything downstream of them (plan.partial_plan), and the others are up to
date by the stamp. The stamp written after such a run merges the old one's entries for
the paths only the untouched stages cover, at their old stats (`merge_partial`): a
change made to them after the decision is seen by the next run. Anything that is no
single stage's (the graph, doit's state file, the --env-file, PATH, PIPELINE_*) means
the full path.

Plain JSON, read without importing anything heavy: a stamp is data, never code.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time

from orchestrator import __version__
from orchestrator.paths import FAST_PATH_DIR, STATE_DB

FORMAT = 1
KEEP_STAMPS = 16  # one per selection; the least recently written beyond these go
# a file whose mtime or ctime is this close to the stamp's time may change again within
# the same clock tick, unseen by its stat; coarse filesystems (whole seconds) get more
RACY_NS = 50_000_000
RACY_COARSE_NS = 2_000_000_000
_READ = 1 << 20
SIDE_SUFFIX = ".stages.json"


def selection_key(graph_path: str, pipeline: str | None, only: list[str], skip: list[str],
                  start: str | None, stop: str | None, env_file: str | None,
                  python: str | None = None) -> str:
    """Which stamp a `pipeline run` may use: what it selects, and how (`python`: the
    interpreter --python names, as a path)."""
    text = json.dumps([FORMAT, __version__, graph_path, pipeline, sorted(only),
                       sorted(skip), start, stop,
                       os.path.abspath(env_file) if env_file else None, python])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def stamp_path(root: str, key: str) -> str:
    return os.path.join(root, FAST_PATH_DIR, key + ".json")


def side_path(root: str, key: str) -> str:
    """The stamp's side file: who covers each path, for the partial fast path."""
    return os.path.join(root, FAST_PATH_DIR, key + SIDE_SUFFIX)


def values_digest(names: list[str], environ) -> str:
    """Digest of the values of `names` alone (None if unset): a stage's own variables."""
    pairs = [(n, environ.get(n)) for n in sorted(names)]
    return hashlib.sha256(json.dumps(pairs).encode("utf-8", "surrogatepass")).hexdigest()


def env_digest(names: list[str], environ) -> str:
    """Digest of the values of `names` and of every PIPELINE_* variable (None if unset)."""
    every = sorted(set(names) | {n for n in environ if n.startswith("PIPELINE_")})
    pairs = [(n, environ.get(n)) for n in every]
    return hashlib.sha256(json.dumps(pairs).encode("utf-8", "surrogatepass")).hexdigest()


def _sha256(path: str, dir_fd: int | None = None) -> str | None:
    h = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        while chunk := os.read(fd, _READ):
            h.update(chunk)
    finally:
        os.close(fd)
    return h.hexdigest()


# -- writing -----------------------------------------------------------------------


class StampBuilder:
    """Collects what a stamp covers (paths relative to the root), then writes it."""

    def __init__(self, root: str):
        self.root = root
        self.followed: dict[str, None] = {}  # os.stat: files, and a directory artifact's top
        self.trees: dict[str, tuple[str, ...]] = {}  # directory artifact -> ignore patterns
        self.env_names: set[str] = {"PATH"}
        self.expires: float | None = None
        # for the partial fast path (the side file): who covers each path, and each
        # stage's own environment and expiry
        self.owner: str | None = None  # the stage whose paths are being covered
        self.owners: dict[str, list[str]] = {}
        self.shared: set[str] = set()  # covered for every stage (the --env-file)
        self.stage_env: dict[str, list[str]] = {}  # stage -> its declared variables
        self.until: dict[str, float] = {}  # stage -> its finite maxAge expiry

    def file(self, rel: str) -> None:
        self.followed[rel] = None
        self._own(rel)

    def files(self, rels) -> None:
        for rel in rels:
            self.followed[rel] = None
            self._own(rel)

    def tree(self, rel: str, ignore: tuple[str, ...]) -> None:
        self.followed[rel] = None
        self.trees[rel] = ignore
        self._own(rel)

    def _own(self, rel: str) -> None:
        if self.owner is None:
            self.shared.add(rel)
            return
        owners = self.owners.setdefault(rel, [])
        if not owners or owners[-1] != self.owner:
            owners.append(self.owner)

    def stage_until(self, stage_id: str, moment: float) -> None:
        """The stage stays fresh (as far as time goes) until `moment`."""
        self.until[stage_id] = moment
        self.expires_at(moment)

    def expires_at(self, moment: float) -> None:
        self.expires = moment if self.expires is None else min(self.expires, moment)

    def snapshot(self, files=None, trees=None) -> dict[str, tuple | None] | None:
        """path -> stat signature (None: absent) of `files` and of every entry of the
        directory `trees` (default: everything covered so far); None when a folder
        cannot be read."""
        files = self.followed if files is None else files
        trees = self.trees if trees is None else trees
        seen: dict[str, tuple | None] = {}
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for rel in files:
                try:
                    seen[rel] = _sig(os.stat(rel, dir_fd=fd))
                except OSError:
                    seen[rel] = None
        finally:
            os.close(fd)
        walked: list[tuple[str, tuple]] = []
        for rel, ignore in trees.items():
            if not self._walk(rel, ignore, walked):
                return None
        seen.update((rel, e[:4]) for rel, e in walked)
        return seen

    def _walk(self, rel: str, ignore: tuple[str, ...], out: list) -> bool:
        """lstat of every entry of a directory artifact its digest reads (False when one
        cannot be read: the stamp would not cover it)."""
        from orchestrator.digest import ignore_for

        skip = ignore_for(ignore)
        top = os.path.join(self.root, rel)
        if not os.path.isdir(top):
            return True  # absent (or not a folder): its own stat covers it
        stack = [(top, rel + "/", "")]
        while stack:
            path, shown, rel_dir = stack.pop()
            try:
                with os.scandir(path) as it:
                    entries = list(it)
            except OSError:
                return False
            for entry in entries:
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                    if skip.skips(entry.name, rel_dir + entry.name, is_dir):
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    return False
                out.append((shown + entry.name, _entry(st)))
                if is_dir:
                    stack.append((entry.path, f"{shown}{entry.name}/",
                                  f"{rel_dir}{entry.name}/"))
        return True

    def build(self, graph_file: str, graph_shown: str, environ, head: dict,
              before: dict | None = None, outputs: dict | None = None) -> dict | None:
        """The stamp as data, or None when it could not be trusted: a covered path
        whose stat is neither the one it had before the run (`before`, from `snapshot`,
        with the graph file's stat from before it was read) nor the one the stage that
        wrote it left (`outputs`: a `snapshot` of each stage's outputs as it
        succeeded), a folder changed within the racy window, an unreadable folder."""
        root = self.root
        written = time.time_ns()
        followed: list[tuple[str, tuple]] = []  # (path, _entry): small, for 10,000s
        absent: list[str] = []
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for rel in (*self.followed, STATE_DB, STATE_DB + "-wal"):
                try:
                    followed.append((rel, _entry(os.stat(rel, dir_fd=fd))))
                except OSError:
                    absent.append(rel)
        finally:
            os.close(fd)
        walked: list[tuple[str, tuple]] = []
        for rel, ignore in self.trees.items():
            if not self._walk(rel, ignore, walked):
                return None
        try:
            graph_entry = _entry(os.stat(graph_file))
        except OSError:
            return None
        graph_digest = _sha256(graph_file)
        if graph_digest is None:
            return None
        if before is not None and not _as_decided(
                [*followed, *walked, (graph_file, graph_entry)], absent, before, outputs or {}):
            return None
        coarse = graph_entry[1] % 1_000_000_000 == 0 and all(
            e[1] % 1_000_000_000 == 0 for _, e in (*followed, *walked))
        window = written - (RACY_COARSE_NS if coarse else RACY_NS)
        racy: dict[str, str] = {}
        for rel, e in (*followed, *walked):
            if e[1] >= window or e[2] >= window:
                if not e[4]:
                    return None  # a folder (or link) cannot be compared by content
                digest = _sha256(os.path.join(root, rel))
                if digest is None:
                    return None
                racy[rel] = digest
        graph_racy = graph_entry[1] >= window or graph_entry[2] >= window
        return {
            "format": FORMAT, **head, "writtenNs": written, "expiresAt": self.expires,
            "graph": [graph_file, graph_shown, graph_racy, *graph_entry[:4], graph_digest],
            "envNames": sorted(self.env_names), "env": env_digest(sorted(self.env_names),
                                                                  environ),
            "stat": [rel for rel, _ in followed],
            "statSig": [n for _, e in followed for n in e[:4]],
            "lstat": [rel for rel, _ in walked],
            "lstatSig": [n for _, e in walked for n in e[:4]],
            "absent": absent, "racy": racy,
        }


def side_data(builder: StampBuilder, selected, environ) -> dict:
    """What the partial fast path reads when the stamp declines (the side file): the
    stages the stamp stands for, which of them cover each path (a tree's entries are
    covered by whoever covers the tree: `trees`), each stage's declared variables with a
    digest of their values (never the values), a digest of PATH and every PIPELINE_*
    variable, and each stage's finite maxAge expiry."""
    return {"format": FORMAT, "selected": list(selected), "owners": builder.owners,
            "shared": sorted(builder.shared), "trees": list(builder.trees),
            "env": {sid: [names, values_digest(names, environ)]
                    for sid, names in builder.stage_env.items()},
            "common": env_digest(["PATH"], environ), "until": builder.until}


def _as_decided(entries: list, absent: list[str], before: dict, written: dict) -> bool:
    """Is every path as the run decided on it: its stat now (`entries`: (path, _entry);
    `absent`: paths missing now) is the one it had before the run or the one its
    writer left? doit's state file is the run's own record, not an input."""
    missing = object()
    for rel, entry in entries:
        if rel in (STATE_DB, STATE_DB + "-wal"):
            continue
        sig = entry[:4]
        if before.get(rel, missing) != sig and written.get(rel, missing) != sig:
            return False
    for rel in absent:
        if rel in (STATE_DB, STATE_DB + "-wal"):
            continue
        if before.get(rel, missing) is not None and written.get(rel, missing) is not None:
            return False
    return True


def _entry(st: os.stat_result) -> tuple[int, int, int, int, bool]:
    """What a stamp keeps of a stat: size, mtime_ns, ctime_ns, inode; and whether it is
    a regular file (only those can be compared by content)."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, stat.S_ISREG(st.st_mode))


def _sig(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def stat_sig(path: str) -> tuple[int, int, int, int] | None:
    """What a stamp compares of `path` (None: it cannot be stat'ed)."""
    try:
        return _sig(os.stat(path))
    except OSError:
        return None


def write_stamp(root: str, key: str, data: dict | None, side: dict | None = None) -> None:
    """Replace the selection's stamp with `data` (None: remove it) and its side file
    with `side`; keep at most KEEP_STAMPS. The side file is written first and the stamp
    keeps its digest (`stagesDigest`): a side file that is not the one its stamp was
    written with (a run killed between the two writes, an edit) is never used. Best
    effort: a stamp that cannot be written only costs a full path."""
    from orchestrator.files import replace_with_bytes, replace_with_json

    path, beside = stamp_path(root, key), side_path(root, key)
    try:
        if data is None:
            _unlink(path)
            _unlink(beside)
            return
        if side is None:
            _unlink(beside)
        else:
            text = json.dumps(side, separators=(",", ":")).encode("utf-8", "surrogatepass")
            replace_with_bytes(beside, text)
            data = {**data, "stagesDigest": hashlib.sha256(text).hexdigest()}
        replace_with_json(path, data)
        folder = os.path.dirname(path)
        names = [n for n in os.listdir(folder)
                 if n.endswith(".json") and not n.endswith(SIDE_SUFFIX)]
        if len(names) > KEEP_STAMPS:
            names.sort(key=lambda n: os.stat(os.path.join(folder, n)).st_mtime_ns)
            for name in names[:-KEEP_STAMPS]:
                _unlink(os.path.join(folder, name))
                _unlink(os.path.join(folder, name[:-len(".json")] + SIDE_SUFFIX))
    except OSError:
        pass


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def forget_stamp(root: str, key: str) -> None:
    write_stamp(root, key, None)


# -- reading -----------------------------------------------------------------------


def read_stamp(root: str, key: str) -> dict | None:
    """The selection's stamp as data (None: none, or not a JSON object)."""
    from orchestrator.files import read_regular_file

    try:
        data = json.loads(read_regular_file(stamp_path(root, key)))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def valid_stamp(root: str, key: str, environ, data: dict | None = None) -> dict | None:
    """The selection's stamp (`data`, else read) when everything it covers is as it
    was, else None."""
    data = read_stamp(root, key) if data is None else data
    if data is None:
        return None
    try:
        return data if _still_true(root, data, environ) else None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None  # not a stamp of ours: the full path decides


def _still_true(root: str, data: dict, environ) -> bool:
    if data.get("format") != FORMAT:
        return False
    expires = data["expiresAt"]
    if expires is not None and time.time() >= expires:
        return False
    if env_digest(data["envNames"], environ) != data["env"]:
        return False
    if not _same_graph(data):
        return False
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return _files_unchanged(fd, data)
    finally:
        os.close(fd)


def _same_graph(data: dict) -> bool:
    """Is the graph file the one the stamp was written for (its stat, else its content)?"""
    graph_file, _shown, graph_racy, *sig, digest = data["graph"]
    try:
        st = os.stat(graph_file)
    except OSError:
        return False
    return not ((graph_racy or list(_sig(st)) != sig) and _sha256(graph_file) != digest)


def _files_unchanged(fd: int, data: dict) -> bool:
    """Every path relative to the root's descriptor `fd` (absolute ones work too)."""
    stat_at = os.stat
    for kind, follow in (("stat", True), ("lstat", False)):
        paths, sigs = data[kind], data[kind + "Sig"]
        if len(sigs) != 4 * len(paths):
            return False
        for i, rel in enumerate(paths):
            if type(rel) is not str:  # an int would name a descriptor
                return False
            try:
                st = stat_at(rel, dir_fd=fd, follow_symlinks=follow)
            except OSError:
                return False
            j = 4 * i
            if (st.st_size != sigs[j] or st.st_mtime_ns != sigs[j + 1]
                    or st.st_ctime_ns != sigs[j + 2] or st.st_ino != sigs[j + 3]):
                return False
    for rel in data["absent"]:
        if type(rel) is not str:
            return False
        try:
            stat_at(rel, dir_fd=fd)
            return False
        except OSError:
            pass
    for rel, digest in data["racy"].items():
        if _sha256(rel, fd) != digest:
            return False
    return True


# -- the partial fast path ------------------------------------------------------------


class Partial:
    """The stamp declined, but only for some stages' own files, variables or maxAge:
    doit decides those (`changed`: stage -> the first thing that changed for it) and
    everything downstream of them; the others are up to date by the stamp. Holds the
    run lock taken for the decision (`lock`), which the run adopts: the decision and
    the run happen under one hold. `stamp` and `side`: the stamp and side file the
    decision read, merged into the next stamp for the stages doit does not see."""

    __slots__ = ("lock", "changed", "stamp", "side")

    def __init__(self, lock, changed: dict[str, str], stamp: dict, side: dict):
        self.lock = lock
        self.changed = changed
        self.stamp = stamp
        self.side = side


def read_side(root: str, key: str, data: dict) -> dict | None:
    """The stamp's side file, if it is the one the stamp was written with."""
    from orchestrator.files import read_regular_file

    digest = data.get("stagesDigest")
    if not isinstance(digest, str):
        return None
    try:
        text = read_regular_file(side_path(root, key))
    except OSError:
        return None
    if hashlib.sha256(text).hexdigest() != digest:
        return None
    try:
        side = json.loads(text)
    except ValueError:
        return None
    return side if isinstance(side, dict) and side.get("format") == FORMAT else None


def changed_stages(root: str, data: dict, side: dict, environ) -> dict[str, str] | None:
    """Which of the stamp's stages something changed for, each with the first change
    (a path, `environment` or `maxAge`); None when something that is no single stage's
    changed (the graph, doit's state file, the --env-file, PATH or a PIPELINE_*
    variable, the stamp's format) or nothing did: then the full path decides."""
    if data.get("format") != FORMAT or len(side["selected"]) != data["stages"]:
        return None
    if not _same_graph(data):
        return None
    changed: dict[str, str] = {}
    now = time.time()
    for sid, until in side["until"].items():
        if now >= until:
            changed.setdefault(sid, "maxAge")
    if env_digest(data["envNames"], environ) != data["env"]:
        if env_digest(["PATH"], environ) != side["common"]:
            return None
        for sid, (names, digest) in side["env"].items():
            if values_digest(names, environ) != digest:
                changed.setdefault(sid, "environment")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        paths = _changed_paths(fd, data)
    finally:
        os.close(fd)
    if paths is None:
        return None
    owners, trees, shared = side["owners"], set(side["trees"]), set(side["shared"])
    for rel in paths:
        who = _owners_of(rel, owners, trees)
        if not who or rel in shared:
            return None  # doit's state file, the --env-file: everyone's
        for sid in who:
            changed.setdefault(sid, rel)
    if not changed or not set(changed) <= set(side["selected"]):
        return None
    return changed


def _owners_of(rel: str, owners: dict, trees: set) -> list[str]:
    """The stages whose decision reads `rel`: those that cover it, and those that cover
    a directory artifact it lies in."""
    who = list(owners.get(rel, ()))
    parent = rel
    while "/" in parent:
        parent = parent.rsplit("/", 1)[0]
        if parent in trees:
            who.extend(owners.get(parent, ()))
    return who


def _changed_paths(fd: int, data: dict) -> list[str] | None:
    """Every path the stamp covers whose stat (or racy content) differs now, or that
    appeared; None when the stamp is not of our shape."""
    changed: list[str] = []
    for kind, follow in (("stat", True), ("lstat", False)):
        paths, sigs = data[kind], data[kind + "Sig"]
        if len(sigs) != 4 * len(paths):
            return None
        for i, rel in enumerate(paths):
            if type(rel) is not str:
                return None
            try:
                st = os.stat(rel, dir_fd=fd, follow_symlinks=follow)
            except OSError:
                changed.append(rel)
                continue
            if [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino] != sigs[4 * i: 4 * i + 4]:
                changed.append(rel)
    for rel in data["absent"]:
        if type(rel) is not str:
            return None
        try:
            os.stat(rel, dir_fd=fd)
            changed.append(rel)
        except OSError:
            pass
    for rel, digest in data["racy"].items():
        if rel not in changed and _sha256(rel, fd) != digest:
            changed.append(rel)
    return changed


def merge_partial(new: dict, new_side: dict, old: dict, old_side: dict,
                  environ) -> tuple[dict, dict]:
    """The stamp of a whole selection after a partial run: `new` (and `new_side`), the
    stamp `build` made of the stages doit decided, with the old stamp's entries for the
    paths only the other stages cover, at their old stats (not taken again: a change
    made since the decision is then seen by the next run)."""
    fresh = set(new_side["selected"])
    covered = {*new["stat"], *new["lstat"], *new["absent"], STATE_DB, STATE_DB + "-wal"}
    new_trees = set(new_side["trees"])
    old_trees = set(old_side["trees"])

    def in_new_tree(rel: str) -> bool:
        parent = rel
        while "/" in parent:
            parent = parent.rsplit("/", 1)[0]
            if parent in new_trees:
                return True
        return False

    stat, stat_sig = list(new["stat"]), list(new["statSig"])
    for i, rel in enumerate(old["stat"]):
        if rel not in covered:
            stat.append(rel)
            stat_sig.extend(old["statSig"][4 * i: 4 * i + 4])
    lstat, lstat_sig = list(new["lstat"]), list(new["lstatSig"])
    for i, rel in enumerate(old["lstat"]):
        # kept even when a decided stage covers the same path as a file: the folder's
        # reader, not decided, must see next time what that stage wrote into it
        if not in_new_tree(rel):
            lstat.append(rel)
            lstat_sig.extend(old["lstatSig"][4 * i: 4 * i + 4])
    kept = {*stat[len(new["stat"]):], *lstat[len(new["lstat"]):]}  # at their old stats
    absent = [*new["absent"], *(r for r in old["absent"] if r not in covered)]
    racy = {**{r: d for r, d in old["racy"].items() if r in kept}, **new["racy"]}
    owners: dict[str, list[str]] = {}
    for rel, who in old_side["owners"].items():
        others = [sid for sid in who if sid not in fresh]
        if others:
            owners[rel] = others
    for rel, who in new_side["owners"].items():
        owners.setdefault(rel, []).extend(who)
    until = {sid: t for sid, t in old_side["until"].items() if sid not in fresh}
    until.update(new_side["until"])
    expires = [t for t in (new["expiresAt"], *until.values()) if t is not None]
    env_names = sorted({*old["envNames"], *new["envNames"]})
    stamp = {**new, "stages": old["stages"], "expiresAt": min(expires) if expires else None,
             "envNames": env_names, "env": env_digest(env_names, environ),
             "stat": stat, "statSig": stat_sig, "lstat": lstat, "lstatSig": lstat_sig,
             "absent": absent, "racy": racy}
    side = {**new_side, "selected": old_side["selected"], "owners": owners,
            "shared": sorted({*old_side["shared"], *new_side["shared"]}),
            "trees": sorted(new_trees | {t for t in old_trees if t in owners}),
            "env": {**{sid: v for sid, v in old_side["env"].items() if sid not in fresh},
                    **new_side["env"]},
            "until": until}
    return stamp, side


def _prune(root, keep, run_id: str) -> None:
    from orchestrator.errors import UsageError
    from orchestrator.ledger import keep_settings, prune_runs

    try:
        runs, days = keep_settings(*keep)
        prune_runs(root, runs, days, protect=run_id)
    except (OSError, UsageError, TypeError, ValueError):
        pass


# -- taking it -----------------------------------------------------------------------


def take(root, key: str, options: dict, wait: bool, console,
         before_wait=None) -> tuple[int, str] | Partial | None:
    """`pipeline run` on the fast path: under the run lock, when the selection's stamp
    still holds, record the run (every stage up to date) and return (0, its run id).
    When only some stages' own files, variables or maxAge changed: a `Partial`, which
    holds the lock for the run to adopt. None when the full path must decide. A run in
    progress is refused (or waited for) as always. `before_wait`: called before waiting
    for another run (--wait), to refuse what the run would refuse anyway (UsageError)."""
    from orchestrator.ledger import RunLedger, mark_abandoned_runs
    from orchestrator.lock import RunLock, waiting_message

    t0 = time.monotonic()
    lock = RunLock(root)
    def on_wait(holder: str) -> None:
        if before_wait is not None:
            before_wait()
        console.error(waiting_message(holder))

    lock.acquire(wait=wait, on_wait=on_wait)
    handed_over = False
    try:
        data = read_stamp(str(root), key)
        stamp = valid_stamp(str(root), key, os.environ, data) if data is not None else None
        if stamp is None:
            partial = _partial(str(root), key, data, lock) if data is not None else None
            handed_over = partial is not None
            return partial
        mark_abandoned_runs(root)
        for line in stamp["graphWarnings"]:  # what loading the graph would have said
            console.error(f"pipeline: warning: {line}")
        count = stamp["stages"]
        reason = f"all {count} stages up to date (fast path: nothing they read has changed)"
        selection = stamp["selection"]
        options = {**options, **selection} if isinstance(selection, dict) else options
        ledger = RunLedger(root, stamp["graph"][1], options,
                           on_event=console.event if console.json_events else None)
        ledger.lock = lock
        ledger.start(stamp["pipelineId"], [], label=stamp["label"],
                     extra={"fastPath": {"stages": count, "reason": reason,
                                         "stampWrittenNs": stamp["writtenNs"],
                                         "basedOn": stamp.get("runId")}})
        ledger.finish("failed" if ledger.write_error else "succeeded")
        if ledger.write_error:
            console.error(f"error: {ledger.write_error}")
            return 1, ledger.run_id
        _prune(root, stamp["keep"], ledger.run_id)
        if not console.json_events:
            from orchestrator.console import seconds

            name = stamp["pipelineId"] or stamp["label"] or "run"
            took = seconds((time.monotonic() - t0) * 1000)
            console.line(f"{name} succeeded in {took}: 0 ran, {count} up to date (fast "
                         f"path: nothing the stages read has changed). "
                         f"Record: {ledger.relative(ledger.record_path)}", "ok")
        return 0, ledger.run_id
    finally:
        if not handed_over:
            lock.release()


def _partial(root: str, key: str, data: dict, lock) -> Partial | None:
    """The partial fast path's answer for a stamp that declined (see Partial)."""
    try:
        side = read_side(root, key, data)
        changed = changed_stages(root, data, side, os.environ) if side is not None else None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None  # not a stamp or side file of ours: the full path decides
    return Partial(lock, changed, data, side) if changed else None
