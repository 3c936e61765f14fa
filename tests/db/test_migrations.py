"""Migrations: head matches the models, and every revision downgrades and upgrades again."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from bot.database import alembic_config, recreate_database
from db.models import Base, include_name


def _sync(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _diff(url: str) -> list[object]:
    engine = create_engine(_sync(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_name": include_name})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


async def test_head_matches_the_models_and_downgrades_round_trip(database_url: str) -> None:
    url = make_url(database_url).set(database="wtw_migrations").render_as_string(hide_password=False)
    await recreate_database(url)
    cfg = alembic_config(url)
    await asyncio.to_thread(command.upgrade, cfg, "head")
    assert await asyncio.to_thread(_diff, url) == []
    await asyncio.to_thread(command.downgrade, cfg, "0001")
    await asyncio.to_thread(command.upgrade, cfg, "head")
    assert await asyncio.to_thread(_diff, url) == []
