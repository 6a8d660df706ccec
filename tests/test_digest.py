"""Directory and file digests: what changes them, what does not, and what is read."""

import os
import shutil

import pytest

from orchestrator import digest
from orchestrator.digest import DigestCache, artifact_digest, tree_digest


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "empty").mkdir()
    (root / "a" / "b" / "x.json").write_text('{"x": 1}\n')
    (root / "a" / "b.txt").write_text("b")
    (root / "top.txt").write_text("top")
    os.symlink("top.txt", root / "link")
    return root


def test_a_known_tree_keeps_its_digest(tree):
    # stored run state holds these digests: a change of format makes every directory
    # artifact stale once, so it must be deliberate
    assert tree_digest(tree) == (
        "e76843515ce5945a299984180fdc5078da03c5240a50a533c5b6b25ee4521513")


def test_the_digest_depends_on_content_and_layout_not_on_where_the_tree_is(tree, tmp_path):
    first = tree_digest(tree)
    assert tree_digest(tree) == first
    copy = tmp_path / "elsewhere"
    shutil.copytree(tree, copy, symlinks=True)
    assert tree_digest(copy) == first

    changes = [
        lambda r: (r / "a" / "b" / "x.json").write_text('{"x": 2}\n'),
        lambda r: (r / "a" / "new").mkdir(),
        lambda r: (r / "a" / "empty").rmdir(),
        lambda r: (r / "top.txt").rename(r / "top2.txt"),
        lambda r: (os.remove(r / "link"), os.symlink("a", r / "link")),
        lambda r: (r / "a" / "b" / "y").write_text(""),
    ]
    for number, change in enumerate(changes):
        target = tmp_path / f"changed{number}"
        shutil.copytree(tree, target, symlinks=True)
        change(target)
        assert tree_digest(target) != first, f"change {number} went unnoticed"


def test_links_are_recorded_by_target_not_followed(tree, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big.bin").write_text("outside the tree")
    os.symlink(outside, tree / "linked-dir")
    before = tree_digest(tree)
    (outside / "big.bin").write_text("changed outside the tree")
    assert tree_digest(tree) == before


def test_a_fifo_in_the_tree_is_not_opened(tree):
    os.mkfifo(tree / "pipe")
    assert artifact_digest(tree, True) is not None  # returns rather than blocking


def test_content_changed_with_its_old_times_restored_is_seen(tree):
    # `cp -p`, `touch -r`, an rsync or a checkout of an older file: same size, same
    # mtime, new content. The change time (which no such tool can restore) gives it away.
    target = tree / "a" / "b" / "x.json"
    before = tree_digest(tree)
    st = target.stat()
    target.write_text('{"x": 9}\n')
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert target.stat().st_mtime_ns == st.st_mtime_ns
    assert tree_digest(tree) != before
    assert artifact_digest(target, False) == digest.file_digest(target)


def test_an_unchanged_file_is_not_read_again_and_a_touch_changes_nothing(tree):
    target = tree / "a" / "b" / "x.json"
    cache = digest.DigestCache()
    before = tree_digest(tree, cache=cache)
    assert len(cache.read) == 3  # every file once
    assert tree_digest(tree, cache=cache) == before
    assert len(cache.read) == 3  # then a walk and a stat per file
    os.utime(target)  # touched: read again, same content, same digest
    assert tree_digest(tree, cache=cache) == before
    assert cache.read[3:] == [str(target)]


def test_version_control_folders_are_not_content(tree):
    before = tree_digest(tree)
    for vcs in (".git", ".hg", ".svn"):
        (tree / "a" / vcs).mkdir()
        (tree / "a" / vcs / "FETCH_HEAD").write_text("abc\n")
    (tree / ".git").write_text("gitdir: ../.git/worktrees/x\n")  # a worktree's link file
    assert tree_digest(tree) == before


def test_ignore_patterns_leave_entries_out(tree):
    ignore = ("node_modules/", "*.pyc", "a/b/*.tmp")
    before = tree_digest(tree, ignore)
    (tree / "node_modules" / "x").mkdir(parents=True)
    (tree / "a" / "c.pyc").write_text("compiled")
    (tree / "a" / "b" / "scratch.tmp").write_text("scratch")
    assert tree_digest(tree, ignore) == before
    assert tree_digest(tree) != before  # without the patterns they count
    (tree / "a" / "node_modules").write_text("a file, not a folder: content")
    (tree / "scratch.tmp").write_text("not under a/b: content")
    assert tree_digest(tree, ignore) != before


def test_saved_digests_carry_over_to_the_next_process(tree, tmp_path):
    cache_file = str(tmp_path / "cache" / "digests.json")
    first_run = digest.DigestCache(cache_file)
    first_run.load()  # none yet
    first = tree_digest(tree, cache=first_run)
    first_run.save()
    assert os.path.exists(cache_file)

    next_run = digest.DigestCache(cache_file)  # a new process: only what was saved
    next_run.load()
    assert tree_digest(tree, cache=next_run) == first
    assert next_run.read == []


@pytest.mark.parametrize("content", [b"", b"not json", b"{}", b"[[1, 2]]",
                                     b'[["p", "a", 1, 1, 1, "d"]]', b"\x80\x81", b"[" * 100000])
def test_an_odd_cache_file_is_no_cache(tree, tmp_path, content):
    cache_file = tmp_path / "digests.json"
    cache_file.write_bytes(content)
    cache = digest.DigestCache(str(cache_file))
    cache.load()
    assert tree_digest(tree, cache=cache) == (
        "e76843515ce5945a299984180fdc5078da03c5240a50a533c5b6b25ee4521513")
    assert len(cache.read) == 3  # nothing taken from the odd file


def test_a_file_under_the_root_is_read_once_by_absolute_or_relative_name(tmp_path,
                                                                         monkeypatch):
    # the runner digests a stage's output by its absolute path, doit the next stage's
    # file_dep by the same path relative to the project: one read, not two
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "out.txt").write_text("written by one stage, read by the next\n")
    monkeypatch.chdir(tmp_path)
    cache = DigestCache(root=str(tmp_path))
    by_absolute = cache.file_digest(str(tmp_path / "data" / "out.txt"))
    assert cache.file_digest("data/out.txt") == by_absolute
    assert cache.read == [str(tmp_path / "data" / "out.txt")]
    elsewhere = DigestCache()  # no root: names are taken as they are
    elsewhere.file_digest(str(tmp_path / "data" / "out.txt"))
    elsewhere.file_digest("data/out.txt")
    assert len(elsewhere.read) == 2
