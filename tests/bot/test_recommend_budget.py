"""/recommend answers within 3 s whatever TMDB does: the whole bot against the fake TMDB on
loopback, with the production TMDB client settings (10 s timeout, 4 attempts: 40 s of silence
without the budget) and the default TMDB_INTERACTIVE_BUDGET_SECONDS; the demo catalog is what
the answer falls back on."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from aiogram import Dispatcher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import DEMO_CATALOG
from bot.settings import TMDBSettings
from db.repositories.library import LibraryRepository, LogRow
from db.repositories.users import UserRepository
from integrations.tmdb import TMDBClient
from tests.bot.conftest import BotHarness, Chat, make_harness
from tests.fakes.tmdb_server import FakeTMDBServer

#: The promise: an answer within 3 s of /recommend, whatever TMDB does.
ANSWER_WITHIN_S = 3.0
CARDS = ("🎯", "🧭", "🎲")


@pytest.fixture
async def tmdb_server() -> AsyncIterator[FakeTMDBServer]:
    async with FakeTMDBServer(DEMO_CATALOG) as server:
        yield server


def _client(base_url: str) -> TMDBClient:
    """The client as `bot.app.make_tmdb_client` builds it from the default settings."""
    cfg = TMDBSettings(_env_file=None)
    return TMDBClient(
        base_url=base_url,
        api_key="k",
        timeout_seconds=cfg.timeout_seconds,
        max_concurrency=cfg.max_concurrency,
        max_requests_per_second=cfg.max_requests_per_second,
        max_attempts=cfg.max_attempts,
    )


@pytest.fixture
async def online(
    tmdb_server: FakeTMDBServer, dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[BotHarness]:
    """The bot with TMDB (the fake) and the demo catalog already in the films table."""
    async with _client(tmdb_server.base_url) as client:
        async for harness in make_harness(dispatcher, session_factory, client):
            yield harness


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _with_history(harness: BotHarness, telegram_id: int) -> None:
    """A user who rated three films (no onboarding, TMDB seeds for related films)."""
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    async with harness.session_factory() as session:
        user = await UserRepository(session).upsert(telegram_id, first_name="Ann", language_code="en")
        rows = [
            LogRow(
                tmdb_id=tmdb_id,
                rating=Decimal("5"),
                watched=True,
                watched_on=None,
                liked=False,
                on_watchlist=False,
                rated_at=base + dt.timedelta(days=i),
            )
            for i, tmdb_id in enumerate((348, 679, 78))
        ]
        await LibraryRepository(session).merge_log(user.id, rows, source="bot")
        await session.commit()


async def _timed(chat: Chat, text: str) -> tuple[list[str], float]:
    started = time.perf_counter()
    replies = await chat.say(text)
    replies += chat.session.sent_captions(chat.user.telegram_id, plain=True)  # poster cards
    return replies, time.perf_counter() - started


def _warnings(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if event in r.getMessage()]


@pytest.mark.parametrize("fault", ["hanging", "erroring", "half_erroring", "rate_limited"])
async def test_recommend_answers_from_the_catalog_within_3_s_whatever_tmdb_does(
    online: BotHarness, tmdb_server: FakeTMDBServer, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    match fault:
        case "hanging":  # accepts the connection, never answers
            tmdb_server.knobs.latency_s = 60
        case "erroring":
            tmdb_server.knobs.fail_all = True
        case "half_erroring":
            tmdb_server.knobs.error_rate = 0.5
        case "rate_limited":  # 429 with Retry-After: 5 on everything
            tmdb_server.knobs.burst_429, tmdb_server.knobs.retry_after_s = 1_000, 5
    await _with_history(online, 2101)
    chat = online.chat(2101)

    with caplog.at_level(logging.WARNING):
        replies, elapsed = await _timed(chat, "/recommend")

    cards = [r for r in replies if r.startswith(CARDS)]
    assert len(cards) == 3, replies
    assert elapsed < ANSWER_WITHIN_S, elapsed
    assert tmdb_server.requests, "TMDB was never asked"
    if fault != "half_erroring":  # at 50 % errors the retries may well get through in time
        assert len(_warnings(caplog, "tmdb_degraded")) == 1  # one warning per degraded answer
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_recommend_answers_within_3_s_when_tmdb_refuses_connections(
    dispatcher: Dispatcher,
    session_factory: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with _client(f"http://127.0.0.1:{_closed_port()}/3") as client:
        async for harness in make_harness(dispatcher, session_factory, client):
            await _with_history(harness, 2102)
            with caplog.at_level(logging.WARNING):
                replies, elapsed = await _timed(harness.chat(2102), "/recommend")
    assert len([r for r in replies if r.startswith(CARDS)]) == 3, replies
    assert elapsed < ANSWER_WITHIN_S, elapsed
    assert len(_warnings(caplog, "tmdb_degraded")) == 1


async def test_onboarding_with_tmdb_hanging_shows_the_grid_and_the_picks_within_3_s(
    online: BotHarness, tmdb_server: FakeTMDBServer
) -> None:
    tmdb_server.knobs.latency_s = 60
    chat = online.chat(2103)  # a new user: the grid of popular films first

    replies, elapsed = await _timed(chat, "/recommend")
    assert elapsed < ANSWER_WITHIN_S, elapsed
    assert chat.session.last_keyboard_message(2103) is not None and replies

    started = time.perf_counter()
    picks = await chat.tap("Show picks")
    assert time.perf_counter() - started < ANSWER_WITHIN_S
    assert len([r for r in picks if r.startswith(CARDS)]) == 3, picks


async def test_a_healthy_tmdb_is_still_used_within_the_budget(
    online: BotHarness, tmdb_server: FakeTMDBServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The budget changes nothing when TMDB answers: its related films are asked for and no
    warning is logged."""
    await _with_history(online, 2104)
    with caplog.at_level(logging.WARNING):
        replies, elapsed = await _timed(online.chat(2104), "/recommend")
    assert len([r for r in replies if r.startswith(CARDS)]) == 3
    assert tmdb_server.count("/3/movie/348/recommendations") == 1
    assert tmdb_server.count("/3/discover/movie") == 2
    assert not _warnings(caplog, "tmdb_degraded")
    assert elapsed < ANSWER_WITHIN_S


async def test_review_search_with_tmdb_hanging_answers_from_the_catalog_within_3_s(
    online: BotHarness, tmdb_server: FakeTMDBServer
) -> None:
    """/review's search shares the budget too: the film is found in the catalog."""
    tmdb_server.knobs.latency_s = 60
    chat = online.chat(8301)
    started = time.monotonic()
    [found] = await chat.say("/review Alien 1979")
    assert time.monotonic() - started < ANSWER_WITHIN_S
    assert "Alien (1979)" in found and "How many stars?" in found


async def test_a_typo_tmdb_cannot_find_is_found_in_the_catalog(online: BotHarness) -> None:
    """TMDB's search forgives no typo; the catalog's trigram search does."""
    [found] = await online.chat(8302).say("/review Interstelar 2014")
    assert "Interstellar (2014)" in found and "How many stars?" in found
