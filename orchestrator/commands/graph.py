"""`pipeline graph [PIPELINE]`: a pipeline's stages and artifacts as Mermaid or Graphviz DOT.

Node names are generated (`s_0` for stages, `a_0` for artifacts, `x_0` for external
inputs) because ids may hold `.`, `-`, `@` and `+`, which neither language accepts in a
bare name; the real id goes in the quoted label. Everything is numbered in a fixed order
(stages in run order, artifacts and external inputs in graph order), so the same graph
always gives the same text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.commands._argtypes import not_empty
from orchestrator.console import Console, printable
from orchestrator.errors import EXIT_OK
from orchestrator.graph import Graph, Pipeline

FORMATS = ("mermaid", "dot")


def register(commands) -> None:
    parser = commands.add_parser("graph", help="draw a pipeline's stages and artifacts "
                                               "(Mermaid or Graphviz DOT)")
    parser.add_argument("pipeline", nargs="?", metavar="PIPELINE", type=not_empty("pipeline"),
                        help="pipeline id (default: defaultPipeline, else full-refresh, "
                             "else the only pipeline)")
    parser.add_argument("--format", choices=FORMATS, default="mermaid",
                        help="output language (default: mermaid)")
    parser.set_defaults(handler=draw)


@dataclass
class Node:
    name: str  # safe generated name
    kind: str  # "stage" | "file" | "directory" | "external"
    label: list[str]  # label lines, unescaped


@dataclass
class Drawing:
    """What is drawn, independent of the output language."""

    title: str
    nodes: list[Node] = field(default_factory=list)
    # (from, to, style): style is "" (data flow), "optional" or "depends" (dependsOn only)
    edges: list[tuple[str, str, str]] = field(default_factory=list)


def build_drawing(graph: Graph, pipeline: Pipeline) -> Drawing:
    from orchestrator.plan import stage_order

    order = stage_order(graph, pipeline.stages)
    drawing = Drawing(pipeline.id)
    stage_node = {sid: f"s_{i}" for i, sid in enumerate(order)}
    for sid in order:
        drawing.nodes.append(Node(stage_node[sid], "stage", [sid]))

    used = {i.artifact for sid in order for i in graph.stages[sid].inputs if i.artifact}
    used |= {o.artifact for sid in order for o in graph.stages[sid].outputs}
    artifact_node = {}
    for aid, artifact in graph.artifacts.items():
        if aid in used:
            artifact_node[aid] = f"a_{len(artifact_node)}"
            drawing.nodes.append(Node(artifact_node[aid], artifact.type,
                                      [aid, artifact.display_path]))

    external_node: dict[tuple, str] = {}
    for sid in order:
        stage = graph.stages[sid]
        for inp in stage.inputs:
            style = "optional" if inp.optional else ""
            if inp.is_external:
                key = (inp.kind, inp.uri)
                if key not in external_node:  # one node per source, however many readers
                    external_node[key] = f"x_{len(external_node)}"
                    drawing.nodes.append(Node(external_node[key], "external",
                                              [f"{inp.kind or 'external'}", inp.uri or "?"]))
                drawing.edges.append((external_node[key], stage_node[sid], style))
            else:
                drawing.edges.append((artifact_node[inp.artifact], stage_node[sid], style))
        for out in stage.outputs:
            drawing.edges.append((stage_node[sid], artifact_node[out.artifact],
                                  "optional" if out.optional else ""))

    for sid in order:
        stage = graph.stages[sid]
        reads = {i.artifact for i in stage.inputs if i.artifact}
        for dep in stage.depends_on:
            if dep not in stage_node:
                continue  # outside this pipeline: it does not constrain the run order here
            writes = {o.artifact for o in graph.stages[dep].outputs}
            if not reads & writes:  # an artifact already shows why the order matters
                drawing.edges.append((stage_node[dep], stage_node[sid], "depends"))
    drawing.edges = list(dict.fromkeys(drawing.edges))  # an artifact listed twice: one edge
    return drawing


# -- Mermaid ------------------------------------------------------------------------------

MERMAID_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.,:/-@+=()")


def mermaid_text(text: str) -> str:
    """Mermaid entity codes (`#34;`) for anything but plain characters: quotes, `#`, `<`,
    `;`, control characters and the like cannot end or break the label."""
    return "".join(c if c in MERMAID_SAFE else f"#{ord(c)};" for c in text)


def mermaid(drawing: Drawing) -> list[str]:
    shapes = {"stage": ('["', '"]'), "file": ('("', '")'), "directory": ('(["', '"])'),
              "external": ('[/"', '"/]')}
    lines = ["flowchart LR"]
    for node in drawing.nodes:
        start, end = shapes[node.kind]
        label = "<br>".join(mermaid_text(printable(part)) for part in node.label)
        lines.append(f"  {node.name}{start}{label}{end}")
    arrows = {"": "-->", "optional": "-->|optional|", "depends": "-.->"}
    for source, target, style in drawing.edges:
        lines.append(f"  {source} {arrows[style]} {target}")
    kinds = {node.kind for node in drawing.nodes}
    styles = {"stage": "fill:#e8f0fe,stroke:#3b6ed8", "file": "fill:#f4f4f4,stroke:#888",
              "directory": "fill:#f4f4f4,stroke:#888", "external": "fill:#fff4e0,stroke:#c80"}
    for kind in ("stage", "file", "directory", "external"):
        if kind in kinds:
            members = ",".join(n.name for n in drawing.nodes if n.kind == kind)
            lines.append(f"  classDef {kind} {styles[kind]}")
            lines.append(f"  class {members} {kind}")
    return lines


# -- Graphviz DOT -------------------------------------------------------------------------


def dot_string(text: str) -> str:
    """A DOT double-quoted string; `\\` and `"` escaped, control characters made visible."""
    escaped = []
    for c in text:
        if c in '\\"':
            escaped.append("\\" + c)
        elif not c.isprintable():
            escaped.append(repr(c)[1:-1].replace("\\", "\\\\"))
        else:
            escaped.append(c)
    return '"' + "".join(escaped) + '"'


def dot_label(parts: list[str]) -> str:
    # `\n` between the quoted parts is DOT's own centred line break
    return "\\n".join(dot_string(part)[1:-1] for part in parts).join('""')


def dot(drawing: Drawing) -> list[str]:
    shapes = {"stage": "shape=box, style=\"rounded,filled\", fillcolor=\"#e8f0fe\"",
              "file": "shape=note", "directory": "shape=folder",
              "external": "shape=parallelogram"}
    lines = [f"digraph {dot_string(drawing.title)} {{", "  rankdir=LR;",
             '  node [fontname="Helvetica"];']
    for node in drawing.nodes:
        lines.append(f"  {node.name} [label={dot_label(node.label)}, {shapes[node.kind]}];")
    attributes = {"": "", "optional": ' [label="optional"]', "depends": " [style=dashed]"}
    for source, target, style in drawing.edges:
        lines.append(f"  {source} -> {target}{attributes[style]};")
    lines.append("}")
    return lines


def draw(ctx, args) -> int:
    graph = ctx.graph
    pipeline = graph.pipeline(args.pipeline) if args.pipeline else graph.default_pipeline()
    drawing = build_drawing(graph, pipeline)
    console = Console()
    for line in (mermaid(drawing) if args.format == "mermaid" else dot(drawing)):
        console.line(line)
    return EXIT_OK
