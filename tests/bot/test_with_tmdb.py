"""The bot with TMDB configured, against the fake TMDB on loopback (demo catalog data)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Dispatcher
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import DEMO_CATALOG
from db.models import Film, RateLimit, Review
from integrations.tmdb import TMDBClient
from tests.bot.conftest import BotHarness, make_harness
from tests.fakes.tmdb_server import FakeTMDBServer


@pytest.fixture
async def tmdb_server() -> AsyncIterator[FakeTMDBServer]:
    async with FakeTMDBServer(DEMO_CATALOG) as server:
        yield server


@pytest.fixture
async def online(
    tmdb_server: FakeTMDBServer, dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[BotHarness]:
    """The bot with TMDB and an EMPTY catalog: every film must come through TMDB."""
    client = TMDBClient(base_url=tmdb_server.base_url, api_key="k", max_attempts=2, backoff_multiplier=0.001)
    async with client:
        async for harness in make_harness(dispatcher, session_factory, client, load_demo=False):
            yield harness


async def test_review_searches_tmdb_and_writes_films_through(online: BotHarness, tmdb_server) -> None:
    chat = online.chat(2001)
    await chat.say("/review Alien (1979)")
    [saved] = await chat.say("5 perfect")
    assert "Saved" in saved and "117 min" in saved  # details fetched once, then served from the catalog
    assert tmdb_server.count("/3/movie/348") == 1
    async with online.session_factory() as session:
        alien = await session.get(Film, 348)
        assert alien is not None and alien.runtime == 117 and alien.details_fetched_at is not None
        assert await session.scalar(select(func.count()).select_from(Review)) == 1


async def test_recommend_uses_tmdb_related_films_of_top_rated(online: BotHarness, tmdb_server) -> None:
    chat = online.chat(2002)
    await chat.say("/review Alien (1979)")
    await chat.say("5 perfect")
    tmdb_server.reset_log()
    replies = await chat.say("/recommend") + chat.session.sent_captions(2002, plain=True)  # poster cards
    assert tmdb_server.count("/3/movie/348/recommendations") == 1
    assert tmdb_server.count("/3/movie/348/similar") == 1
    cards = [r for r in replies if r.startswith(("🎯", "🧭", "🎲"))]
    assert len(cards) == 3 and not any("Alien (1979)" in c for c in cards)
    # every pick was fetched at most once, in one batch
    detail_paths = [p for p, _ in tmdb_server.requests if p.count("/") == 3 and p.startswith("/3/movie/")]
    assert len(detail_paths) == len(set(detail_paths)) <= 3


async def test_tmdb_outage_gets_a_friendly_reply_and_costs_nothing(online: BotHarness, tmdb_server) -> None:
    chat = online.chat(2003)
    tmdb_server.knobs.fail_all = True
    [reply] = await chat.say("/review Alien")
    assert "TMDB" in reply and "try again" in reply
    assert "503" not in reply and "Error" not in reply
    [reply] = await chat.say("/recommend")
    assert "isn't answering" in reply
    async with online.session_factory() as session:  # the failed /recommend did not use up the turn
        assert await session.scalar(select(func.count()).select_from(RateLimit)) == 0
    tmdb_server.knobs.fail_all = False
    await chat.say("/recommend")  # a new user: the onboarding grid first
    replies = await chat.tap("Show picks") + chat.session.sent_captions(2003, plain=True)  # poster cards
    assert any(r.startswith("🎯") for r in replies)


async def test_outage_reply_is_in_the_users_language(online: BotHarness, tmdb_server) -> None:
    chat = online.chat(2004, language_code="es")
    tmdb_server.knobs.fail_all = True
    [reply] = await chat.say("/review Alien")
    assert "no responde ahora mismo" in reply
