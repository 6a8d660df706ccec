"""The partial fast path: the stamp declines for some stages' own files, variables or
maxAge only, and doit decides those stages and everything downstream of them; the
others are up to date by the stamp, in one line and one record field.

Real CLI, real files, real doit: each test counts what ran, reads the record, and checks
that the next run sees what this one did not decide on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Project
from test_fast_path import DODO, FAST, PARTIAL, ran, settled, stamp_files
from test_freshness import copy_stage, make

HOLD = """\
import os, sys, time
os.makedirs('.counts', exist_ok=True)
open('.counts/hold', 'a').write('ran\\n')
if os.path.exists('hold.flag'):
    open('holding', 'w').write('yes')
    probe = os.environ.get('PROBE_RUN')
    if probe:  # a second `pipeline run` while this one runs
        runner = os.environ['RUNNER_PYTHON']  # the tests' interpreter: it has the runner
        done = __import__('subprocess').run([runner, '-m', 'orchestrator', 'run'],
                                            capture_output=True, text=True)
        open(probe, 'w').write(f'{done.returncode}\\n{done.stderr}')
    else:
        time.sleep(60)
os.makedirs('out', exist_ok=True)
open(sys.argv[1], 'w').write(open('out/o3').read())
"""

MEDDLE = """\
import os, sys
os.makedirs('.counts', exist_ok=True)
open('.counts/meddler', 'a').write('ran\\n')
if os.path.exists('meddle.flag'):  # a change to a file only an untouched stage reads
    open('data/in.txt', 'a').write('more\\n')
os.makedirs('out', exist_ok=True)
open('out/late', 'w').write(open('data/other.txt').read())
"""


def chain5(tmp_path: Path, **stage_extra) -> Project:
    """in.txt -> c1 -> o1 -> c2 -> o2 -> c3 (also reads extra.txt) -> o3 -> c4 -> o4 -> c5
    -> o5; `stage_extra`: more fields for a stage, by id."""
    artifacts = [{"id": "in", "type": "file", "path": "data/in.txt"},
                 {"id": "extra", "type": "file", "path": "data/extra.txt"}]
    stages = []
    for i in range(1, 6):
        artifacts.append({"id": f"o{i}", "type": "file", "path": f"out/o{i}"})
        inputs = ["in"] if i == 1 else [f"o{i - 1}"]
        reads = ["data/in.txt"] if i == 1 else [f"out/o{i - 1}"]
        if i == 3:
            inputs, reads = inputs + ["extra"], reads + ["data/extra.txt"]
        more = {"dependsOn": [f"c{i - 1}"]} if i > 1 else {}
        stages.append(copy_stage(f"c{i}", inputs, f"o{i}", reads,
                                 **more, **stage_extra.get(f"c{i}", {})))
    return make(tmp_path, {"artifacts": artifacts, "stages": stages},
                {"data/in.txt": "in\n", "data/extra.txt": "extra\n"})


def delta(project: Project, before: dict[str, int]) -> dict[str, int]:
    """How many more times each stage ran (stages that did not run are left out)."""
    after = ran(project)
    return {sid: n - before.get(sid, 0) for sid, n in after.items() if n != before.get(sid, 0)}


def partial_record(project: Project) -> tuple[list[str], dict]:
    record = project.last_record()
    return [s["id"] for s in record["stages"]], record.get("fastPath")


def test_one_output_removed_at_the_end_runs_only_the_last_stage(tmp_path):
    project = chain5(tmp_path)
    settled(project)
    before = ran(project)
    project.path("out/o5").unlink()
    result = project.pipeline("run")
    assert result.code == 0, result.text
    assert delta(project, before) == {"c5": 1}
    assert "↷ 4 stages up to date (fast path: nothing they read has changed" in result.out
    assert "1 ran, 4 up to date (4 by the fast path)" in result.out
    assert result.out.count("\n") == 4, result.out  # fast path, started, done, summary
    ids, fast = partial_record(project)
    assert ids == ["c5"]
    assert fast["stages"] == 4 and fast["partial"] is True, fast
    assert project.last_record()["stages"][0]["reason"] == "output missing: out/o5"
    assert project.path("out/o5").read_text() == project.path("out/o4").read_text()
    # the stamp it wrote stands for the whole selection: the next run is a no-op
    again = project.pipeline("run")
    assert FAST in again.out and "0 ran, 5 up to date" in again.out, again.text
    assert delta(project, before) == {"c5": 1}


def test_counters_and_json_events_account_for_the_stamped_stages(tmp_path):
    """The stages doit decides are numbered after those the stamp found up to date, out
    of the whole selection; `--json-logs` (and the run's event log) says in one event how
    many the stamp settled and why, and `logs --follow`-style reading shows it."""
    project = chain5(tmp_path)
    settled(project)
    project.path("out/o4").unlink()
    result = project.pipeline("run")
    assert result.code == 0, result.text
    assert "▶ [4/5] c4 (output missing: out/o4)" in result.out, result.out
    assert "✔ [4/5] c4 done" in result.out and "↷ [5/5] c5 up to date" in result.out
    project.path("out/o5").unlink()
    as_json = project.pipeline("run", "--json-logs")
    assert as_json.code == 0, as_json.text
    events = [json.loads(line) for line in as_json.out.splitlines()]
    assert [e["event"] for e in events] == ["run-started", "stages-up-to-date",
                                            "stage-started", "stage-finished",
                                            "run-finished"], events
    stamped = events[1]
    assert stamped["stageId"] is None and stamped["status"] == "up-to-date"
    assert stamped["stages"] == 4 and stamped["reason"].startswith(
        "4 stages up to date (fast path: nothing they read has changed"), stamped
    record = project.last_record()
    kept = (project.root / ".pipeline-runs" / f"{record['runId']}.log").read_text()
    assert [json.loads(line)["event"] for line in kept.splitlines()] == \
        [e["event"] for e in events]
    # a whole fast-path run says it the same way
    whole = project.pipeline("run", "--json-logs")
    events = [json.loads(line) for line in whole.out.splitlines()]
    assert [e["event"] for e in events] == ["run-started", "stages-up-to-date",
                                            "run-finished"], events
    assert events[1]["stages"] == 5 and events[1]["reason"].startswith("all 5 stages")
    shown = project.pipeline("logs", "--latest", "--follow")
    assert "↷ all 5 stages up to date (fast path" in shown.out, shown.text


def test_the_record_of_a_partial_run_of_a_large_graph_is_small(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.generate import write_graph_project

    root = tmp_path / "big"
    write_graph_project(root, "chain", 1000)
    project = Project(root)
    settled(project)
    project.path("data/s1000.txt").unlink()
    result = project.pipeline("run")
    assert result.code == 0, result.text
    assert "1 ran, 999 up to date (999 by the fast path)" in result.out, result.text
    assert result.out.count("\n") == 4, result.out
    record = project.last_record()
    assert [s["id"] for s in record["stages"]] == ["s999"]
    assert record["stages"][0]["status"] == "succeeded"
    runs = root / ".pipeline-runs"
    assert (runs / f"{record['runId']}.json").stat().st_size < 16 * 1024
    assert (runs / f"{record['runId']}.log").stat().st_size < 16 * 1024
    assert project.path("data/s1000.txt").read_text() == "benchmark source\n"
    assert FAST in project.pipeline("run").out


def test_an_input_changed_in_the_middle_is_decided_by_doit_downstream_only(tmp_path):
    project = chain5(tmp_path)
    settled(project)
    before = ran(project)
    project.path("data/extra.txt").write_text("extra, edited\n")
    result = project.pipeline("run")
    assert result.code == 0, result.text
    assert PARTIAL in result.out, result.text
    assert delta(project, before) == {"c3": 1, "c4": 1, "c5": 1}  # upstream untouched
    ids, fast = partial_record(project)
    assert ids == ["c3", "c4", "c5"] and fast["stages"] == 2
    assert project.last_record()["stages"][0]["reason"] == "input changed: data/extra.txt"
    assert "extra, edited" in project.path("out/o5").read_text()
    assert FAST in project.pipeline("run").out


def test_downstream_stages_are_decided_by_content_not_forced(tmp_path):
    """An output edited by hand: its writer and its reader are decided; the writer
    rewrites it as it was, so the reader and everything after it stay up to date."""
    project = chain5(tmp_path)
    settled(project)
    before = ran(project)
    project.path("out/o2").write_text("tampered\n")
    result = project.pipeline("run")
    assert result.code == 0, result.text
    assert delta(project, before) == {"c2": 1}
    ids, fast = partial_record(project)
    assert ids == ["c2", "c3", "c4", "c5"] and fast["stages"] == 1
    statuses = project.statuses()
    assert statuses == {"c2": "succeeded", "c3": "up-to-date", "c4": "up-to-date",
                        "c5": "up-to-date"}
    assert "1 ran, 4 up to date (1 by the fast path)" in result.out


def test_a_change_to_an_untouched_stage_during_the_run_is_seen_by_the_next(tmp_path):
    """The stamp after a partial run keeps the old stats of the paths only untouched
    stages read (it does not stat them again): a file edited while the run went on,
    after the decision, is seen by the next run, whose stage reruns."""
    project = chain5(tmp_path)
    graph = project.graph()
    graph["artifacts"] += [{"id": "other", "type": "file", "path": "data/other.txt"},
                           {"id": "late", "type": "file", "path": "out/late"}]
    graph["stages"].append({"id": "meddler", "command": {
        "executable": "python3", "args": ["stages/meddle.py"]},
        "inputs": [{"artifact": "other"}], "outputs": [{"artifact": "late"}]})
    graph["pipelines"] = [{"id": "all", "stages": [s["id"] for s in graph["stages"]]}]
    project.write_graph(graph)
    project.path("stages/meddle.py").write_text(MEDDLE)
    project.path("data/other.txt").write_text("o\n")
    settled(project)
    before = ran(project)
    project.path("meddle.flag").write_text("")
    project.path("out/late").unlink()
    result = project.pipeline("run")
    assert result.code == 0, result.text
    assert PARTIAL in result.out and delta(project, before) == {"meddler": 1}, result.text
    project.path("meddle.flag").unlink()
    after = project.pipeline("run")
    assert after.code == 0, after.text
    assert FAST not in after.out, after.text
    assert delta(project, before) == {"meddler": 1, "c1": 1, "c2": 1, "c3": 1, "c4": 1,
                                      "c5": 1}, after.text
    assert "more" in project.path("out/o5").read_text()


@pytest.mark.parametrize("damage", ["missing", "garbage", "edited", "digest"])
def test_a_side_file_that_is_not_the_stamps_means_the_full_path(tmp_path, damage):
    project = chain5(tmp_path)
    settled(project)
    (stamp,) = stamp_files(project)
    side = stamp.with_name(stamp.name[:-len(".json")] + ".stages.json")
    data = json.loads(side.read_text())
    if damage == "missing":
        side.unlink()
    elif damage == "garbage":
        side.write_bytes(b"\x00{not json")
    elif damage == "edited":  # claims out/o5 is nobody's: it must not be believed
        data["owners"]["out/o5"] = ["c1"]
        side.write_text(json.dumps(data, separators=(",", ":")))
    elif damage == "digest":
        meta = json.loads(stamp.read_text())
        stamp.write_text(json.dumps({**meta, "stagesDigest": "0" * 64}))
    before = ran(project)
    project.path("out/o5").unlink()
    result = project.pipeline("run")
    assert result.code == 0 and "Traceback" not in result.text, result.text
    assert PARTIAL not in result.out and FAST not in result.out, result.text
    assert delta(project, before) == {"c5": 1}
    ids, fast = partial_record(project)
    assert ids == ["c1", "c2", "c3", "c4", "c5"] and fast is None
    assert FAST in project.pipeline("run").out  # the full path wrote a good pair


def test_one_stages_variable_reruns_that_stage_and_a_shared_one_the_full_path(tmp_path):
    project = chain5(tmp_path, c3={"environment": [{"name": "GREETING", "required": False}]})
    env = {"GREETING": "hello"}
    settled(project, env=env)
    before = ran(project)
    result = project.pipeline("run", env={"GREETING": "bye"})
    assert result.code == 0, result.text
    assert PARTIAL in result.out and delta(project, before) == {"c3": 1}, result.text
    ids, fast = partial_record(project)
    assert ids == ["c3", "c4", "c5"] and fast["stages"] == 2
    assert project.last_record()["stages"][0]["reason"] == "environment changed: GREETING"
    assert FAST in project.pipeline("run", env={"GREETING": "bye"}).out
    # a PIPELINE_* variable may change how every stage is decided: the full path
    full = project.pipeline("run", env={"GREETING": "bye", "PIPELINE_SOMETHING": "1"})
    assert full.code == 0 and PARTIAL not in full.out and FAST not in full.out, full.text
    assert len(project.last_record()["stages"]) == 5


def test_one_stages_max_age_runs_out(tmp_path):
    project = chain5(tmp_path, c3={"sideEffects": [{"type": "network", "maxAge": "3s"}]})
    settled(project)
    before = ran(project)
    record = [r for r in project.records() if r["stages"]][-1]
    finished = next(s for s in record["stages"] if s["id"] == "c3")
    assert finished["status"] == "succeeded"
    time.sleep(3.3)
    result = project.pipeline("run")
    assert result.code == 0, result.text
    assert PARTIAL in result.out and delta(project, before) == {"c3": 1}, result.text
    ids, fast = partial_record(project)
    assert ids == ["c3", "c4", "c5"] and fast["stages"] == 2
    assert project.last_record()["stages"][0]["reason"].startswith("side effect: network")


@pytest.mark.parametrize("change", ["graph", "doit-forget"])
def test_a_change_that_is_no_single_stages_means_the_full_path(tmp_path, change):
    project = chain5(tmp_path)
    settled(project)
    project.path("dodo.py").write_text(DODO)
    settled(project)
    before = ran(project)
    project.path("out/o5").unlink()
    if change == "graph":
        graph = project.graph()
        graph["stages"][4]["command"]["args"].append("out/o3")  # c5 reads o3 as well
        project.write_graph(graph)
    else:
        forgot = project.doit("forget", "c2")
        assert forgot.code == 0, forgot.text
    result = project.pipeline("run")
    assert result.code == 0, result.text
    assert PARTIAL not in result.out and FAST not in result.out, result.text
    assert len(project.last_record()["stages"]) == 5
    assert delta(project, before) == ({"c5": 1} if change == "graph" else
                                      {"c2": 1, "c5": 1})


def test_parallel_jobs_on_the_partial_fast_path(tmp_path):
    project = chain5(tmp_path)
    settled(project)
    before = ran(project)
    project.path("out/o5").unlink()
    project.path("data/extra.txt").write_text("extra, edited\n")
    result = project.pipeline("run", "--jobs", "2")
    assert result.code == 0, result.text
    assert PARTIAL in result.out and delta(project, before) == {"c3": 1, "c4": 1, "c5": 1}
    ids, fast = partial_record(project)
    assert sorted(ids) == ["c3", "c4", "c5"] and fast["stages"] == 2
    assert FAST in project.pipeline("run", "--jobs", "2").out


def held(tmp_path: Path) -> Project:
    """chain5 and a last stage `hold` that, while hold.flag exists, waits (or runs a
    second `pipeline run` when PROBE_RUN names where to write what it said)."""
    project = chain5(tmp_path)
    graph = project.graph()
    graph["artifacts"].append({"id": "held", "type": "file", "path": "out/held"})
    graph["stages"].append({"id": "hold", "dependsOn": ["c3"], "command": {
        "executable": "python3", "args": ["stages/hold.py", "out/held"]},
        "inputs": [{"artifact": "o3"}], "outputs": [{"artifact": "held"}]})
    graph["pipelines"] = [{"id": "all", "stages": [s["id"] for s in graph["stages"]]}]
    project.write_graph(graph)
    project.path("stages/hold.py").write_text(HOLD)
    settled(project)
    project.path("hold.flag").write_text("")
    project.path("out/held").unlink()
    return project


def test_a_second_run_during_a_partial_run_is_refused(tmp_path):
    project = held(tmp_path)
    probe = tmp_path / "probe.txt"
    result = project.pipeline("run", env={"PROBE_RUN": str(probe),
                                          "RUNNER_PYTHON": sys.executable})
    assert result.code == 0, result.text
    assert PARTIAL in result.out, result.text
    code, said = probe.read_text().split("\n", 1)
    assert code == "2" and "a run is already in progress in this project" in said, said


def test_an_interrupted_partial_run_leaves_no_stamp(tmp_path):
    project = held(tmp_path)
    before = ran(project)
    run = subprocess.Popen([sys.executable, "-m", "orchestrator", "run"], cwd=project.root,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not project.path("holding").exists():
            assert time.monotonic() < deadline and run.poll() is None, run.communicate()
            time.sleep(0.05)
    finally:
        os.killpg(run.pid, signal.SIGINT)
        out, err = run.communicate(timeout=60)
    assert run.returncode != 0, out + err
    assert PARTIAL in out, out + err
    assert project.last_record()["status"] == "interrupted"
    assert stamp_files(project) == []  # nothing vouches for what was not decided
    project.path("hold.flag").unlink()
    again = project.pipeline("run")
    assert again.code == 0, again.text
    assert FAST not in again.out and PARTIAL not in again.out, again.text
    assert delta(project, before) == {"hold": 2}
    assert project.path("out/held").read_text() == project.path("out/o3").read_text()


def test_logs_history_report_and_summary_show_a_partial_run(tmp_path):
    project = chain5(tmp_path)
    settled(project)
    project.path("out/o5").unlink()
    summary = tmp_path / "summary.md"
    result = project.pipeline("run", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert PARTIAL in result.out, result.text
    run_id = project.last_record()["runId"]
    assert "1 succeeded" in summary.read_text() and \
        "4 up-to-date (fast path)" in summary.read_text(), summary.read_text()
    shown = project.pipeline("logs", "--latest")
    assert shown.code == 0, shown.text
    assert "↷ 4 stages up to date (fast path: nothing they read has changed" in shown.out
    assert "c5" in shown.out and "output missing: out/o5" in shown.out, shown.out
    history = project.pipeline("history")
    assert "found some stages up to date on the fast path" in history.out, history.text
    as_json = json.loads(project.pipeline("history", "--json").out)
    assert as_json["partialFastPathRuns"] == 1 and as_json["fastPathRuns"] >= 1
    report = project.pipeline("report", "--latest", "-o", str(tmp_path / "r.html"))
    assert report.code == 0, report.text
    html = (tmp_path / "r.html").read_text()
    assert "1 succeeded, 4 up-to-date (fast path)" in html
    # --since a partial run: the stages it did not list are compared with their
    # fingerprints in the run whose stamp it used; nothing changed, nothing runs
    before = ran(project)
    since = project.pipeline("run", "--since", run_id)
    assert since.code == 0, since.text
    assert "0 ran, 5 up to date" in since.out, since.text
    assert f"c1 up to date (unchanged since {run_id})" in since.out, since.text
    assert ran(project) == before


def test_since_a_fast_path_run_compares_with_the_runs_its_stamps_came_from(tmp_path):
    """A whole fast-path run after a partial one after a full one: `--since` the last
    finds each stage's fingerprint back along the chain (`fastPath.basedOn`), runs what
    changed since, and runs (saying why) what it cannot compare once a record is gone
    or names something that is no run id."""
    project = chain5(tmp_path)
    settled(project)  # its last run took the fast path, on the stamp of a full run
    full = project.last_record()["fastPath"]["basedOn"]
    assert "fastPath" not in json.loads(
        (project.root / ".pipeline-runs" / f"{full}.json").read_text())
    project.path("out/o5").unlink()
    assert PARTIAL in project.pipeline("run").out
    partial = project.last_record()
    assert partial["fastPath"]["basedOn"] == full
    fast = project.pipeline("run")
    assert FAST in fast.out, fast.text
    whole = project.last_record()
    assert whole["fastPath"]["basedOn"] == partial["runId"], whole
    project.path("data/extra.txt").write_text("changed\n")  # c3 reads it
    dry = project.pipeline("run", "--since", whole["runId"], "--dry-run", "--json")
    assert dry.code == 0, dry.text
    actions = {s["id"]: (s["action"], s["reason"]) for s in json.loads(dry.out)["stages"]}
    assert actions["c1"] == actions["c2"] == ("up-to-date", None), actions
    assert actions["c3"] == ("run", f"inputs changed since {whole['runId']}"), actions
    assert actions["c4"][0] == actions["c5"][0] == "run", actions
    # the full run's record gone: c1 and c2 (listed only there) cannot be compared
    (project.root / ".pipeline-runs" / f"{full}.json").unlink()
    dry = project.pipeline("run", "--since", whole["runId"], "--dry-run", "--json")
    actions = {s["id"]: (s["action"], s["reason"]) for s in json.loads(dry.out)["stages"]}
    assert actions["c1"] == ("run", f"no fingerprint recorded in {whole['runId']} "
                                    "(fast path)"), actions
    # a planted basedOn is no path: nothing outside the runs folder is read
    path = project.root / ".pipeline-runs" / f"{whole['runId']}.json"
    planted = json.loads(path.read_text())
    planted["fastPath"]["basedOn"] = "../../outside"
    (project.root.parent / "outside.json").write_text(json.dumps(partial))
    path.write_text(json.dumps(planted))
    dry = project.pipeline("run", "--since", whole["runId"], "--dry-run", "--json")
    actions = {s["id"]: s["action"] for s in json.loads(dry.out)["stages"]}
    assert set(actions.values()) == {"run"}, actions


def test_an_env_file_edit_means_the_full_path(tmp_path):
    """The --env-file's values reach every stage: it is no single stage's file."""
    project = chain5(tmp_path, c3={"environment": [{"name": "GREETING", "required": False}]})
    project.path(".env").write_text("GREETING=hello\n")
    settled(project, "--env-file", ".env")
    before = ran(project)
    project.path(".env").write_text("GREETING=howdy\n")
    result = project.pipeline("run", "--env-file", ".env")
    assert result.code == 0, result.text
    assert PARTIAL not in result.out and FAST not in result.out, result.text
    assert len(project.last_record()["stages"]) == 5
    assert delta(project, before) == {"c3": 1}


def test_a_stage_reading_a_folder_another_stage_writes_into_is_downstream(tmp_path):
    """`bundle` reads the folder out/ as a directory artifact; c3..c5 write files inside
    it as artifacts of their own: no artifact id links them, their paths do. When those
    stages run again and change their files, bundle is decided too, and runs."""
    project = chain5(tmp_path)
    graph = project.graph()
    graph["artifacts"] += [{"id": "outdir", "type": "directory", "path": "out"},
                           {"id": "bundle", "type": "file", "path": "data/bundle"}]
    stage = copy_stage("bundle", ["outdir"], "bundle", ["out"])
    stage["command"]["args"][2] = "data/bundle"  # not inside the folder it reads
    stage["outputs"] = [{"artifact": "bundle"}]
    graph["stages"].append(stage)  # last in the list, but no dependsOn
    graph["pipelines"] = [{"id": "all", "stages": [s["id"] for s in graph["stages"]]}]
    project.write_graph(graph)
    project.path("out").mkdir()  # no stage writes the folder itself
    settled(project)
    before = ran(project)
    project.path("data/extra.txt").write_text("extra, edited\n")
    result = project.pipeline("run")
    assert result.code == 0, result.text
    assert PARTIAL in result.out, result.text
    ids, _ = partial_record(project)
    assert ids == ["c3", "c4", "c5", "bundle"], ids
    assert delta(project, before) == {"c3": 1, "c4": 1, "c5": 1, "bundle": 1}
    assert "extra, edited" in project.path("data/bundle").read_text()
    assert FAST in project.pipeline("run").out


def bundle_first(tmp_path: Path) -> Project:
    """chain5, and before it `bundle`, which reads the folder out/ that c1..c5 write
    into, without depending on them; out/ starts as they leave it; settled."""
    project = chain5(tmp_path)
    graph = project.graph()
    graph["artifacts"] += [{"id": "outdir", "type": "directory", "path": "out"},
                           {"id": "bundle", "type": "file", "path": "data/bundle"}]
    stage = copy_stage("bundle", ["outdir"], "bundle", ["out"])
    stage["command"]["args"][2] = "data/bundle"
    graph["stages"].insert(0, stage)
    graph["pipelines"] = [{"id": "all", "stages": [s["id"] for s in graph["stages"]]}]
    project.write_graph(graph)
    project.path("out").mkdir()
    for i in range(1, 6):  # so that out/ is the same at every run
        project.path(f"out/o{i}").write_text("in\n")
    settled(project)
    return project


def test_a_folder_read_before_a_stage_writes_into_it_is_decided_next_time(tmp_path):
    """`bundle` comes first and reads out/, which later stages write into (an ordering
    hazard `pipeline check` warns of): the partial run does not decide it, but the stamp
    keeps the folder's old entries, so the next run does, and it runs."""
    project = bundle_first(tmp_path)
    before = ran(project)
    project.path("data/extra.txt").write_text("extra, edited\n")
    result = project.pipeline("run")
    assert result.code == 0, result.text
    assert delta(project, before) == {"c3": 1, "c4": 1, "c5": 1}, result.text
    after = project.pipeline("run")
    assert after.code == 0, after.text
    assert delta(project, before) == {"c3": 1, "c4": 1, "c5": 1, "bundle": 1}, after.text
    assert "extra, edited" in project.path("data/bundle").read_text()


def test_a_folder_read_before_a_stage_writes_into_it_gets_no_stamp(tmp_path):
    """The same hazard on the full path: `bundle` is decided up to date on out/ as it
    was, then c3..c5 write into out/. No stamp may vouch for out/ as they left it: the
    next run decides bundle again, and it runs (as --no-fast-path would)."""
    project = bundle_first(tmp_path)
    before = ran(project)
    project.path("data/extra.txt").write_text("extra, edited\n")
    result = project.pipeline("run", "--no-fast-path")
    assert result.code == 0, result.text
    assert delta(project, before) == {"c3": 1, "c4": 1, "c5": 1}, result.text
    after = project.pipeline("run")
    assert after.code == 0, after.text
    assert FAST not in after.out, after.text
    assert delta(project, before) == {"c3": 1, "c4": 1, "c5": 1, "bundle": 1}, after.text
    assert "extra, edited" in project.path("data/bundle").read_text()


def test_a_file_read_before_a_stage_writes_the_folder_holding_it_gets_no_stamp(tmp_path):
    """`reader` comes first and reads out/o1; `filler`, later and not upstream of it,
    writes the whole folder out/ (out/o1 too). The stamp may not vouch for reader."""
    filler = ("import os, sys\nos.makedirs('.counts', exist_ok=True)\n"
              "open('.counts/filler', 'a').write('ran\\n')\nos.makedirs('out', exist_ok=True)\n"
              "open('out/o1', 'w').write(open('data/in.txt').read())\n")
    artifacts = [{"id": "in", "type": "file", "path": "data/in.txt"},
                 {"id": "o1", "type": "file", "path": "out/o1"},
                 {"id": "outdir", "type": "directory", "path": "out"},
                 {"id": "copy", "type": "file", "path": "data/copy"}]
    reader = copy_stage("reader", ["o1"], "copy", ["out/o1"])
    reader["command"]["args"][2] = "data/copy"
    stages = [reader, {"id": "filler", "command": {"executable": "python3",
                                                   "args": ["stages/filler.py"]},
                       "inputs": [{"artifact": "in"}], "outputs": [{"artifact": "outdir"}]}]
    project = make(tmp_path, {"artifacts": artifacts, "stages": stages},
                   {"data/in.txt": "first\n", "out/o1": "first\n", "stages/filler.py": filler})
    settled(project)
    before = ran(project)
    project.path("data/in.txt").write_text("second\n")
    result = project.pipeline("run", "--no-fast-path")
    assert result.code == 0, result.text
    assert delta(project, before) == {"filler": 1}, result.text  # reader saw "first"
    after = project.pipeline("run")
    assert after.code == 0, after.text
    assert FAST not in after.out, after.text
    assert project.path("data/copy").read_text() == "second\n"
