"""Engine and session factory.

One :class:`~sqlalchemy.ext.asyncio.AsyncEngine` per process (asyncpg driver); one
:class:`~sqlalchemy.ext.asyncio.AsyncSession` per Telegram update (see the bot's DB middleware)
or per CLI command.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url
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
    the `pgvector.sqlalchemy.Vector` column type (no asyncpg codec, so the two never clash)."""
    return create_async_engine(
        async_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, echo=echo
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (`expire_on_commit=False`)."""
    return async_sessionmaker(engine, expire_on_commit=False)
