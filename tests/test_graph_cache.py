"""The validated-graph cache under .pipeline-runs/.cache/ (orchestrator/graph/read.py).

A cached graph must be the graph the file describes; a cache file this code did not
write (an older version, whose classes lived in another module, or any damaged file) is
no cache: the graph is validated anew and the file replaced, never a crash.
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
    return sorted((root / ".pipeline-runs" / ".cache").glob("graph-*.pickle"))


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


@pytest.mark.parametrize("content", [
    b"",
    b"not a pickle",
    pickle.dumps({"a": 1}),  # a pickle, but no graph
    b"cno_such_module\nGraph\n.",  # a class that is no longer where the file says
    b"corchestrator.graph\nNoSuchClass\n.",
    pickle.dumps(1)[:3],  # cut short
])
def test_a_cache_file_this_code_did_not_write_is_no_cache(graph_file, tmp_path, content):
    load_graph(graph_file, tmp_path)
    [cache] = cache_files(tmp_path)
    cache.write_bytes(content)
    assert load_graph(graph_file, tmp_path) == load_graph(graph_file, tmp_path, cache=False)
    assert cache.read_bytes() != content  # replaced by this code's own


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
