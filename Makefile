# The two commands a newcomer needs:  `make run`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
# openapi-python-client, which generates clients/python's low-level layer, lives in its own venv: it pins
# typer<0.28 and the service's venv has typer 0.29 (pycanon's), so installing it there would downgrade typer.
CODEGEN ?= .venv-codegen

.PHONY: install codegen run test test-sqlite test-fast lint format translations bench clean

install: $(VENV)/.installed $(CODEGEN)/.installed

$(VENV)/.installed: pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch==2.13.0 is pinned in pyproject.toml: pip takes the CPU wheel available on these machines.
	# The Python client library (clients/python) is installed editable with its extras, for tests/client.
	$(BIN)/pip install --quiet -e '.[test,dev]' -e './clients/python[all]'
	touch $@

codegen: $(CODEGEN)/.installed  ## the pinned client generator (scripts/generate_client.py)

$(CODEGEN)/.installed: clients/python/codegen/requirements.txt
	$(PYTHON) -m venv $(CODEGEN)
	$(CODEGEN)/bin/pip install --quiet -r clients/python/codegen/requirements.txt
	touch $@

run: install  ## install, migrate, load demo data, serve on http://127.0.0.1:5000 with an in-process worker
	$(FLASK) governance init
	$(FLASK) governance demo
	$(FLASK) governance serve

test: install  ## install, then the whole suite on SQLite and on PostgreSQL
	scripts/test.sh

test-sqlite: install
	$(BIN)/python -m pytest -n 2

test-fast: install  ## the inner loop: SQLite, both cores, without slow and browser tests (about 2 minutes)
	$(BIN)/python -m pytest -n 2 -q -m "not slow and not browser"

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports  # the layer and models contracts in pyproject.toml ([tool.importlinter])
	$(BIN)/mypy  # the types of governance/ ([tool.mypy] in pyproject.toml: its files, plugins and overrides)

# The dashboard's German catalog (docs/web.md, "Languages"): extract the messages, merge them into the .po files,
# compile the .mo files the app reads. Commit the .po and the .mo; tests/web/test_translations.py fails on an
# untranslated or fuzzy message and on a .mo older than its .po.
TRANSLATIONS := governance/translations
translations:
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l -k N_ --no-location --sort-output \
	  --project=governance --msgid-bugs-address=dpo@example.com -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d $(TRANSLATIONS) --statistics

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(CODEGEN) instance .pytest_cache test-artifacts
