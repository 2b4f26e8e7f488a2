# The portal's everyday commands. `make demo` and `make test` work on a fresh clone.
SHELL := /bin/sh
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
EMULATOR_PORT ?= 8001
PYTEST_ARGS ?=
# Two workers by default: the suite is mostly waiting on loopback HTTP and the browser.
PYTEST_WORKERS ?= 2

.PHONY: help venv demo test test-deps test-fast lint format bench migrate run emulator clean

help:
	@echo "make demo    run the portal against the built-in emulator with a demo fleet"
	@echo "make test    set up and run the whole test suite (lint, migrations, pytest);"
	@echo "             installs Chromium as root on Debian, else says the command to run"
	@echo "make bench   benchmarks; results go to docs/PERFORMANCE.md"
	@echo "make lint    ruff check and format check"

# The venv is rebuilt when the requirements change.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@interpreter=$$(bin/find-python) || exit 1; \
	  if [ ! -x $(PY) ]; then echo "Creating $(VENV) with $$interpreter"; "$$interpreter" -m venv $(VENV) || exit 1; fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

migrate: venv
	$(PY) manage.py migrate --verbosity 0

demo: venv
	$(PY) bin/demo.py --host $(HOST) --port $(PORT) --emulator-port $(EMULATOR_PORT)

emulator: venv
	$(PY) -m emulator --port $(EMULATOR_PORT)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# What the suite needs outside Python (Debian's Chromium and a font): installed as root on
# Debian, otherwise make stops here, before anything runs, with the command to run.
test-deps:
	@bin/test-deps

# The check comes first even under `make -j`: the rest runs only once it has passed.
test: test-deps
	@$(MAKE) --no-print-directory lint
	$(PY) manage.py makemigrations --check --dry-run --verbosity 0
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-fast: venv
	$(PY) -m pytest -m "not browser and not multi" $(PYTEST_ARGS)

bench: venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache test-artifacts
