"""Watch together with real tastes (WTW_DATASETS): three members whose histories come from real
Letterboxd exports (their films found in the TMDB 5000 catalog); a round through the dispatcher."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from aiogram import Dispatcher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import GroupPick
from db.repositories.library import LibraryRepository
from db.repositories.users import UserRepository
from domain.catalog import CatalogService
from integrations.tmdb_csv import read_tmdb_csv
from tests.bot.conftest import BotHarness, make_harness

pytestmark = pytest.mark.datasets

#: Telegram id → (first name, Letterboxd export): three different tastes.
MEMBERS = {201: ("Anna", "ujjwalyadav"), 202: ("Ben", "viniciusaraujogr"), 203: ("Chris", "agosvenezia")}


def read_history(folder: Path, catalog: dict[tuple[str, int], int]) -> dict[int, Decimal | None]:
    """TMDB id → rating (None: watched, unrated) of the export's films whose title and year
    match one catalog film exactly (a quick, strict stand-in for the import's matching)."""
    history: dict[int, Decimal | None] = {}
    for name, with_rating in (("watched.csv", False), ("ratings.csv", True)):
        with (folder / name).open(encoding="utf-8", newline="") as file:
            for row in csv.DictReader(file):
                if not (row.get("Year") or "").isdigit():
                    continue
                tmdb_id = catalog.get((row["Name"].casefold(), int(row["Year"])))
                if tmdb_id is not None:
                    rating = row.get("Rating") if with_rating else None
                    history[tmdb_id] = Decimal(rating) if rating else history.get(tmdb_id)
    return history


@pytest.fixture
async def club(
    dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession], datasets_dir: Path
) -> AsyncIterator[tuple[BotHarness, dict[int, set[int]]]]:
    """The bot on the TMDB 5000 catalog, each member with their export's history; yields the
    harness and each member's seen films (users.id → TMDB ids rated or watched)."""
    films = list(read_tmdb_csv(datasets_dir / "tmdb_5000" / "tmdb_5000_movies.csv"))
    by_title = {(f.title.casefold(), f.year): f.tmdb_id for f in films if f.year is not None}
    async for harness in make_harness(dispatcher, session_factory, load_demo=False):
        seen: dict[int, set[int]] = {}
        async with session_factory() as session:
            await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(films)
            library = LibraryRepository(session)
            for tg, (name, export) in MEMBERS.items():
                user = await UserRepository(session).upsert(
                    tg, first_name=name, language_code="en", private=True
                )
                history = read_history(datasets_dir / "letterboxd" / export, by_title)
                assert len(history) > 100, export
                for tmdb_id, rating in history.items():
                    await library.rate(user.id, tmdb_id, rating, source="letterboxd")
                seen[user.id] = await library.seen_ids(user.id)
                assert seen[user.id] == set(history)
            await session.commit()
        yield harness, seen


async def test_three_real_tastes_get_three_unseen_films_with_reasons_and_a_winner(
    club: tuple[BotHarness, dict[int, set[int]]],
) -> None:
    harness, seen = club
    group = harness.group(members={tg: name for tg, (name, _) in MEMBERS.items()})
    await group.added(by=201)
    await group.say(201, "/together")
    await group.tap(202, "I'm in")
    await group.tap(203, "I'm in")
    out = await group.tap(201, "Pick")
    cards = [t for t in out if t.endswith("👍 0 · 👎 0")]
    assert len(cards) == 3

    async with harness.session_factory() as session:
        picks = list(await session.scalars(select(GroupPick).order_by(GroupPick.position)))
    shown = {p.tmdb_id for p in picks}
    assert len(shown) == 3
    for member_seen in seen.values():
        assert not shown & member_seen  # nobody has rated, watched or 🚫 any of them
    # reasons name members (and never show a rating)
    assert any(name in "\n".join(cards) for name, _ in MEMBERS.values())
    assert all("★" not in text for text in group.texts())

    buttons = group.keyboard_messages()[:3][::-1]
    for member in MEMBERS:
        for i, card in enumerate(buttons):
            last = await group.tap(member, "👍" if i == 1 else "👎", message=card)
    assert last[-1].startswith("🏆 Everyone has voted!")
    assert f"https://letterboxd.com/tmdb/{picks[1].tmdb_id}/" in last[-1]
