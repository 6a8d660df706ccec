"""A damaged state file ends the run in one line and a record that says so, never a
traceback or a false "succeeded"."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess

import pytest


def test_a_damaged_row_of_the_state_is_taken_as_never_run(project):
    assert project.pipeline("run").code == 0
    with sqlite3.connect(project.path(".doit.db")) as conn:
        conn.execute("update doit set task_data = '{broken' where task_id = 'transform'")
    result = project.pipeline("run")
    assert result.code == 0, result.text
    assert "Traceback" not in result.text
    assert "warning: the saved state of 'transform' in .doit.db was damaged" in result.err
    assert project.counts() == {"extract": 1, "transform": 2, "publish": 1}
    assert project.pipeline("run").code == 0  # the row was written afresh
    assert project.counts()["transform"] == 2


def test_a_damaged_state_file_fails_the_run_in_one_line(project):
    assert project.pipeline("run").code == 0
    for extra in ("-wal", "-shm"):
        project.path(".doit.db" + extra).unlink(missing_ok=True)
    project.path(".doit.db").write_bytes(b"this is not a database" * 100)
    result = project.pipeline("run")
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    *errors, summary = result.err.strip().splitlines()  # the failed run's summary last
    assert summary.startswith("full-refresh failed in ")
    [line] = errors
    assert line.startswith("error: .doit.db cannot be used (")
    assert line.endswith("if it is damaged, delete it (every stage then runs again)")
    record = project.last_record()
    assert record["status"] == "failed"
    assert record["error"] == line.removeprefix("error: ")
    assert "succeeded" not in result.out
    assert project.counts() == {"extract": 1, "transform": 1, "publish": 1}


@pytest.fixture
def small_disk(tmp_path):
    """A 600 KiB tmpfs: a full disk, for real (needs root, as CI runs)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"not run: cannot mount a small tmpfs here ({done.stderr.strip()})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_fails_the_run_in_one_line_per_problem(make_project, small_disk):
    project = make_project("basic")
    shutil.copytree(project.root, small_disk, dirs_exist_ok=True)
    project.root = small_disk
    graph = project.graph()
    graph["stages"][1]["command"] = {"executable": "python3", "args": ["-c", (
        "print('filling the disk', flush=True); "
        "open('filler', 'wb').write(b'x' * 560000); print('and more ' * 10000)")]}
    project.write_graph(graph)
    result = project.pipeline("run")
    assert result.code == 1, result.text
    # the stage's own traceback streams with its output (stdout), and its tail is
    # repeated under the failure on stderr ("    | "); the runner adds none
    assert not any(line.startswith("Traceback") for line in result.err.splitlines())
    assert "PythonAction" not in result.text
    assert "no space left on device" in result.text
    *lines, summary = result.err.strip().splitlines()
    assert summary.startswith("full-refresh failed in "), result.err
    assert all(line.startswith(("error: ", "    ")) or "✖" in line for line in lines), result.err
    assert "succeeded" not in result.out
    assert not list(small_disk.glob(".pipeline-runs/.*.tmp"))
    (small_disk / "filler").unlink()
    graph["stages"][1]["command"] = {"executable": "node",
                                     "args": ["stages/stub.mjs", "transform", "--in",
                                              "build/raw.json", "--out", "build/clean.json"]}
    project.write_graph(graph)
    again = project.pipeline("run")  # space again: the next run completes
    assert again.code == 0, again.text
