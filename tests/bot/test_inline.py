"""Inline mode (@bot <title>) and the film deep link (/start film_<id>), through the dispatcher."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Dispatcher
from aiogram.methods import AnswerInlineQuery
from aiogram.types import InlineQueryResultArticle, InputTextMessageContent
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import DEMO_CATALOG
from bot.console import ConsoleChat
from bot.inline_ui import CardReview, parse_film_payload
from db.models import Film, RateLimit, RecommendationItem, Review, UserFilm
from integrations.tmdb import TMDBClient
from tests.bot.conftest import BotHarness, Chat, make_harness
from tests.fakes.tmdb_server import FakeTMDBServer

BOT_LINK = "https://t.me/WhatToWatchBot?start=film_"


async def ask_inline(harness: BotHarness, chat: Chat, query: str) -> AnswerInlineQuery:
    """The user types `@bot query`; the bot's answerInlineQuery."""
    update = harness.updates.inline_query(chat.user, query)
    assert update.inline_query is not None
    await harness.dp.feed_update(harness.bot, update, **harness.overrides)
    return chat.session.inline_answers[update.inline_query.id]


def articles(answer: AnswerInlineQuery) -> list[InlineQueryResultArticle]:
    assert all(isinstance(r, InlineQueryResultArticle) for r in answer.results)
    return [r for r in answer.results if isinstance(r, InlineQueryResultArticle)]


def card_of(article: InlineQueryResultArticle) -> str:
    assert isinstance(article.input_message_content, InputTextMessageContent)
    return article.input_message_content.message_text


# --- inline queries ---------------------------------------------------------------------------
async def test_inline_title_offers_films_with_cards_links_and_deep_link(harness: BotHarness) -> None:
    chat = harness.chat(7001)
    answer = await ask_inline(harness, chat, "Alien")
    found = articles(answer)
    assert 1 < len(found) <= 10
    assert found[0].title == "Alien (1979)" and found[0].id == "348"
    assert {"Aliens (1986)", "Alien³ (1992)"} <= {a.title for a in found}
    alien = found[0]
    # one line of synopsis, cut at a word boundary
    assert alien.description and len(alien.description) <= 101 and alien.description.endswith("…")
    assert "\n" not in alien.description and alien.description[:-1] in card_of(alien)
    card = card_of(alien)
    assert card.startswith("<b>Alien</b> (1979)")
    assert 'href="https://letterboxd.com/tmdb/348/"' in card
    assert 'href="https://www.themoviedb.org/movie/348"' in card
    assert alien.reply_markup is not None
    [[button]] = alien.reply_markup.inline_keyboard
    assert button.text == "Get picks like this" and button.url == BOT_LINK + "348"
    assert alien.thumbnail_url is None  # the demo catalog has no posters
    # a title search is the same for everyone: cached, not personal
    assert answer.is_personal is False and answer.cache_time == 300
    assert len(chat.session.sent_texts()) == 0  # nothing is sent to any chat


async def test_inline_with_a_year_and_unknown_title(harness: BotHarness) -> None:
    chat = harness.chat(7002)
    found = articles(await ask_inline(harness, chat, "Aliens 1986"))
    assert found[0].title == "Aliens (1986)"
    answer = await ask_inline(harness, chat, "zzqxv nothing like it")
    assert answer.results == [] and answer.button is not None


async def test_empty_query_shows_the_users_latest_picks(harness: BotHarness) -> None:
    chat = harness.chat(7003)
    answer = await ask_inline(harness, chat, "")
    assert answer.results == [] and answer.is_personal is True
    assert answer.button is not None and answer.button.start_parameter == "inline"

    await chat.say("/recommend")  # a new user: the onboarding grid first
    await chat.tap("Show picks")
    async with harness.session_factory() as session:
        picked = list(
            await session.scalars(select(RecommendationItem.tmdb_id).order_by(RecommendationItem.id))
        )
    assert len(picked) == 3
    answer = await ask_inline(harness, chat, "  ")
    assert sorted(int(a.id) for a in articles(answer)) == sorted(picked)
    assert answer.is_personal is True and answer.cache_time == 5 and answer.button is None
    # someone else's empty query does not show these picks
    other = await ask_inline(harness, harness.chat(7004), "")
    assert other.results == []


async def test_inline_card_texts_are_valid_html_for_awkward_titles(harness: BotHarness) -> None:
    async with harness.session_factory() as session:
        session.add(Film(tmdb_id=990001, title="Tom & Jerry <Live>", year=2021, overview="A & B " * 80))
        await session.commit()
    found = articles(await ask_inline(harness, harness.chat(7005), "Tom & Jerry"))
    assert found[0].title == "Tom & Jerry <Live> (2021)"
    assert "Tom &amp; Jerry &lt;Live&gt;" in card_of(found[0])  # the session parsed it as Telegram does


def test_film_payloads() -> None:
    assert parse_film_payload("film_348") == 348
    for bad in ("film_abc", "film_", "film_0", "film_99999999999", "film_348x", "together", None):
        assert parse_film_payload(bad) is None


# --- /start film_<id> -----------------------------------------------------------------------------
async def test_start_film_opens_its_card_and_review_starts_from_it(harness: BotHarness) -> None:
    chat = harness.chat(7010)
    [card] = await chat.say("/start film_348")
    assert card.startswith("Alien (1979)") and "Letterboxd" in card and "TMDB" in card
    message = chat.session.last_keyboard_message(chat.user.telegram_id)
    assert message is not None and message.reply_markup is not None
    labels = [b.text for row in message.reply_markup.inline_keyboard for b in row]
    assert labels == ["📝 Review", "🔖 Save", "🔁 More like this"]

    [_, question] = await chat.tap("📝 Review")  # the tap's (empty) answer, the question
    assert question.startswith("Alien (1979)") and "How many stars?" in question
    [saved] = await chat.say("4.5 the airlock scene")
    assert "Saved" in saved
    async with harness.session_factory() as session:
        review = await session.scalar(select(Review))
        assert review is not None and review.tmdb_id == 348


async def test_start_film_save_puts_it_on_the_watchlist(harness: BotHarness) -> None:
    chat = harness.chat(7011)
    await chat.say("/start film_679")
    card = chat.session.last_keyboard_message(chat.user.telegram_id)
    [answer] = await chat.tap("🔖 Save")
    assert "Saved to your watchlist" in answer
    async with harness.session_factory() as session:
        saved = select(UserFilm.tmdb_id).where(UserFilm.on_watchlist)
        assert list(await session.scalars(saved)) == [679]
    assert card is not None
    edited = chat.session.last_keyboard_message(chat.user.telegram_id)
    assert edited is not None and edited.reply_markup is not None
    assert "🔖 Saved" in [b.text for row in edited.reply_markup.inline_keyboard for b in row]


@pytest.mark.parametrize("payload", ["film_999999999", "film_abc", "film_0", "film_"])
async def test_start_with_a_broken_film_link_is_friendly(harness: BotHarness, payload: str) -> None:
    chat = harness.chat(7012)
    replies = await chat.say(f"/start {payload}")
    assert len(replies) == 2
    assert "don't know that film" in replies[0]
    assert replies[1].startswith("Hello") or "/recommend" in replies[1]


async def test_plain_start_and_together_link_are_unchanged(harness: BotHarness) -> None:
    chat = harness.chat(7013)
    [plain] = await chat.say("/start")
    [together] = await chat.say("/start together")
    assert together == plain and "/recommend" in plain
    assert "don't know that film" not in plain


async def test_forged_review_button_changes_nothing(harness: BotHarness) -> None:
    chat = harness.chat(7014)
    await chat.say("/start film_348")
    message = chat.session.last_keyboard_message(chat.user.telegram_id)
    assert message is not None
    [answer] = await chat.tap_data(CardReview(tmdb_id=123456789).pack(), message=message)
    assert answer == "This button is no longer valid."
    async with harness.session_factory() as session:
        assert await session.scalar(select(Review)) is None


# --- with TMDB ----------------------------------------------------------------------------------
@pytest.fixture
async def tmdb_server() -> AsyncIterator[FakeTMDBServer]:
    async with FakeTMDBServer(DEMO_CATALOG) as server:
        yield server


@pytest.fixture
async def online(
    tmdb_server: FakeTMDBServer, dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[BotHarness]:
    """The bot with TMDB and an EMPTY catalog."""
    client = TMDBClient(base_url=tmdb_server.base_url, api_key="k", max_attempts=2, backoff_multiplier=0.001)
    async with client:
        async for harness in make_harness(dispatcher, session_factory, client, load_demo=False):
            yield harness


async def test_inline_searches_tmdb_then_the_catalog_over_the_rate_limit(
    online: BotHarness, tmdb_server: FakeTMDBServer
) -> None:
    chat = online.chat(7020)
    answer = await ask_inline(online, chat, "Alien")
    assert tmdb_server.count("/3/search/movie") == 1
    found = articles(answer)
    assert found[0].title == "Alien (1979)" and answer.cache_time == 300
    assert found[0].thumbnail_url == "https://image.tmdb.org/t/p/w92/poster-348.png"  # TMDB's poster
    # typed on at once: over the limit, TMDB is not asked; the catalog (written through) answers
    tmdb_server.reset_log()
    answer = await ask_inline(online, chat, "Aliens")
    assert tmdb_server.count("/3/search/movie") == 0
    assert articles(answer)[0].title == "Aliens (1986)"
    assert answer.cache_time == 5  # a stand-in answer: not cached for long
    # another user has a limit of their own
    await ask_inline(online, online.chat(7021), "Prometheus")
    assert tmdb_server.count("/3/search/movie") == 1
    # once the cooldown has passed (the row forgotten here), TMDB is asked again
    async with online.session_factory() as session:
        await session.execute(delete(RateLimit))
        await session.commit()
    answer = await ask_inline(online, chat, "Alien 1979")
    assert tmdb_server.count("/3/search/movie") == 2
    assert articles(answer)[0].title == "Alien (1979)"


async def test_inline_is_answered_from_the_catalog_when_tmdb_is_down(
    online: BotHarness, tmdb_server: FakeTMDBServer
) -> None:
    chat = online.chat(7022)
    await ask_inline(online, chat, "Alien")  # writes the films through
    async with online.session_factory() as session:
        await session.execute(delete(RateLimit))
        await session.commit()
    tmdb_server.knobs.fail_all = True
    answer = await ask_inline(online, chat, "Alien")
    assert articles(answer)[0].title == "Alien (1979)" and answer.cache_time == 5


async def test_start_film_fetches_a_film_the_catalog_lacks(online: BotHarness, tmdb_server) -> None:
    chat = online.chat(7023)
    [card] = await chat.say("/start film_348")
    assert card.startswith("Alien (1979) · 117 min") and tmdb_server.count("/3/movie/348") == 1
    replies = await chat.say("/start film_999999999")  # TMDB does not know it either
    assert "don't know that film" in replies[0]


# --- the console ------------------------------------------------------------------------------------
async def test_console_inline_and_choose(harness: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in harness.overrides.items():  # the console feeds updates without overrides
        monkeypatch.setitem(harness.dp.workflow_data, key, value)
    out: list[str] = []
    console = ConsoleChat(harness.dp, harness.bot, harness.chat(7030).user, out.append)
    assert ":inline QUERY" in console.banner and ":choose N" in console.banner

    await console.send(":inline Alien")
    assert out[0].startswith("🔎 inline “Alien”: ") and "\n[1] Alien (1979) — " in out[0]
    out.clear()
    await console.send(":choose 1")
    [posted] = out
    assert posted.startswith("📤 Ann posts via @WhatToWatchBot:\nAlien (1979) · 117 min")
    assert "Letterboxd (https://letterboxd.com/tmdb/348/)" in posted and "[1] Get picks like this ↗" in posted
    assert posted.endswith("↗ " + BOT_LINK + "348")
    out.clear()
    await console.send(":choose 99")
    assert out == ["No inline result [99]: send :inline QUERY first."]
    out.clear()
    await console.send(":inline")  # the latest picks: none yet
    assert out[0].startswith("🔎 inline “”: 0 result(s)") and "(/start inline)" in out[0]
