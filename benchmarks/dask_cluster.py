"""A Dask cluster of real processes on 127.0.0.1 for the benchmark and the tests:
`dask scheduler` and `dask worker` (each with its nanny), started from the project's
interpreter's `dask` script, each in its own session so that stopping it kills all.

    with DaskProcesses(workdir, env) as cluster:   # a scheduler and two workers
        ... cluster.address ...

The tests start workers one by one (`start_scheduler`, `start_worker`, `workers`).
Every server binds 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

DASK = Path(sys.executable).parent / "dask"


class DaskProcesses:
    def __init__(self, workdir: Path, env: dict[str, str], workers: int = 2):
        self.workdir = workdir
        self.env = env
        self.count = workers  # started by `with`
        self.procs: list[subprocess.Popen] = []
        self.address = ""

    def _start(self, argv: list[str], name: str, prefix: tuple[str, ...] = ()) -> None:
        log = open(self.workdir / f"{name}.log", "ab")
        self.procs.append(subprocess.Popen([*prefix, *argv], cwd=self.workdir, env=self.env,
                                           stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True))
        log.close()

    def start_scheduler(self) -> None:
        """Start the scheduler and wait for its address (from its scheduler file)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        file = self.workdir / "scheduler.json"
        self._start([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--scheduler-file", str(file)], "scheduler")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if file.exists() and file.stat().st_size:
                try:
                    self.address = json.loads(file.read_text())["address"]
                    return
                except ValueError:  # still being written
                    pass
            time.sleep(0.1)
        raise RuntimeError("the dask scheduler did not start")

    def start_worker(self, name: str, prefix: tuple[str, ...] = ()) -> None:
        """Start one single-threaded worker named `name`; `prefix` wraps its command."""
        self._start([str(DASK), "worker", self.address, "--host", "127.0.0.1", "--nthreads",
                     "1", "--no-dashboard", "--name", name], name, prefix)

    def workers(self, count: int) -> list[str]:
        """The workers' addresses, once `count` are connected."""
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(count, timeout=60)
            return sorted(client.scheduler_info()["workers"])

    def stop(self) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()

    def __enter__(self) -> DaskProcesses:
        try:
            self.start_scheduler()
            for n in range(self.count):
                self.start_worker(f"w{n + 1}")
            self.workers(self.count)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
