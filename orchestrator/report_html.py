"""`pipeline report`'s HTML: one self-contained file, no network, no script.

Inline CSS and SVG only. A Content-Security-Policy (`default-src 'none'`) makes the
browser refuse any fetch the file could trigger, so opening a report downloaded from CI
asks nothing of any server. Hover shows an SVG `<title>`; on a phone, tapping a bar or a
node of the graph jumps to the stage's row of the table below (a fragment link), which
has everything the tooltip has. Every status is also written as a word, not only a
colour. Sized for 1,000 stages: a few hundred bytes per stage and section.
"""

from __future__ import annotations

import math
from html import escape

from orchestrator.console import seconds
from orchestrator.layout import layout
from orchestrator.paths import RUNS_DIR
from orchestrator.report import STATUSES, RunReport
from orchestrator.trends import REGRESSION_MIN_MEDIAN_MS, REGRESSION_RATIO, number

LANE_H = 22  # timeline: height of a lane
TIMELINE_MIN_W = 640  # timeline: narrowest drawing (px); a phone scrolls it sideways
MIN_BAR_PCT = 0.2  # timeline: a bar is at least this wide (% of the drawing)
NODE_W, NODE_H, GAP_X, GAP_Y = 150, 26, 16, 44  # graph: node box and gaps
LABEL_CHARS = 22  # graph: a node shows this many characters of its id
SPARK_W, SPARK_H = 120, 24

CSS = """
:root{--ok:#2e7d32;--fail:#c62828;--run:#1565c0;--utd:#9e9e9e;--skip:#bdbdbd;
--blocked:#ef6c00;--pending:#e0e0e0;--ink:#1b1b1b;--mute:#5f6368;--line:#dadce0}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
margin:0 auto;padding:12px;max-width:1200px}
h1{font-size:1.35em;margin:.2em 0}h2{font-size:1.1em;margin:1.4em 0 .4em;
border-bottom:1px solid var(--line)}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
pre{background:#f6f8fa;padding:8px;overflow:auto;white-space:pre-wrap;word-break:break-all}
dl.head{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:.5em 0}
dl.head dt{color:var(--mute)}dl.head dd{margin:0;overflow-wrap:anywhere}
nav a{margin-right:12px}
.scroll{overflow:auto;max-width:100%;border:1px solid var(--line)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:3px 6px;border-bottom:1px solid var(--line);vertical-align:top}
td.n,th.n{text-align:right;white-space:nowrap}
tr:target{background:#fff3c4}
.badge{display:inline-block;padding:0 6px;border-radius:8px;font-weight:600}
.st-succeeded{--c:var(--ok)}.st-failed,.st-degraded{--c:var(--fail)}.st-running{--c:var(--run)}
.st-up-to-date{--c:var(--utd)}.st-skipped{--c:var(--skip)}.st-blocked{--c:var(--blocked)}
.st-pending,.st-not-run,.st-unknown,.st-interrupted{--c:var(--pending)}
.badge,.bar,.node{--t:#fff}
.st-up-to-date,.st-skipped,.st-blocked,.st-pending,.st-not-run,.st-unknown{
--t:var(--ink)}
.st-interrupted.badge{--c:var(--fail);--t:#fff}
.badge{background:var(--c);color:var(--t)}
.bar rect.b{fill:var(--c)}.bar:hover rect.b,.bar:focus rect.b{stroke:#000;stroke-width:2}
.bar text,.node text{font-size:11px;pointer-events:none}
.bar text{fill:var(--t)}.seg.failed-attempt{fill:rgba(0,0,0,.35)}.seg.attempt{fill:none}
.seg{stroke:#fff;stroke-width:1}.open rect.b{fill-opacity:.6}.open text{fill:var(--ink)}
.axis line{stroke:var(--line)}.axis text{font-size:10px;fill:var(--mute)}
.node rect{fill:var(--c);stroke:#444;stroke-width:.5}.node:hover rect,.node:focus rect{
stroke:#000;stroke-width:2}.node text{fill:var(--t)}
.edge{fill:none;stroke:#8a8f98;stroke-width:1;marker-end:url(#arrow)}
.spark polyline{fill:none;stroke:var(--run);stroke-width:1.2}
.spark .med{stroke:var(--mute);stroke-dasharray:3 2}.spark .p95{stroke:var(--blocked);
stroke-dasharray:1 2}.spark circle{fill:var(--ink)}
.flag{color:var(--fail);font-weight:700}
.note{color:var(--mute)}
@media (max-width:600px){body{padding:6px}td,th{padding:2px 4px}.wide{display:none}}
@media print{nav{display:none}.scroll{overflow:visible;border:0}svg{max-width:100%}
tr{break-inside:avoid}}
"""


# a run's own statuses, besides those its stages share (docs/cli.md): `degraded`
# (failures under --continue-on-error) and `interrupted` read as failures
RUN_STATUSES = ("degraded", "interrupted")


def h(value) -> str:
    return escape(str(value), quote=True)


def status_class(status) -> str:
    text = str(status or "unknown")
    return f"st-{text}" if text in (*STATUSES, *RUN_STATUSES) else "st-unknown"


def fmt_ms(value) -> str:
    value = number(value)
    return "-" if value is None else seconds(value)


def fmt_cpu(value) -> str:
    value = number(value)
    return "-" if value is None else f"{value:.2f}s"


def fmt_mem(value) -> str:
    value = number(value)
    return "-" if value is None else f"{value / 1024:.1f} MB"


def render(report: RunReport) -> str:
    anchors = {s["id"]: f"s-{i}" for i, s in enumerate(report.shown_stages)}
    parts = ["<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
             "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
             "style-src 'unsafe-inline'\">",
             "<meta name=\"referrer\" content=\"no-referrer\">",
             f"<title>{h(report.pipeline)}: {h(report.status)} - run {h(report.run_id)}"
             f"</title><style>{CSS}</style></head><body>"]
    parts += header(report)
    parts.append("<nav><a href=\"#timeline\">Timeline</a><a href=\"#graph\">Graph</a>"
                 + ("<a href=\"#failures\">Failures</a>" if report.failures else "")
                 + "<a href=\"#stages\">Stages</a><a href=\"#trends\">Trends</a></nav>")
    parts += timeline(report, anchors)
    parts += graph_section(report, anchors)
    parts += failures_section(report, anchors)
    parts += stage_table(report, anchors)
    parts += trends_section(report, anchors)
    stamp = report.generated_at.isoformat(timespec="seconds").replace("+00:00", "Z") \
        if report.generated_at else "?"
    parts.append(f"<footer class=\"note\"><p>Generated by <code>pipeline report</code> at "
                 f"{h(stamp)} from <code>{RUNS_DIR}/{h(report.run_id)}.json</code>."
                 f"</p></footer></body></html>\n")
    return "\n".join(parts)


def header(report: RunReport) -> list[str]:
    record = report.record
    counts = report.counts_text()
    started = str(record.get("startedAt") or "?").replace("T", " ").replace("Z", " UTC")
    duration = fmt_ms(record.get("durationMs"))
    if record.get("status") == "running":
        duration = f"{seconds(report.length_ms)} so far (in progress)"
    elif number(record.get("durationMs")) is None:
        duration = f"unknown (at least {seconds(report.length_ms)})"
    rebuilt = " <span class=\"note\">(rebuilt from the recorded options)</span>" \
        if report.command_reconstructed else ""
    error = record.get("error")
    rows = [("Run", f"<code>{h(report.run_id)}</code>"),
            ("Status", f"<span class=\"badge {status_class(report.status)}\" "
                       f"id=\"run-status\">{h(report.status)}</span>"),
            ("Started", h(started)), ("Duration", h(duration)),
            ("Stages", h(counts or "none recorded")),
            ("Command", f"<code>{h(report.command_line)}</code>{rebuilt}"),
            ("Executor", h(report.executor)),
            ("Graph", f"<code>{h(record.get('graphPath') or '?')}</code>")]
    if isinstance(error, str) and error:
        rows.append(("Error", h(error)))
    if report.runner_gone:
        rows.append(("Note", f"still marked running, but its process (pid "
                             f"{h(record.get('pid'))}) is gone: it was killed, or the machine "
                             f"restarted; the next run marks it interrupted"))
    return [f"<header><h1>{h(report.pipeline)} "
            f"<span class=\"badge {status_class(report.status)}\">{h(report.status)}</span>"
            f"</h1><dl class=\"head\">"
            + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl></header>"]


def tick_step(length_ms: float, ticks: int = 8) -> float:
    """A round step (1, 2 or 5 times a power of ten ms) giving at most `ticks` ticks."""
    if length_ms <= 0:
        return 1000.0
    raw = length_ms / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def tick_label(at_ms: float, step_ms: float) -> str:
    """A tick's time, to as many decimals of a second as the step needs: `seconds()`
    shows tenths, so steps of 50 ms would print 0.1s three times over."""
    if step_ms >= 100:
        return seconds(at_ms)
    decimals = max(1, math.ceil(-math.log10(step_ms / 1000) - 1e-9))
    return f"{at_ms / 1000:.{decimals}f}s"


def timeline(report: RunReport, anchors: dict[str, str]) -> list[str]:
    """One bar per stage that started. Horizontal positions are percentages of the
    drawing's width and heights are pixels, so the drawing fills the page without
    stretching its text; each bar is a nested <svg>, which clips its label to the bar."""
    out = ["<section id=\"timeline\"><h2>Timeline</h2>"]
    if not report.spans:
        out.append("<p class=\"note\">No stage started in this run "
                   "(all up to date, skipped, or the run stopped first).</p></section>")
        return out
    length = max(report.length_ms, 1.0)
    scale = 100 / length  # ms -> % of the width
    top = 16
    height = top + report.lanes * LANE_H + 4
    out.append(f"<p class=\"note\">{len(report.spans)} stage(s) ran on {report.lanes} "
               f"lane(s) (stages side by side ran at the same time). Hover a bar for its "
               f"details; select it to jump to its row.</p>")
    out.append(f"<div class=\"scroll\"><svg id=\"timeline-svg\" role=\"img\" "
               f"aria-label=\"timeline of the run\" width=\"100%\" height=\"{height}\" "
               f"style=\"min-width:{TIMELINE_MIN_W}px\" "
               f"xmlns=\"http://www.w3.org/2000/svg\"><g class=\"axis\">")
    step = tick_step(length)
    at = 0.0
    while at <= length + 1e-9:
        x = at * scale
        anchor = " text-anchor=\"end\"" if x > 90 else ""
        out.append(f"<line x1=\"{x:.2f}%\" y1=\"{top - 3}\" x2=\"{x:.2f}%\" y2=\"{height}\"/>"
                   f"<text x=\"{x:.2f}%\" dx=\"{-2 if anchor else 2}\" y=\"10\"{anchor}>"
                   f"{h(tick_label(at, step))}</text>")
        at += step
    out.append("</g>")
    by_id = {s["id"]: s for s in report.stages}
    for span in report.spans:
        stage = by_id.get(span.stage_id, {})
        status = stage.get("status")
        x = span.start_ms * scale
        w = max(MIN_BAR_PCT, (span.end_ms - span.start_ms) * scale)
        y = top + span.lane * LANE_H
        tip = tooltip(stage, span.end_ms - span.start_ms, span.open_ended)
        cls = f"bar {status_class(status)}" + (" open" if span.open_ended else "")
        piece = (f"<a href=\"#{anchors.get(span.stage_id, '')}\" class=\"{cls}\" "
                 f"data-stage=\"{h(span.stage_id)}\"><title>{h(tip)}</title>"
                 f"<svg x=\"{x:.3f}%\" y=\"{y}\" width=\"{w:.3f}%\" height=\"{LANE_H - 4}\">"
                 f"<rect class=\"b\" width=\"100%\" height=\"100%\"/>")
        whole = max(span.end_ms - span.start_ms, 1e-9)
        for s_start, s_end, kind in span.segments:
            piece += (f"<rect class=\"seg {kind}\" "
                      f"x=\"{(s_start - span.start_ms) / whole * 100:.2f}%\" "
                      f"width=\"{max(0.5, (s_end - s_start) / whole * 100):.2f}%\" "
                      f"height=\"100%\"/>")
        piece += f"<text x=\"3\" y=\"13\">{h(span.stage_id)}</text></svg></a>"
        out.append(piece)
    out.append("</svg></div></section>")
    return out


def tooltip(stage: dict, length_ms: float, open_ended: bool) -> str:
    lines = [f"{stage.get('id')}: {stage.get('status')}",
             f"took {seconds(length_ms)}" + (" so far" if open_ended else "")]
    if stage.get("reason"):
        lines.append(f"why: {stage['reason']}")
    if stage.get("exitCode") is not None:
        lines.append(f"exit code {stage['exitCode']}")
    if stage.get("error"):
        lines.append(f"error: {stage['error']}")
    lines.append(f"CPU {fmt_cpu(stage.get('cpuSeconds'))}, "
                 f"peak memory {fmt_mem(stage.get('peakRssKb'))}")
    attempts = [a for a in stage.get("attempts") or () if isinstance(a, dict)]
    if len(attempts) > 1:
        lines.append(f"{len(attempts)} attempts: " + ", ".join(
            f"{a.get('status')} {fmt_ms(a.get('durationMs'))}" for a in attempts))
    if isinstance(stage.get("worker"), str):
        lines.append(f"worker {stage['worker']}")
    return "\n".join(lines)


def graph_section(report: RunReport, anchors: dict[str, str]) -> list[str]:
    out = ["<section id=\"graph\"><h2>Stage graph</h2>"]
    if report.graph_note:
        out.append(f"<p class=\"note\">{h(report.graph_note)}</p>")
    drawing = report.graph
    if drawing is None or not drawing.nodes:
        if not report.graph_note:
            out.append("<p class=\"note\">No stage graph to draw.</p>")
        out.append("</section>")
        return out
    placed, width, rows = layout(drawing.nodes, drawing.edges)
    svg_w = width * (NODE_W + GAP_X) + GAP_X
    svg_h = rows * (NODE_H + GAP_Y) - GAP_Y + 2 * 8
    where = {}
    status_of = {s["id"]: s.get("status") for s in report.shown_stages}
    out.append(f"<p class=\"note\">{len(drawing.nodes)} stage(s), arrows from each stage to "
               f"the stages that depend on it (<code>dependsOn</code>), coloured by their "
               f"status in this run.</p>")
    out.append(f"<div class=\"scroll\"><svg id=\"graph-svg\" role=\"img\" aria-label=\"stage "
               f"graph\" viewBox=\"0 0 {svg_w:.0f} {svg_h:.0f}\" width=\"{svg_w:.0f}\" "
               f"height=\"{svg_h:.0f}\" style=\"max-width:none\" "
               f"xmlns=\"http://www.w3.org/2000/svg\"><defs><marker id=\"arrow\" "
               f"viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"7\" "
               f"markerHeight=\"7\" orient=\"auto\"><path d=\"M0 0L8 4L0 8z\" "
               f"fill=\"#8a8f98\"/></marker></defs>")
    nodes = []
    for p in placed:
        x = GAP_X + p.x * (NODE_W + GAP_X)
        y = 8 + p.y * (NODE_H + GAP_Y)
        where[p.node] = (x, y)
        status = status_of.get(p.node)
        cls = status_class(status) if p.node in status_of else "st-not-run"
        label = p.node if len(p.node) <= LABEL_CHARS else p.node[:LABEL_CHARS - 1] + "…"
        shown = status if p.node in status_of else "not in this run"
        link = anchors.get(p.node)
        open_tag = f"<a href=\"#{link}\">" if link else "<a>"
        nodes.append(f"<g class=\"node {cls}\" data-stage=\"{h(p.node)}\">{open_tag}"
                     f"<title>{h(p.node)}: {h(shown)}</title><rect x=\"{x:.0f}\" "
                     f"y=\"{y:.0f}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"4\"/>"
                     f"<text x=\"{x + 6:.0f}\" y=\"{y + 17:.0f}\">{h(label)}</text></a></g>")
    for a, b in drawing.edges:
        if a not in where or b not in where:
            continue
        (xa, ya), (xb, yb) = where[a], where[b]
        x1, y1 = xa + NODE_W / 2, ya + NODE_H
        x2, y2 = xb + NODE_W / 2, yb
        mid = (y1 + y2) / 2
        out.append(f"<path class=\"edge\" data-from=\"{h(a)}\" data-to=\"{h(b)}\" "
                   f"d=\"M{x1:.0f} {y1:.0f}C{x1:.0f} {mid:.0f} {x2:.0f} {mid:.0f} "
                   f"{x2:.0f} {y2:.0f}\"/>")
    out += nodes  # nodes over the edges
    out.append("</svg></div></section>")
    return out


def failures_section(report: RunReport, anchors: dict[str, str]) -> list[str]:
    if not report.failures:
        return []
    out = [f"<section id=\"failures\"><h2>Failures ({len(report.failures)})</h2>"]
    for failure in report.failures:
        exit_code = f", exit code {h(failure.exit_code)}" \
            if failure.exit_code is not None and "exit code" not in failure.error else ""
        out.append(f"<h3 class=\"failure\" data-stage=\"{h(failure.stage_id)}\">"
                   f"<a href=\"#{anchors.get(failure.stage_id, '')}\">"
                   f"{h(failure.stage_id)}</a>: {h(failure.error)}{exit_code}</h3>")
        if failure.tail:
            where = f" of <code>{h(failure.log_path)}</code>" if failure.log_path else ""
            out.append(f"<p class=\"note\">Last {len(failure.tail)} line(s){where}:</p>"
                       f"<pre>{h(chr(10).join(failure.tail))}</pre>")
        else:
            out.append("<p class=\"note\">It printed nothing (or its log is gone).</p>")
        out.append("<p>Rerun: " + " or ".join(f"<code>{h(x)}</code>" for x in failure.hints)
                   + "</p>")
    out.append("</section>")
    return out


def stage_table(report: RunReport, anchors: dict[str, str]) -> list[str]:
    out = ["<section id=\"stages\"><h2>Stages</h2>"]
    if not report.shown_stages:
        out.append("<p class=\"note\">No stages recorded.</p></section>")
        return out
    spans = {s.stage_id: s for s in report.spans}
    out.append("<div class=\"scroll\"><table><thead><tr><th>Stage</th><th>Status</th>"
               "<th class=\"n\">Start</th><th class=\"n\">Time</th><th class=\"n\">Exit</th>"
               "<th class=\"n wide\">CPU</th><th class=\"n wide\">Peak mem</th>"
               "<th>Why</th></tr></thead><tbody>")
    for stage in report.shown_stages:
        span = spans.get(stage["id"])
        start = f"+{seconds(span.start_ms)}" if span else "-"
        took = fmt_ms(stage.get("durationMs"))
        if span and span.open_ended:
            took = f"{seconds(span.end_ms - span.start_ms)}…"
        attempts = [a for a in stage.get("attempts") or () if isinstance(a, dict)]
        why = h(stage.get("reason") or "")
        if stage.get("error"):
            why += f"<br><span class=\"flag\">{h(stage['error'])}</span>"
        if len(attempts) > 1:
            why += f"<br><span class=\"note\">{len(attempts)} attempts</span>"
        exit_code = stage.get("exitCode")
        out.append(f"<tr id=\"{anchors[stage['id']]}\"><td class=\"mono\">{h(stage['id'])}"
                   f"</td><td><span class=\"badge {status_class(stage.get('status'))}\">"
                   f"{h(stage.get('status'))}</span></td><td class=\"n\">{start}</td>"
                   f"<td class=\"n\">{h(took)}</td><td class=\"n\">"
                   f"{h(exit_code) if exit_code is not None else '-'}</td>"
                   f"<td class=\"n wide\">{fmt_cpu(stage.get('cpuSeconds'))}</td>"
                   f"<td class=\"n wide\">{fmt_mem(stage.get('peakRssKb'))}</td>"
                   f"<td>{why}</td></tr>")
    out.append("</tbody></table></div></section>")
    return out


def sparkline(durations: list[float], median, p95, this_run) -> str:
    if not durations:
        return ""
    top = max(durations) or 1.0
    n = len(durations)

    def x(i: int) -> float:
        return 2 + (SPARK_W - 4) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return SPARK_H - 2 - (SPARK_H - 4) * (v / top)
    points = " ".join(f"{x(i):.0f},{y(v):.0f}" for i, v in enumerate(durations))
    lines = ""
    for value, cls in ((median, "med"), (p95, "p95")):
        if number(value) is not None:
            lines += (f"<line class=\"{cls}\" x1=\"0\" x2=\"{SPARK_W}\" y1=\"{y(value):.0f}\" "
                      f"y2=\"{y(value):.0f}\"/>")
    dot = f"<circle cx=\"{x(n - 1):.0f}\" cy=\"{y(durations[-1]):.0f}\" r=\"2.5\"/>" \
        if this_run is not None else ""
    return (f"<svg class=\"spark\" width=\"{SPARK_W}\" height=\"{SPARK_H}\" "
            f"viewBox=\"0 0 {SPARK_W} {SPARK_H}\" xmlns=\"http://www.w3.org/2000/svg\">"
            f"{lines}<polyline points=\"{points}\"/>{dot}</svg>")


def trends_section(report: RunReport, anchors: dict[str, str]) -> list[str]:
    runs = report.trend_runs
    out = [f"<section id=\"trends\"><h2>Trends over the last {runs} run(s) of "
           f"{h(report.pipeline)}</h2>",
           f"<p class=\"note\">Durations of the runs each stage ran in (succeeded or "
           f"failed), oldest to newest: dashed, the median; dotted, the 95th percentile; the "
           f"dot, this run when the stage ran in it. <span class=\"flag\">slower</span>: "
           f"the last run took more than {(REGRESSION_RATIO - 1) * 100:.0f}% longer than "
           f"the median, with a median over {REGRESSION_MIN_MEDIAN_MS / 1000:.1f}s (the "
           f"numbers of <code>pipeline history</code>).</p>"]
    place = {sid: i for i, sid in enumerate(anchors)}  # the stage table's order
    rows = sorted((t for t in report.trends.values() if t["id"] in place),
                  key=lambda t: place[t["id"]])
    if not rows:
        out.append("<p class=\"note\">No stages recorded.</p></section>")
        return out
    this_run = {s["id"]: number(s.get("durationMs")) for s in report.stages
                if s.get("status") in ("succeeded", "failed")}
    out.append("<div class=\"scroll\"><table><thead><tr><th>Stage</th><th class=\"n\">Ran</th>"
               "<th class=\"n\">Success</th><th class=\"n\">Median</th><th class=\"n\">p95</th>"
               "<th class=\"n\">This run</th><th class=\"wide\">Durations</th><th></th>"
               "</tr></thead><tbody>")
    for t in rows:
        rate = "-" if t["successRate"] is None else f"{t['successRate'] * 100:.0f}%"
        this = this_run.get(t["id"])
        flag = "<span class=\"flag\">slower</span>" if t["regression"] else ""
        out.append(f"<tr class=\"trend{' regression' if t['regression'] else ''}\" "
                   f"data-stage=\"{h(t['id'])}\"><td class=\"mono\"><a href=\"#"
                   f"{anchors[t['id']]}\">{h(t['id'])}</a></td><td class=\"n\">{t['runs']}"
                   f"</td><td class=\"n\">{rate}</td><td class=\"n\">{fmt_ms(t['medianMs'])}"
                   f"</td><td class=\"n\">{fmt_ms(t['p95Ms'])}</td><td class=\"n\">"
                   f"{fmt_ms(this)}</td><td class=\"wide\">"
                   f"{sparkline(t['durations'], t['medianMs'], t['p95Ms'], this)}</td>"
                   f"<td>{flag}</td></tr>")
    out.append("</tbody></table></div></section>")
    return out
