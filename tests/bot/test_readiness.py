"""GET /readyz and GET /metrics (bot/observability.py), served by `serve_ops` on loopback, on
the real PostgreSQL with a real procrastinate worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import procrastinate
import pytest
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.metrics import Metrics
from bot.observability import ReadinessCheck, migration_heads, serve_ops
from db.session import create_engine
from tests.conftest import execute_sql


@contextlib.asynccontextmanager
async def ops(
    engine: AsyncEngine, registry: CollectorRegistry | None = None, **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    registry = registry or CollectorRegistry()
    async with (
        serve_ops("127.0.0.1", 0, engine=engine, registry=registry, **options) as url,
        httpx.AsyncClient(base_url=url, timeout=5.0) as client,
    ):
        yield client


@pytest.fixture
async def no_workers(database_url: str) -> None:
    """No worker heartbeat in the (shared) test database."""
    await execute_sql(database_url, "DELETE FROM procrastinate_workers")


async def test_not_ready_without_a_worker_heartbeat(engine: AsyncEngine, no_workers: None) -> None:
    async with ops(engine) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["worker"]
    assert body["checks"] == {"database": "ok", "migrations": "ok", "worker": "no worker registered"}


async def test_ready_while_a_real_worker_runs(
    engine: AsyncEngine, job_app: procrastinate.App, no_workers: None
) -> None:
    async with ops(engine) as client:
        worker = asyncio.create_task(
            job_app.run_worker_async(wait=True, install_signal_handlers=False, name="readiness-test")
        )
        try:
            async with asyncio.timeout(10):
                while (response := await client.get("/readyz")).status_code != 200:  # noqa: ASYNC110
                    await asyncio.sleep(0.1)  # the worker registers itself on start
            assert response.json() == {
                "status": "ready",
                "checks": {"database": "ok", "migrations": "ok", "worker": "ok"},
            }
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        # a worker that stops unregisters: not ready again
        response = await client.get("/readyz")
        assert response.status_code == 503 and response.json()["failing"] == ["worker"]


async def test_a_stale_heartbeat_is_not_ready(
    engine: AsyncEngine, database_url: str, no_workers: None
) -> None:
    await execute_sql(
        database_url,
        "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '5 minutes')",
    )
    async with ops(engine, worker_max_age=60) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"].startswith("last heartbeat 300 s ago")


async def test_not_ready_when_the_database_does_not_answer(unused_tcp_port: int) -> None:
    dead = create_engine(f"postgresql://postgres@127.0.0.1:{unused_tcp_port}/nothing", pool_size=1)
    try:
        async with ops(dead) as client:
            response = await client.get("/readyz")
            assert response.status_code == 503
            body = response.json()
            assert body["failing"] == ["database"]
            assert body["checks"]["database"].startswith("unreachable")
            assert body["checks"]["migrations"] == body["checks"]["worker"] == "not checked"
            assert "postgres@" not in response.text  # no URL in the answer

            metrics = await client.get("/metrics")  # still served, without the queue gauges
            assert metrics.status_code == 200 and "wtw_jobs{" not in metrics.text
    finally:
        await dead.dispose()


async def test_a_database_behind_the_code_is_not_ready(engine: AsyncEngine) -> None:
    check = ReadinessCheck(engine, frozenset({"9999"}), require_worker=False)
    checks = await check.run()
    assert checks["database"] == "ok"
    assert checks["migrations"] == f"database at {', '.join(sorted(migration_heads()))}, code expects 9999"


async def test_metrics_answer_the_text_format_with_wtw_names(
    engine: AsyncEngine, job_app: procrastinate.App
) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.updates.labels("message", "help_", "ok").inc()
    async with ops(engine, registry=registry) as client:
        response = await client.get("/metrics")
        openmetrics = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_PLAIN_0_0_4  # generate_latest's format
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")
    text = response.text
    assert 'wtw_updates_total{handler="help_",outcome="ok",update_type="message"} 1.0' in text
    assert 'wtw_jobs{queue="user",status="queued"} 0.0' in text  # read from the (empty) queue
    assert "# TYPE wtw_bot_api_requests_total counter" in text
    assert 'wtw_imports{status="running"}' in text


async def test_extra_checks_are_named_when_they_fail(engine: AsyncEngine) -> None:
    closing = {"closed": True}

    def updates() -> str:
        return "shutting down" if closing["closed"] else "ok"

    async with ops(engine, require_worker=False, extra_checks={"updates": updates}) as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["failing"] == ["updates"]
        assert response.json()["checks"]["updates"] == "shutting down"
        closing["closed"] = False
        assert (await client.get("/readyz")).status_code == 200
