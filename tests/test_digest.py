"""Directory and file digests: what changes them, what does not, and what is read."""

import os
import shutil

import pytest

from orchestrator import digest
from orchestrator.digest import artifact_digest, tree_digest


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


def test_an_unchanged_file_is_not_read_again(tree):
    target = tree / "a" / "b" / "x.json"
    before = tree_digest(tree)
    st = target.stat()
    # same size, same modification time: the stat says unchanged, so the bytes are not
    # read (the check costs a walk and a stat per file)
    target.write_text('{"x": 9}\n')
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert tree_digest(tree) == before
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert tree_digest(tree) != before


def test_saved_digests_carry_over_to_the_next_process(tree, tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "digests.pickle"
    monkeypatch.setattr(digest, "_used", {})
    monkeypatch.setattr(digest, "_cache", {})
    monkeypatch.setattr(digest, "_cache_file", None)
    digest.load_cache(str(cache))  # none yet
    first = tree_digest(tree)
    digest.save_cache()
    assert cache.exists()

    # a new process: empty in-memory cache, then the saved one
    monkeypatch.setattr(digest, "_used", {})
    monkeypatch.setattr(digest, "_cache", {})
    digest.load_cache(str(cache))
    opened = []
    monkeypatch.setattr(digest, "open", lambda *a, **k: opened.append(a[0]) or open(*a, **k),
                        raising=False)
    assert tree_digest(tree) == first
    assert opened == []
