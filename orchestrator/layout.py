"""A layered drawing of a stage graph: where each stage goes, for `pipeline report`.

Our own small Sugiyama-style layout, not a library: Graphviz is not installed on most
machines (nor on GitHub's runners by default) and the report must not depend on it; the
one pure-Python layered layout on PyPI (grandalf) has had no release since 2023. What a
report needs is small and deterministic, and must stay fast for 1,000 stages:

1. layering by longest path: a stage sits one layer below its deepest dependency, so
   every edge points down;
2. ordering within a layer by barycenter: a few sweeps down then up, each stage placed
   at the mean position of its neighbours in the layer above (below), ties kept in the
   pipeline's run order, which is also the starting order;
3. coordinates: layers are rows, stages evenly spaced in their row, rows centred.

Edges that skip layers are drawn straight across (no dummy nodes): simpler and smaller,
at the price of an edge now and then crossing a node of an intermediate layer.
"""

from __future__ import annotations

from dataclasses import dataclass

SWEEPS = 4  # down-up pairs of barycenter ordering


@dataclass
class Placed:
    node: str
    layer: int
    x: float  # centre, in node slots (0-based) of the widest layer
    y: float  # layer index


def layers(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering of an acyclic graph: `nodes` in a topological order (every
    edge (a, b) has a before b). An edge going backwards in that order is ignored."""
    position = {n: i for i, n in enumerate(nodes)}
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        if a in position and b in position and position[a] < position[b]:
            preds[b].append(a)
    layer: dict[str, int] = {}
    for n in nodes:
        layer[n] = 1 + max((layer[p] for p in preds[n]), default=-1)
    return layer


def layout(nodes: list[str], edges: list[tuple[str, str]]) -> tuple[list[Placed], int, int]:
    """Placed nodes, the width of the widest layer and the number of layers."""
    if not nodes:
        return [], 0, 0
    layer_of = layers(nodes, edges)
    count = max(layer_of.values()) + 1
    rows: list[list[str]] = [[] for _ in range(count)]
    for n in nodes:
        rows[layer_of[n]].append(n)
    up: dict[str, list[str]] = {n: [] for n in nodes}
    down: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        if a in layer_of and b in layer_of and layer_of[a] < layer_of[b]:
            down[a].append(b)
            up[b].append(a)
    index = {n: i for row in rows for i, n in enumerate(row)}
    for _ in range(SWEEPS):
        for r in range(1, count):
            _order(rows[r], up, index)
        for r in range(count - 2, -1, -1):
            _order(rows[r], down, index)
    width = max(len(row) for row in rows)
    placed = []
    for r, row in enumerate(rows):
        offset = (width - len(row)) / 2
        placed.extend(Placed(n, r, offset + i, r) for i, n in enumerate(row))
    return placed, width, count


def _order(row: list[str], neighbours: dict[str, list[str]], index: dict[str, int]) -> None:
    """Sort `row` in place by the barycenter of each node's neighbours (their current
    indices); a node without neighbours keeps its own index. A stable sort: ties keep
    their order."""
    def key(n: str) -> float:
        near = neighbours[n]
        return sum(index[m] for m in near) / len(near) if near else index[n]
    row.sort(key=key)
    for i, n in enumerate(row):
        index[n] = i
