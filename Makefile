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

# The integration tests again with the metadata on PostgreSQL (a fresh database per test
# at PODIUM_TEST_POSTGRES_URL's server), but for those whose outcome does not depend on
# the metadata backend: task types and runners, executors and Dask (test_cluster is on
# PostgreSQL already), benchmarks and the browser tests (the same server code paths
# run in test_ui_http/test_api_http). Whole, it takes as long as `make test` again.
POSTGRES_SKIP := bench_smoke cluster dask_executor drift_task environment examples \
	executor_cancel first_minute http jar notebook seed_tasks sql ui_admin ui_editor \
	ui_insights ui_pages ui_run_page warm_python wheel
test-postgres: install
	PODIUM_TEST_DATABASE=postgres $(BIN)/python -m pytest tests/integration \
		$(foreach t,$(POSTGRES_SKIP),--ignore=tests/integration/test_$(t).py)

lint: install
	$(BIN)/ruff check src tests examples bench
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
