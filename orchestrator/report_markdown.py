"""`pipeline report --markdown`: the essentials of a run as GitHub-flavoured Markdown,
sized for a CI job summary (GitHub shows at most 1 MiB of a step's summary).

A status line; a table of the stages with their times and reasons (every stage up to
`MAX_ROWS`; past that, the failed ones and then the longest, the rest counted); each
failure with the last lines of its output and how to rerun it; the stages whose last
duration regressed. Text from records (ids, reasons, errors, output) is escaped so it
cannot break the table or inject markup.
"""

from __future__ import annotations

import re

from orchestrator.console import seconds
from orchestrator.report import RunReport
from orchestrator.trends import REGRESSION_MIN_MEDIAN_MS, REGRESSION_RATIO, number

MAX_ROWS = 50  # stages in the table
MAX_FAILURES = 10  # failures shown with their output
TAIL_LINES = 15
MARKERS = {"succeeded": "✅", "failed": "❌", "degraded": "❌", "running": "▶️", "up-to-date": "↷",
           "skipped": "⏭", "blocked": "⛔", "pending": "·", "interrupted": "⚠️"}


def cell(text) -> str:
    """Free text in a table cell: one line, pipes escaped, markup characters neutral."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\|`*_\[\]#])", r"\\\1", text)


def fence(lines: list[str]) -> str:
    """A code block that no backtick run in `lines` can close early."""
    longest = max((len(m) for line in lines for m in re.findall(r"`+", line)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n" + "\n".join(lines) + f"\n{ticks}"


def fmt_ms(value) -> str:
    value = number(value)
    return "-" if value is None else seconds(value)


def render(report: RunReport) -> str:
    record = report.record
    status = report.status
    marker = MARKERS.get(status, "❔")
    duration = fmt_ms(record.get("durationMs"))
    if status == "running":
        duration = f"{seconds(report.length_ms)} so far"
    counts = report.counts_text()
    out = [f"### {marker} {cell(report.pipeline)}: {cell(status)}",
           "",
           f"Run `{report.run_id}`, started {cell(record.get('startedAt') or '?')}, "
           f"took {duration}; {cell(counts or 'no stages recorded')}.",
           "", f"`{report.command_line.replace('`', '')}`", ""]
    if report.runner_gone:
        out[3:3] = ["", f"Still marked running, but its process (pid {cell(record.get('pid'))}) "
                        f"is gone: the next run marks it interrupted."]
    out += stage_rows(report)
    out += failure_blocks(report)
    regressions = report.regressions()
    if regressions:
        out += ["", f"#### Slower than usual ({len(regressions)})", "",
                f"Last duration more than {(REGRESSION_RATIO - 1) * 100:.0f}% above the "
                f"median of the last {report.trend_runs} run(s) (median over "
                f"{REGRESSION_MIN_MEDIAN_MS / 1000:.1f}s):", "",
                "| stage | median | p95 | last | vs median |", "|---|--:|--:|--:|--:|"]
        for t in regressions:
            vs = t.get("lastVsMedian")
            out.append(f"| {cell(t['id'])} | {fmt_ms(t['medianMs'])} | {fmt_ms(t['p95Ms'])} "
                       f"| {fmt_ms(t['lastMs'])} | "
                       f"{'-' if vs is None else f'{vs * 100:+.0f}%'} |")
    out.append("")
    return "\n".join(out)


def stage_rows(report: RunReport) -> list[str]:
    stages = report.stages
    if not stages:
        return []
    shown = stages
    note = ""
    if len(stages) > MAX_ROWS:
        failed = [s for s in stages if s.get("status") == "failed"]
        rest = sorted((s for s in stages if s.get("status") != "failed"),
                      key=lambda s: -(number(s.get("durationMs")) or 0.0))
        keep = {id(s) for s in (failed + rest)[:MAX_ROWS]}
        shown = [s for s in stages if id(s) in keep]  # in run order
        left = len(stages) - len(shown)
        note = (f"\n{left} more stage(s) not listed: the {len(shown)} above are the failed "
                f"ones and the longest (`pipeline report` has them all).")
    rows = ["| | stage | status | time | why |", "|---|---|---|--:|---|"]
    for stage in shown:
        status = str(stage.get("status") or "?")
        why = stage.get("reason") or ""
        if stage.get("error"):
            why = f"{why}; {stage['error']}" if why else stage["error"]
        rows.append(f"| {MARKERS.get(status, '')} | {cell(stage['id'])} | {cell(status)} | "
                    f"{fmt_ms(stage.get('durationMs'))} | {cell(why)[:300]} |")
    return rows + ([note] if note else [])


def failure_blocks(report: RunReport) -> list[str]:
    out = []
    for failure in report.failures[:MAX_FAILURES]:
        code = f" (exit code {cell(failure.exit_code)})" \
            if failure.exit_code is not None and "exit code" not in failure.error else ""
        out += ["", f"#### ❌ {cell(failure.stage_id)}: {cell(failure.error)}{code}", ""]
        tail = failure.tail[-TAIL_LINES:]
        if tail:
            out += [f"Last {len(tail)} line(s) of its output:", "",
                    fence([line[:500] for line in tail]), ""]
        out.append("Rerun: " + " or ".join(f"`{x.replace('`', '')}`" for x in failure.hints))
    left = len(report.failures) - MAX_FAILURES
    if left > 0:
        out += ["", f"{left} more failed stage(s): see `pipeline logs {report.run_id}`."]
    return out
