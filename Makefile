# The two commands of the README: `make demo` and `make test`.
# Each creates .venv on first use and installs the pinned dependencies.
PY ?= python3.11
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

# the whole pytest suite: unit and integration tests (markers applied by tests/conftest.py)
pytest: $(STAMP)
	$(BIN)/pytest -m "unit or integration" $(PYTEST_ARGS)

# the fast subset: no servers, processes, browser or fuzzing (tests/conftest.py refuses a unit
# test that starts one); both cores through pytest-xdist: about 50 s on the 2-core machine
unit-fast: $(STAMP)
	$(BIN)/pytest -m unit -q -n 2 $(PYTEST_ARGS)

integration: system-deps $(STAMP)
	$(BIN)/pytest -m integration $(PYTEST_ARGS)

test: system-deps $(STAMP)
	$(MAKE) --no-print-directory lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
