"""One run of stages, composed in one place.

`pipeline run`, `pipeline run-stage` and plain `doit run` (through `orchestrator.dodo`)
all run stages through a `RunSession`: it owns the run lock, the masker of secret
values, the console, the ledger (records and events), the reporter doit calls, the
executor that starts each stage's command, the digest cache, and the call into doit.
No entry point can skip one of them, and nothing outside the session assigns their
fields.

    RunSession(graph, RunOptions(...), plan)
      .run()            pipeline run / run-stage: lock, refuse missing inputs, compile,
                        doit, exit code
      .adopt(lock, p)   before run(): the lock the partial fast path took to decide is
                        the run's (one hold), and its old stamp is merged into the new
      .doit_config()    plain doit: DOIT_CONFIG whose reporter claims the lock when doit
      .tasks()          starts, and the compiled tasks of the whole graph
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Mapping

from orchestrator.console import Console
from orchestrator.errors import (
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_STAGE_FAILED,
    EXIT_USAGE,
    UsageError,
)
from orchestrator.options import RunOptions  # noqa: F401 (the session's options)
from orchestrator.paths import DIGESTS_CACHE

if TYPE_CHECKING:
    from orchestrator.graph import Graph
    from orchestrator.plan import Plan


class RunSession:
    """Everything one run needs, set up once; see the module docstring."""

    def __init__(self, graph: Graph, options: RunOptions, plan: Plan | None = None,
                 environ: Mapping[str, str] | None = None, file_values: Mapping[str, str] = {},
                 console: Console | None = None):
        from orchestrator.digest import DigestCache
        from orchestrator.executor import LocalExecutor
        from orchestrator.ledger import RunLedger
        from orchestrator.lock import RunLock
        from orchestrator.reporter import PipelineReporter
        from orchestrator.stage_action import RunSettings

        self.graph = graph
        self.root = graph.root
        self.options = options
        self.plan = plan
        # the stages' environment: the process's, plus --env-file values it lacks
        self.environ = dict(os.environ if environ is None else environ)
        for name, value in file_values.items():
            self.environ.setdefault(name, value)
        self.masker = secret_masker(graph, self.environ, file_values)
        self.console = console or Console(level=options.log_level,
                                          json_events=options.json_logs)
        self.console.masker = self.masker
        self.executor = LocalExecutor() if options.executor == "local" else \
            self._dask_executor()
        self.digests = DigestCache(os.path.join(str(self.root), DIGESTS_CACHE), str(self.root))
        self.settings = RunSettings(
            timeout=options.timeout, prefix_output=options.jobs > 1,
            echo_output=self.console.streams_output, show_commands=self.console.debug,
            masker=self.masker, executor=self.executor, environ=self.environ,
            before_output=self.console.end_live, digests=self.digests,
            before_stage=self.claim_for_stage if options.entry_point == "doit" else None)
        self.lock = RunLock(self.root, can_wait=options.entry_point != "doit")
        self._claimed = False
        self._refused = False  # plain doit was told the lock is held
        # the fast path's stamp (see _snapshot): what it covers, its stats before the
        # run, each stage's outputs, and their stats as each writer left them
        self._stamp_builder = None
        self._before: dict | None = None
        self._outputs: dict[str, list] = {}
        self._written: dict = {}
        self._decided: set[str] = set()  # stages doit has decided so far in this run
        self._sorted_covered: list[str] | None = None
        self._partial = None  # the fastpath.Partial this run finishes (see adopt)
        self._claiming = threading.Lock()  # doit's worker threads start stages at once
        self.ledger = RunLedger(self.root, graph.display, options.as_record(),
                                on_event=self.console.event if options.json_logs else None)
        self.ledger.masker = self.masker
        if options.executor != "local":
            self.ledger.executor = {"executor": options.executor,
                                    "scheduler": self.executor.scheduler_address}
        self.reporter = PipelineReporter(self)

    # -- the executor ----------------------------------------------------------------

    def _dask_executor(self):
        """Connects now when given a scheduler (exit 2 if it cannot be reached, has no
        workers, or a worker does not see this project); a local cluster starts with
        the first stage sent."""
        from orchestrator.dask_executor import DaskExecutor, load_security

        options = self.options
        return DaskExecutor(self.root, self.graph.path, options.scheduler, options.jobs,
                            connect_timeout=options.connect_timeout,
                            security=load_security(options.scheduler_security),
                            environ=self.environ, on_worker=self._on_worker,
                            debug=options.log_level == "debug")

    def _on_worker(self, stage_id: str, address: str, host: str) -> None:
        """A worker started a stage's command: the console and the record say which."""
        if self.ledger.started:
            self.ledger.record["scheduler"] = self.executor.scheduler_address
        self.console.stage_worker(stage_id, address, host)

    # -- the lock ------------------------------------------------------------------

    def claim(self, wait: bool = False) -> None:
        """Take the project's run lock (UsageError when another run holds it), and mark
        the records of runs that died holding it."""
        from orchestrator.ledger import mark_abandoned_runs

        with self._claiming:
            if self._claimed:
                return
            self.lock.acquire(wait=wait, on_wait=self._say_waiting)
            self._claimed = True
            self.ledger.lock = self.lock
            mark_abandoned_runs(self.root)  # we hold the lock: a `running` record is dead

    def adopt(self, lock, partial=None) -> None:
        """Run under a lock already held (the partial fast path took it to decide, so
        the decision and the run happen under one hold); `partial`: the fastpath.Partial
        whose old stamp the new one is merged with, when the plan is partial_plan's.
        The lock is released when the run ends, as one the session took."""
        from orchestrator.ledger import mark_abandoned_runs

        with self._claiming:
            self.release()
            self.lock = lock
            self._claimed = True
            self.ledger.lock = lock
            self._partial = partial
            mark_abandoned_runs(self.root)

    @property
    def partial(self):
        """The fastpath.Partial this run finishes, or None (see adopt)."""
        return self._partial

    def _say_waiting(self, holder: str) -> None:
        """--wait, and another run holds the project: say so, and for which run."""
        from orchestrator.lock import waiting_message

        self.console.error(waiting_message(holder))

    def release(self) -> None:
        if self._claimed:
            self._claimed = False
            self.lock.release()

    # -- pipeline run / run-stage ----------------------------------------------------

    def run(self) -> int:
        """Run the plan's selected stages through doit; record everything under
        .pipeline-runs/. The lock is held from before the record is created until the
        run has ended."""
        try:
            self.claim(wait=self.options.wait)
            code = self._run_claimed()
            self.prune()
            return code
        finally:
            try:
                self.executor.close()
            finally:
                self.release()

    def prune(self) -> None:
        """Remove old runs' records (ledger.prune_runs), this one aside; best effort."""
        from orchestrator.ledger import keep_settings, prune_runs

        try:
            runs, days = keep_settings(self.graph.keep_runs, self.graph.keep_days)
            prune_runs(self.root, runs, days, protect=self.ledger.run_id)
        except (OSError, UsageError):
            pass

    def _run_claimed(self) -> int:
        from orchestrator.plan import missing_inputs

        plan, reporter = self.plan, self.reporter
        missing = missing_inputs(self.graph, plan, self.root)
        if missing:
            sid, paths = next(iter(missing.items()))
            reporter.refuse(sid, "cannot start: missing input " + ", ".join(paths))
            return EXIT_STAGE_FAILED
        if plan.settled:
            reporter.begin()
            for sid, reason in plan.settled.items():
                reporter.settle(sid, reason)
        if not plan.selected:  # --since found nothing to do
            reporter.complete_run()
            return EXIT_OK
        from orchestrator.engine import run_doit

        tasks = self.tasks(plan.selected)
        if self.options.fast_path_key is not None:
            self._snapshot(tasks)
        try:
            code = run_doit(tasks, list(plan.selected), reporter,
                            force=plan.force, keep_going=self.options.keep_going,
                            jobs=self.options.jobs, checker=self.digests.checker_class(),
                            masker=self.masker)
        except BaseException:  # interrupted: no stamp may claim what was not decided
            if self.options.fast_path_key is not None:
                self._write_stamp(tasks, False)
            raise
        if self.options.fast_path_key is not None:
            self._write_stamp(tasks, code == 0)
        if reporter.internal_error:
            return EXIT_INTERNAL  # a bug of ours, said in one line
        if reporter.any_stage_failed or reporter.errors:
            return EXIT_STAGE_FAILED
        if code == 0:
            return EXIT_OK
        # doit refused before running (it printed why) or a non-stage task failed
        return EXIT_USAGE if not self.ledger.started else EXIT_STAGE_FAILED

    # -- the fast path's stamp --------------------------------------------------------

    def _write_stamp(self, tasks: list, succeeded: bool) -> None:
        """After the run: the selection's stamp (fastpath.py) when every selected stage
        ended succeeded or up to date and none must always run; else none."""
        from orchestrator import fastpath

        root, key = str(self.root), self.options.fast_path_key
        stamp, side = self._stamp(tasks) if succeeded else (None, None)
        fastpath.write_stamp(root, key, stamp, side)

    def _snapshot(self, tasks: list) -> None:
        """Before doit starts: what the stamp will cover, and its stats now (see
        fastpath.py: the stamp vouches only for what the run decided on). The graph
        file's stat is the one taken before it was read (`options.graph_stat`)."""
        from orchestrator import fastpath
        from orchestrator.compile import freshness_of

        graph, builder = self.graph, fastpath.StampBuilder(str(self.root))
        candidates = graph.script_candidates
        for task in tasks:
            freshness = freshness_of(task)
            if freshness is None:
                continue
            stage = freshness.stage
            builder.owner = stage.id  # what follows is read by this stage's decision
            builder.files(task.file_dep)
            for artifact in freshness.tracked_inputs:
                _cover(builder, artifact)
            for artifact, _optional in freshness.outputs:
                _cover(builder, artifact)
            self._outputs[stage.id] = [artifact for artifact, _ in freshness.outputs]
            builder.files(candidates[stage.id])
            if stage.environment:
                names = sorted({v.name for v in stage.environment})
                builder.env_names.update(names)
                builder.stage_env[stage.id] = names
        builder.owner = None  # the --env-file is every stage's
        if self.options.env_file:
            builder.file(os.path.abspath(self.options.env_file))
        before = builder.snapshot()
        if before is not None and self.options.graph_stat is not None:
            before[str(graph.path)] = tuple(self.options.graph_stat)
            self._stamp_builder, self._before = builder, before

    def stage_written(self, stage_id: str) -> None:
        """A stage succeeded: the stats its outputs have now are the ones the stamp may
        find at the end (a later change to them is seen by nobody)."""
        outputs = self._outputs.get(stage_id)
        if self._stamp_builder is None or not outputs:
            return
        seen = self._stamp_builder.snapshot(
            [a.path for a in outputs if not a.is_directory],
            {a.path: a.ignore for a in outputs if a.is_directory})
        if seen is None or self._read_before(stage_id, outputs):
            # an output folder that cannot be read, or a stage decided before this one
            # wrote reads what it wrote: no stamp (the next run decides that stage again)
            self._stamp_builder = None
        else:
            self._written.update(seen)

    def stage_decided(self, stage_id: str) -> None:
        """doit decided the stage: up to date, or about to run it."""
        self._decided.add(stage_id)

    def _covered_inside(self, folder: str) -> list[str]:
        """The covered paths inside `folder` (a sorted list, made once, and bisected:
        10,000 stages writing folders must not each scan every path)."""
        import bisect

        if self._sorted_covered is None:
            self._sorted_covered = sorted(self._stamp_builder.owners)
        paths, inside = self._sorted_covered, folder + "/"
        found = []
        for rel in paths[bisect.bisect_left(paths, inside):]:
            if not rel.startswith(inside):
                break
            found.append(rel)
        return found

    def _read_before(self, writer: str, outputs: list) -> bool:
        """Does a stage decided before `writer` ended also cover one of its outputs:
        the same file, a folder holding it, or (for a folder output) something inside?
        Only a stage that comes first without depending on the writer can (a folder it
        reads that a later stage writes into): it was decided on what was there before."""
        builder = self._stamp_builder
        owners = builder.owners  # artifact paths are normalized: no trailing "/"
        for artifact in outputs:
            path = artifact.path
            readers = set(owners.get(path, ()))
            for root in builder.trees:
                if path.startswith(root + "/"):
                    readers.update(owners.get(root, ()))
            if artifact.is_directory:
                readers.update(o for rel in self._covered_inside(path) for o in owners[rel])
            readers.discard(writer)
            if readers & self._decided:
                return True
        return False

    def _stamp(self, tasks: list) -> tuple[dict | None, dict | None]:
        """The stamp and its side file (fastpath.side_data), or (None, None); after a
        partial run, merged with the old ones for the stages doit did not see."""
        from orchestrator import fastpath

        stamp = self._own_stamp(tasks)
        if stamp is None:
            return None, None
        side = fastpath.side_data(self._stamp_builder, self.plan.selected, os.environ)
        partial = self._partial
        if partial is None:
            return stamp, side
        return fastpath.merge_partial(stamp, side, partial.stamp, partial.side, os.environ)

    def _own_stamp(self, tasks: list) -> dict | None:
        from orchestrator.compile import freshness_of

        reporter, plan = self.reporter, self.plan
        counts = reporter.counts
        builder = self._stamp_builder
        if (builder is None or reporter.any_stage_failed or reporter.errors
                or reporter.internal_error or self.ledger.write_error
                or self.ledger.any_warnings
                or counts["succeeded"] + counts["up-to-date"] != len(plan.selected)):
            return None
        for task in tasks:
            freshness = freshness_of(task)
            if freshness is None:
                continue
            until = freshness.fresh_until(reporter.finished_at.get(freshness.stage.id))
            if until is None:
                return None  # it runs every time: no stamp can stand for it
            if until != float("inf"):
                builder.stage_until(freshness.stage.id, until)
        graph = self.graph
        selection = self.options.selection
        head = {"pipelineId": plan.pipeline_id, "label": self.options.label,
                "runId": self.ledger.run_id,  # whose record has the stages' fingerprints
                "stages": len(plan.selected), "keep": [graph.keep_runs, graph.keep_days],
                "graphWarnings": graph.misspelling_lines(),
                "selection": selection.as_options() if selection is not None else {}}
        return builder.build(str(graph.path), graph.display, os.environ, head,
                             before=self._before, outputs=self._written)

    # -- compiled tasks, for either entry point --------------------------------------

    def tasks(self, stage_ids=None, pipelines: bool = False) -> list:
        from orchestrator.compile import compile_tasks

        ids = list(self.graph.stages) if stage_ids is None else stage_ids
        return compile_tasks(self.graph, ids, self.root, self.action_factory(),
                             pipelines=pipelines, keep_scan=True, digests=self.digests,
                             environ=self.environ)

    def action_factory(self):
        """stage -> its StageAction: one log-path getter and run-id getter for all."""
        from orchestrator.stage_action import StageAction

        graph, root, settings = self.graph, self.root, self.settings
        log_path, ledger = self.ledger.log_path, self.ledger

        def run_id() -> str | None:
            return ledger.run_id

        def make(stage):
            return StageAction(graph, stage, root, log_path, run_id, settings)
        return make

    # -- plain doit ------------------------------------------------------------------

    def doit_config(self) -> dict[str, Any]:
        """DOIT_CONFIG for a repository's dodo.py: the shared configuration, this
        session's reporter (which claims the lock when doit starts) and checker."""
        from orchestrator.engine import DOIT_CONFIG_BASE, masking_codec

        config = dict(DOIT_CONFIG_BASE, reporter=self.reporter,
                      check_file_uptodate=self.digests.checker_class())
        codec = masking_codec(self.masker)
        if codec is not None:  # secrets never reach .doit.db
            config["codec_cls"] = codec
        return config

    def claim_for_stage(self) -> str | None:
        """Plain doit is about to run a stage: hold the lock first, whatever reporter doit
        was given (`doit run --reporter executed-only` never calls ours). The problem, if
        the lock is held by another run."""
        try:
            self.claim()
        except UsageError as exc:
            return str(exc)
        return None

    def claim_for_doit(self) -> None:
        """doit is starting the run (plain `doit run`): take the lock now, or stop doit
        with one line when another run holds it. doit then ends the run it never began
        (the reporter's complete_run), which asks again: that stops as quietly, so the
        line is said once."""
        if self.options.entry_point != "doit" or self._claimed:
            return
        if self._refused:
            raise SystemExit(2)
        try:
            self.claim()
        except UsageError as exc:
            self._refused = True
            self.console.error(f"error: {exc}")
            raise SystemExit(2) from None


def _cover(builder, artifact) -> None:
    if artifact.is_directory:
        builder.tree(artifact.path, artifact.ignore)
    else:
        builder.file(artifact.path)


def secret_masker(graph: Graph, environ: Mapping[str, str], file_values: Mapping[str, str]):
    """The Masker of every value that must not leak: the declared variables' values and
    everything an --env-file set."""
    from orchestrator.masking import Masker

    declared = {v.name for stage in graph.stages.values() for v in stage.environment}
    secrets = [environ[name] for name in declared if environ.get(name)]
    return Masker([*secrets, *file_values.values()])
