"""`python -m benchmarks --dask`: the Dask executor against the local one (issue 16).

A cluster of one `dask scheduler` and two `dask worker` processes (one thread each) on
127.0.0.1 is started for the measurements and stopped after them, so that its start-up
is not counted (the row "local cluster" counts it: `--executor dask` without a
scheduler starts one itself).

- *sleep graph*: N independent stages each sleeping S seconds (`sleep`) and writing a
  file, plus a fan-in stage reading them all; full runs locally at --jobs 1 and 2, on
  the two-worker cluster at --jobs 2, and with the local cluster (--jobs 2).
- *dispatch*: the fan-out graph of `cp` stages, full runs locally and on the cluster,
  both at --jobs 1; the difference divided by the stages is the added cost per stage.
  The same at --jobs 2 (two stages in flight, one per worker) shows what overlapping
  the round trips buys.
- *bare Dask task*: the floor under any per-stage cost at --jobs 1: the median time of
  `client.submit(f).result()` for a function that returns at once, on the same cluster
  (a client of its own, in a process of its own).

Targets: under 5 ms added per stage, and two workers within 15% of local --jobs 2 on the
sleep graph.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks import generate
from benchmarks.dask_cluster import DaskProcesses

if TYPE_CHECKING:
    from benchmarks.runner import Bench, Row

REPO = Path(__file__).resolve().parent.parent
DISPATCH_LIMIT_S = 0.005  # added per stage
SLEEP_RATIO_LIMIT = 1.15  # two workers ÷ local --jobs 2
GROUP = "dask"


def write_sleep_project(directory: Path, stages: int, seconds: float) -> None:
    """`stages` independent stages sleeping `seconds` each, and one reading all they wrote."""
    generate._fresh(directory)
    artifacts = [{"id": f"o{i}", "type": "file", "path": f"data/o{i}.txt"}
                 for i in range(stages)]
    artifacts += [{"id": "src", "type": "file", "path": generate.SOURCE},
                  {"id": "all", "type": "file", "path": "data/all.txt"}]
    graph_stages = [{
        "id": f"s{i}",
        "command": {"executable": "sh", "args": ["-c", f'sleep {seconds:g} && cp "$1" "$2"',
                                                 "sh", generate.SOURCE, f"data/o{i}.txt"]},
        "inputs": [{"artifact": "src", "mode": "read"}],
        "outputs": [{"artifact": f"o{i}", "mode": "write"}],
    } for i in range(stages)]
    graph_stages.append({
        "id": "fan-in",
        "dependsOn": [f"s{i}" for i in range(stages)],
        "command": {"executable": "sh", "args": ["-c", 'cat data/o*.txt > "$1"', "sh",
                                                 "data/all.txt"]},
        "inputs": [{"artifact": f"o{i}", "mode": "read"} for i in range(stages)],
        "outputs": [{"artifact": "all", "mode": "write"}],
    })
    graph = {"version": f"bench-sleep-{stages}",
             "pipelines": [{"id": "all", "stages": [s["id"] for s in graph_stages]}],
             "artifacts": artifacts, "stages": graph_stages}
    (directory / "pipeline").mkdir()
    (directory / "pipeline" / "stage-graph.json").write_text(json.dumps(graph, indent=1))


def local_cluster(work: Path, env: dict[str, str]) -> DaskProcesses:
    """A scheduler and two workers that import this checkout's package."""
    return DaskProcesses(work, dict(env, PYTHONPATH=os.pathsep.join(
        p for p in (str(REPO), env.get("PYTHONPATH")) if p)))


def dask_rows(bench: Bench) -> list[Row]:
    """The rows of the Dask section (group "dask"); each variant of a graph alternates
    with the others, so that load on the machine falls on all alike."""
    from benchmarks.runner import Cell, Row

    quick = bench.options.quick
    stages, seconds = (8, 0.2) if quick else (40, 0.5)
    copies = 20 if quick else 1000
    pipe = [bench.py, "-m", "orchestrator", "run"]
    rows: list[Row] = []
    with local_cluster(bench.work / "dask-cluster", bench.env) as cluster:
        remote = ["--executor", "dask", "--scheduler", cluster.address]
        env = dict(bench.env, PYTHONPATH=cluster.env["PYTHONPATH"])
        sleep_root = bench.work / "dask-sleep"
        write_sleep_project(sleep_root, stages, seconds)
        size = f"{stages} × {seconds:g} s + fan-in"
        variants = (("full run, local --jobs 1", pipe + ["--jobs", "1"]),
                    ("full run, local --jobs 2", pipe + ["--jobs", "2"]),
                    ("full run, 2 Dask workers --jobs 2", pipe + ["--jobs", "2", *remote]),
                    ("full run, local Dask cluster --jobs 2",
                     pipe + ["--jobs", "2", "--executor", "dask"]))
        rows += bench_variants(bench, sleep_root, size, variants, env, Cell, Row)
        copy_root = bench.work / "dask-copies"
        generate.write_graph_project(copy_root, "fanout", copies)
        variants = (("full run, local --jobs 1", pipe),
                    ("full run, 2 Dask workers --jobs 1", pipe + remote),
                    ("full run, local --jobs 2", pipe + ["--jobs", "2"]),
                    ("full run, 2 Dask workers --jobs 2", pipe + ["--jobs", "2", *remote]))
        rows += bench_variants(bench, copy_root, f"{copies:,} cp", variants, env, Cell, Row)
        rows.append(bare_round_trip(bench, cluster, env, Cell, Row))
    return rows


ROUND_TRIP = '''
import statistics, sys, time
from distributed import Client

def nothing(x):
    return x

with Client(sys.argv[1], timeout=30, set_as_default=False) as client:
    for i in range(20):
        client.submit(nothing, i, pure=False).result()
    times = []
    for i in range(int(sys.argv[2])):
        start = time.perf_counter()
        client.submit(nothing, i, pure=False).result()
        times.append(time.perf_counter() - start)
print(statistics.median(times))
'''


def bare_round_trip(bench: Bench, cluster: DaskProcesses, env, Cell, Row) -> Row:
    """The median of a trivial task's submit and result, `repeat` times over 200."""
    row = Row(GROUP, "bare Dask task", "submit + result", "s", repeats=bench.options.repeat)
    cell = row.cells.setdefault("pipeline", Cell())
    bench.progress("dask: bare task round trip")
    for _ in range(bench.options.repeat):
        done = subprocess.run([sys.executable, "-c", ROUND_TRIP, cluster.address, "200"],
                              cwd=cluster.workdir, env=env, capture_output=True, text=True,
                              timeout=bench.options.timeout)
        try:
            cell.values.append(float(done.stdout.strip().splitlines()[-1]))
        except (IndexError, ValueError):
            cell.error = f"exit {done.returncode}"
            bench.failures.append(f"bare Dask task: {done.stderr.strip()[-300:]}")
            break
    return row


def bench_variants(bench, root, size, variants, env, Cell, Row) -> list:
    rows = [Row(GROUP, size, measure, "s", repeats=bench.options.repeat)
            for measure, _ in variants]
    bench.progress(f"dask: {size}")
    for _ in range(bench.options.repeat):
        for row, (_, argv) in zip(rows, variants):
            bench.sample(row.cells.setdefault("pipeline", Cell()), argv, root,
                         before=lambda r=root: generate.clean_outputs(r), env=env)
    generate.clean_outputs(root)
    return rows


def render_dask(rows: list[Row], quick: bool) -> tuple[list[str], list[str]]:
    """The Dask section of docs/performance.md and its two verdicts."""
    from benchmarks.report import cell_text, fmt

    found = [r for r in rows if r.group == GROUP]
    if not found:
        return [], []
    table = [f"| {r.size} | {r.measure} | {cell_text(r, 'pipeline')} |" for r in found]

    def value(size_prefix: str, measure: str) -> float | None:
        for row in found:
            if row.size.startswith(size_prefix) and row.measure == measure:
                return row.cells["pipeline"].value
        return None

    sleep = next((r.size for r in found if "fan-in" in r.size), "")
    local2 = value(sleep, "full run, local --jobs 2")
    workers2 = value(sleep, "full run, 2 Dask workers --jobs 2")
    ratio = workers2 / local2 if local2 and workers2 is not None else None
    copies = next((r.size for r in found if r.size.endswith(" cp")), "")
    count = int(copies.split()[0].replace(",", "")) if copies else 0
    local1 = value(copies, "full run, local --jobs 1")
    remote1 = value(copies, "full run, 2 Dask workers --jobs 1")
    added = (remote1 - local1) / count if count and local1 is not None \
        and remote1 is not None else None
    local2c = value(copies, "full run, local --jobs 2")
    remote2c = value(copies, "full run, 2 Dask workers --jobs 2")
    added2 = (remote2c - local2c) / count if count and local2c is not None \
        and remote2c is not None else None
    floor = value("bare Dask task", "submit + result")
    def judged(met: bool) -> str:
        return "not measured" if quick else "met" if met else "not met"

    sleep_verdict = (f"- **{judged(ratio is not None and ratio <= SLEEP_RATIO_LIMIT)}**: "
                     f"two Dask workers within {(SLEEP_RATIO_LIMIT - 1) * 100:.0f}% of local "
                     f"--jobs 2 on the sleep graph — "
                     + ("not measured" if ratio is None else f"{ratio:.2f}×")
                     + (" (quick run: a small graph)" if quick else ""))
    dispatch_verdict = (f"- **{judged(added is not None and added < DISPATCH_LIMIT_S)}**: "
                        f"under {DISPATCH_LIMIT_S * 1000:g} ms of added cost per stage on "
                        f"Dask — " + ("not measured" if added is None else
                                      f"{fmt(added, 's')} per stage over {copies}")
                        + (f" at --jobs 1, {fmt(added2, 's')} at --jobs 2"
                           if added2 is not None else "")
                        + (f"; a bare Dask task's round trip on this machine takes "
                           f"{fmt(floor, 's')}, the floor at --jobs 1"
                           if floor is not None else "")
                        + (" (quick run: few stages)" if quick else ""))
    lines = ["## Dask executor (issue 16)", "",
             "`pipeline run --executor dask` against the local executor. A scheduler and "
             "two single-threaded workers on 127.0.0.1 are started before these runs (their "
             "start-up is not counted); \"local Dask cluster\" is `--executor dask` without "
             "`--scheduler`, which starts and closes a cluster of --jobs workers itself. "
             "Each graph's variants alternate their runs. Generated with "
             "`python -m benchmarks --dask`.", "",
             "| graph | measure | time |", "|---|---|---|", *table, "",
             sleep_verdict, dispatch_verdict, ""]
    return lines, [sleep_verdict, dispatch_verdict]
