"""npm semver ranges as `engines.node` uses them (orchestrator.semver)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrator.semver import parse_range, satisfies

CASES = [  # range, versions in it, versions not in it (answers as npm's semver gives them)
    (">=20", ["20.0.0", "22.6.0"], ["19.9.9"]),
    (">=18.0.0 <21", ["18.0.0", "20.20.2"], ["17.9.9", "21.0.0"]),
    (">= 20.1", ["20.1.0"], ["20.0.9"]),
    ("^20.3", ["20.3.0", "20.99.0"], ["20.2.9", "21.0.0"]),
    ("^0.2.3", ["0.2.3", "0.2.9"], ["0.3.0", "0.2.2"]),
    ("^0.0.3", ["0.0.3"], ["0.0.4"]),
    ("~20.1.0", ["20.1.0", "20.1.5"], ["20.2.0", "20.0.9"]),
    ("~20", ["20.0.0", "20.9.9"], ["21.0.0"]),
    ("~>20.1", ["20.1.3"], ["20.2.0"]),
    ("20.x", ["20.0.0", "20.20.2"], ["19.0.0", "21.0.0"]),
    ("20.1.*", ["20.1.7"], ["20.2.0"]),
    ("20", ["20.5.0"], ["21.0.0"]),
    ("*", ["0.0.0", "23.0.0"], []),
    ("", ["1.2.3"], []),
    ("^18 || ^20 || >=22", ["18.1.0", "20.0.0", "22.0.0"], ["19.0.0", "21.9.9"]),
    ("18 - 20.5", ["18.0.0", "20.5.9"], ["17.9.9", "20.6.0"]),
    ("<=20.1", ["20.1.9"], ["20.2.0"]),
    (">20.1", ["20.2.0"], ["20.1.9"]),
    ("<20.1", ["20.0.9"], ["20.1.0"]),
    (">=20.0.0-rc.1", ["20.0.0"], ["19.9.9"]),
    ("<20.0.0-rc.1", ["19.9.9"], ["20.0.0"]),
    ("=20.20.2", ["20.20.2"], ["20.20.3"]),
    ("v20.20.2", ["20.20.2"], ["20.20.1"]),
    ("20.20.2-beta", [], ["20.20.2"]),
    ("<*", [], ["0.0.0"]),
]


@pytest.mark.parametrize("text, inside, outside", CASES)
def test_ranges_as_npm_reads_them(text, inside, outside):
    for version in inside:
        assert satisfies(tuple(map(int, version.split("."))), text), (text, version)
    for version in outside:
        assert not satisfies(tuple(map(int, version.split("."))), text), (text, version)


@pytest.mark.parametrize("text", ["latest", ">=20 <", "^20.3.q", ">=20 || lts", "20.1.2.3"])
def test_what_is_not_a_range_is_refused(text):
    with pytest.raises(ValueError):
        parse_range(text)


def _npm_semver() -> Path | None:
    """npm's own semver module, where npm is installed beside node."""
    npm = shutil.which("npm")
    if not npm or not shutil.which("node"):
        return None
    candidate = Path(npm).resolve().parent.parent / "node_modules" / "semver"
    return candidate if candidate.is_dir() else None


@pytest.mark.skipif(_npm_semver() is None, reason="npm's semver module not found")
def test_same_answers_as_npm_itself(tmp_path):
    ranges = [c[0] for c in CASES] + ["^0.0", "^0", "^1.x", ">20.1.2", "18.1.2 - 20",
                                      ">=20.x", ">*", "x || >=22.6", "^20.3.0 <20.10"]
    versions = ["0.0.3", "0.2.9", "0.9.9", "1.0.0", "18.1.1", "18.1.2", "20.0.0", "20.1.2",
                "20.1.3", "20.3.0", "20.9.9", "20.10.0", "20.20.2", "22.5.1", "22.6.0"]
    script = (f"const s = require({json.dumps(str(_npm_semver()))});"
              f"const r = {json.dumps(ranges)}, v = {json.dumps(versions)};"
              "console.log(JSON.stringify(r.map(x => v.map(y => s.satisfies(y, x)))));")
    answers = json.loads(subprocess.run(["node", "-e", script], capture_output=True,
                                        text=True, check=True, timeout=60).stdout)
    for text, row in zip(ranges, answers):
        ours = [satisfies(tuple(map(int, v.split("."))), text) for v in versions]
        assert ours == row, text
