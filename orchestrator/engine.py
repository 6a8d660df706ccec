"""The seam to doit: the one configuration both entry points share, and running tasks.

`pipeline run` and `doit run` (through `orchestrator.dodo`) use the same DB file,
backend and checker, so what one built is up to date for the other.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from orchestrator.digest import ContentChecker
from orchestrator.graph import Graph, Stage
from orchestrator.ledger import RunLedger
from orchestrator.stage_action import RunSettings, StageAction

DOIT_CONFIG_BASE: dict[str, Any] = {
    "dep_file": ".doit.db",
    "backend": "sqlite3",
    # a file_dep is unchanged while its size, mtime, ctime and inode are, else while
    # its content is: doit's MD5 checker trusts an mtime that `cp -p` can restore
    "check_file_uptodate": ContentChecker,
    "verbosity": 2,
    # `doit run -n N`: worker threads, as `pipeline run --jobs N` uses (every stage is a
    # subprocess already); `-P process` still works (see compile._stage_outcome)
    "par_type": "thread",
}


def action_factory(graph: Graph, root: Path, ledger: RunLedger,
                   settings: RunSettings = RunSettings()) -> Callable[[Stage], StageAction]:
    log_path = ledger.log_path  # one bound method and one getter for every stage
    def run_id() -> str | None:
        return ledger.run_id

    def make(stage: Stage) -> StageAction:
        return StageAction(graph, stage, root, log_path, run_id, settings)
    return make


PREFETCHED_BACKEND = "pipeline-sqlite3"
# the task names the next run checks: PrefetchedSqliteDB reads their rows up front
PREFETCH: dict[str, set[str] | None] = {"tasks": None}


def __getattr__(name: str):
    # the backend class is built on first use: importing doit costs a start-up
    if name == "PrefetchedSqliteDB":
        return _prefetched_backend()
    raise AttributeError(name)


@lru_cache(maxsize=None)
def _prefetched_backend():
    from doit.dependency import SqliteDB

    class PrefetchedSqliteDB(SqliteDB):
        """doit's sqlite3 backend (same file, same rows) reading its rows in one query.

        doit's own backend runs one SELECT per task as it checks it; over 10,000 tasks
        the queries cost more than decoding what they return. Here the rows of the
        tasks this run checks (`PREFETCH`, set by run_doit) are read in one query and
        kept as text until doit first asks for them. A row the run is done with can be
        released (`release`): doit keeps every decoded row to the end of the run, most
        of a large no-op run's memory."""

        desc = "doit's sqlite3 backend, rows read in one query"

        def __init__(self, name, codec, **options):  # doit 0.37 adds module_name=
            super().__init__(name, codec, **options)
            _tune_for_commits(self._conn)
            wanted = PREFETCH.get("tasks")
            cursor = self._conn.cursor()
            cursor.row_factory = None
            self._raw = {task_id: text for task_id, text in cursor.execute(
                "select task_id, cast(task_data as text) from doit")
                if text is not None and (wanted is None or task_id in wanted)}

        def _get_task_data(self, task_id):
            if task_id in self._raw:
                return self.codec.decode(self._raw.pop(task_id))
            return super()._get_task_data(task_id)

        def in_(self, task_id):
            return task_id in self._raw or super().in_(task_id)

        def remove(self, task_id):
            self._raw.pop(task_id, None)
            super().remove(task_id)

        def remove_all(self):
            self._raw = {}
            super().remove_all()

        def release(self, task_id):
            """The run will neither read nor write this task's state again (it was up
            to date): drop the decoded row. Only rows changed by the run are written."""
            if task_id not in self._dirty:
                self._cache[task_id] = {}

    return PrefetchedSqliteDB


def run_doit(tasks: list, task_names: list[str], reporter: Any,
             force: bool = False, keep_going: bool = False, jobs: int = 1) -> int:
    """Run `task_names` through doit's own `run` command; return doit's exit code.

    `keep_going` is doit's --continue; `jobs` > 1 uses doit's parallel runner with threads
    (each stage is a subprocess already, and threads need no pickling of the tasks)."""
    from doit.cmd_base import TaskLoader2
    from doit.doit_cmd import DoitMain

    config = dict(DOIT_CONFIG_BASE, reporter=reporter, backend=PREFETCHED_BACKEND)

    class Loader(TaskLoader2):
        def load_doit_config(self) -> dict:
            return config

        def load_tasks(self, cmd, pos_args) -> list:
            return tasks

    argv = ["run", *(["--always-execute"] if force else []),
            *(["--continue"] if keep_going else []),
            *(["-n", str(jobs), "-P", "thread"] if jobs > 1 else []), *task_names]
    PREFETCH["tasks"] = {task.name for task in tasks}
    plugins = {"BACKEND": {PREFETCHED_BACKEND: "orchestrator.engine:PrefetchedSqliteDB"}}
    return DoitMain(Loader(), config_filenames=(), extra_config=plugins).run(argv)


def state_releaser() -> Callable[[str], None] | None:
    """What forgets the decoded state of a task the run has settled, when the running
    doit backend can (see PrefetchedSqliteDB)."""
    from doit.globals import Globals

    return getattr(getattr(Globals.dep_manager, "backend", None), "release", None)


def _tune_for_commits(conn) -> None:
    """Make a commit per stage cheap: write-ahead log, synced at checkpoints only.

    doit's connection uses a rollback journal synced on every commit, about 1.4 ms a
    stage, more than the rest of the wrapper. With WAL and `synchronous=NORMAL` a
    committed stage still survives the run being killed; only a power loss or OS crash
    can lose the latest commits, and a lost state makes a stage run again, never look
    up to date wrongly. The file stays doit's sqlite3 DB (plain doit opens it as is)."""
    import sqlite3

    try:
        conn.execute("pragma journal_mode=wal")
        conn.execute("pragma synchronous=normal")
    except sqlite3.Error:  # e.g. a read-only directory: doit's defaults then
        pass


def flush_state() -> None:
    """Make what doit knows so far durable now, not only when the run ends.

    doit's sqlite3 backend writes its changes when the run closes it; a run killed
    before that would forget every stage it finished. Called after each stage ends, this
    commits the same rows doit's own dump would (doit <0.38 keeps them in `_dirty`).
    """
    from doit.dependency import SqliteDB
    from doit.globals import Globals

    dep_manager = Globals.dep_manager
    backend = getattr(dep_manager, "backend", None)
    if not isinstance(backend, SqliteDB) or dep_manager._closed:
        return
    if not getattr(backend, "_pipeline_tuned", False):  # plain doit's backend: once
        _tune_for_commits(backend._conn)
        backend._pipeline_tuned = True
    for task_id in backend._dirty:
        backend._conn.execute("insert or replace into doit values (?,?)",
                              (task_id, backend.codec.encode(backend._cache[task_id])))
    backend._conn.commit()
    backend._dirty = set()


def open_state(root: Path):
    """doit's dependency DB for reading states (None when nothing ever ran here)."""
    from doit.dependency import Dependency, SqliteDB

    db_path = root / DOIT_CONFIG_BASE["dep_file"]
    if not db_path.exists():
        return None
    return Dependency(SqliteDB, str(db_path),
                      checker_cls=DOIT_CONFIG_BASE["check_file_uptodate"])
