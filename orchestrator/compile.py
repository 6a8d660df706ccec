"""Translate stages into doit tasks: the core of the design.

Each stage becomes a task named by its stage id; each pipeline a task that depends on
its stages. doit decides what runs, through two seams it offers:

- ``file_dep``: required file inputs, the stage's scripts and the project modules
  they import (`imports.py`). Our `digest.ContentChecker`, doit's checker for the run,
  compares their content with the state saved when the stage last succeeded, so a
  stage whose upstream rewrote byte-identical files is not re-run (early cutoff).
- ``uptodate``: one `StageFreshness` per stage covers what doit cannot express:
  never-succeeded, undeclared or external inputs, `network` / `git` side effects, the
  command, the digests of the declared environment variables, directory and optional
  inputs, inputs that changed while the stage last ran, and outputs that are missing
  or changed since the stage wrote them.

The task's action is `StageAction`; what it returns is saved by doit as the task's
values and read back by `StageFreshness` on the next run.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any

from orchestrator.digest import DigestCache, digest_of, text_digest
from orchestrator.engine import new_group_task, new_stage_task, uptodate_checks
from orchestrator.graph import Graph, Stage
from orchestrator.paths import IMPORTS_CACHE
from orchestrator.runtimes import stage_interpreter, uses_python_on_path

VALUES_KEY = "pipeline"  # the key of our fingerprint in a task's saved doit values
FAILURE_KEY = "lastFailure"  # kept by the reporter when a stage fails (doit drops the rest)
# saved by the action when an input's content at the end of the stage differs from the
# content it started with: the result describes neither, so the next run reruns it
CHANGED_DURING_RUN_KEY = "changedDuringRun"


def script_paths(graph: Graph, stage: Stage, root: Path) -> list[str]:
    """Command arguments (and a path-like executable) naming a project file that is not
    a declared artifact: the stage's scripts, whose content makes it stale."""
    root_text = str(root)
    return [rel for rel in graph.script_candidates[stage.id]
            if os.path.isfile(os.path.join(root_text, rel))]


class CompileContext:
    """What every stage task of one compilation shares: the run's digest cache and the
    stages' environment, the import scanner, and doit's IO settings object (doit only
    reads it; one object rather than one per task)."""

    __slots__ = ("root", "digests", "environ", "scanner", "shared")

    def __init__(self, root: Path, digests: DigestCache | None = None,
                 environ=None):
        self.root = root
        self.digests = DigestCache() if digests is None else digests
        self.environ = os.environ if environ is None else environ
        self.scanner = None
        self.shared: dict = {}  # what doit only reads, one object for every task

    def import_scanner(self):
        if self.scanner is None:
            self.scanner = import_scanner(self.root, self.digests)
        return self.scanner


def env_digests(stage: Stage, environ=None) -> dict[str, str | None]:
    """name -> digest of the variable's value (None if unset). Never the value itself."""
    environ = os.environ if environ is None else environ
    return {var.name: (text_digest(var.name, environ[var.name]) if var.name in environ else None)
            for var in stage.environment}


def configured_python(graph: Graph, stage: Stage, root: Path, environ=None) -> str | None:
    """The path of the interpreter configured for the stage's `python3` / `python`
    commands (its own or its hooks'), part of its fingerprint; None when it runs none, or
    runs the default one."""
    hooks = stage.hooks
    if not uses_python_on_path(stage.command) and not any(
            h.command is not None and uses_python_on_path(h.command)
            for h in (*hooks.before, *hooks.after, *hooks.on_failure)):
        return None
    interpreter = stage_interpreter(graph, stage, root, environ)
    return interpreter.path if interpreter is not None else None


_NONE: list[str] = []  # shared defaults, never mutated (one StageFreshness per stage)
_NO_VALUES: dict[str, Any] = {}


class StageFreshness:
    """doit `uptodate` callable: True when nothing doit's file_dep cannot see has changed.

    After a successful run doit saves `fingerprint` (through a value saver) beside the
    output digests the action returned; the next check compares against both.
    """

    __slots__ = ("stage", "action", "root", "root_text", "file_deps", "command_digest",
                 "tracked_inputs", "outputs", "outside_world", "reasons", "fingerprint",
                 "previous", "ctx", "python")

    def __init__(self, graph: Graph, stage: Stage, root: Path, file_deps: list[str],
                 action: Any = None, ctx: CompileContext | None = None):
        self.ctx = CompileContext(root) if ctx is None else ctx
        self.stage = stage
        self.action = action  # the stage's StageAction: its measurements are saved with ours
        self.root = root
        self.root_text = str(root)  # plain strings: pathlib costs add up over 10,000 stages
        self.file_deps = file_deps
        cache = stage.cache_artifacts
        self.command_digest = stage.command_digest
        self.python = configured_python(graph, stage, root, self.ctx.environ)
        # inputs doit's file_dep does not cover: directories and optional files
        self.tracked_inputs = tuple(
            graph.artifacts[i.artifact] for i in stage.inputs
            if i.artifact and i.artifact not in cache
            and (graph.artifacts[i.artifact].is_directory or i.optional))
        self.outputs = tuple((graph.artifacts[o.artifact], o.optional) for o in stage.outputs
                             if o.artifact not in cache)
        self.outside_world = tuple(e for e in stage.side_effects if e.is_outside_world)
        self.reasons: list[str] = _NONE
        self.fingerprint: dict[str, Any] | None = None
        self.previous: dict[str, Any] = _NO_VALUES  # what doit had saved, as last checked

    def configure_task(self, task) -> None:
        # runs after the action succeeded: our fingerprint and what the action measured
        task.value_savers.append(
            lambda: {VALUES_KEY: self.saved_fingerprint(),
                     **getattr(self.action, "saved_values", {})})

    def saved_fingerprint(self) -> dict[str, Any] | None:
        """The fingerprint as stored: per-input digests only where a reason needs them
        (doit keeps its own state of file_deps); the summary digest covers them all."""
        if self.fingerprint is None:
            return None
        tracked = {a.path for a in self.tracked_inputs}
        return {**self.fingerprint,
                "inputs": {p: d for p, d in self.fingerprint["inputs"].items() if p in tracked}}

    def forget(self) -> None:
        """Drop what the last check read (the stage is settled for this run)."""
        self.previous = _NO_VALUES
        self.fingerprint = None

    def current(self) -> dict[str, Any]:
        """What the stage would run with now: command, environment and input digests."""
        inputs = self.input_digests()
        env = env_digests(self.stage, self.ctx.environ)
        summary = text_digest(self.command_digest, json.dumps(env, sort_keys=True),
                              json.dumps(inputs, sort_keys=True),
                              *((self.python,) if self.python else ()))
        current = {"command": self.command_digest, "env": env, "inputs": inputs,
                   "digest": summary}
        if self.python:  # absent for the default interpreter, as before the setting
            current["python"] = self.python
        return current

    def input_digests(self) -> dict[str, str | None]:
        """path -> content digest of every tracked input, script and imported module."""
        root = self.root_text
        digests = self.ctx.digests
        inputs = {a.path: digest_of(root, a, digests) for a in self.tracked_inputs}
        for dep in self.file_deps:
            try:
                inputs[dep] = digests.file_digest(os.path.join(root, dep))
            except OSError:
                inputs[dep] = None
        return inputs

    def changed_since_start(self) -> list[str]:
        """The inputs whose content now differs from what the stage started with."""
        started = (self.fingerprint or {}).get("inputs")
        if started is None:
            return []
        now = self.input_digests()
        shown = {a.path: a.display_path for a in self.tracked_inputs}
        return sorted(shown.get(p, p) for p, d in now.items() if started.get(p, d) != d)

    def run_fingerprint(self) -> dict[str, Any]:
        """The fingerprint of a stage about to run: computed now unless the check already
        did (a stage doit runs for a file_dep change was up to date for us, and kept the
        saved fingerprint, which no longer describes its inputs)."""
        if self.fingerprint is None or self.fingerprint is self.previous.get(VALUES_KEY):
            self.fingerprint = self.current()
        return self.fingerprint

    def stale_reasons(self, values: dict[str, Any]) -> list[str]:
        """Why the stage must run, beyond the file_deps doit checks itself; [] if nothing.

        Compares only what can differ from the saved fingerprint without doit noticing:
        the command, the declared environment, directory and optional inputs, and the
        outputs. Required file inputs and scripts are doit's file_deps."""
        saved = values.get(VALUES_KEY)
        if not saved:
            failure = values.get(FAILURE_KEY)
            if failure:
                return ["blocked in the last run" if failure.get("blocked") else "last run failed"]
            return ["never run"]
        reasons = []
        stage = self.stage
        if stage.external_inputs:
            stale_external = [i for i in stage.external_inputs
                              if not _younger_than(values, i.max_age)]
            if stale_external:
                first = stale_external[0]
                reasons.append(f"external input: {first.uri or first.kind or 'external'}")
        for effect in self.outside_world:
            if not _younger_than(values, effect.max_age):
                what = f" — {effect.description}" if effect.description else ""
                reasons.append(f"side effect: {effect.type}{what}")
                break
        changed_during = values.get(CHANGED_DURING_RUN_KEY)
        if changed_during:
            reasons.append("input changed during the run: " + ", ".join(changed_during))
        if not stage.inputs:
            reasons.append("no declared inputs")
        if saved.get("command") != self.command_digest:
            reasons.append("command changed")
        if saved.get("python") != self.python:
            reasons.append("interpreter changed")
        if stage.environment:
            old_env = saved.get("env", {})
            changed_env = [n for n, d in env_digests(stage, self.ctx.environ).items()
                           if old_env.get(n) != d]
            if changed_env:
                reasons.append("environment changed: " + ", ".join(changed_env))
        root = self.root_text
        if self.tracked_inputs:
            old_inputs = saved.get("inputs", {})
            for artifact in self.tracked_inputs:
                if changed_during and artifact.display_path in changed_during:
                    continue  # said above
                if old_inputs.get(artifact.path) != digest_of(root, artifact,
                                                              self.ctx.digests):
                    reasons.append(f"input changed: {artifact.display_path}")
        written = values.get("outputs", {})
        for artifact, optional in self.outputs:
            digest = digest_of(root, artifact, self.ctx.digests)
            if digest is None and not optional:
                reasons.append(f"output missing: {artifact.display_path}")
            elif artifact.path in written and written[artifact.path] != digest:
                reasons.append(f"output {'missing' if digest is None else 'changed'}: "
                               f"{artifact.display_path}")
        return reasons or _NONE

    def fresh_until(self, finished: str | None) -> float | None:
        """Until when (seconds since the epoch) a stage that last succeeded at `finished`
        stays up to date as far as time goes, by the rules of `stale_reasons`: forever
        (inf) without an external input or an outside-world side effect; until the
        soonest `maxAge` runs out with them; None when it runs every time (no declared
        inputs, no `maxAge`, or no known last success)."""
        stage = self.stage
        if not stage.inputs:
            return None
        ages = [i.max_age for i in stage.external_inputs] + \
            [e.max_age for e in self.outside_world]
        if not ages:
            return float("inf")
        if finished is None or None in ages:
            return None
        return _epoch(finished) + min(ages)

    # doit inspects an uptodate callable's signature on every check; a ready-made one
    # spares it walking an instance's __call__ (about a tenth of a no-op run)
    __signature__ = inspect.Signature([
        inspect.Parameter("task", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("values", inspect.Parameter.POSITIONAL_OR_KEYWORD)])

    def __call__(self, task, values) -> bool:
        self.previous = values
        self.reasons = self.stale_reasons(values)
        # up to date: nothing the fingerprint covers changed (doit's file_deps aside, which
        # run_fingerprint() handles), so the saved one still describes the stage
        self.fingerprint = None if self.reasons else values.get(VALUES_KEY)
        return not self.reasons

    def __repr__(self) -> str:
        why = "; ".join(self.reasons) if self.reasons else "inputs, command and outputs unchanged"
        return f"stage-freshness({why})"


def _younger_than(values: dict[str, Any], max_age: float | None) -> bool:
    """Did the stage last succeed less than `max_age` seconds ago?"""
    if max_age is None:
        return False
    finished = (values.get("run") or {}).get("finishedAt")
    if not finished:
        return False
    import time

    return time.time() - _epoch(finished) < max_age


def _epoch(moment: str) -> float:
    """An ISO 8601 UTC time (`...Z`) as seconds since the epoch."""
    from datetime import datetime

    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()


def freshness_of(task) -> StageFreshness | None:
    """The StageFreshness among a doit Task's uptodate checks (None for other tasks)."""
    for check in uptodate_checks(task):
        if type(check) is StageFreshness:
            return check
    return None


def imported_modules(graph: Graph, stage: Stage, scripts: list[str], scanner) -> list[str]:
    """The project modules the stage's scripts import, except the artifacts it declares
    (an input declared as such is tracked, and named, as an input)."""
    if not scripts:
        return _NONE
    declared = {graph.artifacts[ref.artifact].path
                for ref in (*stage.inputs, *stage.outputs) if ref.artifact}
    return [m for m in scanner.imported_by(scripts) if m not in declared] or _NONE


def import_scanner(root: Path, digests: DigestCache | None = None):
    from orchestrator.imports import ImportScanner

    return ImportScanner(str(root), os.path.join(str(root), IMPORTS_CACHE), digests)


def compile_stage(graph: Graph, stage: Stage, root: Path, action: Any,
                  task_deps: list[str], ctx: CompileContext | None = None):
    """The doit Task for one stage (named by the stage id)."""
    ctx = CompileContext(root) if ctx is None else ctx
    scripts = script_paths(graph, stage, root)
    imports = imported_modules(graph, stage, scripts, ctx.import_scanner()) if scripts \
        else _NONE
    cache = stage.cache_artifacts
    file_inputs = [graph.artifacts[i.artifact].path for i in stage.inputs
                   if i.artifact and not i.optional and i.artifact not in cache
                   and not graph.artifacts[i.artifact].is_directory]
    file_deps = sorted(set(file_inputs) | set(scripts) | set(imports))
    freshness = StageFreshness(graph, stage, root, file_deps, action, ctx)
    return new_stage_task(stage.id, action, file_deps, task_deps, freshness,
                          stage.name or stage.description or f"stage {stage.id}",
                          _Meta(stage.id, scripts, imports).__dict__, ctx.shared)


class _Meta:
    """A stage task's `meta`, used as its `__dict__`: shared keys, half a plain dict."""

    def __init__(self, stage_id: str, scripts: list[str], imports: list[str]):
        self.stage = stage_id
        self.scripts = scripts or ()  # most stages: one shared empty tuple
        self.imports = imports or ()


def compile_tasks(graph: Graph, stage_ids: list[str] | tuple[str, ...], root: Path,
                  make_action, pipelines: bool = False, keep_scan: bool = False,
                  digests: DigestCache | None = None, environ=None) -> list:
    """doit Tasks for `stage_ids` (dependencies outside them are dropped, so doit runs
    exactly these), plus one group task per pipeline when `pipelines` is set.

    Tasks rather than task dicts: doit's loader takes either, and skipping the dicts
    spares it copying and checking 10,000 of them. `keep_scan`: save what was learnt of
    the scripts' imports for the next run (commands that run stages; inspecting ones
    write nothing)."""
    chosen = set(stage_ids)
    tasks = []
    ctx = CompileContext(root, digests, environ)
    for sid in stage_ids:
        stage = graph.stages[sid]
        deps = [d for d in stage.depends_on if d in chosen]
        tasks.append(compile_stage(graph, stage, root, make_action(stage), deps, ctx))
    if keep_scan and ctx.scanner is not None:
        ctx.scanner.save()
    if pipelines:
        from orchestrator.plan import stage_order

        for pipeline in graph.pipelines.values():
            tasks.append(new_group_task(
                pipeline.id, stage_order(graph, pipeline.stages),
                pipeline.description or f"pipeline {pipeline.id}", {"pipeline": pipeline.id}))
    return tasks
