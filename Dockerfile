# syntax=docker/dockerfile:1
# leakbot for production: the wheel on python:3.11-slim, run as a non-root user.
#   docker build -t leakbot .          (or `docker compose up -d` with compose.yaml)
# tests/e2e/test_deploy.py runs this file's RUN, HEALTHCHECK and CMD steps from the built wheel.

# -- build: the leakbot wheel and the wheels of its dependencies --------------------------------
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY bot ./bot
COPY playbooks ./playbooks
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# -- run -----------------------------------------------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LEAKBOT_HOST=0.0.0.0 \
    PORT=3000
RUN useradd --create-home --uid 10001 leakbot
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels leakbot && rm -rf /wheels && leakbot --version
USER leakbot
# Without DATABASE_URL the SQLite file is ./data/leakbot.db here: mount a volume on
# /home/leakbot/data, or use PostgreSQL (compose.yaml).
WORKDIR /home/leakbot
EXPOSE 3000
# No curl in the slim image: Python asks /healthz (200 when the database answers, else 503).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '3000') + '/healthz', timeout=4)"
# `leakbot run` applies pending migrations too; compose.yaml runs `leakbot migrate` first.
CMD ["leakbot", "run"]
