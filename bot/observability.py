"""Operational HTTP routes: readiness (`GET /readyz`) and Prometheus metrics (`GET /metrics`).

The two entry points (the contract with `bot/web.py` and long polling):

    add_ops_routes(web_app: aiohttp.web.Application, *, engine: AsyncEngine,
                   registry: CollectorRegistry = bot.metrics.REGISTRY,
                   worker_max_age: float = 60.0, db_timeout: float = 1.0,
                   require_worker: bool = True, queues: Sequence[str] = bot.jobs.QUEUES,
                   extra_checks: Mapping[str, Callable[[], str]] | None = None) -> None
        Adds GET /readyz and GET /metrics to `web_app` (call before the app starts, once per
        registry at a time). The webhook app (bot/web.py) calls it next to its webhook route
        and /healthz. `extra_checks`: more /readyz checks, name → a cheap synchronous callable
        returning "ok" or why not (e.g. {"updates": lambda: "ok" if not gate.closed else
        "shutting down"}); run before the database checks.

    serve_ops(host: str, port: int, *, engine: AsyncEngine, **add_ops_routes options)
        -> async context manager yielding the server's base URL ("http://127.0.0.1:8080")
        For long polling with HTTP_PORT set: a small aiohttp server with GET /healthz (200
        while the process runs), /readyz and /metrics on host:port while the block runs:

            async with serve_ops("0.0.0.0", port, engine=app.engine):
                await app.dispatcher.start_polling(bot, ...)

`GET /readyz`: 200 `{"status": "ready", "checks": {...}}` only when, within `db_timeout`
seconds in all (one connection from `engine`'s pool),
- `database`: PostgreSQL answers `SELECT 1`;
- `migrations`: the `alembic_version` row is the head revision of `migrations/` (read once,
  when the routes are added): an instance whose code expects a newer schema is not ready;
- `worker`: a procrastinate worker sent a heartbeat within `worker_max_age` seconds
  (procrastinate 3 workers register in `procrastinate_workers` and update `last_heartbeat`
  every 10 s, deleting their row when they stop); skipped with `require_worker=False`.
Otherwise 503 with `{"status": "not ready", "failing": [names], "checks": {name: reason}}`;
checks after a failed database check say "not checked" (and are not named in "failing").
Reasons name exception classes only, never the database URL. A change between ready and not
ready is logged once (a warning when it becomes not ready), not at every probe.

`GET /metrics`: the registry in Prometheus' text format 0.0.4 (`generate_latest`), or
OpenMetrics when the scraper's Accept header asks for it (Prometheus does), through
prometheus_client's own aiohttp handler (`prometheus_client.aiohttp.make_aiohttp_handler`).
Just before rendering, the job-queue gauges are read from the database
(`bot.metrics.QueueCollector`, at most `db_timeout` seconds); when the database does not
answer they are left out and the rest is served.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web
from alembic.script import ScriptDirectory
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.database import alembic_config
from bot.jobs import QUEUES
from bot.metrics import REGISTRY, QueueCollector
from bot.outage import is_database_unavailable

log = structlog.get_logger(__name__)

OK = "ok"
NOT_CHECKED = "not checked"
#: Seconds since the freshest worker heartbeat; NULL without any worker.
_HEARTBEAT_AGE_SQL = text("SELECT extract(epoch FROM now() - max(last_heartbeat)) FROM procrastinate_workers")


def migration_heads() -> frozenset[str]:
    """The head revision(s) of `migrations/` (one for a linear history), read from the files."""
    return frozenset(ScriptDirectory.from_config(alembic_config("")).get_heads())


@dataclass
class ReadinessCheck:
    """The checks behind /readyz (module docstring), with the last verdict for logging changes."""

    engine: AsyncEngine
    heads: frozenset[str]
    worker_max_age: float = 60.0
    timeout: float = 1.0
    require_worker: bool = True
    extra: Mapping[str, Callable[[], str]] = field(default_factory=dict)
    _was_ready: bool | None = field(default=None, init=False)

    async def run(self) -> dict[str, str]:
        """Check name → "ok" or why not. Never raises (cancellation aside)."""
        checks = {name: _run_extra(check) for name, check in self.extra.items()}
        checks |= {"database": NOT_CHECKED, "migrations": NOT_CHECKED}
        if self.require_worker:
            checks["worker"] = NOT_CHECKED
        current = "database"
        try:
            async with asyncio.timeout(self.timeout), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                checks["database"] = OK
                current = "migrations"
                versions = set((await conn.scalars(text("SELECT version_num FROM alembic_version"))).all())
                checks["migrations"] = self._migrations(versions)
                if self.require_worker:
                    current = "worker"
                    age = await conn.scalar(_HEARTBEAT_AGE_SQL)
                    checks["worker"] = self._worker(None if age is None else float(age))
        except TimeoutError:
            checks[current] = f"no answer within {self.timeout:g} s"
        except Exception as exc:
            if current == "database" or is_database_unavailable(exc):
                checks[current] = f"unreachable ({type(exc).__name__})"
            else:  # e.g. the table does not exist yet: migrations never ran
                checks[current] = f"query failed ({type(exc).__name__})"
        self._log_change(checks)
        return checks

    def _migrations(self, versions: set[str]) -> str:
        if versions == set(self.heads):
            return OK
        found = ", ".join(sorted(versions)) or "none"
        return f"database at {found}, code expects {', '.join(sorted(self.heads))}"

    def _worker(self, age: float | None) -> str:
        if age is None:
            return "no worker registered"
        if age > self.worker_max_age:
            return f"last heartbeat {age:.0f} s ago (limit {self.worker_max_age:g} s)"
        return OK

    def _log_change(self, checks: dict[str, str]) -> None:
        ready = all(value == OK for value in checks.values())
        if ready == self._was_ready:
            return
        if ready:
            log.info("ready", checks=checks)
        else:
            log.warning("not_ready", failing={k: v for k, v in checks.items() if v not in (OK, NOT_CHECKED)})
        self._was_ready = ready


def _run_extra(check: Callable[[], str]) -> str:
    try:
        return check()
    except Exception as exc:  # a broken check says so instead of breaking /readyz
        return f"check failed ({type(exc).__name__})"


def add_ops_routes(
    web_app: web.Application,
    *,
    engine: AsyncEngine,
    registry: CollectorRegistry = REGISTRY,
    worker_max_age: float = 60.0,
    db_timeout: float = 1.0,
    require_worker: bool = True,
    queues: Sequence[str] = QUEUES,
    extra_checks: Mapping[str, Callable[[], str]] | None = None,
) -> None:
    """Add `GET /readyz` and `GET /metrics` to `web_app` (module docstring).

    The job-queue collector (`bot.metrics.QueueCollector` on `engine`) is registered on
    `registry` now and unregistered when `web_app` cleans up.

    Raises:
        ValueError: `registry` already has the job-queue gauges (routes added twice at once).
    """
    readiness = ReadinessCheck(
        engine,
        migration_heads(),
        worker_max_age=worker_max_age,
        timeout=db_timeout,
        require_worker=require_worker,
        extra=dict(extra_checks or {}),
    )
    collector = QueueCollector(engine, queues=queues, timeout=db_timeout)
    registry.register(collector)
    render = make_aiohttp_handler(registry)

    async def readyz(request: web.Request) -> web.Response:
        checks = await readiness.run()
        if any(value != OK for value in checks.values()):
            failing = [name for name, value in checks.items() if value not in (OK, NOT_CHECKED)]
            return web.json_response(
                {"status": "not ready", "failing": failing, "checks": checks}, status=503
            )
        return web.json_response({"status": "ready", "checks": checks})

    async def metrics(request: web.Request) -> web.StreamResponse:
        await collector.refresh()
        return await render(request)

    async def unregister(app: web.Application) -> None:
        registry.unregister(collector)

    web_app.router.add_get("/readyz", readyz)
    web_app.router.add_get("/metrics", metrics)
    web_app.on_cleanup.append(unregister)


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@asynccontextmanager
async def serve_ops(host: str, port: int, *, engine: AsyncEngine, **options: Any) -> AsyncIterator[str]:
    """Serve GET /healthz, /readyz and /metrics on `host`:`port` (0: a free port) while the
    block runs; yields the base URL. `options` go to `add_ops_routes`.

    Raises:
        OSError: the port cannot be bound.
    """
    web_app = web.Application()
    web_app.router.add_get("/healthz", _healthz)
    add_ops_routes(web_app, engine=engine, **options)
    runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        log.info("ops_server_started", host=bound_host, port=bound_port)
        yield f"http://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()
