# The two commands a newcomer needs: `make run` and `make test`.
# Both create .venv and install the project into it first (once, and again
# whenever pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	$(VENV)/bin/python -m compileall -q orchestrator
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/pipeline run full-refresh

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

bench: $(STAMP)
	$(VENV)/bin/python -m benchmarks

clean:
	rm -rf $(VENV) .pipeline-runs .doit.db website modules modules_temp
