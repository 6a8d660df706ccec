"""`pipeline describe ID`: everything the graph says about one stage, pipeline or artifact.

Stages and pipelines share one namespace (both are doit task names), but an artifact may
have the id of either; such an id is described as each thing it names, in the order
stage, pipeline, artifact.
"""

from __future__ import annotations

import os
import shlex
import textwrap

from orchestrator.commands._argtypes import not_empty
from orchestrator.commands._environment import add_env_file, env_file_values, stage_environ
from orchestrator.commands.list import default_pipeline_id, pipelines_of
from orchestrator.console import WIDTH, Console, fit, one_line, printable
from orchestrator.errors import EXIT_OK, UsageError
from orchestrator.graph import Graph, did_you_mean
from orchestrator.runtimes import runtime_name

KINDS = ("stage", "pipeline", "artifact")
HOOK_KEYS = (("before", "before"), ("after", "after"), ("on_failure", "onFailure"))


def register(commands) -> None:
    parser = commands.add_parser("describe", help="show a stage, pipeline or artifact in full, "
                                                  "with a stage's current status")
    parser.add_argument("id", metavar="ID", type=not_empty("stage, pipeline or artifact"),
                        help="a stage, pipeline or artifact id")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document instead of text")
    add_env_file(parser)
    parser.set_defaults(handler=describe)


def kinds_of(graph: Graph, name: str) -> list[str]:
    """What `name` names, in the order stage, pipeline, artifact; UsageError if nothing."""
    tables = {"stage": graph.stages, "pipeline": graph.pipelines, "artifact": graph.artifacts}
    found = [kind for kind in KINDS if name in tables[kind]]
    if not found:
        every = [*graph.stages, *graph.pipelines, *graph.artifacts]
        raise UsageError(f"no stage, pipeline or artifact '{name}'{did_you_mean(name, every)}")
    return found


# -- data (the --json document, and what the text is printed from) ----------------------


def artifact_ref(graph: Graph, artifact_id: str, optional: bool, cache: bool) -> dict:
    artifact = graph.artifacts[artifact_id]
    return {"artifact": artifact.id, "type": artifact.type, "path": artifact.display_path,
            "schema": artifact.schema, "optional": optional, "cache": cache}


def stage_status(graph: Graph, stage_id: str, environ: dict[str, str] | None = None) -> dict:
    """Would `run-stage` without forcing run it now, and why; when it last succeeded."""
    from orchestrator.plan import Plan
    from orchestrator.status import plan_statuses

    # plan_stage() forces (run-stage always runs); the status must be doit's own verdict
    status = plan_statuses(graph, Plan(None, (stage_id,), (stage_id,), {}, force=False),
                           environ)[0]
    last = (status.values.get("run") or {}).get("finishedAt")
    return {"status": status.status, "reason": status.reason, "lastSucceeded": last}


def stage_data(graph: Graph, stage_id: str, environ: dict[str, str] | None = None) -> dict:
    """`environ`: the stages' environment (default: ours), with --env-file's values."""
    environ = dict(os.environ) if environ is None else environ
    stage = graph.stages[stage_id]
    cache = stage.cache_artifacts
    inputs = []
    for inp in stage.inputs:
        if inp.is_external:
            inputs.append({"external": True, "kind": inp.kind, "uri": inp.uri,
                           "optional": inp.optional})
        else:
            inputs.append(artifact_ref(graph, inp.artifact, inp.optional,
                                       inp.artifact in cache))
    hooks = {key: [hook.describe(graph) for hook in getattr(stage.hooks, attr)]
             for attr, key in HOOK_KEYS}
    from orchestrator.compile import import_scanner, imported_modules, script_paths

    scripts = script_paths(graph, stage, graph.root)
    imports = list(imported_modules(graph, stage, scripts, import_scanner(graph.root)))
    return {
        "id": stage.id,
        "name": stage.name,
        "description": stage.description,
        "runtime": runtime_name(stage.command),
        "command": stage.command.as_list(),
        "pipelines": pipelines_of(graph, stage.id),
        "dependsOn": list(stage.depends_on),
        "inputs": inputs,
        "outputs": [artifact_ref(graph, o.artifact, o.optional, o.artifact in cache)
                    for o in stage.outputs],
        # whether a variable is set, never its value: it may be a token
        "environment": [{"name": v.name, "required": v.required, "set": v.name in environ,
                         "description": v.description} for v in stage.environment],
        "scripts": scripts,
        "importedModules": imports,
        # a network / git side effect makes the stage run every time (or once maxAge passed)
        "sideEffects": [{"type": e.type, "description": e.description,
                         "alwaysRuns": e.is_outside_world and e.max_age is None,
                         "maxAgeSeconds": e.max_age if e.is_outside_world else None}
                        for e in stage.side_effects],
        "hooks": hooks,
        "status": stage_status(graph, stage.id, environ),
    }


def pipeline_data(graph: Graph, pipeline_id: str) -> dict:
    from orchestrator.plan import stage_order

    pipeline = graph.pipelines[pipeline_id]
    stages = [{"id": sid, "runtime": runtime_name(graph.stages[sid].command),
               "dependsOn": list(graph.stages[sid].depends_on),
               "description": graph.stages[sid].description}
              for sid in stage_order(graph, pipeline.stages)]
    return {"id": pipeline.id, "description": pipeline.description,
            "default": default_pipeline_id(graph) == pipeline.id, "stages": stages}


def artifact_data(graph: Graph, artifact_id: str) -> dict:
    artifact = graph.artifacts[artifact_id]
    path = graph.root / artifact.path
    readers = [s.id for s in graph.stages.values()
               if any(i.artifact == artifact_id for i in s.inputs)]
    return {"id": artifact.id, "type": artifact.type, "path": artifact.display_path,
            "format": artifact.format, "schema": artifact.schema,
            "description": artifact.description,
            "exists": path.is_dir() if artifact.is_directory else path.is_file(),
            "writers": graph.writers(artifact_id), "readers": readers}


BUILDERS = {"stage": stage_data, "pipeline": pipeline_data, "artifact": artifact_data}


# -- text -------------------------------------------------------------------------------


class _Printer:
    """`label: value` lines under a heading, wrapped to the console width."""

    def __init__(self, console: Console):
        self.console = console

    def heading(self, text: str) -> None:
        self.console.line(fit(text), "bold")

    def field(self, label: str, value: str, style: str | None = None) -> None:
        first = f"  {label + ':':<14}"
        lines = textwrap.wrap(value, width=WIDTH, initial_indent=first,
                              subsequent_indent=" " * len(first),
                              break_long_words=True, break_on_hyphens=False) or [first]
        for text in lines:
            self.console.line(text.rstrip(), style)

    def item(self, text: str, style: str | None = None) -> None:
        lines = textwrap.wrap(text, width=WIDTH, initial_indent="    ",
                              subsequent_indent="      ", break_on_hyphens=False)
        for line in lines:
            self.console.line(line, style)

    def items(self, label: str, texts: list[str]) -> None:
        if not texts:
            self.field(label, "none")
            return
        self.console.line(f"  {label}:")
        for text in texts:
            self.item(text)


def _ref_text(ref: dict) -> str:
    if ref.get("external"):
        text = f"external {printable(ref['kind']) or 'input'}: {printable(ref['uri']) or '?'}"
    else:
        text = f"{ref['artifact']}  {printable(ref['path'])}"
        if ref["schema"]:
            text += f"  (schema {printable(ref['schema'])})"
    flags = [flag for flag in ("optional", "cache") if ref.get(flag)]
    return text + (f"  [{', '.join(flags)}]" if flags else "")


def show_stage(out: _Printer, data: dict) -> None:
    name = f" ({one_line(data['name'])})" if data["name"] else ""
    out.heading(f"stage {data['id']}{name}")
    if data["description"]:
        out.field("description", one_line(data["description"]))
    out.field("runtime", printable(data["runtime"]))
    out.field("command", printable(shlex.join(data["command"])))
    out.field("pipelines", ", ".join(data["pipelines"]) or "none")
    out.field("depends on", ", ".join(data["dependsOn"]) or "none")
    out.items("inputs", [_ref_text(r) for r in data["inputs"]])
    out.items("outputs", [_ref_text(r) for r in data["outputs"]])
    out.items("environment", [
        f"{v['name']}  {'required' if v['required'] else 'optional'}, "
        f"{'set' if v['set'] else 'not set'}"
        + (f"  {one_line(v['description'])}" if v["description"] else "")
        for v in data["environment"]])
    out.items("scripts", [printable(p) for p in data["scripts"]])
    if data["importedModules"]:
        out.items("imports", [printable(p) for p in data["importedModules"]])
    out.items("side effects", [printable(e["type"])
                               + (f": {one_line(e['description'])}" if e["description"] else "")
                               + _effect_flag(e) for e in data["sideEffects"]])
    hooks = [f"{moment}: {printable(text)}"
             for moment, texts in data["hooks"].items() for text in texts]
    if hooks:
        out.items("hooks", hooks)
    status = data["status"]
    styles = {"run": "start", "may run": None, "up to date": "ok"}
    out.field("status", status["status"] + (f" ({status['reason']})" if status["reason"]
                                            else ""), styles.get(status["status"]))
    out.field("last success", status["lastSucceeded"] or "never")


def _effect_flag(effect: dict) -> str:
    if effect["alwaysRuns"]:
        return "  [always runs]"
    if effect["maxAgeSeconds"] is not None:
        return f"  [runs again {_age(effect['maxAgeSeconds'])} after a success]"
    return ""


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def show_pipeline(out: _Printer, data: dict) -> None:
    out.heading(f"pipeline {data['id']}" + (" (default)" if data["default"] else ""))
    if data["description"]:
        out.field("description", one_line(data["description"]))
    out.console.line(f"  stages, in run order ({len(data['stages'])}):")
    width = min(32, max((len(s["id"]) for s in data["stages"]), default=0))
    for i, stage in enumerate(data["stages"], 1):
        after = f"after {', '.join(stage['dependsOn'])}" if stage["dependsOn"] else ""
        out.console.line(fit(f"    {i:>2}. {stage['id']:<{width}}  {stage['runtime']:<7} "
                             f"{after}".rstrip()))


def show_artifact(out: _Printer, data: dict) -> None:
    out.heading(f"artifact {data['id']}")
    if data["description"]:
        out.field("description", one_line(data["description"]))
    out.field("type", data["type"])
    out.field("path", printable(data["path"]) + ("" if data["exists"] else "  (does not exist)"))
    out.field("format", printable(data["format"]) or "-")
    out.field("schema", printable(data["schema"]) or "none")
    out.field("written by", ", ".join(data["writers"]) or "no stage")
    out.field("read by", ", ".join(data["readers"]) or "no stage")


SHOW = {"stage": show_stage, "pipeline": show_pipeline, "artifact": show_artifact}


def describe(ctx, args) -> int:
    graph = ctx.graph
    kinds = kinds_of(graph, args.id)
    environ = stage_environ(env_file_values(args.env_file), args.python)
    data = {kind: stage_data(graph, args.id, environ) if kind == "stage"
            else BUILDERS[kind](graph, args.id) for kind in kinds}
    console = Console()
    if args.json:
        console.json(data)
        return EXIT_OK
    printer = _Printer(console)
    for i, kind in enumerate(kinds):
        if i:
            console.line()
        SHOW[kind](printer, data[kind])
    return EXIT_OK
