"""Tables and reports (`status`, `logs`, `history`): cut to the width of a terminal,
whole when piped (even with COLUMNS set), aligned whatever the length of the ids."""

from __future__ import annotations

import re

from test_live_line import ANSI, run_in_terminal

from orchestrator.console import columns

LONG = "publish-the-website-data-and-the-readable-result-for-the-whole-catalogue"


def with_a_long_stage(project):
    graph = project.graph()
    graph["stages"].append({"id": LONG, "dependsOn": ["publish"],
                            "command": {"executable": "python3", "args": ["-c", "pass"]}})
    graph["pipelines"][0]["stages"].append(LONG)
    project.write_graph(graph)
    return project


def second_column(lines: list[str]) -> set[int]:
    """Where the column after the stage id starts, on each line (header included)."""
    return {re.match(r"^. (\S+) +", line).end() for line in lines}


def test_piped_tables_are_whole_and_aligned_even_with_columns_set(project):
    with_a_long_stage(project)
    assert project.pipeline("run").code == 0
    project.path("data/source.txt").write_text("changed\n")
    narrow = {"COLUMNS": "40"}  # a pipe gets whole lines whatever COLUMNS says

    status = project.pipeline("status", env=narrow)
    assert status.code == 0 and "…" not in status.out
    rows = status.out.splitlines()[1:]
    assert rows[-1].startswith(f"✖ {LONG}  out of date")
    assert rows[1].endswith("  input changed: data/source.txt")
    assert len(second_column(rows)) == 1, status.out

    history = project.pipeline("history", env=narrow)
    assert history.code == 0 and "…" not in history.out
    rows = history.out.splitlines()[1:]
    assert rows[-1].startswith(f"✔ {LONG}  ")
    assert len({len(line) for line in rows}) == 1, history.out  # numbers end together

    logs = project.pipeline("logs", "--latest", env=narrow)
    assert logs.code == 0 and "…" not in logs.out
    rows = logs.out.splitlines()[2:]
    assert rows[-1].startswith(f"✔ {LONG}  succeeded")
    assert len(second_column(rows)) == 1, logs.out


def test_a_terminal_gets_lines_cut_to_its_width(tmp_path, project):
    with_a_long_stage(project)
    assert project.pipeline("run").code == 0
    for argv in (("status",), ("history",), ("logs", "--latest")):
        code, text, _ = run_in_terminal(project.root, cols=60, argv=argv)
        assert code == 0, text
        lines = [line for line in ANSI.sub("", text).replace("\r", "").split("\n") if line]
        assert all(columns(line) <= 60 for line in lines), (argv, lines)
        assert any(line.endswith("…") or "…" in line for line in lines), (argv, lines)


def test_columns_stay_aligned_when_every_id_is_shorter_than_its_heading(project):
    """Ids shorter than the heading `STAGE` (`a`, `up`): the column is as wide as the
    heading, or the header's columns stand to the right of the rows'."""
    graph = project.graph()
    renamed = {"extract": "a", "transform": "up", "publish": "pub"}
    for stage in graph["stages"]:
        stage["id"] = renamed[stage["id"]]
        stage["dependsOn"] = [renamed[d] for d in stage.get("dependsOn", [])]
    graph["pipelines"][0]["stages"] = [renamed[s] for s in graph["pipelines"][0]["stages"]]
    project.write_graph(graph)
    assert project.pipeline("run").code == 0, "the renamed graph runs"
    project.path("data/source.txt").write_text("changed\n")

    status = project.pipeline("status")
    rows = status.out.splitlines()[1:]
    assert len(second_column(rows)) == 1, status.out

    logs = project.pipeline("logs", "--latest")
    rows = logs.out.splitlines()[2:]
    assert len(second_column(rows)) == 1, logs.out

    history = project.pipeline("history")
    rows = history.out.splitlines()[1:]
    assert len({len(line) for line in rows}) == 1, history.out
