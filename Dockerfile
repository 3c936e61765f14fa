# Multi-stage build: dependencies from the lock file in a builder, a slim non-root runtime.
# Untested here (no Docker engine on the development machines); kept in step with the Makefile.
FROM python:3.11-slim AS builder
WORKDIR /app
COPY requirements.lock .
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r requirements.lock

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 wtw
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY --chown=wtw:wtw alembic.ini pyproject.toml ./
COPY --chown=wtw:wtw bot ./bot
COPY --chown=wtw:wtw domain ./domain
COPY --chown=wtw:wtw recommender ./recommender
COPY --chown=wtw:wtw db ./db
COPY --chown=wtw:wtw integrations ./integrations
COPY --chown=wtw:wtw migrations ./migrations
USER wtw
ENV PATH="/opt/venv/bin:$PATH" PYTHONUNBUFFERED=1 LOG_JSON=true
# DATABASE_URL must point at PostgreSQL with pgvector (see docker-compose.yml); migrations run at start.
# Webhook mode (TELEGRAM_WEBHOOK_URL) serves HTTP on 8080: the webhook, /healthz, /readyz, /metrics.
EXPOSE 8080
# Liveness only: readiness (/readyz) is for the load balancer (docker-compose.yml's health checks);
# in long-polling mode set HTTP_PORT=8080 for this to answer.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"
# SIGTERM drains updates within SHUTDOWN_TIMEOUT_SECONDS (25): give the container 30 s to stop.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "run"]
