# Two commands are all a fresh machine needs: `make run` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= configs/belgrade-2024.toml

.PHONY: run test bench setup clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench,dask]'
	$(BIN)/electsim compile   # numba's cache: the first forecast then starts at once
	touch $@

run: setup
	$(BIN)/electsim simulate $(CONFIG)

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/electsim bench --preset belgrade

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
