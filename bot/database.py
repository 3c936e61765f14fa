"""Where the database is: `DATABASE_URL`, or the embedded server when it is unset; migrations;
and a fresh database for tests and benchmarks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from bot.settings import PROJECT_ROOT, Settings
from db.embedded import start_embedded_postgres

EMBEDDED_DATABASE = "whattowatch"


def resolve_database_url(settings: Settings) -> str:
    """`DATABASE_URL` if set, else the URL of the embedded server (started on first call)."""
    if settings.database.database_url is not None:
        return settings.database.database_url.get_secret_value()
    return start_embedded_postgres(settings.database.pgserver_data_dir, EMBEDDED_DATABASE)


def alembic_config(database_url: str) -> Config:
    """Alembic config pointing at `migrations/` with the URL passed in, not read from a file."""
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(Path(PROJECT_ROOT / "migrations")))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade_to_head(database_url: str) -> None:
    """Apply all migrations (blocking; call with `asyncio.to_thread` from async code)."""
    command.upgrade(alembic_config(database_url), "head")


async def migrate(database_url: str) -> None:
    """Async wrapper: alembic's env runs its own event loop, so it goes to a worker thread."""
    await asyncio.to_thread(upgrade_to_head, database_url)


async def recreate_database(database_url: str, *, migrated: bool = False) -> None:
    """Drop the database named in `database_url` (closing its connections) and create it
    empty; with `migrated`, apply the migrations too. For tests and benchmarks only."""
    parsed = make_url(database_url)
    admin = parsed.set(database="postgres", drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await conn.close()
    if migrated:
        await migrate(database_url)
