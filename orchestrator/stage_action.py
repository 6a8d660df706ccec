"""The action doit runs for one stage: hooks, the command, validation, the result.

It starts the command without a shell in the project root, streams what it prints to
the console and to the stage's log, measures its CPU time and peak memory, checks every
written artifact, and runs the stage's `before` / `after` / `onFailure` hooks. Its
return value (a dict) is what doit saves as the task's values; a failure is returned
as a `StageFailure`, which doit hands to the reporter.
"""

from __future__ import annotations

import functools
import inspect
import os
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from doit.exceptions import TaskFailed

from orchestrator import process
from orchestrator.compile import CHANGED_DURING_RUN_KEY, freshness_of
from orchestrator.digest import DigestCache, digest_of
from orchestrator.executor import Executor, ExecutorFailed, LocalExecutor, StartFailed
from orchestrator.graph import Graph, Hook, Stage
from orchestrator.ledger import now_iso, open_for_writing
from orchestrator.runtimes import ExecutableNotFound, build_invocation, stage_interpreter
from orchestrator.schemas import SchemaCache, SchemaProblem, validate_artifact


@dataclass(frozen=True)
class RunSettings:
    """Run-wide options the action needs: set by `pipeline run`'s flags."""

    timeout: float | None = None  # for stages that declare none
    prefix_output: bool = False  # parallel runs: mark each output line with its stage
    retry_delay_scale: float = 1.0  # tests shrink the waits between attempts
    echo_output: bool = True  # copy stage output to the console as it comes
    show_commands: bool = False  # --log-level debug: print each command before it runs
    masker: Any = None  # masking.Masker of the run's secret values, if any
    # the session's parts (a settings object made alone, in a test, gets its own)
    executor: Executor = field(default_factory=LocalExecutor)
    environ: dict[str, str] | None = None  # the stages' environment (None: os.environ)
    before_output: Callable[[], None] | None = None  # ends the console's live line
    digests: DigestCache = field(default_factory=DigestCache)
    found_on_path: dict = field(default_factory=dict)  # runtimes.resolve_executable's
    schemas: SchemaCache = field(default_factory=SchemaCache)  # the schemas read so far
    # called before each stage; a message when it must not start (plain doit: the
    # project's run lock is held by another run)
    before_stage: Callable[[], str | None] | None = None


class StageFailure(TaskFailed):
    """Why a stage failed, with what was measured of it. Picklable, for doit."""

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


def _exists(path: str, directory: bool) -> bool:
    """Is there a file (or, for a directory artifact, a directory) at `path`? A link is
    followed, as `Path.is_file` does: one stat, no path object."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISDIR(mode) if directory else stat.S_ISREG(mode)


class _Failed(Exception):
    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        self.exit_code = exit_code


_NOTHING_MEASURED: dict[str, Any] = {}  # never mutated; replaced once the stage ran


class _Attempt:
    """An attempt's record entry, used as its `__dict__` (shared keys: about half the
    size of a plain dict; kept for every stage of the run)."""

    def __init__(self, number: int):
        self.attempt = number
        self.status = "succeeded"
        self.exitCode = None
        self.durationMs = None


class StageLog:
    """A stage's log file, created at the first byte written to it: a stage that prints
    nothing leaves no file (and its record no `logPath`). Creating a file costs more than
    the rest of the wrapper on some file systems, and a large run of quiet stages would
    leave thousands of empty ones."""

    __slots__ = ("_path", "_where", "file")

    def __init__(self, path: Path | Callable[[], Path]):
        # a callable: the path is only worked out for a stage that prints something
        self._path, self._where = (None, path) if callable(path) else (path, None)
        self.file = None

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = self._where()
        return self._path

    @property
    def created(self) -> bool:
        return self.file is not None

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self.file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(open_for_writing(self.path), "wb")
        self.file.write(data)

    def flush(self) -> None:
        if self.file is not None:
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


class StageAction:
    """doit python-action for one stage. `log_path` gives the stage's log file."""

    __slots__ = ("graph", "stage", "root", "log_path", "run_id", "settings", "last_details",
                 "saved_values")  # one per stage: 10,000 in a big graph

    def __init__(self, graph: Graph, stage: Stage, root: Path,
                 log_path: Callable[[str], Path], run_id: Callable[[], str | None],
                 settings: RunSettings = RunSettings()):
        self.graph = graph
        self.stage = stage
        self.root = root
        self.log_path = log_path
        self.run_id = run_id
        self.settings = settings
        self.last_details: dict[str, Any] | None = None
        self.saved_values: dict[str, Any] = _NOTHING_MEASURED

    def __repr__(self) -> str:
        return f"<stage {self.stage.id}: {' '.join(self.stage.command.as_list())}>"

    # doit passes the task through this magic parameter name, found by asking
    # inspect.signature before every call: given here, it is not worked out each time
    __signature__ = inspect.Signature(
        [inspect.Parameter("task", inspect.Parameter.POSITIONAL_OR_KEYWORD)])

    def __call__(self, task):
        if self.settings.before_stage is not None:
            problem = self.settings.before_stage()
            if problem:
                return StageFailure(problem)
        started = time.monotonic()
        log = StageLog(functools.partial(self.log_path, self.stage.id))
        details: dict[str, Any] = {"startedAt": now_iso(), "logPath": None,
                                   "hooks": [], "attempts": [], "exitCode": None}
        freshness = freshness_of(task)
        if freshness is not None:
            details["fingerprint"] = freshness.run_fingerprint()["digest"]
        try:
            self._check_environment()
            self._run_hooks("before", self.stage.hooks.before, log, details)
            self._attempts(log, details)
            changed = freshness.changed_since_start() if freshness is not None else []
            self._run_hooks("after", self.stage.hooks.after, log, details)
        except KeyboardInterrupt:
            self._run_hooks_quietly(log, details)
            raise
        except _Failed as failure:
            self._run_hooks_quietly(log, details)
            if failure.exit_code is not None:
                details["exitCode"] = failure.exit_code
            details["durationMs"] = round((time.monotonic() - started) * 1000)
            return StageFailure(str(failure), details)
        except OSError as exc:  # the runner's own writes (the stage log, say): a full disk
            details["durationMs"] = round((time.monotonic() - started) * 1000)
            return StageFailure(_storage_message(exc), details)
        finally:
            try:
                log.close()
            except OSError:
                pass  # reported with the failure it caused
            details["logPath"] = self._logged(log)
        details["durationMs"] = round((time.monotonic() - started) * 1000)
        details["finishedAt"] = now_iso()
        outputs = {}
        root = str(self.root)
        for out in self.stage.outputs:
            if out.artifact in self.stage.cache_artifacts:
                continue
            artifact = self.graph.artifacts[out.artifact]
            outputs[artifact.path] = digest_of(root, artifact, self.settings.digests)
        # What later checks need, handed to doit through the stage's value saver (see
        # compile.StageFreshness) rather than returned: doit would also store a returned
        # dict as the task's result, twice the size to decode on every later check. The
        # reporter takes the full details from the action (with doit's process runner
        # they travel back with the task: see `outcome`).
        if not details["hooks"]:
            details["hooks"] = ()  # the common case, shared rather than one list a stage
        self.last_details = details
        self.saved_values = {"outputs": outputs, "run": {"finishedAt": details["finishedAt"]}}
        if changed:
            # built from content that is no longer there: not current for what is
            details["warnings"] = [f"input changed during the run: {', '.join(changed)}; "
                                   f"the next run runs it again"]
            self.saved_values[CHANGED_DURING_RUN_KEY] = changed
        return None

    # doit's process runner (`doit run -n N -P process`) runs the action in a worker and
    # hands the task back to the main process without its action or checks: what the
    # run measured travels with it (see engine.StageTask.pickle_safe_dict)

    def outcome(self, task) -> tuple | None:
        if self.last_details is None:
            return None
        freshness = freshness_of(task)
        return (self.last_details, self.saved_values,
                freshness.fingerprint if freshness else None)

    def take_outcome(self, task, outcome: tuple) -> None:
        self.last_details, self.saved_values, fingerprint = outcome
        freshness = freshness_of(task)
        if freshness is not None and fingerprint is not None:
            freshness.fingerprint = fingerprint

    def forget(self) -> None:
        """The run has recorded and stored what the last execution measured."""
        self.last_details = None
        self.saved_values = _NOTHING_MEASURED

    def _logged(self, log: StageLog) -> str | None:
        return self._rel(log.path) if log.created else None

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    # -- checks ------------------------------------------------------------------

    def _check_environment(self) -> None:
        environ = self._base_environment()
        missing = [v.name for v in self.stage.environment
                   if v.required and not environ.get(v.name)]
        if missing:
            raise _Failed("required environment variable not set: " + ", ".join(missing))
        root = str(self.root)
        for inp in self.stage.inputs:
            if inp.is_external or inp.optional or inp.artifact in self.stage.cache_artifacts:
                continue
            artifact = self.graph.artifacts[inp.artifact]
            if not _exists(os.path.join(root, artifact.path), artifact.is_directory):
                raise _Failed(f"missing input {artifact.display_path} (artifact {artifact.id})")

    def _check_outputs(self) -> None:
        """Every required output exists; every written artifact with a schema matches it."""
        root = str(self.root)
        for out in self.stage.outputs:
            artifact = self.graph.artifacts[out.artifact]
            if not _exists(os.path.join(root, artifact.path), artifact.is_directory):
                if out.optional or out.artifact in self.stage.cache_artifacts:
                    continue
                raise _Failed(f"stage '{self.stage.id}' did not produce "
                              f"{artifact.display_path} (artifact {artifact.id})")
            if artifact.schema and not artifact.is_directory:
                masker = self.settings.masker
                try:
                    validate_artifact(self.root, artifact, self.graph.schema_dirs,
                                      self.settings.schemas,
                                      mask=masker.mask_text if masker else None)
                except SchemaProblem as problem:
                    raise _Failed(f"artifact '{artifact.id}' ({artifact.path}) {problem}") \
                        from None

    # -- the command -------------------------------------------------------------

    def _spawn(self, argv, env, log, details: dict[str, Any], what: str,
               timeout: float | None = None) -> int:
        """Run argv, copying its output to the console and the log; return its exit code."""
        prefix = self.stage.id if self.settings.prefix_output else None
        if self.settings.show_commands:
            import shlex

            command = shlex.join(argv)
            if self.settings.masker:
                command = self.settings.masker.mask_text(command)
            print(f"  $ {command}", flush=True)
        try:
            result = self.settings.executor.run(
                argv, env, self.root, log, timeout=timeout, prefix=prefix,
                echo=self.settings.echo_output, masker=self.settings.masker,
                before_output=self.settings.before_output,
                declared=tuple(v.name for v in self.stage.environment))
        except StartFailed as exc:
            raise _Failed(f"cannot start {what} '{argv[0]}': {exc}") from None
        except ExecutorFailed as exc:
            if exc.worker:
                details["worker"] = exc.worker
            raise _Failed(str(exc)) from None
        if result.worker:
            details["worker"] = result.worker
        details["cpuSeconds"] = round((details.get("cpuSeconds") or 0) + result.cpu_seconds, 3)
        details["peakRssKb"] = max(details.get("peakRssKb") or 0, result.peak_rss_kb)
        if result.timed_out:
            raise _Failed(f"timed out after {timeout:g}s", result.exit_code)
        return result.exit_code

    def _base_environment(self):
        return os.environ if self.settings.environ is None else self.settings.environ

    def _environment(self) -> dict[str, str]:
        env = dict(self._base_environment())
        env["PIPELINE_STAGE_ID"] = self.stage.id
        run_id = self.run_id()
        if run_id:
            env["PIPELINE_RUN_ID"] = run_id
        return env

    def _interpreter(self):
        """The interpreter configured for the stage's python3 / python commands."""
        return stage_interpreter(self.graph, self.stage, self.root, self._base_environment())

    def _run_command(self, log, details: dict[str, Any]) -> None:
        try:
            invocation = build_invocation(self.stage.command, self.root, self._environment(),
                                          self.settings.found_on_path, self._interpreter())
        except ExecutableNotFound as exc:
            raise _Failed(str(exc)) from None
        timeout = self.stage.timeout or self.settings.timeout
        code = self._spawn(invocation.argv, invocation.env, log, details, "command", timeout)
        details["exitCode"] = code
        if code != 0:
            if code < 0:
                raise _Failed(f"killed by signal {-code}", code)
            raise _Failed(f"exit code {code}", code)

    def _attempts(self, log, details: dict[str, Any]) -> None:
        """The command and its output checks, tried 1 + `retries` times, waiting longer
        before each new attempt; every attempt is recorded."""
        attempts = 1 + self.stage.retries
        delay = self.stage.retry_delay * self.settings.retry_delay_scale
        for number in range(1, attempts + 1):
            if number > 1:
                log.write(f"\n--- attempt {number} of {attempts} ---\n".encode())
            started = time.monotonic()
            entry: dict[str, Any] = _Attempt(number).__dict__
            details["attempts"].append(entry)
            try:
                self._run_command(log, details)
                self._check_outputs()
                return
            except _Failed as failure:
                entry.update(status="failed", error=str(failure))
                if number == attempts:
                    raise
            finally:
                entry["exitCode"] = details.get("exitCode")
                entry["durationMs"] = round((time.monotonic() - started) * 1000)
            process.do_due_work(float("inf"))  # what waits for a commit: not the retry
            time.sleep(delay)
            delay *= 2

    # -- hooks -------------------------------------------------------------------

    def _run_hooks(self, moment: str, hooks: tuple[Hook, ...], log, details) -> None:
        for hook in hooks:
            entry = {"moment": moment, "hook": hook.describe(self.graph), "status": "succeeded"}
            details["hooks"].append(entry)
            started = time.monotonic()
            try:
                self._run_hook(hook, log, details)
            except _Failed as failure:
                entry["status"] = "failed"
                entry["error"] = str(failure)
                raise _Failed(f"{moment} hook '{entry['hook']}' failed: {failure}") from None
            finally:
                entry["durationMs"] = round((time.monotonic() - started) * 1000)

    def _run_hooks_quietly(self, log, details) -> None:
        """onFailure hooks: all of them run; a failing one is recorded, not raised."""
        for hook in self.stage.hooks.on_failure:
            try:
                self._run_hooks("onFailure", (hook,), log, details)
            except _Failed:
                pass

    def _run_hook(self, hook: Hook, log, details) -> None:
        if hook.kind == "command":
            try:
                invocation = build_invocation(hook.command, self.root, self._environment(),
                                              self.settings.found_on_path,
                                              self._interpreter())
            except ExecutableNotFound as exc:
                raise _Failed(str(exc)) from None
            code = self._spawn(invocation.argv, invocation.env, log, details, "hook")
            if code != 0:
                raise _Failed(f"exit code {code}")
            return
        source = self._contained(hook.source)
        try:
            if hook.kind == "remove":
                _remove(source)
            elif source.exists() or source.is_symlink():
                target = self._contained(hook.target)
                _remove(target)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
        except OSError as exc:
            raise _Failed(f"{exc.strerror}: {exc.filename}") from None


    def _contained(self, artifact_id: str) -> Path:
        """The artifact's path, refused when a directory on the way (a symbolic link made
        after the graph was checked, say) leads outside the project root."""
        path = self.root / self.graph.artifacts[artifact_id].path
        real_parent = os.path.realpath(path.parent)
        real_root = os.path.realpath(self.root)
        if real_parent != real_root and not real_parent.startswith(real_root + os.sep):
            raise _Failed(f"{path.relative_to(self.root)} leads outside the project root; "
                          f"refusing to move or remove it")
        return path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _storage_message(exc: OSError) -> str:
    import errno

    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno == errno.ENOSPC:
        return f"no space left on device{where}"
    return f"{exc.strerror or exc}{where}"
