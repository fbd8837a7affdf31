# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint clean

$(BIN)/aza-cds: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/aza-cds

run: install
	$(BIN)/aza-cds serve --dev

test: install
	$(BIN)/ruff check service tests
	$(BIN)/aza-cds knowledge check
	$(BIN)/aza-cds replay --check fixtures/requests
	env -u AZA_CDS_TEST_POSTGRES_URL $(BIN)/pytest
	@if [ -n "$$AZA_CDS_TEST_POSTGRES_URL" ]; then echo "== the same tests on PostgreSQL"; $(BIN)/pytest; fi

clean:
	rm -rf $(VENV) var .pytest_cache
