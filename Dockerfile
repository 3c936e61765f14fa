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
CMD ["python", "-m", "bot", "run"]
