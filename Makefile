# The two commands a newcomer needs:  `make run`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi

.PHONY: install run test test-sqlite lint format bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch==2.13.0 is pinned in pyproject.toml: pip takes the CPU wheel available on these machines.
	$(BIN)/pip install --quiet -e '.[test,dev]'
	touch $@

run: install  ## install, migrate, load demo data, serve on http://127.0.0.1:5000 with an in-process worker
	$(FLASK) governance init
	$(FLASK) governance demo
	$(FLASK) governance serve

test: install  ## install, then the whole suite on SQLite and on PostgreSQL
	scripts/test.sh

test-sqlite: install
	$(BIN)/python -m pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts
