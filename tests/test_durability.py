"""What a killed run keeps: every stage that finished before the kill stays done."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def test_sigkill_mid_run_keeps_finished_stages_and_redoes_the_one_in_flight(project):
    graph = project.graph()
    stage = graph["stages"][1]
    stage["command"]["args"] = ["-e", "console.log('hanging'); "
                                      f"setTimeout(() => {{}}, 60000) // {marker(project)}"]
    stage["outputs"] = []
    project.write_graph(graph)
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "run", "--to", "transform"],
                            cwd=project.root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    wait_for_output(project, "hanging")  # the stage is in flight
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    record = project.last_record()  # still parseable
    assert record["status"] == "running"
    result = project.pipeline("run", "--dry-run", "--to", "transform")
    lines = [" ".join(line.split()) for line in result.out.splitlines()]
    assert "up to date extract" in lines
    assert any(line.startswith("run transform") for line in lines)
    assert project.counts() == {"extract": 1}
    # and the events file holds only complete lines
    events = project.path(f".pipeline-runs/{record['runId']}.log").read_text().splitlines()
    assert all(json.loads(line) for line in events)
    subprocess.run(["pkill", "-f", marker(project)])  # the hanging stage outlived SIGKILL


def marker(project) -> str:
    """A token unique to this test's processes, to find them among the machine's."""
    return f"hang-{abs(hash(str(project.root))) % 10**9}"


def survivors(project) -> list[str]:
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in ps.splitlines() if marker(project) in line]


def hanging_transform(project) -> None:
    graph = project.graph()
    stage = graph["stages"][1]
    sleep = f"import time; time.sleep(120)  # {marker(project)}"
    stage["command"] = {"executable": "python3", "args": [
        "-c", f"import subprocess, time; subprocess.Popen(['python3', '-c', {sleep!r}]); "
              f"print('hanging', flush=True); {sleep}"]}
    stage["outputs"] = []
    project.write_graph(graph)


def start_run(project, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "run", "--to", "transform",
                             *args], cwd=project.root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    wait_for_output(project, "hanging")
    return proc


def wait_for_output(project, text: str) -> None:
    """Until the transform stage's log shows `text` (a log exists once a stage prints)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = list(project.root.glob(".pipeline-runs/*/transform.log"))
        if logs and text in logs[0].read_text():
            return
        time.sleep(0.05)
    raise AssertionError("the run did not reach its hanging stage")


def test_sigterm_stops_the_stage_group_and_records_the_interrupt(project):
    hanging_transform(project)
    proc = start_run(project)
    proc.send_signal(signal.SIGTERM)  # like a cancelled CI job
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, (out, err)
    assert "terminated" in err
    record = project.last_record()
    assert record["status"] == "interrupted"
    assert project.statuses(record)["transform"] == "failed"
    assert survivors(project) == []  # no stage process outlives the run


def test_a_second_run_is_refused_while_one_is_running_then_may_wait(project):
    hanging_transform(project)
    first = start_run(project)
    try:
        second = project.pipeline("run", "--to", "extract")
        assert second.code == 2
        running = project.records()[0]["runId"]
        assert f"run {running}, pid {first.pid}" in second.err
        assert len(second.err.strip().splitlines()) == 1
        doit = project.doit("run", "extract")
        assert doit.code == 2 and "already in progress" in doit.err
        assert "use --wait" in second.err
        assert "--wait" not in doit.err  # plain doit has no --wait
        assert "wait for it to end, then run again" in doit.err
        assert len(doit.err.strip().splitlines()) == 1, doit.err  # said once, as by pipeline
        waiter = subprocess.Popen([sys.executable, "-m", "orchestrator", "run", "--to",
                                   "extract", "--wait"], cwd=project.root,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1)
        assert waiter.poll() is None  # still waiting for the lock
    finally:
        os.killpg(first.pid, signal.SIGINT)
        first.communicate(timeout=60)
    assert waiter.wait(timeout=60) == 0


def test_wait_refuses_a_missing_required_variable_before_it_waits(project):
    """`--wait` while another run holds the project: what the run would refuse at once
    (a required variable unset) is refused before waiting, as without --wait."""
    hanging_transform(project)
    graph = project.graph()
    graph["stages"][2]["environment"] = [{"name": "API_TOKEN", "required": True}]
    project.write_graph(graph)
    first = start_run(project)  # to transform: publish, which needs the token, not run
    try:
        env = {k: v for k, v in os.environ.items() if k != "API_TOKEN"}
        waiter = subprocess.run([sys.executable, "-m", "orchestrator", "run", "--wait"],
                                cwd=project.root, capture_output=True, text=True,
                                timeout=20, env=env)
        assert waiter.returncode == 2, waiter.stderr
        assert waiter.stderr.strip() == ("pipeline: error: required environment variable "
                                         "not set or empty: API_TOKEN (stage publish)")
        assert first.poll() is None  # the first run still holds the project
    finally:
        os.killpg(first.pid, signal.SIGINT)
        first.communicate(timeout=60)


def test_a_dead_runs_lock_is_taken_and_its_record_marked_interrupted(project):
    hanging_transform(project)
    first = start_run(project)
    os.killpg(first.pid, signal.SIGKILL)  # the run and its stage die at once
    first.communicate()
    dead = project.records()[0]
    assert dead["status"] == "running"
    result = project.pipeline("run", "--to", "extract")
    assert result.code == 0, result.text
    dead_now = next(r for r in project.records() if r["runId"] == dead["runId"])
    assert dead_now["status"] == "interrupted"
    assert project.statuses(dead_now) == {"extract": "succeeded", "transform": "failed",
                                          "publish": "skipped"}
    # SIGKILL cannot be caught: the stage's own process group outlived its runner
    subprocess.run(["pkill", "-f", marker(project)])


def long_chain(project, length: int = 12) -> list[str]:
    """A chain of quick python stub stages: stage k copies its predecessor's output."""
    graph = {"pipelines": [], "artifacts": [{"id": "a0", "type": "file",
                                             "path": "data/source.txt"}], "stages": []}
    for k in range(1, length + 1):
        graph["artifacts"].append({"id": f"a{k}", "type": "file", "path": f"build/{k}.json"})
        graph["stages"].append({
            "id": f"s{k}", "dependsOn": [f"s{k - 1}"] if k > 1 else [],
            "command": {"executable": "python3", "args": [
                "stages/stub.py", f"s{k}", "--in", graph["artifacts"][k - 1]["path"],
                "--out", f"build/{k}.json"]},
            "inputs": [{"artifact": f"a{k - 1}"}], "outputs": [{"artifact": f"a{k}"}]})
    ids = [s["id"] for s in graph["stages"]]
    graph["pipelines"].append({"id": "full-refresh", "stages": ids})
    project.write_graph(graph)
    return ids


def test_kill_at_several_moments_redoes_only_the_stage_in_flight(make_project):
    finished_counts = []
    for trial, moment in enumerate((0.35, 0.7, 1.1)):
        project = make_project("basic")
        project.root.rename(project.root.with_name(f"trial{trial}"))
        project.root = project.root.with_name(f"trial{trial}")
        ids = long_chain(project)
        proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "run"],
                                cwd=project.root, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        # the moments count from the run's start (its record), not the process's: on a
        # busy machine start-up alone can outlast the first of them
        deadline = time.monotonic() + 30
        while not list(project.root.glob(".pipeline-runs/*.json")):
            assert time.monotonic() < deadline and proc.poll() is None, "the run never started"
            time.sleep(0.01)
        time.sleep(moment)
        proc.send_signal(signal.SIGKILL)  # the runner alone: its stage may finish anyway
        proc.wait()
        time.sleep(0.3)  # let an orphaned stage finish writing
        # on a busy machine the kill may come before the run wrote its record: then
        # nothing had finished, and the promise is that the next run does it all once
        events = sorted(project.path(".pipeline-runs").glob("*.log"))
        finished = {e["stageId"] for e in map(json.loads, events[0].read_text().splitlines()
                                              if events else [])
                    if e["event"] == "stage-finished" and e["status"] == "succeeded"}
        before = project.counts()
        assert project.pipeline("run").code == 0
        after = project.counts()
        assert set(after) == set(ids)
        redone = [sid for sid in ids if after[sid] > 1]
        # at most the stage in flight, and one that ended within the 50 ms a commit of
        # doit's state may wait for (these stub stages take longer than that)
        assert len(redone) <= 2, (moment, redone)
        assert not set(redone) & finished, (moment, redone, finished)
        assert all(after[sid] == before[sid] for sid in finished)  # not run again
        finished_counts.append(len(finished))
    assert max(finished_counts) > 0  # some kills came after stages had finished


def test_state_is_doits_sqlite_file_in_wal_mode_and_plain_doit_reads_it(project):
    """Commits per stage go to a write-ahead log (cheap, and kept when the run is
    killed, as the test above shows); the file stays one plain doit opens."""
    import sqlite3

    project.pipeline("run")
    with sqlite3.connect(project.root / ".doit.db") as conn:
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
        stages = {row[0] for row in conn.execute("select task_id from doit")}
    assert {s["id"] for s in project.graph()["stages"]} <= stages
    plain = subprocess.run([sys.executable, "-m", "doit", "run", "full-refresh"],
                           cwd=project.root, capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr
    assert "0 ran" in plain.stdout and project.counts() == {
        s["id"]: 1 for s in project.graph()["stages"]}


# -- one run at a time, whatever starts it; nothing written outside ---------------------


def test_deleting_the_runs_folder_mid_run_does_not_let_a_second_run_start(project):
    hanging_transform(project)
    first = start_run(project)
    try:
        shutil.rmtree(project.path(".pipeline-runs"))  # what `make clean` does
        second = project.pipeline("run", "--to", "extract")
        assert second.code == 2, second.text
        assert "a run is already in progress in this project" in second.err
        assert len(second.err.strip().splitlines()) == 1
    finally:
        os.killpg(first.pid, signal.SIGINT)
        first.communicate(timeout=60)
    assert project.counts().get("extract") == 1


def test_plain_doit_with_another_reporter_still_waits_its_turn(project):
    hanging_transform(project)
    first = start_run(project)
    try:
        other = project.doit("run", "-a", "--reporter", "executed-only", "extract")
        assert other.code != 0, other.text
        assert "a run is already in progress in this project" in other.text
        assert "Traceback" not in other.text
        assert project.counts().get("extract") == 1  # not run a second time beside it
    finally:
        os.killpg(first.pid, signal.SIGINT)
        first.communicate(timeout=60)
    again = project.doit("run", "-a", "--reporter", "executed-only", "extract")
    assert again.code == 0, again.text  # alone, it runs
    assert project.counts().get("extract") == 2


@pytest.mark.parametrize("linked", [".pipeline-runs/.lock", ".pipeline-runs", ".doit.db"])
def test_a_state_path_linked_outside_the_project_is_refused(project, tmp_path, linked):
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "precious.txt"
    victim.write_text("keep me\n")
    target = outside if linked == ".pipeline-runs" else victim
    path = project.path(linked)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)
    result = project.pipeline("run")
    assert result.code == 2, result.text
    assert result.err.strip() == (
        f"pipeline: error: {linked} is a symbolic link leading outside the project root (to "
        f"{os.path.realpath(target)}); refusing to write through it")
    assert victim.read_text() == "keep me\n"
    assert sorted(p.name for p in outside.iterdir()) == ["precious.txt"]
    assert project.counts() == {}
    assert project.doit("run", "extract").code != 0
    assert victim.read_text() == "keep me\n" and project.counts() == {}


@pytest.mark.parametrize("linked", [".doit.db", ".doit.db-wal", ".pipeline-runs/.cache"])
def test_a_state_path_linked_to_nothing_yet_outside_is_refused_by_plain_doit_too(
        project, tmp_path, linked):
    """A link to a file that does not exist yet: opening the state DB through it would
    create that file outside the project. `pipeline run` and plain `doit run` refuse
    before anything opens it: one line, exit 2, nothing created outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    path = project.path(linked)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(outside / "new-file", path)
    expected = (f"{linked} is a symbolic link leading outside the project root (to "
                f"{os.path.realpath(outside / 'new-file')}); refusing to write through it")
    result = project.pipeline("run")
    assert result.code == 2 and result.err.strip() == f"pipeline: error: {expected}", \
        result.text
    assert list(outside.iterdir()) == []
    result = project.doit("run", "extract")
    assert result.code == 2 and result.err.strip() == f"error: {expected}", result.text
    assert list(outside.iterdir()) == [] and project.counts() == {}


# -- every exit path ends the stage's whole process group --------------------------------


def _stubborn_transform(project) -> None:
    """transform ignores SIGINT and SIGTERM (and so does the child it starts)."""
    graph = project.graph()
    # the marker first: `ps` may show only the start of a long command line
    code = (f"# {marker(project)}\nimport signal, subprocess, time\n"
            "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            f"subprocess.Popen(['python3', '-c', '# {marker(project)}\\nimport signal, time; "
            f"signal.signal(signal.SIGINT, signal.SIG_IGN); "
            f"signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)'])\n"
            "print('hanging', flush=True)\n"
            "time.sleep(120)\n")
    graph["stages"][1]["command"] = {"executable": "python3", "args": ["-c", code]}
    graph["stages"][1]["outputs"] = []
    project.write_graph(graph)


def test_a_second_signal_during_the_grace_period_still_ends_the_stage_group(project):
    _stubborn_transform(project)
    env = {**os.environ, "PIPELINE_KILL_GRACE": "60"}
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "run", "--to", "transform"],
                            cwd=project.root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for_output(project, "hanging")
        proc.send_signal(signal.SIGINT)  # the stage ignores it: the grace period begins
        time.sleep(1)
        assert proc.poll() is None
        assert survivors(project)
        proc.send_signal(signal.SIGTERM)  # a CI runner's second step of cancelling
        proc.communicate(timeout=20)
        assert proc.returncode in (130, 143)
        assert survivors(project) == []  # gone before the runner exited
        assert project.last_record()["status"] == "interrupted"
    finally:
        proc.kill()
        subprocess.run(["pkill", "-9", "-f", marker(project)])


def test_a_child_holding_the_output_open_does_not_hold_the_run(project):
    graph = project.graph()
    graph["stages"][0]["command"] = {"executable": "python3", "args": ["-c", (
        "import subprocess; print('started a helper', flush=True); "
        f"subprocess.Popen(['python3', '-c', 'import time; time.sleep(120)  # {marker(project)}'])"
    )]}
    graph["stages"][0]["outputs"] = []
    project.write_graph(graph)
    started = time.monotonic()
    result = project.pipeline("run", "--to", "extract")
    took = time.monotonic() - started
    try:
        assert result.code == 0, result.text
        assert took < 20
        entry = {s["id"]: s for s in project.last_record()["stages"]}["extract"]
        log = project.path(entry["logPath"]).read_text()
        assert "started a helper" in log
        assert "a process it started still held its output open" in log
        assert survivors(project) == []
    finally:
        subprocess.run(["pkill", "-9", "-f", marker(project)])


def quick_then_waiting(project) -> Path:
    """Three stages: two quick `cp`s, then one that waits for a flag file (at most 30 s)."""
    flag = project.path("go")
    wait = f"import os, time\nwhile not os.path.exists({str(flag)!r}): time.sleep(0.02)"
    graph = {"artifacts": [{"id": "a0", "type": "file", "path": "data/source.txt"},
                           {"id": "a1", "type": "file", "path": "build/1.txt"},
                           {"id": "a2", "type": "file", "path": "build/2.txt"}],
             "stages": [{"id": "q1", "command": {"executable": "cp",
                                                 "args": ["data/source.txt", "build/1.txt"]},
                         "inputs": [{"artifact": "a0"}], "outputs": [{"artifact": "a1"}]},
                        {"id": "q2", "dependsOn": ["q1"],
                         "command": {"executable": "cp", "args": ["build/1.txt", "build/2.txt"]},
                         "inputs": [{"artifact": "a1"}], "outputs": [{"artifact": "a2"}]},
                        {"id": "waits", "dependsOn": ["q2"],
                         "command": {"executable": "python3", "args": ["-c", wait]},
                         "inputs": [{"artifact": "a2"}], "timeout": 30}],
             "pipelines": [{"id": "all", "stages": ["q1", "q2", "waits"]}]}
    project.path("build").mkdir(exist_ok=True)
    project.write_graph(graph)
    return flag


def test_quick_stages_are_recorded_and_stored_while_the_next_stage_runs(project):
    # State commits and event writes come in batches (at most 50 ms apart), but a batch
    # is never held back by a long stage: the two quick stages are recorded finished,
    # and stored as such, while the third still runs; killed then, the run keeps them.
    quick_then_waiting(project)
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "run"], cwd=project.root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        seen: set = set()
        while time.monotonic() < deadline and not {"q1", "q2", "waits"} <= seen:
            logs = list(project.root.glob(".pipeline-runs/*.log"))
            lines = logs[0].read_text().splitlines() if logs else []
            events = [json.loads(line) for line in lines]
            seen = {e["stageId"] for e in events if e["event"] == "stage-finished"
                    and e["status"] == "succeeded"} | \
                   {e["stageId"] for e in events if e["event"] == "stage-started"
                    and e["stageId"] == "waits"}
            time.sleep(0.02)
        assert {"q1", "q2", "waits"} <= seen, seen  # while `waits` still waits
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    result = project.pipeline("run", "--dry-run")
    lines = [" ".join(line.split()) for line in result.out.splitlines()]
    assert "up to date q1" in lines and "up to date q2" in lines, result.out
    assert any(line.startswith("run waits") for line in lines), result.out
