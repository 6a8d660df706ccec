"""Benchmarks of `pipeline` against raw doit and make: `python -m benchmarks` (or `make bench`).

`generate` writes the same trivial work three ways (stage graph, raw doit, Makefile), and
a fourth (a Snakefile) for Snakemake's no-op where Snakemake is installed,
`measure` times one subprocess and reads its peak memory, `report` prints the table and
writes docs/performance.md, and `runner` ties them together.
"""
