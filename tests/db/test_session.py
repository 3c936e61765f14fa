"""The engine's pooled connections survive PostgreSQL dropping them (db.session)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.session import create_engine


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT pg_backend_pid()")) or 0)


async def test_a_connection_postgresql_dropped_is_replaced_before_use(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    other = create_engine(database_url, pool_size=1)
    try:
        pid = await _backend_pid(engine)  # back in the pool, idle
        async with other.connect() as conn:  # as a restart or a failover would
            assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

        assert await _backend_pid(engine) != pid  # the ping saw it and a new connection answered
    finally:
        await engine.dispose()
        await other.dispose()
