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

.PHONY: run test bench clean

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

run: $(STAMP)
	$(VENV)/bin/pipeline run full-refresh

# ruff check, then pytest under the oldest doit, then under the newest; the last line
# counts them all (see .ci/matrix.py)
test: $(STAMP) $(STAMP_OLDEST)
	@$(VENV)/bin/python .ci/matrix.py $(VENV_OLDEST) $(VENV)

bench: $(STAMP)
	$(VENV)/bin/python -m benchmarks --dask

clean:
	rm -rf $(VENV) .venv-doit* .pipeline-runs .doit.db website modules modules_temp report.html
