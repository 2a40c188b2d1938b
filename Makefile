# The two commands of the README: `make demo` and `make test`.
# Each creates .venv on first use and installs the pinned dependencies.
PY ?= python3.11
# the edit-test loop and the suite reuse compiled (and assertion-rewritten) test modules: an
# environment that forbids bytecode files makes every run compile ~400 modules again
unexport PYTHONDONTWRITEBYTECODE
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest unit-fast integration system-deps clean

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[all,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/campus-twin demo $(DEMO_ARGS)

system-deps:
	bash scripts/ensure-system-packages.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# the whole pytest suite (markers applied by tests/conftest.py): the unit tests on both cores,
# then the integration tests one at a time (their servers, fault rows and benches measure timing
# and must not share the 2 cores with each other); the slowest are listed to keep CI < 15 min
pytest: $(STAMP)
	$(BIN)/pytest -m unit -q -n 2 $(PYTEST_ARGS)
	$(BIN)/pytest -m integration --durations=25 $(PYTEST_ARGS)

# the edit-test loop: no servers, processes, browser or fuzzing (tests/conftest.py refuses a unit
# test that starts one), no `slow` unit tests (real IFC models…), property tests at a tenth of
# their examples (CT_FAST=1); both cores. Figures in the README. One package: `make unit-fast
# PYTEST_ARGS=tests/contract`, or `.venv/bin/pytest tests/contract`.
unit-fast: $(STAMP)
	CT_FAST=1 $(BIN)/pytest -m "unit and not slow" -q -n 2 -p no:schemathesis $(PYTEST_ARGS)

integration: system-deps $(STAMP)
	$(BIN)/pytest -m integration $(PYTEST_ARGS)

test: system-deps $(STAMP)
	$(MAKE) --no-print-directory lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
