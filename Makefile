# Podium's developer entry points. Only Python 3.11+, make and git are needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-postgres lint bench clean

# Creates or updates .venv with the project and its test extras; a no-op when
# pyproject.toml has not changed since the last install.
install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# The first minute: a server on the embedded defaults with the seed pipeline (and the
# UI's job templates) stored as jobs; runs the seed pipeline once and prints the address
# to open and a sign-in token. Blocks until Ctrl-C.
run: install
	$(BIN)/podium server --demo

test: install
	$(BIN)/python -m pytest

# The suite again with the metadata on PostgreSQL (PODIUM_TEST_POSTGRES_URL's server, a
# fresh database per test): every test that touches the metadata database is an
# integration test (the unit tests touch none).
test-postgres: install
	PODIUM_TEST_DATABASE=postgres $(BIN)/python -m pytest tests/integration

lint: install
	$(BIN)/ruff check src tests examples bench
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
