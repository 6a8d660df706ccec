"""Preloaded in the workers of the local cluster `--executor dask` starts (Dask's
`preload`: `dask_setup(worker)` runs in each worker process as it starts).

Those processes share the process group of `pipeline`, so a terminal's Ctrl-C would
reach them too, and each would die with a traceback before ending its stage's command.
They let SIGINT pass instead: the run stops their stages as it stops a remote
cluster's (`dask_remote.stop_stage`), then closes the cluster. A handler that does
nothing, not SIG_IGN: a handler is reset at exec, so the commands they start get the
default SIGINT handling (an ignored signal would stay ignored in them).
"""

from __future__ import annotations

import signal
import threading


def _let_pass(signum, frame) -> None:
    pass


def dask_setup(worker) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _let_pass)
