"""Engine and session factory.

One :class:`~sqlalchemy.ext.asyncio.AsyncEngine` per process (asyncpg driver); one
:class:`~sqlalchemy.ext.asyncio.AsyncSession` per Telegram update (see the bot's DB middleware)
or per CLI command.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def async_url(url: str) -> str:
    """Turn `postgresql://…` / `postgres://…` into the asyncpg form SQLAlchemy expects."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The same URL for alembic's offline mode and tools that want a plain driver name."""
    return make_url(async_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 5, echo: bool = False) -> AsyncEngine:
    """Create the process-wide engine. Vectors travel as pgvector's text form, converted by
    the `pgvector.sqlalchemy.Vector` column type (no asyncpg codec, so the two never clash).
    Every checkout is pinged (`ping_on_checkout`), so a connection PostgreSQL dropped (a
    restart, a failover) is replaced before a statement runs on it."""
    engine = create_async_engine(async_url(url), pool_size=pool_size, max_overflow=pool_size, echo=echo)
    event.listen(engine.sync_engine, "checkout", ping_on_checkout(engine.dialect))
    return engine


def ping_on_checkout(dialect: Dialect) -> Any:
    """A pool "checkout" listener: SQLAlchemy's pessimistic disconnect handling (docs,
    "Connection Pooling › Disconnect Handling - Pessimistic") with one round trip. The built-in
    `pool_pre_ping` of the asyncpg dialect spends three on each checkout (BEGIN, `;`, ROLLBACK:
    a transaction of its own, for pgbouncer's transaction mode, which this project does not
    use), about a third of a light update's round trips. Here `SELECT 1` runs in the
    transaction the connection's first statement would open anyway (the asyncpg adapter begins
    lazily). As with `pool_pre_ping`, a disconnect invalidates the pool and the checkout is
    tried again on a new connection (InvalidatePoolError); other errors propagate."""

    def ping(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, cursor):
                raise exc.InvalidatePoolError() from error
            raise
        finally:
            cursor.close()

    return ping


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (`expire_on_commit=False`)."""
    return async_sessionmaker(engine, expire_on_commit=False)
