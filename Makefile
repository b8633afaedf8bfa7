PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Inside the venv, so a fresh venv always reinstalls.
STAMP := $(VENV)/.installed

.PHONY: venv run test lint

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]'
	touch $@

run: venv
	$(BIN)/trdflow dev up

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy .

# pytest exits 5 when it collects no tests; like any non-zero exit, that fails the target.
test: lint
	$(BIN)/pytest
