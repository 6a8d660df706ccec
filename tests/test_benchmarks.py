"""The benchmark runner: a quick smoke run writes every row and a readable report."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SHAPE_MEASURES = ("full run", "no-op run", "dry run", "list", "peak RSS")
# Which tools each per-shape measure has a value for; the others show "–".
TOOLS = {"full run": ("pipeline", "raw doit", "make"),
         "no-op run": ("pipeline", "raw doit", "make"),
         "dry run": ("pipeline", "make"), "list": ("pipeline", "raw doit"),
         "peak RSS": ("pipeline", "raw doit", "make")}
PROJECT_MEASURES = ("start-up (--version)", "list", "no-op minus 1-stage no-op",
                    "artifact_digest, cold process")
VALUE = re.compile(r"^-?\d+(\.\d+)? (ms|s|MiB)$")


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def parse_table(text: str) -> list[dict[str, str]]:
    """The rows of the first Markdown results table in text, as header -> cell."""
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == len(header), line
        rows.append(dict(zip(header, cells)))
    return rows


def section(doc: str, title: str) -> str:
    body = doc.split(f"## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0]


def test_quick_run_writes_every_row_and_the_targets(tmp_path):
    out = tmp_path / "perf.md"
    result = bench("--quick", "--out", str(out))
    assert result.returncode == 0, result.stderr
    doc = out.read_text()
    assert doc.startswith("# Performance\n")
    assert "--quick" in section(doc, "This run")
    assert "logical CPUs" in doc and "memory:" in doc

    rows = parse_table(section(doc, "Results"))
    assert rows == parse_table(result.stdout)  # the printed table is the written one
    by_key = {(r["shape"], r["stages"], r["measure"]): r for r in rows}
    for shape in ("chain", "fanout"):
        for measure in SHAPE_MEASURES:
            row = by_key[(shape, "10", measure)]
            for tool in ("pipeline", "raw doit", "make"):
                if tool in TOOLS[measure]:
                    assert VALUE.match(row[tool]), (shape, measure, tool, row[tool])
                else:
                    assert row[tool] == "–"
            if "raw doit" in TOOLS[measure]:
                assert re.match(r"^\d+\.\d\d×$", row["÷ doit"]), row
        # Peak memory is the command's own, not inherited from the runner: make (a few MiB)
        # stays well below raw doit (a Python interpreter).
        memory = by_key[(shape, "10", "peak RSS")]
        assert float(memory["make"].split()[0]) < float(memory["raw doit"].split()[0]) / 2
    project = {r["measure"]: r for r in rows if r["shape"] == "project"}
    assert set(project) == set(PROJECT_MEASURES)
    for measure in PROJECT_MEASURES:
        assert VALUE.match(project[measure]["pipeline"]), project[measure]
    assert VALUE.match(project["start-up (--version)"]["raw doit"])

    targets = [line for line in section(doc, "Targets (issue 7)").splitlines() if line]
    assert len(targets) == 8
    for line in targets:
        assert re.match(r"^- \*\*(met|not met|not measured)\*\*: ", line), line
    # A quick run has no 1,000- or 10,000-stage rows to judge those targets on.
    assert "**not measured**: no-op run of 1,000 stages" in doc
    assert "## Failed commands" not in doc


def test_bad_option_is_one_line_and_exit_2(tmp_path):
    out = tmp_path / "perf.md"
    for args in (["--sizes", "ten"], ["--shapes", "circle"], ["--repeat", "0"]):
        result = bench(*args, "--out", str(out))
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stdout == ""
    assert not out.exists()
