"""What `make test` runs: `ruff check`, then the test suite once per doit version.

    python .ci/matrix.py VENV [VENV ...] [-- PYTEST_ARGS]

Each VENV is a virtualenv with the project and its test extra installed, each with
another doit (the Makefile builds them); PYTEST_ARGS (e.g. a test file) go to every
pytest run. In a VENV without the `dask` extra (`distributed` not importable), the tests
marked `dask` are deselected (`-m "not dask"`): they start real Dask clusters, and run
once, in the VENV that has it (the newest doit's: the Makefile puts it there). Every
part runs, whatever an earlier one reported; the last line counts everything,
`N passed, N failed` (ruff counts as one check), and the exit code is 1 if anything
failed.

The browser test (tests/test_report_browser.py: `pipeline report` in headless Chromium)
runs only in the last VENV's pass (the newest doit: the report does not touch doit),
and only when Chromium and chromedriver are found; otherwise the summary says, in one
line, that it was not run and how to run it. It is never skipped silently. So is the
test of the benchmark's Snakefile under the real Snakemake (tests/test_bench_snakemake.py),
which needs the benchmark's own `.venv-snakemake` (`make bench-snakemake`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BROWSER_TEST = "tests/test_report_browser.py"
SNAKEMAKE_TEST = "tests/test_bench_snakemake.py"
SNAKEMAKE = ROOT / ".venv-snakemake" / "bin" / "snakemake"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def browser_missing() -> str | None:
    """What the browser test lacks to run here (None: Chromium and its driver are found)."""
    if not any(shutil.which(name) for name in CHROMIUM_NAMES):
        return "no Chromium found"
    if not shutil.which("chromedriver"):
        return "Chromium found, but no chromedriver"
    return None


def header(text: str) -> None:
    print(f"\n== {text}", flush=True)


def doit_version(python: Path) -> str:
    found = subprocess.run(
        [str(python), "-c", "from importlib.metadata import version; print(version('doit'))"],
        capture_output=True, text=True)
    return found.stdout.strip() if found.returncode == 0 else "unknown"


def ruff() -> tuple[str, int, int, int, str]:
    header("ruff check")
    code = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT).returncode
    return "ruff check", int(code == 0), int(code != 0), 0, "clean" if code == 0 else "failed"


def has_dask(python: Path) -> bool:
    return subprocess.run([str(python), "-c", "import distributed"],
                          capture_output=True).returncode == 0


def pytest(venv: Path, args: list[str]) -> tuple[str, int, int, int, str]:
    """Run the suite in `venv`: its name, passed, failed (errors too), skipped, and how
    that reads."""
    python = venv / "bin" / "python"
    name = f"pytest, doit {doit_version(python)}"
    if not has_dask(python):
        name += ", without the dask tests"
        args = ["-m", "not dask", *args]
    header(f"{name} ({venv.name})")
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        code = subprocess.run([str(python), "-m", "pytest", "-q", f"--junitxml={junit}",
                               *args], cwd=ROOT).returncode
        try:
            suite = ET.parse(junit).getroot()
        except (OSError, ET.ParseError):
            suite = ET.Element("testsuite")  # pytest could not even report
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    total, failed, errors, skipped = (int(suite.get(key, 0)) for key in
                                      ("tests", "failures", "errors", "skipped"))
    passed, failed = total - failed - errors - skipped, failed + errors
    shown = counts(passed, failed, skipped)
    if code not in (0, 1) and not failed:  # interrupted, a usage error, no tests: failed
        failed = 1
        shown = f"pytest exited {code} ({shown})"
    return name, passed, failed, skipped, shown


def counts(passed: int, failed: int, skipped: int) -> str:
    return f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else "")


def main(argv: list[str]) -> int:
    split = argv.index("--") if "--" in argv else len(argv)
    venvs, pytest_args = argv[:split], argv[split + 1:]
    if not venvs:
        print("usage: python .ci/matrix.py VENV [VENV ...] [-- PYTEST_ARGS]", file=sys.stderr)
        return 2
    missing = browser_missing()
    parts = [ruff()]
    for i, venv in enumerate(venvs):
        newest = i == len(venvs) - 1
        ignore = [] if newest and missing is None else [f"--ignore={BROWSER_TEST}"]
        if not (newest and SNAKEMAKE.exists()):
            ignore.append(f"--ignore={SNAKEMAKE_TEST}")
        parts.append(pytest(ROOT / venv, [*ignore, *pytest_args]))
    header("summary")
    for name, *_, shown in parts:
        print(f"{name}: {shown}")
    if missing is not None:
        print(f"browser test not run ({missing}): install chromium and chromium-driver "
              f"(Debian: apt-get install chromium chromium-driver; .ci/run does it as "
              f"root), then run make test or python -m pytest {BROWSER_TEST}")
    if not SNAKEMAKE.exists():
        print(f"Snakemake test not run (no {SNAKEMAKE.relative_to(ROOT)}): run make "
              f"bench-snakemake, then make test or python -m pytest {SNAKEMAKE_TEST}")
    passed, failed, skipped = (sum(part[i] for part in parts) for i in (1, 2, 3))
    print(counts(passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # Ctrl-C reached the running part too; it has reported
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
