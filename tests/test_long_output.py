"""Copying a stage's output costs time linear in its size: a very long line under
`--jobs 2` (whose console lines are prefixed with the stage id), and a lot of output
masked for a long declared secret. Each run is a real `pipeline run` given a generous
time limit: the quadratic copies these tests guard against took minutes (see
`python -m benchmarks` for the times themselves)."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

BIG = r'''
import base64, os, sys
out = sys.stdout.buffer
size, line_end = int(sys.argv[1]), sys.argv[2] == "lines"
secret = os.environ.get("BIG_SECRET", "").encode()
block = (b"0123456789abcdef" * 4096)[:-1] + (b"\n" if line_end else b"x")
if secret:
    out.write(b"first " + secret + b"\n")
for i in range(size // len(block)):
    if secret and i == 100:
        out.write(b"base64 " + base64.b64encode(b"user:" + secret) + b" middle " + secret)
    out.write(block)
out.write(b"last " + secret)
'''
LIMIT_S = 30  # seconds; the linear copies take one or two, the quadratic ones took 50 to 60


def big_project(root: Path, size: int, shape: str) -> Path:
    (root / "pipeline").mkdir(parents=True)
    (root / "stages").mkdir()
    (root / "stages" / "big.py").write_text(BIG)
    graph = {
        "pipelines": [{"id": "p", "stages": ["big"]}],
        "artifacts": [],
        "stages": [{"id": "big",
                    "command": {"executable": "python3",
                                "args": ["stages/big.py", str(size), shape]},
                    "environment": [{"name": "BIG_SECRET", "required": False}]}],
    }
    (root / "pipeline" / "stage-graph.json").write_text(json.dumps(graph))
    return root


def run(root: Path, *args: str, env: dict | None = None) -> Path:
    """`pipeline run ARGS` in root, its console written to a file (not held in memory)."""
    console = root / "console.txt"
    with open(console, "wb") as out:
        subprocess.run([sys.executable, "-m", "orchestrator", "run", *args], cwd=root,
                       env={**os.environ, "NO_COLOR": "1", **(env or {})}, stdout=out,
                       stderr=subprocess.STDOUT, timeout=LIMIT_S, check=True)
    return console


def stage_log(root: Path) -> Path:
    (log,) = (root / ".pipeline-runs").glob("*/big.log")
    return log


def test_a_line_of_60_mb_without_a_newline_under_jobs_2(tmp_path):
    size = 60_000_000
    root = big_project(tmp_path / "line", size, "one-line")
    console = run(root, "--jobs", "2")
    size -= size % 65536  # whole blocks
    assert stage_log(root).stat().st_size == size + len("last ")
    with open(console, "rb") as f:
        text = f.read()
    start = text.index(b"[big] 0123")
    end = text.index(b"last \n", start)
    assert end - start == len("[big] ") + size and text.count(b"[big] ") == 1


def test_20_mb_of_output_masked_for_a_64_kib_secret(tmp_path):
    size = 20_000_000
    secret = base64.b64encode(os.urandom(48 * 1024)).decode()  # 64 KiB of base64 text
    root = big_project(tmp_path / "secret", size, "lines")
    run(root, env={"BIG_SECRET": secret})
    log = stage_log(root).read_bytes()
    assert secret.encode() not in log and secret[:1000].encode() not in log
    assert log.startswith(b"first ***\n0123") and log.endswith(b"last ***")
    # "user:" and the secret's first byte share base64 characters: those stay (the
    # seventh is o, p, q or r, after the first byte's top bits: the secret is random)
    assert re.search(rb"\nbase64 dXNlcj[o-r].?\*\*\*[A-Za-z0-9+/=]{0,4} middle \*\*\*0123",
                     log)
    assert len(log) < size + 100
