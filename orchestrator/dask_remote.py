"""What runs on a Dask worker: one stage's command, and the probes of `pipeline doctor`.

Imported by the workers (by reference, so each worker needs this package installed at
the same version as the machine that runs `pipeline`); it does not import Dask itself
except to find the worker it runs in. The command runs through the same code as a local
run (`process.run_process`): its own process group, the same timeout and grace period,
the same CPU time and peak memory. Its output goes back as it comes, as Dask events on
the run's topic (`Worker.log_event`), masked here already for the values this stage was
sent; the machine that runs `pipeline` masks it again with every secret of the run.

Events on the topic, each a dict with `token` (the stage's attempt) and `kind`:
    start   worker address, host name, pid of the command
    out     data (bytes)
    end     exit_code, cpu_seconds, peak_rss_kb, timed_out; or error (could not start,
            or the worker sees another project)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import threading

from orchestrator.process import Running, StartFailed, run_process

_ACTIVE: dict[str, Running] = {}  # token -> the command it runs on this worker
_ACTIVE_LOCK = threading.Lock()
_SEEN_ROOTS: dict[tuple[str, str, str], str | None] = {}  # (root, graph, digest) -> problem


def file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def root_problem(root: str, graph: str, digest: str) -> str | None:
    """What this machine sees of the project, if it is not what `pipeline` sees."""
    if not os.path.isdir(root):
        return f"no directory {root}"
    try:
        seen = file_digest(graph)
    except OSError as exc:
        return f"cannot read {graph}: {exc.strerror or exc}"
    if seen != digest:
        return f"{graph} has other content (sha256 {seen[:12]}, expected {digest[:12]})"
    return None


def _checked_root(root: str, graph: str, digest: str) -> str | None:
    """root_problem, worked out once per worker process and project state."""
    key = (root, graph, digest)
    if key not in _SEEN_ROOTS:
        _SEEN_ROOTS[key] = root_problem(root, graph, digest)
    return _SEEN_ROOTS[key]


class _Sink:
    """The stage log as the worker sees it: each chunk becomes an event."""

    def __init__(self, send):
        self.send = send

    def write(self, data: bytes) -> None:
        if data:
            self.send({"kind": "out", "data": bytes(data)})

    def flush(self) -> None:
        pass


class _Announcing(Running):
    """Running, telling the client the command's pid as soon as it has one."""

    def __init__(self, send, address: str):
        super().__init__()
        self.send = send
        self.address = address

    def add(self, proc) -> None:
        super().add(proc)
        self.send({"kind": "start", "worker": self.address, "host": socket.gethostname(),
                   "pid": proc.pid})


def run_stage(token: str, topic: str, argv: list[str], sent_env: dict[str, str],
              python_root: bool, root: str, graph: str, digest: str,
              timeout: float | None, secrets: list[str]) -> dict:
    """Run one command on this worker; its events go to `topic`. The returned dict is the
    `end` event's (also sent as an event, after the last output)."""
    from distributed import get_worker

    worker = get_worker()
    address = worker.address

    def send(message: dict) -> None:
        message["token"] = token
        worker.log_event(topic, message)

    def end(result: dict) -> dict:
        result.update(kind="end", worker=address, host=socket.gethostname())
        send(dict(result))
        return result

    problem = _checked_root(root, graph, digest)
    if problem:
        return end({"error": f"worker {address} ({socket.gethostname()}) sees another "
                             f"project: {problem}", "usage": True})
    env = dict(os.environ)
    env.update(sent_env)
    if python_root:
        previous = os.environ.get("PYTHONPATH")
        env["PYTHONPATH"] = root + (os.pathsep + previous if previous else "")
    argv = list(argv)
    if os.path.isabs(argv[0]) and not os.access(argv[0], os.X_OK) \
            and not argv[0].startswith(root + os.sep):
        # found on PATH where `pipeline` runs, elsewhere here (another image, a module
        # system): the same name on this worker's PATH
        found = shutil.which(os.path.basename(argv[0]), path=env.get("PATH"))
        if found:
            argv[0] = found
    masker = None
    if secrets:
        from orchestrator.masking import Masker

        masker = Masker(secrets)
    running = _Announcing(send, address)
    with _ACTIVE_LOCK:
        _ACTIVE[token] = running
    finished = threading.Event()
    from distributed.worker import thread_state  # the task's key, in the task's thread

    threading.Thread(target=_watch, args=(worker, getattr(thread_state, "key", None),
                                          running, finished), daemon=True).start()
    try:
        result = run_process(argv, env, root, _Sink(send), timeout=timeout, masker=masker,
                             echo=False, running=running)
    except StartFailed as exc:
        return end({"error": f"{exc} (on worker {address})"})
    finally:
        finished.set()
        with _ACTIVE_LOCK:
            _ACTIVE.pop(token, None)
    return end({"exit_code": result.exit_code, "cpu_seconds": result.cpu_seconds,
                "peak_rss_kb": result.peak_rss_kb, "timed_out": result.timed_out})


def _watch(worker, key, running: Running, finished: threading.Event) -> None:
    """Nobody waits for the command any more: the run that sent it is gone (its client
    disconnected, and the scheduler released the task), the task was cancelled, or this
    worker is closing. End the command's process group (SIGTERM, SIGKILL after the grace
    period) rather than leave it running unobserved."""
    while not finished.wait(0.5):
        task = worker.state.tasks.get(key) if key is not None else None
        state = getattr(task, "state", None)
        if state in ("executing", "long-running") and worker.status.name == "running":
            continue
        import signal

        running.stop_all(signal.SIGTERM)
        return


def stop_stage(token: str, signum: int, grace: float) -> bool:
    """Signal the process group of `token`'s command on this worker, and SIGKILL it
    `grace` seconds later if it is still there (the interrupted run's own grace period).
    Run by `Client.run`, in the worker's event loop: the wait is in a thread of its own.
    False if no such command runs here."""
    from orchestrator.process import stop

    with _ACTIVE_LOCK:
        running = _ACTIVE.get(token)
    if running is None:
        return False
    with running._lock:
        procs = list(running._procs)
    for proc in procs:
        threading.Thread(target=stop, args=(proc, signum, grace), daemon=True).start()
    return True


def forget_topic(topic: str, dask_scheduler=None) -> None:
    """On the scheduler, at the end of a run: drop the events it kept of the run's topic
    (the stages' output, up to `distributed.admin.low-level-log-length` of them), which a
    long-lived scheduler would otherwise keep. Dask has no public call for it: its
    broker's `truncate`, if it has one."""
    truncate = getattr(getattr(dask_scheduler, "_broker", None), "truncate", None)
    if truncate is not None:
        truncate(topic)


def version(dask_scheduler=None) -> str:
    """This package's version where it runs (the scheduler: it unpickles each task)."""
    from orchestrator import __version__

    return __version__


def probe(root: str, graph: str, digest: str, executables: list[str],
          runtimes: list[str] = ()) -> dict:
    """What `pipeline` needs to know about a worker: its host, Python, this package's
    version, whether it sees the project, where it finds each executable, and the
    version of each runtime (`doctor`'s `--version` query: (version, where) or (None,
    why not))."""
    import sys
    from pathlib import Path

    from orchestrator import __version__

    answer = {"host": socket.gethostname(), "python": sys.version.split()[0],
              "orchestrator": __version__, "problem": root_problem(root, graph, digest),
              "executables": {name: shutil.which(name) for name in executables},
              "versions": {}}
    if runtimes and answer["problem"] is None:
        from orchestrator.commands.doctor import query_version

        answer["versions"] = {name: query_version(name, Path(root)) for name in runtimes}
    return answer
