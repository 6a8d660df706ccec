"""`--executor dask`: stages run on real Dask workers (processes on 127.0.0.1).

One scheduler and two workers (`dask scheduler`, `dask worker`: real processes, each
with its nanny) are shared by the module; the tests that need a cluster of their own
(a worker that sees another project) start one. These tests are marked `dask`: they
run where the `dask` extra is installed (see .ci/matrix.py); the one about the missing
extra runs everywhere.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, Project

from benchmarks.dask_cluster import DaskProcesses

GRACE = "2"  # PIPELINE_KILL_GRACE, here and on the workers


class Cluster(DaskProcesses):
    """The tests' cluster: this checkout's package, the tests' kill grace, and no secret
    of the runner's environment on the workers."""

    def __init__(self, workdir: Path):
        env = {**os.environ, "PYTHONPATH": str(REPO), "PIPELINE_KILL_GRACE": GRACE}
        env.pop("SECRET_TOKEN", None)
        super().__init__(workdir, env)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    made = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        made.start_scheduler()
        made.start_worker("w1")
        made.start_worker("w2")
        made.workers(2)
        yield made
    finally:
        made.stop()


def write_project(root: Path, stages: list[dict], scripts: dict[str, str]) -> Project:
    (root / "pipeline").mkdir(parents=True)
    (root / "stages").mkdir()
    for name, text in scripts.items():
        (root / "stages" / name).write_text(text)
    (root / "data").mkdir()
    (root / "data" / "in.txt").write_text("input\n")
    artifacts = [{"id": f"out-{s['id']}", "type": "file", "path": f"build/{s['id']}.txt"}
                 for s in stages] + [{"id": "in", "type": "file", "path": "data/in.txt"}]
    for stage in stages:  # a stage without inputs would always run
        stage.setdefault("inputs", [{"artifact": "in", "mode": "read"}])
        stage.setdefault("outputs", [{"artifact": f"out-{stage['id']}", "mode": "write"}])
    graph = {"version": "test", "pipelines": [{"id": "all", "stages": [s["id"] for s in stages]}],
             "artifacts": artifacts, "stages": stages}
    (root / "pipeline" / "stage-graph.json").write_text(json.dumps(graph, indent=1))
    return Project(root)


def py(script: str, *args: str) -> dict:
    return {"executable": "python3", "args": [f"stages/{script}", *args]}


WRITE = """import os, sys, socket
print("hello from", sys.argv[1], "pid", os.getpid(), flush=True)
os.makedirs("build", exist_ok=True)
open(f"build/{sys.argv[1]}.txt", "w").write(socket.gethostname())
"""


def wait_for(path: Path, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} never written")


def gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def start_pipeline(project: Project, *args: str, env: dict | None = None) -> subprocess.Popen:
    full = {**os.environ, "PIPELINE_KILL_GRACE": GRACE, **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "orchestrator", *args], cwd=project.root,
                            env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


@pytest.mark.dask
def test_stages_run_on_the_workers_and_the_records_say_where(cluster, tmp_path):
    project = write_project(tmp_path / "p", [
        {"id": f"s{i}", "command": py("write.py", f"s{i}")} for i in range(4)],
        {"write.py": WRITE})
    result = project.pipeline("run", "--executor", "dask", "--scheduler", cluster.address,
                              "-j", "2")
    assert result.code == 0, result.text
    workers = cluster.workers(2)
    record = project.last_record()
    assert record["executor"] == "dask" and record["scheduler"] == cluster.address
    assert record["options"]["executor"] == "dask"
    for stage in record["stages"]:
        assert stage["status"] == "succeeded"
        assert stage["worker"]["address"] in workers
        assert stage["worker"]["host"] == socket.gethostname()
        assert stage["cpuSeconds"] > 0 and stage["peakRssKb"] > 0
        log = project.path(stage["logPath"]).read_text()
        assert log.startswith(f"hello from {stage['id']} pid ")
        assert project.path(f"build/{stage['id']}.txt").read_text() == socket.gethostname()
        assert f"{stage['id']} runs on {stage['worker']['address']}" in result.out
    assert "[s0] hello from s0" in result.out
    from distributed import Client

    with Client(cluster.address, timeout=30, set_as_default=False) as client:
        kept = {topic: events for topic, events in client.get_events().items()
                if topic.startswith("pipeline-output-")}
    assert not any(kept.values())  # the scheduler keeps no output of the run
    # the second run: everything up to date, nothing sent to the cluster
    again = project.pipeline("run", "--executor", "dask", "--scheduler", cluster.address)
    assert again.code == 0, again.text
    second = project.last_record()
    if "fastPath" in second:  # nothing changed: decided without doit or the cluster
        assert second["fastPath"]["stages"] == len(record["stages"]), second
    else:
        assert {s["status"] for s in second["stages"]} == {"up-to-date"}
    assert not any("worker" in s for s in second["stages"]) and "runs on" not in again.out
    # decided stage by stage, still nothing is sent
    third = project.pipeline("run", "--executor", "dask", "--scheduler", cluster.address,
                             "--no-fast-path")
    assert third.code == 0, third.text
    stages = project.last_record()["stages"]
    assert {s["status"] for s in stages} == {"up-to-date"} and "runs on" not in third.out


@pytest.mark.dask
def test_output_is_streamed_while_the_stage_runs(cluster, tmp_path):
    script = ("import sys, time, pathlib\nprint('first line', flush=True)\n"
              "gate = pathlib.Path('gate')\nwhile not gate.exists():\n    time.sleep(0.05)\n"
              "print('second line', flush=True)\npathlib.Path('build').mkdir(exist_ok=True)\n"
              "pathlib.Path('build/slow.txt').write_text('x')\n")
    project = write_project(tmp_path / "p", [{"id": "slow", "command": py("slow.py")}],
                            {"slow.py": script})
    proc = start_pipeline(project, "run", "--executor", "dask", "--scheduler",
                          cluster.address)
    try:
        logs = project.root / ".pipeline-runs"
        deadline = time.monotonic() + 60
        seen = ""
        while "first line" not in seen and time.monotonic() < deadline:
            found = list(logs.glob("*/slow.log")) if logs.exists() else []
            seen = found[0].read_text() if found else ""
            time.sleep(0.05)
        assert seen == "first line\n"  # in the log before the stage has ended
        (project.root / "gate").write_text("")
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, out + err
    assert project.path(project.last_record()["stages"][0]["logPath"]).read_text() == \
        "first line\nsecond line\n"


@pytest.mark.dask
def test_a_failing_stage_fails_as_it_does_locally(cluster, tmp_path):
    script = "import sys\nprint('about to fail', flush=True)\nsys.exit(3)\n"
    project = write_project(tmp_path / "p", [{"id": "bad", "command": py("bad.py")}],
                            {"bad.py": script})
    local = project.pipeline("run")
    remote = project.pipeline("run", "--executor", "dask", "--scheduler", cluster.address)
    assert local.code == remote.code == 1
    assert "✖ [1/1] bad failed: exit code 3" in remote.text
    hints = [line for line in local.text.splitlines() if "pipeline run" in line]
    assert hints and all(line in remote.text for line in hints)
    stage = project.last_record()["stages"][0]
    assert stage["status"] == "failed" and stage["exitCode"] == 3
    assert stage["error"] == "exit code 3" and stage["worker"]["address"].startswith("tcp://")
    assert project.path(stage["logPath"]).read_text() == "about to fail\n"


@pytest.mark.dask
def test_a_stage_over_its_timeout_is_stopped_on_the_worker(cluster, tmp_path):
    script = ("import os, time\nopen('pid', 'w').write(f'{os.getpid()}\\n')\n"
              "time.sleep(60)\n")
    project = write_project(tmp_path / "p", [{"id": "slow", "command": py("slow.py")}],
                            {"slow.py": script})
    started = time.monotonic()
    result = project.pipeline("run", "--executor", "dask", "--scheduler", cluster.address,
                              "--timeout", "1")
    assert result.code == 1, result.text
    assert "timed out after 1s" in result.text and time.monotonic() - started < 30
    assert gone(int(project.path("pid").read_text()), 10)


@pytest.mark.dask
@pytest.mark.parametrize("second", [None, signal.SIGTERM])
def test_an_interrupt_ends_the_remote_process_group(cluster, tmp_path, second):
    """Ctrl-C reaches the stage's process group on the worker: a stage that ignores
    SIGINT and SIGTERM is killed after the grace period (at once after a second
    signal), and so is the process it started."""
    script = ("import os, signal, subprocess, sys, time\n"
              "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
              "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              "child = subprocess.Popen([sys.executable, '-c', 'import time; "
              "time.sleep(120)'])\n"
              "open('pid', 'w').write(f'{os.getpid()} {child.pid}\\n')\n"
              "time.sleep(120)\n")
    project = write_project(tmp_path / "p", [{"id": "stubborn", "command": py("s.py")}],
                            {"s.py": script})
    proc = start_pipeline(project, "run", "--executor", "dask", "--scheduler",
                          cluster.address, env={"PIPELINE_KILL_GRACE": "30"
                                                if second else GRACE})
    try:
        pid, child = map(int, wait_for(project.path("pid")).split())
        interrupted = time.monotonic()
        proc.send_signal(signal.SIGINT)
        if second:
            time.sleep(0.5)
            proc.send_signal(second)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 if not second else proc.returncode in (130, 143), out + err
    assert gone(pid, 10) and gone(child, 10)
    # the workers' grace is 2 s; with a second signal, no grace at all (the pipeline's
    # own would have been 30 s)
    assert time.monotonic() - interrupted < 20
    stage = project.last_record()["stages"][0]
    assert project.last_record()["status"] == "interrupted" and stage["status"] == "failed"


@pytest.mark.dask
def test_sigterm_ends_the_run_with_143(cluster, tmp_path):
    script = ("import os, time\nopen('pid', 'w').write(f'{os.getpid()}\\n')\n"
              "time.sleep(120)\n")
    project = write_project(tmp_path / "p", [{"id": "slow", "command": py("s.py")}],
                            {"s.py": script})
    proc = start_pipeline(project, "run", "--executor", "dask", "--scheduler",
                          cluster.address)
    try:
        pid = int(wait_for(project.path("pid")))
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, out + err
    assert gone(pid, 10)


@pytest.mark.dask
def test_a_run_killed_outright_leaves_no_command_running_on_the_workers(cluster, tmp_path):
    """`pipeline` killed with SIGKILL cannot stop anything: the scheduler releases its
    task when its client goes away, and the worker ends the command nobody waits for."""
    script = ("import os, time\nopen('pid', 'w').write(f'{os.getpid()}\\n')\n"
              "time.sleep(120)\n")
    project = write_project(tmp_path / "p", [{"id": "orphan", "command": py("o.py")}],
                            {"o.py": script})
    proc = start_pipeline(project, "run", "--executor", "dask", "--scheduler",
                          cluster.address)
    pid = None
    try:
        pid = int(wait_for(project.path("pid")))
        proc.kill()
        proc.communicate(timeout=30)
        assert gone(pid, 20)
    finally:
        proc.kill()
        if pid is not None:  # what the test failing would leave behind
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.dask
def test_a_worker_lost_mid_stage_fails_the_stage(cluster, tmp_path):
    script = ("import os, time\nopen('pid', 'w').write(f'{os.getpid()} {os.getppid()}\\n')\n"
              "time.sleep(120)\n")
    project = write_project(tmp_path / "p", [{"id": "doomed", "command": py("d.py"),
                                              "retries": 0}], {"d.py": script})
    proc = start_pipeline(project, "run", "--executor", "dask", "--scheduler",
                          cluster.address)
    pid = None
    try:
        pid, worker_pid = map(int, wait_for(project.path("pid")).split())
        os.kill(worker_pid, signal.SIGKILL)  # the worker process (its nanny restarts it)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        if pid is not None:  # a killed worker cannot end what it started: we do
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert proc.returncode == 1, out + err
    stage = project.last_record()["stages"][0]
    assert stage["status"] == "failed"
    assert stage["error"].startswith("worker lost: tcp://127.0.0.1:")
    assert stage["error"] == f"worker lost: {stage['worker']['address']}"
    assert f"doomed failed: {stage['error']}" in out + err
    cluster.workers(2)  # the nanny brought it back, for the tests after this one


@pytest.mark.dask
def test_retries_apply_to_a_worker_lost(cluster, tmp_path):
    """The first attempt's worker is killed; the second attempt runs on a worker that is
    there, and the stage succeeds with both attempts recorded."""
    script = ("import os, pathlib, time\nmark = pathlib.Path('first-attempt')\n"
              "if not mark.exists():\n"
              "    mark.write_text(f'{os.getpid()} {os.getppid()}\\n')\n"
              "    time.sleep(120)\n"
              "pathlib.Path('build').mkdir(exist_ok=True)\n"
              "pathlib.Path('build/again.txt').write_text('x')\n")
    project = write_project(tmp_path / "p", [{"id": "again", "command": py("a.py"),
                                              "retries": 1, "retryDelay": 0.1}],
                            {"a.py": script})
    proc = start_pipeline(project, "run", "--executor", "dask", "--scheduler",
                          cluster.address)
    pid = None
    try:
        pid, worker_pid = map(int, wait_for(project.path("first-attempt")).split())
        os.kill(worker_pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
        if pid is not None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert proc.returncode == 0, out + err
    stage = project.last_record()["stages"][0]
    first, second = stage["attempts"]
    assert first["status"] == "failed" and first["error"].startswith("worker lost: tcp://")
    assert second["status"] == "succeeded"
    cluster.workers(2)


@pytest.mark.dask
def test_secrets_printed_remotely_are_masked_and_only_declared_variables_travel(
        cluster, tmp_path):
    script = ("import os\nprint('token is', os.environ.get('SECRET_TOKEN'), flush=True)\n"
              "print('undeclared is', os.environ.get('UNDECLARED_VALUE'), flush=True)\n"
              "os.makedirs('build', exist_ok=True)\nopen('build/leak.txt', 'w').write('x')\n")
    project = write_project(tmp_path / "p", [{
        "id": "leak", "command": py("leak.py"),
        "environment": [{"name": "SECRET_TOKEN", "required": True}]}], {"leak.py": script})
    secret = "s3cr3t-value-8c1f"
    result = project.pipeline("run", "--executor", "dask", "--scheduler", cluster.address,
                              env={"SECRET_TOKEN": secret, "UNDECLARED_VALUE": "here"})
    assert result.code == 0, result.text
    log = project.path(project.last_record()["stages"][0]["logPath"]).read_text()
    assert log == "token is ***\nundeclared is None\n"
    assert secret not in result.text and "token is ***" in result.out
    runs = project.root / ".pipeline-runs"
    assert not any(secret in p.read_text() for p in runs.rglob("*") if p.is_file())


@pytest.mark.dask
def test_without_a_scheduler_a_local_cluster_runs_the_stages(tmp_path):
    project = write_project(tmp_path / "p", [
        {"id": f"s{i}", "command": py("write.py", f"s{i}")} for i in range(2)],
        {"write.py": WRITE})
    result = project.pipeline("run", "--executor", "dask", "-j", "2",
                              env={"PIPELINE_DASK_SCHEDULER": ""})
    assert result.code == 0, result.text
    record = project.last_record()
    assert record["executor"] == "dask"
    assert record["scheduler"].startswith("tcp://127.0.0.1:")
    assert all(s["worker"]["address"].startswith("tcp://127.0.0.1:")
               for s in record["stages"])
    assert "Traceback" not in result.text and "distributed" not in result.err


@pytest.mark.dask
def test_ctrl_c_at_a_terminal_with_the_local_cluster(tmp_path):
    """A terminal sends SIGINT to the whole process group, the local cluster's worker
    processes included: they let it pass, the run stops its stages through them (which
    get SIGINT: `sleep` ends at once, not after the grace period) and exits 130, with no
    worker's traceback."""
    project = write_project(tmp_path / "p", [
        {"id": name, "command": {"executable": "sh", "args": [
            "-c", f"echo $$ > pid-{name}.tmp && mv pid-{name}.tmp pid-{name} && "
                  f"exec sleep 60"]}} for name in ("a", "b")], {})
    proc = start_pipeline(project, "run", "--executor", "dask", "-j", "2",
                          env={"PIPELINE_KILL_GRACE": "30", "PIPELINE_DASK_SCHEDULER": ""})
    try:
        deadline = time.monotonic() + 60
        while not all(project.path(f"pid-{n}").exists() for n in "ab"):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        pids = [int(project.path(f"pid-{n}").read_text()) for n in "ab"]
        interrupted = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, out + err
    assert time.monotonic() - interrupted < 20
    assert all(gone(pid, 5) for pid in pids)
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "pipeline: interrupted"


@pytest.mark.dask
def test_the_scheduler_address_comes_from_the_environment(cluster, tmp_path):
    project = write_project(tmp_path / "p", [{"id": "one", "command": py("write.py", "one")}],
                            {"write.py": WRITE})
    result = project.pipeline("run", "--executor", "dask",
                              env={"PIPELINE_DASK_SCHEDULER": cluster.address})
    assert result.code == 0, result.text
    assert project.last_record()["scheduler"] == cluster.address


@pytest.mark.dask
def test_an_unreachable_scheduler_is_exit_2_within_the_connect_timeout(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    project = write_project(tmp_path / "p", [{"id": "one", "command": py("write.py", "one")}],
                            {"write.py": WRITE})
    started = time.monotonic()
    result = project.pipeline("run", "--executor", "dask", "--scheduler",
                              f"tcp://127.0.0.1:{port}", "--connect-timeout", "2")
    elapsed = time.monotonic() - started
    assert result.code == 2, result.text
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"pipeline: error: cannot reach the Dask scheduler at "
                               f"tcp://127.0.0.1:{port} within 2s")
    assert elapsed < 15 and not list(project.root.glob(".pipeline-runs/*.json"))
    assert not project.path("build").exists()


@pytest.mark.dask
def test_a_worker_that_sees_another_project_is_refused(tmp_path):
    """The second worker runs in a mount namespace where the project's path holds a copy
    whose graph differs: the run stops before anything starts, naming that worker."""
    project = write_project(tmp_path / "p", [{"id": "one", "command": py("write.py", "one")}],
                            {"write.py": WRITE})
    other = tmp_path / "other"
    subprocess.run(["cp", "-r", str(project.root), str(other)], check=True)
    graph = other / "pipeline" / "stage-graph.json"
    graph.write_text(graph.read_text().replace('"test"', '"changed"'))
    own = Cluster(tmp_path)
    try:
        own.start_scheduler()
        own.start_worker("same")
        same = own.workers(1)
        own.start_worker("elsewhere", prefix=(
            "unshare", "-rm", "sh", "-c", 'mount --bind "$1" "$2" && shift 2 && exec "$@"',
            "sh", str(other), str(project.root)))
        elsewhere = sorted(set(own.workers(2)) - set(same))[0]
        result = project.pipeline("run", "--executor", "dask", "--scheduler", own.address)
    finally:
        own.stop()
    assert result.code == 2, result.text
    line = result.err.strip()
    assert line.startswith(f"pipeline: error: worker {elsewhere} (")
    assert "pipeline/stage-graph.json has other content" in line and "\n" not in line
    assert not project.path("build").exists()


@pytest.mark.dask
def test_a_bad_security_file_is_exit_2(project, tmp_path):
    settings = tmp_path / "security.yaml"
    settings.write_text("tls_ca_file: [\n")
    for path, says in ((tmp_path / "absent.yaml", "No such file or directory"),
                       (settings, "not YAML")):
        result = project.pipeline("run", "--executor", "dask", "--scheduler",
                                  "tls://127.0.0.1:1", "--scheduler-security", str(path))
        assert result.code == 2, result.text
        assert result.err.startswith(f"pipeline: error: --scheduler-security {path}: {says}")
        assert len(result.err.splitlines()) == 1
    settings.write_text("no_such_argument: 1\n")
    result = project.pipeline("run-stage", "extract", "--executor", "dask", "--scheduler",
                              "tls://127.0.0.1:1", "--scheduler-security", str(settings))
    assert result.code == 2 and "Unknown parameters: ['no_such_argument']" in result.err


def test_without_the_dask_extra_the_error_says_how_to_install_it(project, tmp_path):
    """`distributed` cannot be imported (a package of that name that fails to import
    stands in for it being absent, whatever this virtualenv has)."""
    blocker = tmp_path / "blocked" / "distributed"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('No module named distributed')\n")
    path = os.pathsep.join([str(blocker.parent), str(REPO)])
    result = project.pipeline("run", "--executor", "dask", env={"PYTHONPATH": path})
    assert result.code == 2, result.text
    assert result.err == ("pipeline: error: --executor dask needs Dask, which is not "
                          "installed: pip install 'pipeline-orchestrator[dask]'\n")
    assert not list(project.root.glob(".pipeline-runs/*.json"))


def test_dask_options_need_the_dask_executor(project):
    result = project.pipeline("run", "--scheduler", "tcp://127.0.0.1:1")
    assert result.code == 2
    assert result.err == "pipeline: error: --scheduler needs --executor dask\n"


@pytest.mark.dask
def test_doctor_checks_the_scheduler_and_each_worker(cluster, project):
    result = project.pipeline("doctor", "--executor", "dask", "--scheduler", cluster.address)
    assert result.code == 0, result.text
    assert f"✔ dask scheduler {cluster.address}: reachable, pipeline-orchestrator" in result.out
    for worker in cluster.workers(2):
        line = next(line for line in result.out.splitlines() if worker in line)
        assert line.startswith(f"✔ dask worker {worker}: {socket.gethostname()}, Python ")
    assert "node at " in result.out and "python3 at " in " ".join(result.out.split())
    for worker in cluster.workers(2):  # the runtimes' versions, queried on each worker
        assert re.search(rf"^✔ node on {worker}: \d+\.\d+\.\d+ at \S+ on ", result.out, re.M)
        assert re.search(rf"^✔ python for stages \(python3\) on {worker}: 3\.\d+", result.out,
                         re.M)
    graph = project.graph()  # a stage needs an executable no worker has
    graph["stages"][0]["command"]["executable"] = "no-such-tool-4f1c"
    project.write_graph(graph)
    missing = project.pipeline("doctor", "--executor", "dask", "--scheduler", cluster.address)
    assert missing.code == 1
    assert "not on its PATH: no-such-tool-4f1c" in " ".join(missing.out.split())
    unreachable = project.pipeline("doctor", "--executor", "dask", "--scheduler",
                                   "tcp://127.0.0.1:1", "--connect-timeout", "1")
    assert unreachable.code == 1
    assert "✖ dask scheduler tcp://127.0.0.1:1: not reachable within 1s" in \
        " ".join(unreachable.out.split())
