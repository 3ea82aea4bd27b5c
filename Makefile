# Keystile: two commands on a fresh machine, `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck bench clean

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e . --group dev
	touch $(STAMP)

## make run: set up .venv, migrate the embedded SQLite database and serve every sign-in method.
DEV_ENV := KEYSTILE_ENV=development KEYSTILE_ORIGIN=https://localhost:8443 \
	KEYSTILE_EXTRA_ORIGINS=http://localhost:8080 KEYSTILE_CERT_LOGIN=auto

run: $(STAMP)
	$(DEV_ENV) $(BIN)/keystile db upgrade
	$(DEV_ENV) $(BIN)/keystile dev serve

## make test: set up .venv and run the whole suite (unit, functional, end-to-end).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/password_login.py

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
