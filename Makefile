# The two commands of the README. Both set up what they need first and are idempotent.
#   make synth   set up, then synthesize the default labs into cdktf.out/
#   make test    set up (Python and npm), then run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup setup-node synth test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

setup: $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'

setup-node:
	if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; fi

synth: setup
	$(BIN)/crm-ports synth

test: setup setup-node
	$(BIN)/python -m pytest -n 2

lint: setup
	$(BIN)/ruff check crm_ports tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf cdktf.out .pytest_cache .mypy_cache .ruff_cache
