"""`python -m benchmarks`: measure `pipeline` against raw doit and make, write the report.

Every measured command is a fresh subprocess of this interpreter (`sys.executable -m
orchestrator`, `sys.executable -m doit`), `make`, or Snakemake (when there is one: see
--snakemake), in a generated project under a temporary directory; the repository itself
is never written to except `--out`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import generate
from benchmarks.measure import CommandFailed, checked, median
from benchmarks.report import render_doc, render_table

REPO = Path(__file__).resolve().parent.parent
TOOLS = ("pipeline", "doit", "make")
# Operations measured per shape and size, in table order.
OPERATIONS = ("full run", "no-op run", "no-op run, full path", "forced run", "last output removed",
              "dry run", "list", "status", "check", "history", "report", "peak RSS",
              "peak RSS, no-op", "record + events of a no-op")
LARGE = 10_000  # sizes from here on use --large-repeat for full runs
# every stage runs from a fresh state: what --large-repeat counts. Forced runs, which the
# full-run target is judged on, take --forced-repeat at every size: raw doit's forced
# times have two modes, and with three samples one fast run moves the median ratio 5-10%
LONG_RUNS = ("full run",)
FORCED_RUNS = ("forced run",)
FORCED_REPEAT = 5  # runs per forced-run row by default
PARALLEL_DELAY_S = 0.05  # each stage of the parallel row sleeps this long
PARALLEL_JOBS = 4
# Snakemake (issue 17) is no dependency: `make bench-snakemake` installs it here
SNAKEMAKE_DEFAULT = REPO / ".venv-snakemake" / "bin" / "snakemake"
SNAKEMAKE_GROUP = "snakemake"
SNAKEMAKE_NOOP = "Nothing to be done"  # what Snakemake 9 says when everything is up to date


@dataclass
class Cell:
    """What one tool measured for one row: samples (seconds or KiB), or why it has none."""

    values: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def value(self) -> float | None:
        return median(self.values) if self.values and self.error is None else None


@dataclass
class Row:
    group: str  # "chain", "fanout" or "project"
    size: str  # number of stages, or a short description for project-wide rows
    measure: str
    unit: str  # "s" or "KiB"
    cells: dict[str, Cell] = field(default_factory=dict)
    repeats: int = 0
    # what the report says beside the numbers: the version of an outside tool it timed,
    # or why that tool was not timed
    note: str = ""


@dataclass
class Options:
    sizes: list[int]
    shapes: list[str]
    repeat: int
    large_repeat: int
    out: Path
    quick: bool
    timeout: float
    dir_files: int
    command: str
    baseline: str | None = None  # a git revision whose no-op runs are timed side by side
    # a stage's output: bytes of one line without a newline (timed under --jobs 1 and 2),
    # and bytes in lines (timed without and with a declared secret of SECRET_BYTES)
    line_bytes: int = 40_000_000
    output_bytes: int = 10_000_000
    parallel_stages: int = 200  # the parallel row's independent stages
    dask: bool = False  # also the Dask executor's rows (benchmarks/dask_rows.py)
    snakemake: Path | None = None  # the snakemake executable, when there is one
    snakemake_stages: int = 200  # the chain Snakemake's no-op is timed on
    forced_repeat: int = FORCED_REPEAT  # runs per forced-run row (the full-run target)


SECRET_BYTES = 65536


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
    return values


def _shape_list(text: str) -> list[str]:
    shapes = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [s for s in shapes if s not in generate.SHAPES]
    if not shapes or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown shape {', '.join(unknown) or text!r} "
            f"(expected {', '.join(generate.SHAPES)})")
    return shapes


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def parse_args(argv: list[str]) -> Options:
    parser = _Parser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--sizes", type=_int_list, default=[10, 100, 1000, 10000],
                        help="numbers of stages (default 10,100,1000,10000)")
    parser.add_argument("--shapes", type=_shape_list, default=list(generate.SHAPES),
                        help="graph shapes: chain, fanout (default both)")
    parser.add_argument("--repeat", type=_positive, default=3,
                        help="runs per measurement; the table shows the median (default 3)")
    parser.add_argument("--large-repeat", type=_positive, default=1,
                        help=f"runs per full-run measurement at {LARGE:,} stages and more, "
                             "where one full run takes tens of seconds (default 1)")
    parser.add_argument("--forced-repeat", type=_positive, default=FORCED_REPEAT,
                        help="runs per forced-run measurement, the rows the full-run "
                             "target is judged on; at least --repeat "
                             f"(default {FORCED_REPEAT})")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "performance.md",
                        help="where to write the report (default docs/performance.md)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 10 stages, one repeat, a directory of 100 files, "
                             "a 4 MB line and 1 MB of output")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds one command may take before it counts as failed")
    parser.add_argument("--baseline", metavar="REV",
                        help="also time no-op runs with the package as of this git revision, "
                             "interleaved with this one's, and judge the change")
    parser.add_argument("--dask", action="store_true",
                        help="also time --executor dask against the local executor on a "
                             "two-worker cluster on 127.0.0.1 (needs the dask extra)")
    parser.add_argument("--snakemake", metavar="PATH", type=Path,
                        help="the snakemake executable whose no-op run on a 200-stage chain "
                             "is timed against pipeline's (default "
                             ".venv-snakemake/bin/snakemake when it exists: "
                             "`make bench-snakemake` installs it)")
    args = parser.parse_args(argv)
    if args.snakemake is not None and not _executable(args.snakemake):
        parser.error(f"--snakemake: {args.snakemake} is not an executable file")
    snakemake = args.snakemake or (SNAKEMAKE_DEFAULT if _executable(SNAKEMAKE_DEFAULT)
                                   else None)
    if args.dask and not _has_dask():
        parser.error("--dask needs the dask extra: pip install -e '.[dask]'")
    if args.baseline is not None and not _known_revision(args.baseline):
        parser.error(f"--baseline: unknown git revision {args.baseline!r}")
    command = "python -m benchmarks" + "".join(f" {shlex.quote(a)}" for a in argv)
    if args.quick:
        return Options([10], args.shapes, 1, 1, args.out, True, args.timeout, 100, command,
                       args.baseline, line_bytes=4_000_000, output_bytes=1_000_000,
                       parallel_stages=8, dask=args.dask, snakemake=snakemake,
                       snakemake_stages=10, forced_repeat=1)
    return Options(args.sizes, args.shapes, args.repeat, min(args.large_repeat, args.repeat),
                   args.out, False, args.timeout, 10_000, command, args.baseline,
                   dask=args.dask, snakemake=snakemake,
                   forced_repeat=max(args.forced_repeat, args.repeat))


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _has_dask() -> bool:
    import importlib.util

    return importlib.util.find_spec("distributed") is not None


def _known_revision(rev: str) -> bool:
    import subprocess

    found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                           cwd=REPO, capture_output=True, text=True)
    return found.returncode == 0


class Bench:
    def __init__(self, options: Options, work: Path):
        self.options = options
        self.work = work
        self.env = generate.environment()
        self.py = sys.executable
        self.rows: list[Row] = []
        self.failures: list[str] = []
        self.baseline_rows: list[Row] = []
        self.base_env: dict[str, str] | None = None
        if options.baseline:
            self.base_env = dict(self.env, PYTHONPATH=str(self.baseline_source()))

    def baseline_source(self) -> Path:
        """The package as of --baseline, extracted beside the projects; first on the
        interpreter's path, it is imported instead of the working tree's."""
        import subprocess

        target = self.work / "baseline-src"
        target.mkdir()
        archive = subprocess.run(["git", "archive", self.options.baseline, "orchestrator"],
                                 cwd=REPO, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
        return target

    def progress(self, text: str) -> None:
        print(f"[bench] {text}", file=sys.stderr, flush=True)

    def sample(self, cell: Cell, argv: list[str], cwd: Path, memory: Cell | None = None,
               before=None, env: dict[str, str] | None = None,
               expect: str | None = None) -> None:
        """One measured run into cell (and its peak memory into `memory`), unless it
        failed, or (with `expect`) the end of its stderr does not say `expect`."""
        if cell.error:
            return
        if before:
            before()
        try:
            result = checked(argv, cwd, env or self.env, self.options.timeout)
        except CommandFailed as exc:
            cell.error = "timeout" if exc.sample.code == -1 else f"exit {exc.sample.code}"
            self.failures.append(f"{cwd.name}: {exc}")
            if memory is not None:
                memory.error = cell.error
            return
        if expect is not None and expect not in result.stderr_tail:
            cell.error = "unexpected output"
            last = (result.stderr_tail.strip().splitlines() or [""])[-1]
            self.failures.append(f"{cwd.name}: {' '.join(argv[:4])} did not say "
                                 f"{expect!r}: {last[:200]}")
            if memory is not None:
                memory.error = cell.error
            return
        cell.values.append(result.seconds)
        if memory is not None and memory.error is None:
            memory.values.append(result.peak_kib)

    def commands(self) -> dict[str, dict[str, list[str]]]:
        pipe, doit = [self.py, "-m", "orchestrator"], [self.py, "-m", "doit"]
        return {
            "pipeline": {"full run": pipe + ["run"], "no-op run": pipe + ["run"],
                         # the same decision stage by stage, without the fast path
                         "no-op run, full path": pipe + ["run", "--no-fast-path"],
                         # every stage run again, with the state of the runs above
                         "forced run": pipe + ["run", "--force"],
                         "last output removed": pipe + ["run"],
                         "dry run": pipe + ["run", "--dry-run"], "list": pipe + ["list"],
                         # commands of our own, timed to show how they grow with the graph
                         "status": pipe + ["status"], "check": pipe + ["check"],
                         "history": pipe + ["history"],
                         "report": pipe + ["report", "-o", "report.html"]},
            "doit": {"full run": doit + ["run"], "no-op run": doit + ["run"],
                     "forced run": doit + ["run", "--always-execute"],
                     "last output removed": doit + ["run"], "list": doit + ["list"]},
            "make": {"full run": ["make"], "no-op run": ["make"], "forced run": ["make", "-B"],
                     "last output removed": ["make"], "dry run": ["make", "-n"]},
        }

    def shape_size(self, shape: str, size: int) -> None:
        writers = {"pipeline": generate.write_graph_project, "doit": generate.write_doit_project,
                   "make": generate.write_make_project}
        units = {"peak RSS": "KiB", "peak RSS, no-op": "KiB", "record + events of a no-op": "B"}
        rows = {op: Row(shape, f"{size:,}", op, units.get(op, "s")) for op in OPERATIONS}
        last_output = generate.edges(shape, size)[-1][1]
        repeat = self.options.repeat
        full_repeat = self.options.large_repeat if size >= LARGE else repeat
        roots, memory, noop_memory = {}, {}, {}
        for tool, write in writers.items():
            roots[tool] = self.work / f"{shape}-{size}-{tool}"
            write(roots[tool], shape, size)
            memory[tool] = rows["peak RSS"].cells.setdefault(tool, Cell())
            noop_memory[tool] = rows["peak RSS, no-op"].cells.setdefault(tool, Cell())
        commands = self.commands()
        # Operation by operation, the tools alternating run by run: load on the machine
        # (another process, the disk's cache, the CPU's clock) falls on all of them alike,
        # and each tool still sees its operations in table order (its state builds up).
        for op in OPERATIONS:
            tools = [tool for tool in writers if op in commands[tool]]
            if not tools:
                continue
            runs = self.runs(op, full_repeat)
            self.progress(f"{shape} {size:,}: {op} x{runs}, {', '.join(tools)} alternating")
            for _ in range(runs):
                for tool in tools:
                    root = roots[tool]
                    cell = rows[op].cells.setdefault(tool, Cell())
                    before = {"full run": lambda r=root: generate.clean_outputs(r),
                              "last output removed": lambda r=root: (r / last_output).unlink()
                              }.get(op)
                    is_run = op in ("full run", "no-op run")
                    self.sample(cell, commands[tool][op], root,
                                memory[tool] if is_run else None, before=before)
                    if op == "no-op run" and cell.values and noop_memory[tool].error is None:
                        noop_memory[tool].values.append(memory[tool].values[-1])
            if op == "no-op run" and "pipeline" in tools:
                rows["record + events of a no-op"].cells["pipeline"] = \
                    newest_record_size(roots["pipeline"])
        for tool, root in roots.items():
            # Peak memory is the largest of any full or no-op run: the run's whole cost.
            for peak in (memory[tool], noop_memory[tool]):
                if peak.values and peak.error is None:
                    peak.values = [max(peak.values)]
            if tool == "pipeline" and self.base_env is not None:
                self.against_baseline(shape, f"{size:,}", root,
                                      lambda r: generate.write_graph_project(r, shape, size))
            generate.clean_outputs(root)
        for op, row in rows.items():
            row.repeats = self.runs(op, full_repeat)
        self.rows.extend(rows.values())

    def runs(self, op: str, full_repeat: int) -> int:
        """How many times one operation of a shape and size is timed."""
        if op in LONG_RUNS:
            return full_repeat
        return self.options.forced_repeat if op in FORCED_RUNS else self.options.repeat

    def project_rows(self) -> None:
        pipe, doit = [self.py, "-m", "orchestrator"], [self.py, "-m", "doit"]
        repeat = self.options.repeat
        bundled = generate.copy_bundled_graph(REPO, self.work / "bundled")
        self.progress("start-up and bundled graph")
        startup = Row("project", "-", "start-up (--version)", "s", repeats=repeat)
        for tool, argv in (("pipeline", pipe + ["--version"]), ("doit", doit + ["--version"]),
                           ("make", ["make", "--version"])):
            cell = startup.cells.setdefault(tool, Cell())
            for _ in range(repeat):
                self.sample(cell, argv, bundled)
        listing = Row("project", "bundled graph", "list", "s", repeats=repeat)
        cell = listing.cells.setdefault("pipeline", Cell())
        for _ in range(repeat):
            self.sample(cell, pipe + ["list"], bundled)
        self.rows += [startup, listing]

        self.progress("bundled pipeline: no-op run")
        project = generate.copy_bundled_project(REPO, self.work / "bundled-run")
        first = Cell()
        self.sample(first, pipe + ["run"], project)  # the full run, not measured
        noop = Row("project", "bundled pipeline", "no-op run", "s", repeats=repeat)
        cell = noop.cells.setdefault("pipeline", Cell(error=first.error))
        for _ in range(repeat):
            self.sample(cell, pipe + ["run"], project)
        self.rows.append(noop)
        if self.base_env is not None:
            self.against_baseline("project", "bundled pipeline", project,
                                  lambda r: generate.copy_bundled_project(REPO, r))

        files = self.options.dir_files
        self.progress(f"directory artifact of {files:,} files")
        baseline, tree = generate.write_directory_projects(self.work / "directory", files)
        noop = {}
        for name, root in (("baseline", baseline), ("tree", tree)):
            cell = Cell()
            self.sample(cell, pipe + ["run"], root)  # the full run, not measured
            noop[name] = Cell()
            for _ in range(repeat):
                self.sample(noop[name], pipe + ["run"], root)
        diff = Row("project", f"dir of {files:,} files", "no-op minus 1-stage no-op", "s",
                   repeats=repeat)
        if noop["baseline"].value is not None and noop["tree"].value is not None:
            diff.cells["pipeline"] = Cell([noop["tree"].value - noop["baseline"].value])
        else:
            diff.cells["pipeline"] = Cell(error=noop["tree"].error or noop["baseline"].error)
        direct = Row("project", f"dir of {files:,} files", "artifact_digest, cold process",
                     "s", repeats=repeat)
        direct.cells["pipeline"] = self.direct_digest(tree / "data" / "tree", repeat)
        self.rows += [diff, direct]

    def output_rows(self) -> None:
        """A stage printing one long line without a newline, under --jobs 1 and --jobs 2
        (whose console lines are prefixed with the stage id), and one printing many lines,
        without and with a long declared secret to mask: each pair timed alternately, so
        that load on the machine falls on both alike."""
        import random
        import string

        pipe = [self.py, "-m", "orchestrator", "run"]
        rng = random.Random(14)
        secret = "".join(rng.choice(string.ascii_letters + string.digits)
                         for _ in range(SECRET_BYTES))
        line, lines = self.options.line_bytes, self.options.output_bytes
        pairs = (
            (f"{line / 1e6:g} MB line", False, line,
             (("full run, --jobs 1", pipe, self.env),
              ("full run, --jobs 2", pipe + ["--jobs", "2"], self.env))),
            (f"{lines / 1e6:g} MB in lines", True, lines,
             (("full run, no secret", pipe, self.env),
              (f"full run, {SECRET_BYTES // 1024} KiB secret", pipe,
               dict(self.env, **{generate.SECRET_VARIABLE: secret})))),
        )
        for size_text, in_lines, size, variants in pairs:
            root = self.work / f"output-{'lines' if in_lines else 'line'}"
            generate.write_output_project(root, size, in_lines)
            rows = [Row("output", size_text, measure, "s", repeats=self.options.repeat)
                    for measure, _, _ in variants]
            self.progress(f"output: {size_text}")
            for _ in range(self.options.repeat):
                for row, (_, argv, env) in zip(rows, variants):
                    self.sample(row.cells.setdefault("pipeline", Cell()), argv, root,
                                before=lambda r=root: generate.clean_outputs(r), env=env)
            self.rows += rows
            generate.clean_outputs(root)

    def against_baseline(self, group: str, size: str, root: Path, write) -> None:
        """No-op runs of this code (in `root`, up to date) and of --baseline's (in a copy
        of the project it brought up to date itself: state formats may differ),
        alternating, so that load on the machine falls on both alike."""
        pipe = [self.py, "-m", "orchestrator", "run"]
        base_root = root.parent / f"{root.name}-baseline"
        write(base_root)
        first = Cell()
        self.sample(first, pipe, base_root, env=self.base_env)  # the full run
        row = Row(group, size, "no-op run", "s", repeats=self.options.repeat)
        now, then = row.cells.setdefault("now", Cell()), row.cells.setdefault(
            "baseline", Cell(error=first.error))
        full = row.cells.setdefault("now, full path", Cell())
        self.progress(f"{group} {size}: no-op run against {self.options.baseline}")
        for _ in range(self.options.repeat):
            self.sample(then, pipe, base_root, env=self.base_env)
            self.sample(now, pipe, root)
            self.sample(full, pipe + ["--no-fast-path"], root)
        self.baseline_rows.append(row)

    def direct_digest(self, path: Path, repeat: int) -> Cell:
        """orchestrator.digest.artifact_digest timed inside a fresh interpreter each time.

        A fresh process has an empty in-process digest cache, like a new `pipeline run`.
        """
        code = ("import sys, time\n"
                "from orchestrator.digest import artifact_digest\n"
                "t = time.perf_counter()\n"
                "artifact_digest(sys.argv[1], True)\n"
                "print(time.perf_counter() - t)\n")
        import subprocess

        cell = Cell()
        for _ in range(repeat):
            proc = subprocess.run([self.py, "-c", code, str(path)], capture_output=True,
                                  text=True, env=self.env, timeout=self.options.timeout)
            try:
                cell.values.append(float(proc.stdout.strip()))
            except ValueError:
                cell.error = f"exit {proc.returncode}"
                last = (proc.stderr.strip().splitlines() or [""])[-1]
                self.failures.append(f"artifact_digest: {last[:200]}")
                break
        return cell

    def parallel_rows(self) -> None:
        """Independent stages that each sleep, then copy: how well `--jobs 4` keeps four
        of them going, next to doit's thread runner and `make -j4`."""
        count, delay, jobs = self.options.parallel_stages, PARALLEL_DELAY_S, PARALLEL_JOBS
        argv = {"pipeline": [self.py, "-m", "orchestrator", "run", "--jobs", str(jobs)],
                "doit": [self.py, "-m", "doit", "run", "-n", str(jobs), "-P", "thread"],
                "make": ["make", f"-j{jobs}"]}
        writers = {"pipeline": generate.write_graph_project,
                   "doit": generate.write_doit_project, "make": generate.write_make_project}
        row = Row("parallel", f"{count} × {delay * 1000:g} ms", f"full run, {jobs} jobs",
                  "s", repeats=self.options.repeat)
        roots = {}
        for tool, write in writers.items():
            roots[tool] = self.work / f"parallel-{tool}"
            write(roots[tool], generate.INDEPENDENT, count, delay)
        self.progress(f"parallel: {count} stages of {delay * 1000:g} ms, {jobs} jobs")
        for _ in range(self.options.repeat):  # alternating: load falls on all alike
            for tool, root in roots.items():
                self.sample(row.cells.setdefault(tool, Cell()), argv[tool], root,
                            before=lambda r=root: generate.clean_outputs(r))
        self.rows.append(row)

    def snakemake_rows(self) -> None:
        """Snakemake's no-op run against `pipeline`'s on the same chain (issue 17).

        Each tool has its project, brought up to date by a full run (not timed); their
        no-op runs then alternate, so that load on the machine falls on both alike. Every
        Snakemake no-op must say that it had nothing to do, or it is no no-op."""
        stages = self.options.snakemake_stages
        repeat = self.options.repeat
        noop = Row(SNAKEMAKE_GROUP, f"{stages:,}", "no-op run", "s", repeats=repeat)
        memory = Row(SNAKEMAKE_GROUP, f"{stages:,}", "peak RSS, no-op", "KiB", repeats=repeat)
        self.rows += [noop, memory]
        snakemake = self.options.snakemake
        if snakemake is None:
            for row in (noop, memory):
                row.cells["snakemake"] = Cell(error="not installed")
            noop.note = (f"no Snakemake at {SNAKEMAKE_DEFAULT.relative_to(REPO)}: "
                         "`make bench-snakemake` installs Snakemake 9 there (or pass "
                         "--snakemake PATH)")
            return
        env = self.snakemake_env()
        version = self.snakemake_version(snakemake, env)
        if version is None:
            for row in (noop, memory):
                row.cells["snakemake"] = Cell(error="does not start")
            noop.note = f"{snakemake} --version failed (see Failed commands)"
            return
        noop.note = f"Snakemake {version}"
        roots = {"snakemake": self.work / f"snakemake-chain-{stages}",
                 "pipeline": self.work / f"snakemake-chain-{stages}-pipeline"}
        generate.write_snakemake_project(roots["snakemake"], "chain", stages)
        generate.write_graph_project(roots["pipeline"], "chain", stages)
        argv = {"snakemake": [str(snakemake), "--cores", "1", "-s", "Snakefile"],
                "pipeline": [self.py, "-m", "orchestrator", "run"]}
        envs = {"snakemake": env, "pipeline": self.env}
        self.progress(f"snakemake: {stages}-stage chain, full run then no-op x{repeat}")
        for tool, root in roots.items():
            first = Cell()  # the full run, not measured
            self.sample(first, argv[tool], root, env=envs[tool])
            last = root / generate.edges("chain", stages)[-1][1]
            if first.error is None and not last.exists():
                first.error = "no output"
                self.failures.append(f"{root.name}: the full run did not write {last.name}")
            noop.cells[tool] = Cell(error=first.error)
            memory.cells[tool] = Cell(error=first.error)
        for _ in range(repeat):
            for tool, root in roots.items():
                self.sample(noop.cells[tool], argv[tool], root, memory.cells[tool],
                            env=envs[tool],
                            expect=SNAKEMAKE_NOOP if tool == "snakemake" else None)
        for peak in memory.cells.values():
            if peak.values and peak.error is None:
                peak.values = [max(peak.values)]
        for root in roots.values():
            generate.clean_outputs(root)

    def snakemake_env(self) -> dict[str, str]:
        """Snakemake's environment: its home, caches, configuration and temporary files
        in the work directory (it writes a source cache under XDG_CACHE_HOME, and would
        read a user's profile), and none of our PYTHONPATH in its own interpreter."""
        home = self.work / "snakemake-home"
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        env = dict(self.env, HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
                   XDG_CONFIG_HOME=str(home / ".config"),
                   XDG_DATA_HOME=str(home / ".local" / "share"), TMPDIR=str(home / "tmp"))
        for name in ("PYTHONPATH", "SNAKEMAKE_PROFILE", "SNAKEMAKE_OUTPUT_CACHE"):
            env.pop(name, None)
        return env

    def snakemake_version(self, snakemake: Path, env: dict[str, str]) -> str | None:
        """`snakemake --version`, or None (and a failure) when it does not run."""
        import subprocess

        try:
            proc = subprocess.run([str(snakemake), "--version"], capture_output=True,
                                  text=True, env=env, cwd=self.work,
                                  timeout=self.options.timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.failures.append(f"{snakemake} --version: {exc}")
            return None
        version = proc.stdout.strip()
        if proc.returncode != 0 or not version:
            last = (proc.stderr.strip().splitlines() or [""])[-1]
            self.failures.append(f"{snakemake} --version exited {proc.returncode}: "
                                 f"{last[:200]}")
            return None
        return version

    def run(self) -> list[Row]:
        for shape in self.options.shapes:
            for size in self.options.sizes:
                self.shape_size(shape, size)
        self.parallel_rows()
        self.project_rows()
        self.output_rows()
        self.snakemake_rows()
        if self.options.dask:
            from benchmarks.dask_rows import dask_rows

            self.rows += dask_rows(self)
        return self.rows


def newest_record_size(root: Path) -> Cell:
    """Bytes of the newest run's record and event log."""
    runs = root / ".pipeline-runs"
    records = sorted(runs.glob("*.json"))
    if not records:
        return Cell(error="no record")
    newest = records[-1]
    events = newest.with_suffix(".log")
    return Cell([float(newest.stat().st_size + (events.stat().st_size
                                                 if events.exists() else 0))])


def _compile_package() -> None:
    """Bytecode for the package, as a regular `pip install` leaves it (an editable one
    does not, and with PYTHONDONTWRITEBYTECODE set every command would compile the
    package's source again, about 20 ms that raw doit, installed normally, never pays)."""
    import compileall

    compileall.compile_dir(str(REPO / "orchestrator"), quiet=1)


def main(argv: list[str] | None = None) -> int:
    try:
        options = parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # argparse already printed one line
        return int(exc.code or 0)
    started = time.time()
    _compile_package()
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        bench = Bench(options, Path(tmp))
        try:
            rows = bench.run()
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    elapsed = time.time() - started
    print(render_table(rows))
    doc, targets = render_doc(rows, options, bench.failures, elapsed, bench.baseline_rows)
    for line in targets:
        print(line)
    try:
        options.out.parent.mkdir(parents=True, exist_ok=True)
        options.out.write_text(doc)
    except OSError as exc:
        print(f"cannot write {options.out}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {options.out} ({elapsed:.0f} s)")
    return 0
