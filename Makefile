# make run  — set everything up, start the web console (http://127.0.0.1:8000) and the bot (Telegram if TELEGRAM_BOT_TOKEN is set, else a terminal chat)
# make test — set up the same way and run every check: content, ruff, mypy, pytest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup install lock env db nlu rasa rasa-model rasa-serve chromium lint typecheck check-content \
	pytest bench clean

# The web console runs beside the bot (http://127.0.0.1:8000) and stops with it.
run: setup
	@$(BIN)/healthbot web & web=$$!; trap 'kill $$web 2>/dev/null' EXIT INT TERM; \
	$(BIN)/healthbot start

test: setup rasa-model chromium check-content lint typecheck pytest

setup: install env db nlu

# Exactly the versions in requirements.lock (hash-checked), then the project itself without
# resolving anything; `make lock` regenerates the lock files when pyproject.toml changes.
$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (set PYTHON=python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# requirements.lock: every package (dev tools too) with hashes, what `make` installs;
# requirements-prod.lock: the runtime subset at the same versions, what the Dockerfile installs.
# Existing pins are kept where pyproject.toml still allows them; `make lock UPGRADE=1` takes the
# newest versions. pip-tools runs in its own throw-away environment (.venv-lock).
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	--no-emit-find-links $(if $(UPGRADE),--upgrade)
lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet pip-tools
	.venv-lock/bin/pip-compile $(LOCK_FLAGS) --extra dev -o requirements.lock pyproject.toml
	.venv-lock/bin/pip-compile $(LOCK_FLAGS) -c requirements.lock -o requirements-prod.lock \
		pyproject.toml

# A .env with a fresh random HEALTHBOT_SECRET and RASA_TOKEN, made once from .env.example.
env: .env
.env: | .env.example
	@$(BIN)/python -c "import secrets, pathlib; t = pathlib.Path('.env.example').read_text(); \
	t = t.replace('HEALTHBOT_SECRET=\n', 'HEALTHBOT_SECRET=' + secrets.token_urlsafe(32) + '\n', 1); \
	pathlib.Path('.env').write_text(t.replace('RASA_TOKEN=\n', 'RASA_TOKEN=' + secrets.token_urlsafe(32) + '\n', 1))"
	@echo "wrote .env with a new HEALTHBOT_SECRET and RASA_TOKEN"

db: install env
	$(BIN)/healthbot db upgrade

nlu: install env
	$(BIN)/healthbot nlu train

# Rasa 3.6 lives in its own environment, built with Python 3.10 (pyenv's, or python3.10 on PATH).
PYTHON310 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.10.*/bin/python) $(shell command -v python3.10 2>/dev/null))
# The environment (~2.7 GB) is built once per machine in a cache named by its requirements, and
# .venv-rasa links to it, so a fresh clone (CI) does not reinstall TensorFlow.
HEALTHBOT_CACHE ?= $(HOME)/.cache/healthbot
RASA_HOME := $(HEALTHBOT_CACHE)/venv-rasa-$(shell sha256sum nlu/requirements-rasa.txt | cut -c1-12)
RASA_STAMP := .venv-rasa/.installed

$(RASA_STAMP): nlu/requirements-rasa.txt
	@test -n "$(PYTHON310)" || { echo "Rasa 3.6 needs Python 3.10: install it (pyenv install 3.10) or set PYTHON310=/path/to/python3.10"; exit 1; }
	@if [ ! -f "$(RASA_HOME)/.installed" ]; then \
		rm -rf "$(RASA_HOME)" && mkdir -p "$(HEALTHBOT_CACHE)" && \
		$(PYTHON310) -m venv "$(RASA_HOME)" && \
		"$(RASA_HOME)/bin/python" -m pip install --quiet --upgrade pip && \
		"$(RASA_HOME)/bin/python" -m pip install --quiet -r nlu/requirements-rasa.txt && \
		touch "$(RASA_HOME)/.installed"; \
	fi
	rm -rf .venv-rasa && ln -s "$(RASA_HOME)" .venv-rasa

rasa: $(RASA_STAMP)

# Trains only when nlu/data or nlu/config.yml changed (models are cached by their fingerprint).
rasa-model: install rasa
	$(BIN)/healthbot nlu train --backend rasa

# Serve the Rasa model on 127.0.0.1:5005 for NLU_BACKEND=rasa.
rasa-serve: rasa-model
	$(BIN)/healthbot nlu serve

# Browser tests drive Debian's Chromium through Playwright (never a browser Playwright downloads).
# Debian's Chromium for the browser tests, and a colour emoji font so screenshots show 👍 not boxes.
chromium:
	@{ command -v chromium >/dev/null 2>&1 && [ -d /usr/share/fonts/truetype/noto ] && \
		ls /usr/share/fonts/truetype/noto | grep -q ColorEmoji; } || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			chromium fonts-noto-color-emoji; }

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
	rm -rf $(VENV) .venv-rasa .venv-lock data .mypy_cache .ruff_cache .pytest_cache *.egg-info
