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
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
    parts = [ruff(), *(pytest(ROOT / venv, pytest_args) for venv in venvs)]
    header("summary")
    for name, *_, shown in parts:
        print(f"{name}: {shown}")
    passed, failed, skipped = (sum(part[i] for part in parts) for i in (1, 2, 3))
    print(counts(passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # Ctrl-C reached the running part too; it has reported
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
