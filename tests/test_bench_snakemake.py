"""The benchmark's Snakefile run by the real Snakemake 9: it builds the chain, then has
nothing to do (the no-op the benchmark times against `pipeline`).

Needs `.venv-snakemake` (`make bench-snakemake`; the benchmark's own virtualenv, never a
dependency of the project). `make test` (.ci/matrix.py) runs this file when it is there
and otherwise says in one line that it was not run; run directly without it, it fails
saying what is missing: it is never skipped.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = REPO / ".venv-snakemake" / "bin" / "snakemake"  # `make bench-snakemake`


def test_snakemake_runs_the_generated_chain_then_has_nothing_to_do(tmp_path):
    assert SNAKEMAKE.exists(), "no .venv-snakemake: run `make bench-snakemake`"
    from benchmarks.generate import SOURCE, edges, write_snakemake_project
    from benchmarks.runner import Bench, parse_args

    write_snakemake_project(tmp_path / "chain", "chain", 5)
    env = Bench(parse_args(["--quick"]), tmp_path).snakemake_env()
    argv = [str(SNAKEMAKE), "--cores", "1", "-s", "Snakefile"]
    first = subprocess.run(argv, cwd=tmp_path / "chain", env=env, capture_output=True,
                           text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "6 of 6 steps (100%) done" in first.stderr  # five copies and `all`
    for _, dst, _ in edges("chain", 5):
        assert (tmp_path / "chain" / dst).read_text() == (tmp_path / "chain" / SOURCE) \
            .read_text()
    again = subprocess.run(argv, cwd=tmp_path / "chain", env=env, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0 and "Nothing to be done" in again.stderr, again.stderr
    # its caches went to the benchmark's directory, not the user's home
    assert (tmp_path / "snakemake-home" / ".cache" / "snakemake").is_dir()
