"""`pipeline list`: the pipelines, stages and artifacts the graph declares."""

from __future__ import annotations

from orchestrator.console import WIDTH, Console, fit, one_line, printable
from orchestrator.errors import EXIT_OK, UsageError
from orchestrator.graph import Graph, Stage
from orchestrator.runtimes import runtime_name

MAX_COLUMN = 32  # a very long id overflows its column rather than pushing the others away
SECTIONS = ("pipelines", "stages", "artifacts")


def register(commands) -> None:
    parser = commands.add_parser("list", help="list the graph's pipelines, stages and artifacts")
    which = parser.add_mutually_exclusive_group()
    for section in SECTIONS:
        which.add_argument(f"--{section}", dest="section", action="store_const", const=section,
                           help=f"list only the {section}")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document instead of tables")
    parser.set_defaults(handler=list_graph)


def pipelines_of(graph: Graph, stage_id: str) -> list[str]:
    return [p.id for p in graph.pipelines.values() if stage_id in p.stages]


def pipelines_by_stage(graph: Graph) -> dict[str, list[str]]:
    """`pipelines_of` for every stage at once, in one pass over the pipelines (asking
    each stage in turn scans every pipeline's list: quadratic on a large graph)."""
    found: dict[str, list[str]] = {sid: [] for sid in graph.stages}
    for pipeline in graph.pipelines.values():
        for sid in dict.fromkeys(pipeline.stages):
            found.setdefault(sid, []).append(pipeline.id)
    return found


def default_pipeline_id(graph: Graph) -> str | None:
    """The pipeline `run` would pick, or None when the graph names none."""
    try:
        return graph.default_pipeline().id
    except UsageError:
        return None


def stage_summary(stage: Stage) -> str:
    return one_line(stage.description) or one_line(stage.name)


# -- the command ----------------------------------------------------------------------


def list_data(graph: Graph, sections: tuple[str, ...]) -> dict:
    """The JSON document: one key per requested section, in graph file order."""
    data: dict = {}
    if "pipelines" in sections:
        default = default_pipeline_id(graph)
        data["pipelines"] = [{"id": p.id, "description": p.description,
                              "stages": list(p.stages), "default": p.id == default}
                             for p in graph.pipelines.values()]
    if "stages" in sections:
        member_of = pipelines_by_stage(graph)
        data["stages"] = [{"id": s.id, "name": s.name, "runtime": runtime_name(s.command),
                           "pipelines": member_of[s.id],
                           "description": s.description}
                          for s in graph.stages.values()]
    if "artifacts" in sections:
        data["artifacts"] = [{"id": a.id, "type": a.type, "path": a.display_path,
                              "format": a.format, "schema": a.schema,
                              "description": a.description}
                             for a in graph.artifacts.values()]
    return data


def table(console: Console, rows: list[list[str]], indent: str = "  ",
          wrap_last: bool = False) -> None:
    """Left-aligned columns. The last column takes what is left: cut to fit, or, with
    `wrap_last`, moved whole to a continuation line when it does not fit (a path must not
    lose its end)."""
    if not rows:
        console.line(f"{indent}(none)", "note")
        return
    widths = [min(MAX_COLUMN, max(len(r[i]) for r in rows)) for i in range(len(rows[0]) - 1)]
    for row in rows:
        head = indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths))
        text = (head + "  " + row[-1]).rstrip()
        if wrap_last and len(text) > WIDTH and row[-1]:
            console.line(fit(head.rstrip()))
            console.line(fit(indent * 3 + row[-1]))
        else:
            console.line(fit(text))


def list_graph(ctx, args) -> int:
    graph = ctx.graph
    sections = (args.section,) if args.section else SECTIONS
    data = list_data(graph, sections)
    console = Console()
    if args.json:
        console.json(data)
        return EXIT_OK
    first = True
    for section in sections:
        if not first:
            console.line()
        first = False
        items = data[section]
        console.line(f"{section.capitalize()} ({len(items)})", "bold")
        if section == "pipelines":
            rows = [[p["id"], f"{len(p['stages'])} stage{'s' if len(p['stages']) != 1 else ''}",
                     ("(default) " if p["default"] else "") + one_line(p["description"])]
                    for p in items]
        elif section == "stages":
            rows = [[s["id"], printable(s["runtime"]), ", ".join(s["pipelines"]) or "-",
                     stage_summary(graph.stages[s["id"]])]
                    for s in items]
        else:
            rows = [[a["id"], a["type"], printable(a["path"]),
                     f"schema {printable(a['schema'])}" if a["schema"] else ""]
                    for a in items]
        table(console, rows, wrap_last=section == "artifacts")
    return EXIT_OK
