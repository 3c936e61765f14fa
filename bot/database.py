"""Where the database is: `DATABASE_URL`, or the embedded server when it is unset; and migrations."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

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
