"""The validated-graph cache under .pipeline-runs/.cache/ (orchestrator/graph/cache.py).

A cached graph must be the graph the file describes; a cache file this code did not
write (another machine's or user's, an edited one, a planted pickle, any damaged file)
is no cache: the graph is validated anew and the file replaced, never a crash, and
never code run.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from orchestrator.errors import GraphError
from orchestrator.graph import load_graph

GRAPH = {
    "pipelines": [{"id": "full-refresh", "stages": ["a", "b"]}],
    "artifacts": [{"id": "raw", "type": "file", "path": "build/raw.json"}],
    "stages": [
        {"id": "a", "command": {"executable": "python3", "args": ["tools/a.py"]},
         "outputs": [{"artifact": "raw"}]},
        {"id": "b", "dependsOn": ["a"], "command": {"executable": "tools/b.sh"},
         "inputs": [{"artifact": "raw"}]},
    ],
}


@pytest.fixture
def graph_file(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "pipeline" / "stage-graph.json"
    path.parent.mkdir()
    path.write_text(json.dumps(GRAPH), encoding="utf-8")
    return path


def cache_files(root: Path) -> list[Path]:
    return sorted((root / ".pipeline-runs" / ".cache").glob("graph-*.json"))


def test_a_cached_graph_is_the_graph_the_file_describes(graph_file, tmp_path):
    fresh = load_graph(graph_file, tmp_path, cache=False)
    assert cache_files(tmp_path) == []
    load_graph(graph_file, tmp_path)  # validates and writes the cache
    assert len(cache_files(tmp_path)) == 1
    cached = load_graph(graph_file, tmp_path)
    assert cached == fresh
    assert cached.script_candidates == fresh.script_candidates == {
        "a": ("tools/a.py",), "b": ("tools/b.sh",)}


def test_reading_without_writing_leaves_no_cache(graph_file, tmp_path):
    load_graph(graph_file, tmp_path, write_cache=False)
    assert cache_files(tmp_path) == []


def _marker_pickle(marker: Path) -> bytes:
    """A pickle that creates `marker` when loaded: what a crafted cache would do."""
    class Plant:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    return pickle.dumps(Plant())


@pytest.mark.parametrize("content", [
    b"",
    b"not json",
    b'{"key": "x"}',  # no signature
    b"0" * 64 + b"\n" + b'{"key": "x"}',  # a signature that does not verify
    "pickle",  # a crafted pickle under the cache's name
    "tampered",  # this code's own file with one byte of the body changed
    "truncated",  # this code's own file cut short
])
def test_a_cache_file_this_code_did_not_write_is_no_cache(graph_file, tmp_path, content):
    load_graph(graph_file, tmp_path)
    [cache] = cache_files(tmp_path)
    marker = tmp_path / "pwned"
    if content == "pickle":
        content = _marker_pickle(marker)
    elif content == "tampered":
        content = cache.read_bytes().replace(b"tools/a.py", b"tools/x.py")
    elif content == "truncated":
        content = cache.read_bytes()[:-20]
    cache.write_bytes(content)
    assert load_graph(graph_file, tmp_path) == load_graph(graph_file, tmp_path, cache=False)
    assert load_graph(graph_file, tmp_path).script_candidates["a"] == ("tools/a.py",)
    assert cache.read_bytes() != content  # replaced by this code's own
    assert not marker.exists()


def test_a_planted_pickle_is_never_loaded(graph_file, tmp_path):
    """The older cache's name: a CI artifact unpacked into .pipeline-runs/ may hold one."""
    from orchestrator.graph.read import _cache_key

    marker = tmp_path / "pwned"
    folder = tmp_path / ".pipeline-runs" / ".cache"
    folder.mkdir(parents=True)
    key = _cache_key(graph_file.read_bytes(), graph_file, tmp_path, "pipeline/stage-graph.json")
    for name in (f"graph-{key}.pickle", f"graph-{key}.json", "digests.pickle"):
        (folder / name).write_bytes(_marker_pickle(marker))
    load_graph(graph_file, tmp_path)
    assert not marker.exists()
    assert not list(folder.glob("*.pickle")) or \
        [p.name for p in folder.glob("*.pickle")] == ["digests.pickle"]


def test_another_users_cache_does_not_verify(graph_file, tmp_path, monkeypatch):
    load_graph(graph_file, tmp_path)
    [cache] = cache_files(tmp_path)
    written = cache.read_bytes()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "someone-else"))
    assert load_graph(graph_file, tmp_path) == load_graph(graph_file, tmp_path, cache=False)
    assert cache.read_bytes() != written  # signed again with this user's key
    key_file = tmp_path / "someone-else" / "pipeline-orchestrator" / "graph-cache.key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_an_edited_graph_is_not_taken_from_the_cache(graph_file, tmp_path):
    load_graph(graph_file, tmp_path)
    broken = dict(GRAPH, pipelines=[{"id": "full-refresh", "stages": ["a", "ghost"]}])
    graph_file.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(GraphError):
        load_graph(graph_file, tmp_path)


def test_only_the_latest_graph_is_kept(graph_file, tmp_path):
    load_graph(graph_file, tmp_path)
    graph_file.write_text(json.dumps(GRAPH, indent=1), encoding="utf-8")
    load_graph(graph_file, tmp_path)
    assert len(cache_files(tmp_path)) == 1


def test_a_cached_stage_derives_what_a_validated_one_does(tmp_path, monkeypatch):
    """Fields derived from a stage (what it reads and writes both, its external inputs,
    its command's digest) are the same whether the stage was validated or read back
    from the cache; a stage read back is a `Stage` like any other."""
    graph = json.loads(json.dumps(GRAPH))
    graph["artifacts"].append({"id": "seen", "type": "file", "path": "build/seen.json"})
    graph["stages"][1]["inputs"] += [{"artifact": "seen"},
                                     {"type": "external", "uri": "https://example.org/x"}]
    graph["stages"][1]["outputs"] = [{"artifact": "seen"}]
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "pipeline" / "stage-graph.json"
    path.parent.mkdir()
    path.write_text(json.dumps(graph), encoding="utf-8")
    fresh = load_graph(path, tmp_path)  # validates and writes the cache
    cached = load_graph(path, tmp_path)
    assert len(cache_files(tmp_path)) == 1
    for sid, stage in fresh.stages.items():
        again = cached.stages[sid]
        assert type(again) is type(stage)
        assert (again.cache_artifacts, again.external_inputs, again.command_digest) == \
            (stage.cache_artifacts, stage.external_inputs, stage.command_digest)
    assert cached.stages["b"].cache_artifacts == {"seen"}
    assert [i.uri for i in cached.stages["b"].external_inputs] == ["https://example.org/x"]
    assert cached.stages["a"].cache_artifacts == frozenset()
