# The two commands a newcomer needs: `make run` and `make test`.
# Both create .venv and install the project into it first (once, and again
# whenever pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
# `make test` also runs the suite against the oldest doit pyproject.toml allows,
# installed in a second virtualenv (.venv-doit036). The `dask` extra goes into .venv
# only: the Dask tests (marker `dask`) run once, with the newest doit, and the oldest
# pass (without the extra) deselects them (see .ci/matrix.py)
OLDEST_DOIT := 0.36
VENV_OLDEST := .venv-doit$(subst .,,$(OLDEST_DOIT))
STAMP_OLDEST := $(VENV_OLDEST)/.installed
PIP_INSTALL = -m pip install --quiet --disable-pip-version-check
# `make bench` also times Snakemake 9 (issue 17), installed in a virtualenv of its own
# (.venv-snakemake): it is no dependency of this project, and neither `make test` nor CI
# installs it. Where it does not install, the benchmark says "not measured" and why.
VENV_SNAKEMAKE := .venv-snakemake
STAMP_SNAKEMAKE := $(VENV_SNAKEMAKE)/.installed
SNAKEMAKE_SPEC := snakemake>=9,<10

.PHONY: run test bench bench-snakemake clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python $(PIP_INSTALL) --upgrade pip
	$(VENV)/bin/python $(PIP_INSTALL) -e '.[test,dask]'
	$(VENV)/bin/python -m compileall -q orchestrator
	touch $(STAMP)

$(STAMP_OLDEST): pyproject.toml
	$(PYTHON) -m venv $(VENV_OLDEST)
	$(VENV_OLDEST)/bin/python $(PIP_INSTALL) --upgrade pip
	$(VENV_OLDEST)/bin/python $(PIP_INSTALL) -e '.[test]' 'doit==$(OLDEST_DOIT).*'
	touch $(STAMP_OLDEST)

$(STAMP_SNAKEMAKE):
	$(PYTHON) -m venv $(VENV_SNAKEMAKE)
	$(VENV_SNAKEMAKE)/bin/python $(PIP_INSTALL) '$(SNAKEMAKE_SPEC)'
	touch $(STAMP_SNAKEMAKE)

run: $(STAMP)
	$(VENV)/bin/pipeline run full-refresh

# ruff check, then pytest under the oldest doit, then under the newest; the last line
# counts them all (see .ci/matrix.py)
test: $(STAMP) $(STAMP_OLDEST)
	@$(VENV)/bin/python .ci/matrix.py $(VENV_OLDEST) $(VENV)

# Snakemake is installed first where it installs; a failed install only leaves its
# row unmeasured (the benchmark finds .venv-snakemake/bin/snakemake or goes without)
bench: $(STAMP)
	@$(MAKE) --no-print-directory $(STAMP_SNAKEMAKE) || \
		echo "Snakemake did not install: the benchmark will not measure it"
	$(VENV)/bin/python -m benchmarks --dask

# only the virtualenv with Snakemake 9, for `python -m benchmarks` run by hand
bench-snakemake: $(STAMP_SNAKEMAKE)

clean:
	rm -rf $(VENV) .venv-doit* $(VENV_SNAKEMAKE) .pipeline-runs .doit.db website modules \
		modules_temp report.html
