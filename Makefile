# Two commands for a fresh clone:
#   make serve   set everything up and run the service on the embedded default (SQLite, in-process jobs)
#   make test    set everything up and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Test processes (pytest-xdist): the first CI leg's tests share no server, so they run on every core.
TEST_WORKERS ?= auto

.PHONY: serve test install lint typecheck bench migration clean constraints

# constraints.txt pins every package to the version CI tested (pyproject.toml only bounds the ranges).
$(BIN)/qbsync: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(BIN)/qbsync

install: $(BIN)/qbsync

serve: install
	$(BIN)/qbsync serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/ruff check qbsync tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check qbsync tests bench

# The files [tool.mypy] in pyproject.toml lists (also checked by `make test`).
typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench

# Regenerate the initial migration from the models (only while nothing has been released).
migration: install
	rm -f /tmp/qbsync-migration.sqlite3 qbsync/storage/migrations/versions/0001_*.py
	$(BIN)/alembic -c qbsync/storage/migrations/alembic.ini -x url=sqlite:////tmp/qbsync-migration.sqlite3 \
		revision --autogenerate --rev-id 0001 -m "initial schema"

# After upgrading a dependency in .venv and passing the whole suite (both CI legs): pin what passed.
constraints: install
	{ sed -n '1,2p' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^qbsync'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
