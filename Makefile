# make run  — set everything up and start the bot (Telegram if TELEGRAM_BOT_TOKEN is set, else a terminal chat)
# make test — set up the same way and run every check: content, ruff, mypy, pytest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup install env db nlu lint typecheck check-content pytest bench clean

run: setup
	$(BIN)/healthbot start

test: setup check-content lint typecheck pytest

setup: install env db nlu

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (set PYTHON=python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# A .env with a fresh random HEALTHBOT_SECRET, made once from .env.example.
env: .env
.env: | .env.example
	@$(BIN)/python -c "import secrets, pathlib; t = pathlib.Path('.env.example').read_text(); \
	pathlib.Path('.env').write_text(t.replace('HEALTHBOT_SECRET=\n', 'HEALTHBOT_SECRET=' + secrets.token_urlsafe(32) + '\n', 1))"
	@echo "wrote .env with a new HEALTHBOT_SECRET"

db: install env
	$(BIN)/healthbot db upgrade

nlu: install env
	$(BIN)/healthbot nlu train

check-content: install
	$(BIN)/healthbot content validate

lint: install
	$(BIN)/ruff check bot nlu handlers tests bench
	$(BIN)/ruff format --check bot nlu handlers tests bench

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) data .mypy_cache .ruff_cache .pytest_cache *.egg-info
