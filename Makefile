# Two entry points for a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint bench docs docs-small clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed-demo
	$(BIN)/rmtgate demo

test: $(VENV)/.installed-test
	$(BIN)/ruff check rmtgate tests verification benchmarks
	$(BIN)/python -m pytest $(PYTEST_ARGS)

$(VENV)/.installed-docs: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $@

# the documentation site, tutorials at full size (N = 1000, full training runs), into site/
docs: $(VENV)/.installed-docs
	RMTGATE_DOCS_SCALE=full $(BIN)/mkdocs build --strict

# the same at the small scale the test suite uses (N = 200, short runs)
docs-small: $(VENV)/.installed-docs
	RMTGATE_DOCS_SCALE=small $(BIN)/mkdocs build --strict

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache site
