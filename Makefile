# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# `make run PORT=8180` (or AZA_CDS_PORT=8180 make run): another port, e.g. for a second instance on this machine
PORT ?= $(or $(AZA_CDS_PORT),8080)

.PHONY: install run test lint clean

$(BIN)/aza-cds: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/aza-cds

run: install
	$(BIN)/aza-cds serve --dev --port $(PORT)

test: install
	$(BIN)/ruff check service tests
	$(BIN)/mypy
	$(BIN)/aza-cds knowledge check
	$(BIN)/aza-cds replay --check fixtures/requests
	env -u AZA_CDS_TEST_POSTGRES_URL $(BIN)/pytest
	@if [ -n "$$AZA_CDS_TEST_POSTGRES_URL" ]; then echo "== the same tests on PostgreSQL"; $(BIN)/pytest; fi

clean:
	rm -rf $(VENV) var .pytest_cache
