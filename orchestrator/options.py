"""How a run was asked for: `RunOptions`, frozen, kept light.

A plain class rather than a dataclass: `pipeline run` builds one before it knows whether
the fast path (fastpath.py) can answer, and importing `dataclasses` (with `inspect`)
would cost that path a tenth of its time.
"""

from __future__ import annotations


class RunOptions:
    """How a run was asked for: what the record keeps under `options`, and what shapes
    the run (the rest is in the plan). Frozen: `replace` makes a changed copy.

    Fields and their defaults (a keyword each):

    command: str = "run"  # "run" | "run-stage" | "doit run"
    label: str | None = None  # what the run is called: the pipeline or stage id
    stage: str | None = None  # run-stage's stage
    selection: Selection | None = None  # run's --only / --skip / --from / --to
    force: bool = False
    dry_run: bool = False
    since: str | None = None
    keep_going: bool = False  # --continue-on-error
    jobs: int = 1
    timeout: float | None = None
    env_file: str | None = None
    wait: bool = False  # wait for another run's lock instead of refusing
    log_level: str = "info"
    json_logs: bool = False
    global_options: tuple[str, ...] = ()  # `-C DIR`, `-g FILE` as given (rerun hints)
    # the selection's fast-path stamp (fastpath.py), written when the run allows it
    fast_path_key: str | None = None
    # the graph file's stat before it was read: the stamp vouches for that content only
    graph_stat: tuple | None = None
    argv: tuple[str, ...] = ()  # the command line after `pipeline` or `doit` (the report
    # shows it)
    executor: str = "local"  # "local" | "dask": where stage commands run
    scheduler: str | None = None  # dask: the scheduler's address (None: a local cluster)
    connect_timeout: float = 10.0  # dask: seconds to reach the scheduler and a worker
    scheduler_security: str | None = None  # dask: a YAML file of Security arguments
    """

    DEFAULTS = {
        "command": "run",
        "label": None,
        "stage": None,
        "selection": None,
        "force": False,
        "dry_run": False,
        "since": None,
        "keep_going": False,
        "jobs": 1,
        "timeout": None,
        "env_file": None,
        "wait": False,
        "log_level": "info",
        "json_logs": False,
        "global_options": (),
        "fast_path_key": None,
        "graph_stat": None,
        "argv": (),
        "executor": "local",
        "scheduler": None,
        "connect_timeout": 10.0,
        "scheduler_security": None,
    }
    __slots__ = tuple(DEFAULTS)

    def __init__(self, **given):
        unknown = sorted(set(given) - set(self.DEFAULTS))
        if unknown:
            raise TypeError(f"RunOptions has no field {', '.join(unknown)}")
        for name, default in self.DEFAULTS.items():
            object.__setattr__(self, name, given.get(name, default))

    def __setattr__(self, name, value):
        raise AttributeError(f"RunOptions is frozen: cannot set {name}")

    def replace(self, **changes) -> RunOptions:
        """A copy with `changes`."""
        return RunOptions(**{**{n: getattr(self, n) for n in self.DEFAULTS}, **changes})

    def __eq__(self, other) -> bool:
        return type(other) is RunOptions and all(
            getattr(self, n) == getattr(other, n) for n in self.DEFAULTS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.DEFAULTS
                          if getattr(self, n) != self.DEFAULTS[n])
        return f"RunOptions({shown})"

    @property
    def entry_point(self) -> str:
        return "doit" if self.command == "doit run" else "pipeline"

    def as_record(self) -> dict:
        """The run record's `options` (their keys are part of the record format)."""
        head = {"command": self.command, "entryPoint": self.entry_point}
        if self.argv:  # masked with the rest of the record
            head["argv"] = [self.entry_point, *self.argv]
        if self.command == "doit run":
            return head
        output = {"logLevel": self.log_level, "jsonLogs": self.json_logs}
        if self.command == "run-stage":
            return {**head, "stage": self.stage, "force": True, "dryRun": False,
                    "timeout": self.timeout, "envFile": self.env_file, **output,
                    **self._executor_options()}
        selection = self.selection.as_options() if self.selection is not None else {}
        return {**head, **selection, "force": self.force, "dryRun": self.dry_run,
                "since": self.since, "continueOnError": self.keep_going, "jobs": self.jobs,
                "timeout": self.timeout, "envFile": self.env_file, **output,
                **self._executor_options()}

    def _executor_options(self) -> dict:
        if self.executor == "local":
            return {}  # the records of local runs keep their shape
        return {"executor": self.executor, "scheduler": self.scheduler,
                "connectTimeout": self.connect_timeout}
