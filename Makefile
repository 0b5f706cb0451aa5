PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

BENCH_STAMP := $(VENV)/.installed-bench
LINTED := services tests bench testkit docs

.PHONY: run test unit lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: start the web app, ingest, signing and routing on embedded defaults (no servers needed)
run: $(STAMP)
	@$(BIN)/lienthong migrate
	@echo "Demo agencies and their API keys:"
	@$(BIN)/lienthong demo seed
	@echo "Liên Thông is starting; open the web app (first line) and sign in as a user"
	@echo "made with: lienthong users add EMAIL --agency 000.00.00.H41 --role admin"
	@$(BIN)/lienthong up

## test: the whole suite (unit, integration on RabbitMQ/PostgreSQL/SeaweedFS, end to end)
test: $(STAMP)
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

## lint: ruff check, ruff format --check and mypy (strict for services/common)
lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy $(LINTED)

format: $(STAMP)
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)

## bench: measure and write bench/RESULTS.md (needs RabbitMQ on 127.0.0.1:5672)
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
