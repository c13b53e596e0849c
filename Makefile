# Jemput: `make demo` shows the main job, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JEMPUT_INSTANCE_PATH ?= $(CURDIR)/instance
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: install demo test lint docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/jemput-server demo

# The suite starts a few hundred server and field-client processes: compile the project's
# modules once, so that none of them compiles them again (PYTHONDONTWRITEBYTECODE, set on
# some machines, keeps Python from caching them itself).
test: $(STAMP) docs
	$(BIN)/python -m compileall -q shared server field_client tests bench > /dev/null
	JEMPUT_TEST_DATABASE_URL=$${JEMPUT_TEST_DATABASE_URL-$(PG_TEST_URL)} $(BIN)/pytest -n 2 -q

# ruff, mypy and the import contracts of pyproject.toml (layers, no cycles).
lint: $(STAMP)
	$(BIN)/ruff check shared server field_client tests bench docs/hooks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# The documentation site (MkDocs, Material); strict: a broken link or a warning fails.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --quiet --site-dir $(CURDIR)/.site

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) instance .site .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
