"""Every shell example of README.md and docs/cli.md runs as shown against the bundled
project, and the test fails naming the first one that fails.

A shell example is a line of a fenced block tagged `sh`, `shell` or `console` (in a
`console` block only the lines starting with `$ `), or a `$ ` line of any fenced block.
Each runs with `sh -c` in a copy of the repository (its bundled graph, stages and
fixtures), in the order the file gives them, and must exit 0, or the code a trailing
`# exit N` comment names. `pipeline` and `doit` are on PATH, and in `.venv/bin` as
`make run` leaves them, both running the code under test.

The README's quickstart (`make run`, `make test`) is the one exception: `make run`
installs the project from the package index and `make test` runs this suite, so the test
asks make to plan them (`make -n`) from the real Makefile instead of running them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

DOCS = ("README.md", "docs/cli.md")
QUICKSTART = ("make run", "make test")
# what the copy leaves out: the code under test is the one on PYTHONPATH (or installed);
# what a run leaves behind; the repository's own tooling
TOP_LEVEL_IGNORED = {".git", ".pipeline-runs", ".doit.db", "website", "modules",
                     "modules_temp", "tests", "benchmarks", "orchestrator", ".pytest_cache",
                     ".ruff_cache", ".hypothesis"}


def copy_ignored(folder: str, names: list[str]) -> set[str]:
    top = os.path.samefile(folder, REPO)
    return {n for n in names if n == "__pycache__" or (top and (
        n in TOP_LEVEL_IGNORED or n.startswith((".venv", ".doit.db"))))}


FENCE = re.compile(r"^```(\w*)\s*$")
EXIT_COMMENT = re.compile(r"#\s*exit\s+(\d+)\s*$")


def shell_examples(doc: str) -> list[tuple[int, str]]:
    """(line number, command) for each shell example of `doc`, in order."""
    found, tag = [], None
    for number, line in enumerate((REPO / doc).read_text().splitlines(), 1):
        fence = FENCE.match(line)
        if fence:
            tag = None if tag is not None else fence.group(1)
            continue
        if tag is None:
            continue
        text = line.strip()
        if text.startswith("$ "):
            found.append((number, text[2:]))
        elif tag in ("sh", "shell") and text and not text.startswith("#"):
            found.append((number, text))
    return found


def bare(command: str) -> str:
    """The command without its trailing comment."""
    return command.split(" #", 1)[0].strip()


def expected_code(command: str) -> int:
    match = EXIT_COMMENT.search(command)
    return int(match.group(1)) if match else 0


@pytest.fixture
def bundled(tmp_path) -> tuple[Path, dict]:
    root = tmp_path / "pipeline-orchestrator"
    shutil.copytree(REPO, root, ignore=copy_ignored)
    tools = root / ".venv" / "bin"
    tools.mkdir(parents=True)
    for name, module in (("pipeline", "orchestrator"), ("doit", "doit")):
        tool = tools / name
        tool.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m {module} "$@"\n')
        tool.chmod(0o755)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("STUB_", "PIPELINE_")) and k not in ("CI", "NO_COLOR")}
    env["PATH"] = f"{tools}{os.pathsep}{env.get('PATH', os.defpath)}"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return root, env


def run_examples(doc: str, root: Path, env: dict) -> int:
    examples = [(n, c) for n, c in shell_examples(doc) if bare(c) not in QUICKSTART]
    for number, command in examples:
        proc = subprocess.run(["sh", "-c", command], cwd=root, env=env, capture_output=True,
                              text=True, timeout=300)
        want = expected_code(command)
        assert proc.returncode == want, (
            f"{doc}:{number}: `{command}` exited {proc.returncode}, not {want}\n"
            f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}")
    return len(examples)


@pytest.mark.parametrize("doc", DOCS)
def test_every_shell_example_runs_as_shown(bundled, doc):
    root, env = bundled
    assert run_examples(doc, root, env) >= 5  # the docs have examples to run


def test_the_quickstart_is_what_the_makefile_does():
    quickstart = [bare(c) for _, c in shell_examples("README.md") if bare(c) in QUICKSTART]
    assert quickstart == list(QUICKSTART)
    for command in quickstart:
        plan = subprocess.run([*command.split(), "-n", "-C", str(REPO)], capture_output=True,
                              text=True, timeout=60)
        assert plan.returncode == 0, plan.stderr


def test_a_failing_example_fails_the_test(bundled, tmp_path, monkeypatch):
    """The test above can fail: an example that exits otherwise than documented is named."""
    import conftest

    doc = tmp_path / "doc.md"
    doc.write_text("```sh\npipeline run no-such-pipeline\n```\n")
    monkeypatch.setattr(conftest, "REPO", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    root, env = bundled
    with pytest.raises(AssertionError, match=r"doc.md:2: `pipeline run no-such-pipeline` "
                                             r"exited 2, not 0"):
        run_examples("doc.md", root, env)
    doc.write_text("```sh\npipeline run no-such-pipeline  # exit 2\n```\n")
    assert run_examples("doc.md", root, env) == 1
