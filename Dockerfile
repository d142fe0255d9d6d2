# The healthbot image: the Telegram bot (`run --webhook`, the default), the web console (`web`) and
# every other `healthbot` command. docker-compose.yml runs it; docs/deploy.md explains.
#
# The code runs from /app, not from site-packages: bot/paths.py finds content/ and nlu/ next to
# the `bot` package and writes models to data/ under the working directory. So the project is
# installed in editable mode at /app in the builder, and the same source tree is copied to /app
# in the runtime stage (the editable install points at /app/bot, /app/nlu, /app/handlers).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: a virtual environment with every dependency (wheels only, no compiler needed) ----
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app

# Dependencies first, exactly the hash-checked versions of requirements-prod.lock (the runtime
# subset of requirements.lock, which `make test` installs), so code changes do not reinstall them.
COPY pyproject.toml README.md requirements-prod.lock ./
RUN pip install --only-binary=:all: --require-hashes -r requirements-prod.lock

COPY bot ./bot
COPY nlu ./nlu
COPY handlers ./handlers
RUN pip install --no-deps -e . \
    && pip uninstall -y pip

# ---- runtime: slim Python, the venv, the code and content; no compiler, no pip ----
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN groupadd --gid 10001 healthbot \
    && useradd --uid 10001 --gid healthbot --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin healthbot

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
# Code and content belong to root and are read-only for the app; only data/ is writable.
COPY bot ./bot
COPY nlu ./nlu
COPY handlers ./handlers
COPY content ./content
RUN python -m compileall -q bot nlu handlers \
    && mkdir data \
    && chown healthbot:healthbot data

USER healthbot

# Train the embedded NLU model and the crisis classifier into data/nlu/ now, so containers start
# without training. The models depend only on nlu/ and content/safety/ (not on any secret), but
# the command reads its settings first, so it gets a throw-away HEALTHBOT_SECRET for this one
# step; it is not kept in the image (no ENV, no ARG).
RUN HEALTHBOT_SECRET=build-only-not-used-by-the-nlu-models healthbot nlu train

EXPOSE 8080 8000

# /healthz of `run --webhook` (HOST:PORT, 8080 by default). compose sets its own checks per service
# (the web console listens on 8000). Python, because the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=4)"]

ENTRYPOINT ["healthbot"]
CMD ["run", "--webhook"]
