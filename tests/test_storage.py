"""A damaged state file ends the run in one line and a record that says so, never a
traceback or a false "succeeded"."""

from __future__ import annotations

import sqlite3


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
    [line] = result.err.strip().splitlines()
    assert line.startswith("error: .doit.db cannot be used (")
    assert line.endswith("if it is damaged, delete it (every stage then runs again)")
    record = project.last_record()
    assert record["status"] == "failed"
    assert record["error"] == line.removeprefix("error: ")
    assert "succeeded" not in result.out
    assert project.counts() == {"extract": 1, "transform": 1, "publish": 1}
