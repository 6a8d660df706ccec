"""The whole-graph fast path: a no-op `pipeline run` decided from a stamp of stats.

Every test runs the real CLI on real files: a run that changed nothing must take the
fast path (no stage runs, a small record), and each kind of change the full path would
see must make it decline (the stage reruns, for the reason the full path gives).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Project
from test_freshness import copy_stage, keep_times, make

FAST = "(fast path: nothing the stages read"  # the whole fast path's line
PARTIAL = "(fast path: nothing they read"  # the partial fast path's line
DODO = "from orchestrator.dodo import *  # noqa: F403\n"

HELPER = "def shout(text):\n    return text.upper()\n"
IMPORTING = ("import os, sys\nfrom helpers import shout\n"
             "os.makedirs('out', exist_ok=True)\nos.makedirs('.counts', exist_ok=True)\n"
             "open('.counts/loud', 'a').write('ran\\n')\n"
             "open(sys.argv[1], 'w').write(shout(open('data/in.txt').read()))\n")


def chain(tmp_path: Path, **extra_files: str) -> Project:
    """in.txt -> first (copy) -> mid -> second (copy) -> result; plus `tree/` read by first."""
    artifacts = [{"id": "in", "type": "file", "path": "data/in.txt"},
                 {"id": "tree", "type": "directory", "path": "data/tree"},
                 {"id": "mid", "type": "file", "path": "out/mid"},
                 {"id": "result", "type": "file", "path": "out/result"}]
    stages = [copy_stage("first", ["in", "tree"], "mid", ["data/in.txt", "data/tree"]),
              copy_stage("second", ["mid"], "result", ["out/mid"], dependsOn=["first"],
                         environment=[{"name": "GREETING", "required": False}])]
    return make(tmp_path, {"artifacts": artifacts, "stages": stages},
                {"data/in.txt": "in\n", "data/tree/a.txt": "a\n", **extra_files})


def settled(project: Project, *args: str, env=None) -> None:
    """Run until a run has taken the fast path (the first may find its files too new)."""
    assert project.pipeline("run", *args, env=env).code == 0
    for _ in range(3):
        again = project.pipeline("run", *args, env=env)
        assert again.code == 0, again.text
        if FAST in again.out:
            return
        time.sleep(0.1)
    raise AssertionError("no run took the fast path:\n" + again.text)


def ran(project: Project) -> dict[str, int]:
    return {k: v for k, v in project.counts().items()}


def stamp_files(project: Project) -> list[Path]:
    """The stamps (not their side files, `.stages.json`)."""
    folder = project.path(".pipeline-runs/.cache/fast-path")
    return sorted(p for p in folder.glob("*.json")
                  if not p.name.endswith(".stages.json")) if folder.is_dir() else []


def test_a_run_where_nothing_changed_takes_the_fast_path(tmp_path):
    project = chain(tmp_path)
    settled(project)
    before = ran(project)
    result = project.pipeline("run")
    assert result.code == 0, result.text
    assert ran(project) == before  # nothing executed
    assert "all succeeded in" in result.out and "0 ran, 2 up to date (fast path" in result.out
    assert result.out.count("\n") == 1  # one line
    record = project.last_record()
    assert record["status"] == "succeeded" and record["pipelineId"] == "all"
    assert record["fastPath"]["stages"] == 2 and record["stages"] == []
    assert record["options"]["command"] == "run"
    events = project.events(record)
    assert [e["event"] for e in events] == ["run-started", "stages-up-to-date",
                                            "run-finished"]
    assert events[1]["stages"] == 2  # one event for all, not one per stage
    shown = project.pipeline("logs", "--latest")
    assert "all 2 stages up to date (fast path" in shown.out, shown.text
    history = project.pipeline("history")
    assert "found every stage up to date on the fast path" in history.out, history.text


@pytest.mark.parametrize("change", [
    "input", "input-times-kept", "tree-new-file", "tree-edit", "output-removed",
    "output-edited", "script", "environment", "pipeline-variable", "graph",
    "doit-forget", "doit-run"])
def test_every_change_the_full_path_sees_declines_the_fast_path(tmp_path, change):
    project = chain(tmp_path)
    env = {**os.environ, "GREETING": "hello"}
    settled(project, env=env)
    before = ran(project)
    expect = {"first": 1, "second": 1}  # how many more times each stage runs
    if change == "input":
        project.path("data/in.txt").write_text("in, edited\n")
    elif change == "input-times-kept":
        keep_times(project.path("data/in.txt"), "IN\n")
    elif change == "tree-new-file":
        project.path("data/tree/sub").mkdir()
        project.path("data/tree/sub/b.txt").write_text("b\n")
    elif change == "tree-edit":
        keep_times(project.path("data/tree/a.txt"), "A\n")
    elif change == "output-removed":
        project.path("out/result").unlink()
        expect = {"first": 0, "second": 1}
    elif change == "output-edited":
        project.path("out/mid").write_text("tampered\n")
        expect = {"first": 1, "second": 0}  # rewritten as it was: second is cut off
    elif change == "script":
        script = project.path("stages/copy.py")
        script.write_text(script.read_text() + "# edited\n")
    elif change == "environment":
        env["GREETING"] = "bye"
        expect = {"first": 0, "second": 1}
    elif change == "pipeline-variable":
        env["PIPELINE_SOMETHING"] = "1"  # may change how the runner decides: full path
        expect = {"first": 0, "second": 0}
    elif change == "graph":
        graph = project.graph()
        graph["stages"][1]["command"]["args"].append("out/mid")  # read twice
        project.write_graph(graph)
        expect = {"first": 0, "second": 1}
    elif change.startswith("doit"):
        project.path("dodo.py").write_text(DODO)
    if change == "doit-forget":
        forgot = project.doit("forget", "second")
        assert forgot.code == 0, forgot.text
        expect = {"first": 0, "second": 1}
    elif change == "doit-run":
        project.path("data/in.txt").write_text("in, edited\n")
        by_doit = project.doit("run", "first", env=env)
        assert by_doit.code == 0, by_doit.text
        project.path("data/in.txt").write_text("in\n")  # back: doit saw the edit
        expect = {"first": 2, "second": 0}  # once by doit, once now
    result = project.pipeline("run", env=env)
    assert result.code == 0, result.text
    assert FAST not in result.out, result.text
    after = ran(project)
    assert {sid: after.get(sid, 0) - before.get(sid, 0) for sid in expect} == expect, \
        result.text
    # and the run after that is a no-op again, on the fast path or not
    again = project.pipeline("run", env=env)
    assert ran(project) == after, again.text


def test_a_touched_graph_with_the_same_content_keeps_the_fast_path(tmp_path):
    project = chain(tmp_path)
    settled(project)
    graph = project.path("pipeline/stage-graph.json")
    graph.write_bytes(graph.read_bytes())
    time.sleep(0.1)
    assert FAST in project.pipeline("run").out


def test_an_imported_module_and_a_new_script_decline_it(tmp_path):
    artifacts = [{"id": "in", "type": "file", "path": "data/in.txt"},
                 {"id": "loud", "type": "file", "path": "out/loud"}]
    stage = {"id": "loud", "command": {"executable": "python3",
                                       "args": ["stages/loud.py", "out/loud", "extra.py"]},
             "inputs": [{"artifact": "in"}], "outputs": [{"artifact": "loud"}]}
    project = make(tmp_path, {"artifacts": artifacts, "stages": [stage]},
                   {"data/in.txt": "hi\n", "stages/loud.py": IMPORTING,
                    "stages/helpers.py": HELPER})
    settled(project)
    helper = project.path("stages/helpers.py")
    helper.write_text(helper.read_text() + "# edited\n")
    result = project.pipeline("run")
    assert FAST not in result.out
    assert project.last_record()["stages"][0]["reason"] == \
        "imported module changed: stages/helpers.py"
    settled(project)
    # an argument that was not a file becomes one: the full path now tracks it
    project.path("extra.py").write_text("# a script now\n")
    result = project.pipeline("run")
    assert FAST not in result.out and project.counts()["loud"] == 3, result.text


def test_an_env_file_edit_declines_it(tmp_path):
    project = chain(tmp_path)
    project.path(".env").write_text("GREETING=hello\n")
    settled(project, "--env-file", ".env")
    project.path(".env").write_text("GREETING=howdy\n")
    result = project.pipeline("run", "--env-file", ".env")
    assert FAST not in result.out
    assert project.last_record()["stages"][1]["reason"] == "environment changed: GREETING"


def test_each_selection_has_its_own_stamp_and_forced_or_dry_runs_never_use_one(tmp_path):
    project = chain(tmp_path)
    settled(project)
    only = project.pipeline("run", "--only", "second")
    assert FAST not in only.out  # another selection: no stamp yet
    assert FAST in project.pipeline("run", "--only", "second").out
    assert FAST in project.pipeline("run").out  # the first selection's still holds
    before = ran(project)
    forced = project.pipeline("run", "--force")
    assert FAST not in forced.out and ran(project)["first"] == before["first"] + 1
    time.sleep(0.1)
    assert FAST in project.pipeline("run").out  # a forced run leaves a stamp
    assert FAST not in project.pipeline("run", "--log-level", "debug").out
    dry = project.pipeline("run", "--dry-run")
    assert FAST not in dry.out and "Plan for" in dry.out
    full = project.pipeline("run", "--no-fast-path")
    assert FAST not in full.out and "0 ran, 2 up to date" in full.out, full.text
    assert FAST in project.pipeline("run").out  # the stamp it wrote holds


def test_a_stage_that_always_runs_gets_no_stamp_and_max_age_bounds_it(tmp_path):
    artifacts = [{"id": "in", "type": "file", "path": "data/in.txt"},
                 {"id": "a", "type": "file", "path": "out/a"},
                 {"id": "b", "type": "file", "path": "out/b"}]
    always = make(tmp_path / "always", {"artifacts": artifacts, "stages": [
        copy_stage("clone", ["in"], "a", ["data/in.txt"],
                   sideEffects=[{"type": "git", "description": "clones"}])]},
        {"data/in.txt": "x\n"})
    for _ in range(3):
        assert FAST not in always.pipeline("run").out
    assert always.counts()["clone"] == 3
    assert stamp_files(always) == []

    bounded = make(tmp_path / "bounded", {"artifacts": artifacts, "stages": [
        copy_stage("fetch", ["in"], "b", ["data/in.txt"],
                   sideEffects=[{"type": "network", "maxAge": "2s"}])]},
        {"data/in.txt": "x\n"})
    settled(bounded)
    assert bounded.counts()["fetch"] == 1
    time.sleep(2.2)
    late = bounded.pipeline("run")
    assert FAST not in late.out and bounded.counts()["fetch"] == 2, late.text


def test_a_failed_run_removes_the_stamp(tmp_path):
    project = chain(tmp_path)
    settled(project)
    assert len(stamp_files(project)) == 1
    script = project.path("stages/copy.py")
    script.write_text("raise SystemExit(3)\n")
    assert project.pipeline("run").code == 1
    assert stamp_files(project) == []


@pytest.mark.parametrize("kind", ["garbage", "not-an-object", "fifo", "link", "wrong-types"])
def test_a_damaged_stamp_falls_back_to_the_full_path(tmp_path, kind):
    project = chain(tmp_path)
    settled(project)
    (stamp,) = stamp_files(project)
    data = json.loads(stamp.read_text())
    stamp.unlink()
    if kind == "garbage":
        stamp.write_bytes(b"\x00{not json")
    elif kind == "not-an-object":
        stamp.write_text("[1, 2]")
    elif kind == "fifo":
        os.mkfifo(stamp)
    elif kind == "link":
        outside = tmp_path / "elsewhere.json"
        outside.write_text(json.dumps(data))
        stamp.symlink_to(outside)
    elif kind == "wrong-types":
        stamp.write_text(json.dumps({**data, "stat": 5, "statSig": "x"}))
    result = project.pipeline("run")
    assert result.code == 0 and "Traceback" not in result.text, result.text
    if kind != "link":  # a link to a valid stamp elsewhere is followed: it is only data
        assert FAST not in result.out
    if kind == "link":
        assert (tmp_path / "elsewhere.json").read_text() == json.dumps(data)


def test_a_file_rewritten_within_the_clock_tick_is_compared_by_content(tmp_path):
    """A file written just before the stamp may change again with the same stat (the
    same size, in the same tick of the filesystem clock): its digest is kept and
    compared. Simulated: the stamp's recorded stat is set to the file's new stat."""
    project = chain(tmp_path)
    settled(project)
    (stamp,) = stamp_files(project)
    data = json.loads(stamp.read_text())
    target = project.path("out/result")
    index = data["stat"].index("out/result")
    target.write_text(target.read_text().upper())  # same size, other content
    st = target.stat()
    data["statSig"][4 * index: 4 * index + 4] = [st.st_size, st.st_mtime_ns,
                                                 st.st_ctime_ns, st.st_ino]
    data["racy"]["out/result"] = "0" * 64  # its digest as when the stamp was written
    stamp.write_text(json.dumps(data))
    result = project.pipeline("run")
    assert FAST not in result.out
    assert ran(project)["second"] == 2  # output changed: rerun


def test_a_run_in_progress_is_refused_as_on_the_full_path(tmp_path):
    project = chain(tmp_path)
    settled(project)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time\n"
         "fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(30)",
         str(project.root)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = project.pipeline("run")
        assert result.code == 2, result.text
        assert "a run is already in progress" in result.err
    finally:
        holder.kill()
        holder.wait()


def test_the_record_of_a_large_no_op_on_the_fast_path_is_small(tmp_path):
    """Records of fast-path runs stay small whatever the size of the graph."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.generate import write_graph_project

    root = tmp_path / "big"
    write_graph_project(root, "chain", 2000)
    project = Project(root)
    settled(project)
    record = project.last_record()
    assert record["fastPath"]["stages"] == 2000
    runs = root / ".pipeline-runs"
    assert (runs / f"{record['runId']}.json").stat().st_size < 16 * 1024
    assert (runs / f"{record['runId']}.log").stat().st_size < 16 * 1024


def test_a_fast_path_run_writes_the_job_summary_and_reports(tmp_path):
    project = chain(tmp_path)
    settled(project)
    summary = tmp_path / "summary.md"
    result = project.pipeline("run", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert FAST in result.out, result.text
    assert "2 up-to-date (fast path)" in summary.read_text()
    quiet = project.pipeline("run", "--no-summary",
                             env={"GITHUB_STEP_SUMMARY": str(tmp_path / "none.md")})
    assert FAST in quiet.out and not (tmp_path / "none.md").exists()
    report = project.pipeline("report", "--latest", "-o", str(tmp_path / "r.html"))
    assert report.code == 0, report.text
    assert "up-to-date (fast path)" in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize("linked", [".pipeline-runs/.cache", ".pipeline-runs/.cache/fast-path"])
@pytest.mark.parametrize("how", [(), ("--no-fast-path",)])
def test_a_linked_cache_folder_never_takes_a_write_outside_the_project(tmp_path, linked, how):
    project = chain(tmp_path)
    settled(project)
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = project.path(linked)
    shutil.rmtree(folder)
    folder.symlink_to(outside)
    result = project.pipeline("run", *how)
    assert result.code == 2, result.text
    assert result.err.count("\n") == 1 and f"{linked} is a symbolic link" in result.err
    assert list(outside.iterdir()) == []


def test_a_stamp_from_another_checkout_never_matches(tmp_path):
    """Stats hold inodes and change times only this checkout's files have."""
    first = chain(tmp_path / "a")
    settled(first)
    second = Project(tmp_path / "b")
    shutil.copytree(first.root, second.root, symlinks=True)  # the same content, new files
    shutil.rmtree(second.path(".pipeline-runs/.cache/fast-path"))
    # the copy's own stamp, by its own name, replaced by the original's content
    assert FAST not in second.pipeline("run", "--no-fast-path").out
    (mine,) = stamp_files(second)
    (theirs,) = stamp_files(first)
    mine.write_bytes(theirs.read_bytes())
    result = second.pipeline("run")
    assert result.code == 0 and FAST not in result.out, result.text


MEDDLE = ("import os, sys\nwith open(sys.argv[1], 'a') as f:\n    f.write('\\n')\n"
          "os.makedirs('out', exist_ok=True)\n"
          "open('out/late', 'w').write(open('data/other.txt').read())\n")


@pytest.mark.parametrize("target", ["data/in.txt", "data/tree/a.txt", "out/mid",
                                    "pipeline/stage-graph.json"])
def test_a_change_made_during_the_run_after_a_stage_was_decided_declines_it(tmp_path,
                                                                            target):
    """A file the stamp covers changes while the run goes on, after the stages that read
    or wrote it were done (here a later stage appends to it; a person editing it is the
    same): the stamp must not vouch for what no stage saw. The next run decides stage by
    stage, and a stage whose input changed runs again."""
    project = chain(tmp_path, **{"stages/meddle.py": MEDDLE, "data/other.txt": "o\n"})
    graph = json.loads(project.path("pipeline/stage-graph.json").read_text())
    graph["artifacts"] += [{"id": "other", "type": "file", "path": "data/other.txt"},
                           {"id": "late", "type": "file", "path": "out/late"}]
    graph["stages"].append({"id": "meddler", "dependsOn": ["second"],
                            "command": {"executable": "python3",
                                        "args": ["stages/meddle.py", target]},
                            "inputs": [{"artifact": "other"}],
                            "outputs": [{"artifact": "late"}]})
    graph["pipelines"] = [{"id": "all", "stages": ["first", "second", "meddler"]}]
    project.path("pipeline/stage-graph.json").write_text(json.dumps(graph, indent=2))
    first = project.pipeline("run")
    assert first.code == 0, first.text
    assert ran(project) == {"first": 1, "second": 1}
    again = project.pipeline("run")
    assert again.code == 0, again.text
    assert FAST not in again.out, again.text
    if target.startswith("data/"):  # the input of `first`: it runs again, and `second`
        assert ran(project) == {"first": 2, "second": 2}, again.text
