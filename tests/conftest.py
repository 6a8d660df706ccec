"""Shared helpers: fixture projects copied to a temporary directory, run for real."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures" / "pipeline"
REFERENCE = REPO / "fixtures" / "reference" / "stage-graph.example.json"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


class Project:
    """A copy of a fixture project; runs `pipeline` and `doit` in it as subprocesses."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, rel: str) -> Path:
        return self.root / rel

    def _run(self, argv: list[str], env: dict | None, cwd: Path | None) -> Result:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("STUB_")}
        full_env.pop("NO_COLOR", None)
        # on GitHub Actions, a run of a test's project must not write the job's summary
        full_env.pop("GITHUB_STEP_SUMMARY", None)
        full_env.update(env or {})
        proc = subprocess.run(argv, cwd=cwd or self.root, env=full_env, capture_output=True,
                              text=True, timeout=120)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def pipeline(self, *args: str, env: dict | None = None, cwd: Path | None = None) -> Result:
        return self._run([sys.executable, "-m", "orchestrator", *args], env, cwd)

    def doit(self, *args: str, env: dict | None = None) -> Result:
        return self._run([sys.executable, "-m", "doit", *args], env, None)

    def counts(self) -> dict[str, int]:
        """How many times each stub stage actually ran."""
        counts_dir = self.root / ".counts"
        if not counts_dir.exists():
            return {}
        return {p.name: len(p.read_text().splitlines()) for p in counts_dir.iterdir()}

    def records(self) -> list[dict]:
        runs = self.root / ".pipeline-runs"
        return [json.loads(p.read_text()) for p in sorted(runs.glob("*.json"))]

    def last_record(self) -> dict:
        return self.records()[-1]

    def events(self, record: dict) -> list[dict]:
        path = self.root / ".pipeline-runs" / f"{record['runId']}.log"
        return [json.loads(line) for line in path.read_text().splitlines()]

    def statuses(self, record: dict | None = None) -> dict[str, str]:
        record = record or self.last_record()
        return {s["id"]: s["status"] for s in record["stages"]}

    def graph(self) -> dict:
        return json.loads(self.path("pipeline/stage-graph.json").read_text())

    def write_graph(self, data: dict, rel: str = "pipeline/stage-graph.json") -> None:
        self.path(rel).write_text(json.dumps(data, indent=2))


def reference_project(tmp_path: Path) -> Project:
    """The reference graph alone (its scripts absent: only inspection commands apply)."""
    root = tmp_path / "reference"
    (root / "pipeline").mkdir(parents=True)
    shutil.copy(REFERENCE, root / "pipeline" / "stage-graph.json")
    return Project(root)


def pytest_configure(config):
    """A suite started in the background of a script (`make test &`) inherits SIGINT
    ignored, and so would every runner the tests start and interrupt: Python's own
    handler again (a handler, unlike an ignored signal, is not inherited by exec)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def own_cache_key(tmp_path_factory, monkeypatch):
    """The key that signs the graph cache lives in the user's cache folder: the tests'
    own, not the machine user's (the CLI subprocesses inherit it)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))


@pytest.fixture
def make_project(tmp_path):
    def make(name: str = "basic") -> Project:
        root = tmp_path / name
        shutil.copytree(FIXTURES / name, root)
        return Project(root)
    return make


@pytest.fixture
def project(make_project) -> Project:
    return make_project("basic")
