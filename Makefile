# Two commands: `make run` (the embedded demo on SQLite) and `make test` (lint + the whole suite).
VENV ?= .venv
PY := $(VENV)/bin/python
# The suite runs on every core (pytest-xdist, one database per worker); PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= auto
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run test lint lint-openapi migrate serve scheduler bench smoke-prod

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

# Migrate, seed the demo district when the database is empty (printing a token per demo user),
# then serve the API on http://127.0.0.1:5000 with the scheduler in-process.
run: install
	$(PY) app.py

# Lint (ruff, the import layers, function size and complexity), then the whole suite on SQLite; again on PostgreSQL when TEST_DATABASE_URL is set.
test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m bench.code_shape --check
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS)
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "== the suite again on PostgreSQL =="; \
		RECTIFY_TEST_BACKEND=postgresql $(VENV)/bin/pytest -n $(PYTEST_WORKERS); \
	fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m bench.code_shape --check

# redocly lint of the served /openapi.json with redocly.yaml (redocly from npm, into .redocly/; needs node):
# tests/api/test_openapi.py::test_redocly_lint_finds_no_error runs it.
REDOCLY_VERSION := 2.77.0
lint-openapi: install
	test -x .redocly/node_modules/.bin/redocly || npm install --prefix .redocly --no-audit --no-fund @redocly/cli@$(REDOCLY_VERSION)
	REDOCLY=.redocly/node_modules/.bin/redocly $(VENV)/bin/pytest -q tests/api/test_openapi.py -k redocly

migrate: install
	$(VENV)/bin/flask --app app db upgrade

# The README's Production commands, run as written on a fresh PostgreSQL database (SMOKE_DATABASE_URL or
# TEST_DATABASE_URL names the server), then a problem through its loop, a scheduled round, /healthz, /metrics.
smoke-prod: install
	$(PY) deploy/smoke_prod.py

# Production-style: gunicorn for the API, a separate scheduler process (see README). Production config: it
# refuses to start without a real SECRET_KEY.
serve: install
	RECTIFY_ENV=$${RECTIFY_ENV:-production} $(VENV)/bin/gunicorn -c deploy/gunicorn.conf.py

scheduler: install
	$(VENV)/bin/flask --app app scheduler run

# The benchmarks of bench/ (PostgreSQL at BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres;
# each creates and drops its own databases). BENCH_SCALE=100000 for a quick run; results in bench/out/.
bench: install
	$(PY) -m pip install -q -e ".[dev,bench]"
	$(PY) -m bench.run_all
