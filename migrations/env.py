"""Alembic environment: async engine, URL from the caller or from the settings."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from db.models import Base, include_name

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return str(url)
    from bot.database import resolve_database_url
    from bot.settings import load_settings

    return resolve_database_url(load_settings())


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    from db.session import create_engine

    connection = config.attributes.get("connection")
    if connection is not None:  # called from python code with an open connection
        _run(connection)
        return
    engine = create_engine(_url(), pool_size=1)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    from db.session import sync_url

    context.configure(url=sync_url(_url()), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
