"""The Dask executor: each stage's command runs on a worker of a Dask cluster.

doit stays on this machine and decides what runs; only "run this argv with this
environment in this directory, stream its output, say how it ended and what it used"
travels, as one Dask task per command attempt (`dask_remote.run_stage`). Its output
comes back while it runs, as events on a topic of the run's own (`Worker.log_event`,
`Client.subscribe_topic`), and goes through the same masking into the same stage log
and console as a local command's.

Without a scheduler address a local cluster is started (processes, on 127.0.0.1, one
single-threaded worker per `--jobs`) when the first command is sent, and closed at the
end. With an address, the run connects before anything starts, waits for a worker, and
checks that every worker sees the project root and the graph file with the same content
(exit 2 otherwise). See docs/distributed.md.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Callable

from orchestrator.errors import UsageError
from orchestrator.executor import ExecutorFailed
from orchestrator.process import GRACE_S, ProcessResult, StartFailed, _console_writer

SCHEDULER_VARIABLE = "PIPELINE_DASK_SCHEDULER"
DEFAULT_CONNECT_TIMEOUT = 10.0
INSTALL_HINT = "pip install 'pipeline-orchestrator[dask]'"
_END_WAIT_S = 5.0  # after the task ended, how long its last events may take to arrive
# always sent to a worker, whatever the stage declares
_RUNNER_VARIABLES = ("PIPELINE_STAGE_ID", "PIPELINE_RUN_ID")


def require_distributed() -> None:
    """A usage error saying how to install Dask when it is not installed; without
    importing it (half a second), which the executor does when it starts: a run whose
    stages are all up to date never pays for it."""
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        raise UsageError(f"--executor dask needs Dask, which is not installed: "
                         f"{INSTALL_HINT}")


def import_distributed():
    """The `distributed` package, or a usage error saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise UsageError(f"--executor dask needs Dask, which is not installed: "
                         f"{INSTALL_HINT}") from None
    return distributed


def load_security(path: str | None):
    """A `distributed.Security` from --scheduler-security (a YAML file of its keyword
    arguments: tls_ca_file, tls_client_cert, tls_client_key, require_encryption), or
    None: Dask's own configuration (`distributed.comm.tls.*`) applies."""
    if path is None:
        return None
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise UsageError(f"--scheduler-security {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"--scheduler-security {path}: not YAML: "
                         f"{' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--scheduler-security {path}: expected a mapping of "
                         f"distributed.Security arguments")
    from distributed.security import Security

    try:
        return Security(**data)
    except (TypeError, ValueError, OSError) as exc:
        raise UsageError(f"--scheduler-security {path}: {exc}") from None


def _quiet_dask_logs(debug: bool) -> None:
    """Dask logs its own warnings (a worker that went away, a slow close) on stderr; the
    run says what they mean in its own lines. With --log-level debug they are kept."""
    if debug:
        return
    names = [name for name in logging.root.manager.loggerDict
             if name == "distributed" or name.startswith("distributed.")]
    for name in names:  # each may have a level of its own (Dask's logging config)
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


class DaskExecutor:
    """Runs each command as a task on a Dask cluster; see the module docstring."""

    def __init__(self, root: Path, graph_path: Path, address: str | None, jobs: int,
                 connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, security=None,
                 environ: dict[str, str] | None = None,
                 on_worker: Callable[[str, str, str], None] | None = None,
                 debug: bool = False):
        import_distributed()
        from orchestrator.dask_remote import file_digest

        _quiet_dask_logs(debug)
        self.root = str(root)
        self.graph_path = str(graph_path)
        self.graph_digest = file_digest(self.graph_path)
        self.address = address
        self.jobs = jobs
        self.connect_timeout = connect_timeout
        self.security = security
        self.environ = environ if environ is not None else dict(os.environ)
        self.on_worker = on_worker  # (stage id, worker address, host): the console line
        self.topic = f"pipeline-output-{uuid.uuid4().hex}"
        self.client = None
        self.cluster = None
        self._starting = threading.Lock()
        self._lock = threading.Lock()
        self._queues: dict[str, queue.Queue] = {}  # token -> its events
        self._keys: dict[str, str] = {}  # task key -> token
        self._closed = False
        self.scheduler_address: str | None = None
        if address is not None:
            self._connect()

    # -- the cluster ---------------------------------------------------------------

    def _connect(self) -> None:
        """Connect to the scheduler at `address`; wait for a worker; check the workers."""
        from distributed import Client

        address = self.address
        try:
            client = Client(address, timeout=self.connect_timeout, security=self.security,
                            set_as_default=False)
        except Exception as exc:  # OSError, TimeoutError, ValueError (a bad address)...
            why = " ".join(str(exc).split()) or type(exc).__name__
            raise UsageError(f"cannot reach the Dask scheduler at {address} within "
                             f"{self.connect_timeout:g}s: {why}") from None
        try:
            try:
                client.wait_for_workers(1, timeout=self.connect_timeout)
            except Exception:
                raise UsageError(f"the Dask scheduler at {address} has no workers (waited "
                                 f"{self.connect_timeout:g}s)") from None
            self._check_workers(client)
        except BaseException:
            client.close()
            raise
        self._attach(client)

    def _start_local(self) -> None:
        import dask
        from distributed import Client, LocalCluster

        # a worker that dies fails its stage (`worker lost`) rather than being retried
        # elsewhere behind the run's back: `retries` decides
        # (its HTTP server, for health checks, listens on 127.0.0.1 too: on 8787, or any
        # free port with a warning not worth showing)
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1,
                                   processes=True, host="127.0.0.1", dashboard_address=None,
                                   silence_logs=logging.CRITICAL + 1,
                                   preload=["orchestrator.dask_local_worker"])
        self.cluster = cluster
        self._attach(Client(cluster, set_as_default=False))

    def _attach(self, client) -> None:
        self.client = client
        self.scheduler_address = client.scheduler.address
        client.subscribe_topic(self.topic, self._on_output_event)
        client.subscribe_topic("all", self._on_cluster_event)

    def _client(self):
        if self.client is None:
            with self._starting:
                if self._closed:
                    raise KeyboardInterrupt  # the run is ending
                if self.client is None:
                    self._start_local()
        return self.client

    def _check_workers(self, client) -> None:
        """Every worker sees the project root, and the graph file with our content."""
        from orchestrator import __version__
        from orchestrator.dask_remote import probe, version

        try:  # the scheduler unpickles every task: it needs this package as well
            on_scheduler = client.run_on_scheduler(version)
        except Exception as exc:
            raise UsageError(f"the Dask scheduler at {self.address} cannot take stages: "
                             f"{type(exc).__name__}: {' '.join(str(exc).split())} (install "
                             f"pipeline-orchestrator where the scheduler runs)") from None
        if on_scheduler != __version__:
            raise UsageError(f"the Dask scheduler at {self.address} has "
                             f"pipeline-orchestrator {on_scheduler}, this machine "
                             f"{__version__}")
        answers = client.run(probe, self.root, self.graph_path, self.graph_digest, [],
                             on_error="return")
        for address, answer in sorted(answers.items()):
            if isinstance(answer, BaseException):
                raise UsageError(f"worker {address} cannot run stages: "
                                 f"{type(answer).__name__}: {answer} (install "
                                 f"pipeline-orchestrator {__version__} on the workers, "
                                 f"and restart them)")
            if answer["problem"]:
                raise UsageError(f"worker {address} ({answer['host']}) does not see this "
                                 f"project: {answer['problem']} (the project root must be "
                                 f"shared; see docs/distributed.md)")
            if answer["orchestrator"] != __version__:
                raise UsageError(f"worker {address} ({answer['host']}) has "
                                 f"pipeline-orchestrator {answer['orchestrator']}, this "
                                 f"machine {__version__}")

    def close(self) -> None:
        with self._starting:
            self._closed = True
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        try:
            if client is not None:
                from orchestrator.dask_remote import forget_topic

                client.unsubscribe_topic(self.topic)
                if cluster is None:  # a scheduler that stays up after the run
                    client.run_on_scheduler(forget_topic, self.topic)
                client.unsubscribe_topic("all")
                client.close()
            if cluster is not None:
                cluster.close()
        except Exception:  # closing a cluster that went away: nothing left to do
            pass

    # -- events, in the client's event loop -----------------------------------------

    def _on_output_event(self, event) -> None:
        _, message = event
        token = message.get("token")
        with self._lock:
            events = self._queues.get(token)
        if events is not None:
            events.put(message)
        elif message.get("kind") == "start":
            # a command of a stage given up on (interrupted, its worker lost) started
            # anyway, rescheduled by Dask: end it
            self._signal_later(token, signal.SIGKILL, [message.get("worker")])

    def _on_cluster_event(self, event) -> None:
        _, message = event
        if not isinstance(message, dict) or message.get("action") != "remove-worker":
            return
        with self._lock:
            for key in message.get("processing-tasks") or ():
                token = self._keys.get(str(key))
                if token is not None and token in self._queues:
                    self._queues[token].put({"kind": "lost", "worker": message.get("worker")})

    def _signal_later(self, token: str, signum: int, workers=None) -> None:
        threading.Thread(target=self._signal, args=(token, signum, workers),
                         daemon=True).start()

    def _signal(self, token: str, signum: int, workers=None) -> None:
        from orchestrator.dask_remote import stop_stage

        client = self.client
        if client is None:
            return
        try:
            client.run(stop_stage, token, int(signum), GRACE_S, workers=workers,
                       on_error="ignore")
        except Exception:  # the worker or the scheduler is gone: nothing to stop there
            pass

    # -- the Executor interface ----------------------------------------------------

    def run(self, argv, env, cwd, log, *, timeout=None, prefix=None, masker=None,
            echo=True, before_output=None, declared=()) -> ProcessResult:
        from orchestrator.dask_remote import run_stage

        client = self._client()
        token = uuid.uuid4().hex
        events: queue.Queue = queue.Queue()
        names = (*declared, *_RUNNER_VARIABLES)
        sent = {name: env[name] for name in names if name in env}
        secrets = [env[name] for name in declared if env.get(name)]
        python_root = env.get("PYTHONPATH") != self.environ.get("PYTHONPATH") \
            and "PYTHONPATH" not in declared
        stage = env.get("PIPELINE_STAGE_ID", "command")
        key = f"pipeline-{stage}-{token}"
        with self._lock:
            self._queues[token] = events
            self._keys[key] = token
        future = None
        try:
            future = client.submit(run_stage, token, self.topic, list(argv), sent,
                                   python_root, str(cwd), self.graph_path, self.graph_digest,
                                   timeout, secrets, key=key, pure=False)
            future.add_done_callback(lambda _: events.put({"kind": "done"}))
            return self._follow(token, stage, future, events, log, prefix, masker, echo,
                                before_output)
        except KeyboardInterrupt as exc:
            from orchestrator.errors import Terminated

            self._stop(token, events, signal.SIGTERM if isinstance(exc, Terminated)
                       else signal.SIGINT)
            raise
        finally:
            with self._lock:
                self._queues.pop(token, None)
                self._keys.pop(key, None)
            if future is not None and not future.done():
                future.cancel()

    def _stop(self, token: str, events: queue.Queue, first: int) -> None:
        """The run is interrupted: the worker signals the command's process group, and
        kills it after the grace period (at once on a second interrupt)."""
        self._signal(token, first)
        try:
            _wait_for_end(events, GRACE_S + _END_WAIT_S)
        except KeyboardInterrupt:
            self._signal(token, signal.SIGKILL)
            raise

    def _follow(self, token, stage, future, events, log, prefix, masker, echo,
                before_output) -> ProcessResult:
        """Copy the command's output as it comes; its result once it ends."""
        console = _console_writer(prefix, before_output) if echo else (lambda data: None)
        stream = None
        if masker:
            from orchestrator.masking import StreamMasker

            stream = StreamMasker(masker)
        worker = host = None
        done_at = None

        def write(data: bytes) -> None:
            if stream is not None:
                data = stream.feed(data)
            if data:
                log.write(data)
                log.flush()
                console(data)

        def finish() -> None:
            if stream is not None:
                tail = stream.flush()
                if tail:
                    log.write(tail)
                    console(tail)
            console(b"")

        while True:
            try:
                message = events.get(timeout=0.5 if done_at is None else _END_WAIT_S)
            except queue.Empty:
                if done_at is None:
                    continue
                message = {"kind": "done"}  # ended, and its last events are not coming
            kind = message.get("kind")
            if kind == "out":
                write(message["data"])
            elif kind == "start":
                if worker is not None and message.get("worker") != worker:
                    # Dask ran it again elsewhere: its first worker went away
                    self._signal_later(token, signal.SIGKILL, [message.get("worker")])
                    finish()
                    raise ExecutorFailed(f"worker lost: {worker}", _who(worker, host))
                worker, host = message.get("worker"), message.get("host")
                if self.on_worker is not None:
                    self.on_worker(stage, worker, host)
            elif kind == "end":
                finish()
                return _result(message)
            elif kind == "lost":
                if worker is not None and message.get("worker") == worker:
                    finish()
                    raise ExecutorFailed(f"worker lost: {worker}", _who(worker, host))
            elif kind == "done":
                if done_at is None and future.status == "finished":
                    done_at = time.monotonic()  # its end event should follow
                    continue
                finish()
                if future.status == "finished":
                    return _result(future.result())
                if future.status == "cancelled":
                    raise ExecutorFailed(f"lost the Dask scheduler at "
                                         f"{self.scheduler_address} (or it cancelled the "
                                         f"task)", _who(worker, host))
                exc = future.exception()
                if type(exc).__name__ == "KilledWorker":
                    lost = worker or getattr(exc, "last_worker", None)
                    address = getattr(lost, "address", lost)
                    raise ExecutorFailed(f"worker lost: {address}", _who(address, host))
                raise ExecutorFailed(f"on the Dask cluster: {type(exc).__name__}: "
                                     f"{' '.join(str(exc).split())}", _who(worker, host))

    def stop_all(self) -> None:
        """The run was interrupted: every command still running on a worker is signalled
        (SIGINT), killed after the grace period, or at once on a second interrupt."""
        with self._lock:
            running = dict(self._queues)
        if not running or self.client is None:
            return
        for token in running:
            self._signal(token, signal.SIGINT)
        end = time.monotonic() + GRACE_S + _END_WAIT_S
        try:
            while time.monotonic() < end:
                with self._lock:
                    if not any(token in self._queues for token in running):
                        return
                time.sleep(0.05)
        except KeyboardInterrupt:
            for token in running:
                self._signal(token, signal.SIGKILL)
            raise


def _wait_for_end(events: queue.Queue, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if events.get(timeout=0.1).get("kind") in ("end", "done"):
                return
        except queue.Empty:
            pass


def _who(address, host) -> dict | None:
    return {"address": address, "host": host} if address else None


def _result(message: dict) -> ProcessResult:
    worker = _who(message.get("worker"), message.get("host"))
    if message.get("error"):
        if message.get("usage"):
            raise ExecutorFailed(message["error"], worker)
        raise StartFailed(message["error"])
    return ProcessResult(message["exit_code"], message["cpu_seconds"],
                         message["peak_rss_kb"], message["timed_out"], worker=worker)
