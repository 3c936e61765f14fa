"""More like this through Dispatcher.feed_update on the real database (demo catalog, no TMDB):
/similar <title> with its reasons checked against the data, 🔁 on a pick card, the candidates
of an ambiguous title, an unknown title, /settings, the shared cooldown and forged taps."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from aiogram import Dispatcher
from aiogram.types import Message
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import DEMO_CATALOG
from bot.similar_ui import SimilarChoice, SimilarTo
from db.models import Film, Recommendation, RecommendationItem, User, UserFilm
from db.repositories.library import LibraryRepository, LogRow
from db.repositories.users import UserRepository
from domain.cf import build_cf_model
from domain.cf_cache import CFModelCache
from integrations.tmdb import TMDBClient
from recommender.similar import GENRES_MIN_SHARE, KEYWORDS_MIN, SimilarReasonKind, fans_loved
from tests.bot.conftest import BotHarness, Chat, make_harness
from tests.fakes.tmdb_server import FakeTMDBServer

ALIEN, ALIENS = 348, 679
CARD_TITLES = ("🎯 Safe pick", "🧭 Something adjacent", "🎲 Wildcard")
INVALID = "This button is no longer valid."
SCI_FI = [348, 679, 8077, 70981, 157336, 27205, 603, 78, 335984, 62, 329865, 1091, 438631]
ROMANCE = [194, 76, 843, 289, 239, 313369, 4348, 137]
REASON_WORDS = {
    SimilarReasonKind.FANS_LOVED: "Fans of Alien loved it.",
    SimilarReasonKind.TMDB_SIMILAR: "TMDB lists it as similar to Alien.",
    SimilarReasonKind.SHARED_KEYWORDS: "Like Alien, it's about",
    SimilarReasonKind.SHARED_GENRES: "Shares Alien's genre",
    SimilarReasonKind.SAME_DIRECTOR: "Same director as Alien",
}


@pytest.fixture
async def harness(
    dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[BotHarness]:
    """The bot on the demo catalog, without the /recommend cooldown (several asks per test)."""
    async for h in make_harness(dispatcher, session_factory, recommend_cooldown_seconds=0):
        yield h


async def _rate(session: AsyncSession, telegram_id: int, ratings: dict[int, str]) -> int:
    user = await UserRepository(session).upsert(telegram_id, first_name="Ann", language_code="en")
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    rows = [
        LogRow(t, Decimal(r), True, None, False, False, rated_at=base + dt.timedelta(days=i))
        for i, (t, r) in enumerate(ratings.items())
    ]
    await LibraryRepository(session).merge_log(user.id, rows, source="bot")
    return user.id


async def with_neighbours(harness: BotHarness) -> None:
    """20 users in two taste clusters (science fiction, romance) and their CF model."""
    async with harness.session_factory() as session:
        for i in range(10):
            seen = SCI_FI[i % 3 :] + ROMANCE[:1]
            await _rate(session, 7_300 + i, {t: ("5" if t in SCI_FI else "1.5") for t in seen})
        for i in range(10):
            await _rate(session, 8_300 + i, dict.fromkeys(ROMANCE[i % 2 :], "4.5"))
        await build_cf_model(session, min_users=2)
        await session.commit()


async def rate(harness: BotHarness, telegram_id: int, ratings: dict[int, str]) -> None:
    async with harness.session_factory() as session:
        await _rate(session, telegram_id, ratings)
        await session.commit()


def cards(replies: list[str]) -> list[str]:
    return [r for r in replies if r.startswith(CARD_TITLES)]


async def similar_items(harness: BotHarness, telegram_id: int) -> list[tuple[int, str]]:
    """(tmdb id, stored reason JSON) of every "similar" pick shown to the user, in order."""
    async with harness.session_factory() as session:
        rows = await session.execute(
            select(RecommendationItem.tmdb_id, RecommendationItem.reason)
            .join(Recommendation, Recommendation.id == RecommendationItem.recommendation_id)
            .join(User, User.id == Recommendation.user_id)
            .where(User.telegram_id == telegram_id, Recommendation.strategy == "similar")
            .order_by(RecommendationItem.id)
        )
        return [(r.tmdb_id, r.reason or "") for r in rows]


async def seen_by(harness: BotHarness, telegram_id: int) -> set[int]:
    async with harness.session_factory() as session:
        return set(
            await session.scalars(
                select(UserFilm.tmdb_id)
                .join(User, User.id == UserFilm.user_id)
                .where(User.telegram_id == telegram_id)
            )
        )


async def assert_reasons_hold(
    harness: BotHarness, items: list[tuple[int, str]], asked: int, tmdb_related: set[int] | None = None
) -> None:
    """Every stored reason of each pick holds its rule (recommender/similar.py) on the data;
    `tmdb_related`: the films TMDB lists as related to the asked one (None: TMDB offline)."""
    async with harness.session_factory() as session:
        films = {f.tmdb_id: f for f in await session.scalars(select(Film))}
        model = await CFModelCache().get(session)
    ids, weights = model.scores({asked: 1.0})
    cf = {t: w for t, w in zip(ids.tolist(), weights.tolist(), strict=True) if t != asked}
    strongest = max(cf.values(), default=0.0)
    target = films[asked]
    for tmdb_id, stored in items:
        reasons = json.loads(stored)
        assert reasons, f"{tmdb_id} has no reason"
        film = films[tmdb_id]
        for kind, values in reasons:
            assert values[-1] == f"tmdb:{asked}"
            values = values[:-1]
            match SimilarReasonKind(kind):
                case SimilarReasonKind.FANS_LOVED:
                    assert fans_loved(cf.get(tmdb_id, 0.0), strongest) and cf[tmdb_id] > 0
                case SimilarReasonKind.SHARED_GENRES:
                    assert set(values) <= set(target.genres) & set(film.genres)
                    assert len(set(target.genres) & set(film.genres)) >= GENRES_MIN_SHARE * len(target.genres)
                case SimilarReasonKind.SHARED_KEYWORDS:
                    assert set(values) <= set(target.keywords) & set(film.keywords)
                    assert len(set(target.keywords) & set(film.keywords)) >= KEYWORDS_MIN
                case SimilarReasonKind.SAME_DIRECTOR:
                    assert values and set(values) <= set(target.directors) & set(film.directors)
                case SimilarReasonKind.TMDB_SIMILAR if tmdb_related is not None:
                    assert tmdb_id in tmdb_related
                case kind:  # no TMDB offline
                    pytest.fail(f"unexpected reason {kind} offline")


async def test_similar_alien_gives_three_unseen_films_with_reasons_about_alien(harness: BotHarness) -> None:
    await with_neighbours(harness)
    await rate(harness, 4301, {ALIENS: "4.5", 62: "4", 194: "2"})
    chat = harness.chat(4301)

    replies = await chat.say("/similar Alien")

    assert replies[0].startswith("🔁 3 films like Alien (1979) for you")
    shown = cards(replies)
    assert len(shown) == 3
    items = await similar_items(harness, 4301)
    assert len(items) == 3
    picked = {t for t, _ in items}
    assert ALIEN not in picked and not picked & await seen_by(harness, 4301)
    await assert_reasons_hold(harness, items, ALIEN)
    kinds = {kind for _, stored in items for kind, _ in json.loads(stored)}
    assert SimilarReasonKind.FANS_LOVED in kinds  # the CF neighbours made it
    for card, (_, stored) in zip(shown, items, strict=True):
        first = SimilarReasonKind(json.loads(stored)[0][0])
        assert REASON_WORDS[first] in card  # the card says its reasons about Alien
    # each card has ✅ ⏭ 🚫, and 🔖 with 🔁 for its own film
    for message in chat.session.keyboard_messages(4301)[:3]:
        assert message.reply_markup is not None
        rows = [[b.text for b in row] for row in message.reply_markup.inline_keyboard]
        assert ["🔖 Save", "🔁 More like this"] in rows


async def test_offline_without_a_cf_model_the_catalog_still_answers(harness: BotHarness) -> None:
    chat = harness.chat(4302)
    await rate(harness, 4302, {ALIENS: "5"})

    replies = await chat.say("/similar Alien 1979")

    assert len(cards(replies)) == 3
    items = await similar_items(harness, 4302)
    assert ALIEN not in {t for t, _ in items} and ALIENS not in {t for t, _ in items}
    await assert_reasons_hold(harness, items, ALIEN)


async def test_more_like_this_on_a_card(harness: BotHarness) -> None:
    await with_neighbours(harness)
    await rate(harness, 4303, {62: "5", 27205: "4.5", 603: "4"})
    chat = harness.chat(4303)
    assert len(cards(await chat.say("/similar Interstellar"))) == 3
    first = await similar_items(harness, 4303)
    card = chat.session.keyboard_messages(4303)[0]  # the 🎲 card, latest
    assert card.reply_markup is not None
    [more] = [b for row in card.reply_markup.inline_keyboard for b in row if b.text == "🔁 More like this"]
    asked = SimilarTo.unpack(more.callback_data or "").tmdb_id
    async with harness.session_factory() as session:
        title = (await session.get(Film, asked)).title  # type: ignore[union-attr]

    replies = await chat.tap("🔁", message=card)

    assert any(r.startswith("🔁") and title in r for r in replies)
    assert len(cards(replies)) >= 1
    items = (await similar_items(harness, 4303))[len(first) :]
    assert items and asked not in {t for t, _ in items}
    assert not {t for t, _ in items} & {t for t, _ in first}  # shown a moment ago: not again
    await assert_reasons_hold(harness, items, asked)


async def test_an_ambiguous_title_offers_candidates_then_answers_for_the_chosen_one(
    harness: BotHarness,
) -> None:
    await with_neighbours(harness)
    chat = harness.chat(4304)
    await rate(harness, 4304, {62: "4"})

    [choose] = await chat.say("/similar Alie")

    assert "Which one" in choose
    message = chat.session.last_keyboard_message(4304)
    assert message is not None and message.reply_markup is not None
    labels = [b.text for row in message.reply_markup.inline_keyboard for b in row]
    assert "Alien (1979)" in labels and "Aliens (1986)" in labels and len(labels) <= 5
    assert await similar_items(harness, 4304) == []

    replies = await chat.tap("Aliens (1986)")

    assert any(r.startswith("🔁") and "Aliens (1986)" in r for r in replies)
    items = await similar_items(harness, 4304)
    assert len(items) == 3 and ALIENS not in {t for t, _ in items}
    await assert_reasons_hold(harness, items, ALIENS)
    # the candidates are gone; tapping one again (stale) or a forged one changes nothing
    assert message.message_id not in {m.message_id for m in chat.session.keyboard_messages(4304)}
    now = chat.session.messages[(message.chat.id, message.message_id)]  # as Telegram sends it now
    assert await chat.tap_data(SimilarChoice(tmdb_id=ALIENS).pack(), message=now) == [INVALID]
    assert len(await similar_items(harness, 4304)) == 3


async def test_an_unknown_title_gets_the_not_found_answer(harness: BotHarness) -> None:
    chat = harness.chat(4305)

    [answer] = await chat.say("/similar Zzyzx Qwerty Blorp")

    assert answer.startswith("I couldn't find “Zzyzx Qwerty Blorp”")
    [usage] = await chat.say("/similar")
    assert "/similar Alien" in usage
    assert await similar_items(harness, 4305) == []


async def test_excluded_genre_stays_out(harness: BotHarness) -> None:
    await with_neighbours(harness)
    await rate(harness, 4306, {62: "4"})
    chat = harness.chat(4306)
    await chat.say("/settings")
    await chat.tap("Genres")
    await chat.tap("Horror")

    replies = await chat.say("/similar Alien")

    items = await similar_items(harness, 4306)
    assert len(cards(replies)) == len(items) >= 1
    async with harness.session_factory() as session:
        genres = {f.tmdb_id: f.genres for f in await session.scalars(select(Film))}
    assert not any("Horror" in genres[t] for t, _ in items)
    await assert_reasons_hold(harness, items, ALIEN)


async def test_a_forged_more_like_this_changes_nothing(harness: BotHarness) -> None:
    chat = harness.chat(4307)
    await chat.say("/similar Zzyzx Qwerty Blorp")
    message = _last_message(chat)

    assert await chat.tap_data(SimilarTo(tmdb_id=999_999).pack(), message=message) == [INVALID]
    assert await chat.tap_data(SimilarChoice(tmdb_id=ALIEN).pack(), message=message) == [INVALID]
    assert await similar_items(harness, 4307) == []


def _last_message(chat: Chat) -> Message:
    sent = [m for m in chat.session.messages.values() if m.chat.id == chat.user.telegram_id]
    return sent[-1]


async def test_the_recommend_cooldown_covers_similar_and_more_like_this(
    dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async for harness in make_harness(dispatcher, session_factory, recommend_cooldown_seconds=60):
        await rate(harness, 4308, {62: "5", 27205: "4.5"})
        chat = harness.chat(4308)
        await chat.say("/similar Zzyzx Qwerty Blorp")  # no picks: the turn is given back
        assert len(cards(await chat.say("/similar Alien"))) == 3
        card = chat.session.keyboard_messages(4308)[0]

        [wait] = await chat.tap("🔁", message=card)

        assert wait.startswith("Give me a moment: you can ask again in")
        assert len(await similar_items(harness, 4308)) == 3
        [throttled] = await chat.say("/recommend")  # the turn is /recommend's too
        assert throttled.startswith("Give me a moment")


async def test_with_tmdb_its_related_lists_are_candidates_and_reasons(
    dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with FakeTMDBServer(DEMO_CATALOG) as server:
        client = TMDBClient(base_url=server.base_url, api_key="k", max_attempts=2, backoff_multiplier=0.001)
        async with client:
            async for harness in make_harness(
                dispatcher, session_factory, client, recommend_cooldown_seconds=0
            ):
                await rate(harness, 4309, {ALIENS: "5", 62: "4"})
                chat = harness.chat(4309)
                server.reset_log()

                replies = await chat.say("/similar Alien 1979")

                assert server.count("/3/movie/348/similar") == 1
                assert server.count("/3/movie/348/recommendations") == 1
                shown = cards(replies + chat.session.sent_captions(4309, plain=True))  # poster cards too
                assert len(shown) == 3
                alien = server.catalog.films[ALIEN]
                related = {f.id for f in server.catalog.similar(alien)[:20]} | {
                    f.id for f in server.catalog.recommendations(alien)[:20]
                }
                items = await similar_items(harness, 4309)
                assert len(items) == 3 and not {t for t, _ in items} & {ALIEN, ALIENS, 62}
                await assert_reasons_hold(harness, items, ALIEN, related)
                kinds = {kind for _, stored in items for kind, _ in json.loads(stored)}
                assert SimilarReasonKind.TMDB_SIMILAR in kinds
                assert any("TMDB lists it as similar to Alien." in card for card in shown)


async def test_a_shared_director_is_a_reason_when_the_catalog_knows_directors(harness: BotHarness) -> None:
    """The demo catalog has no crew: give Ridley Scott his films (as TMDB's credits would)."""
    scott = {ALIEN, 70981, 78}  # Alien, Prometheus, Blade Runner
    async with harness.session_factory() as session:
        await session.execute(update(Film).where(Film.tmdb_id.in_(scott)).values(directors=["Ridley Scott"]))
        await session.execute(update(Film).where(Film.tmdb_id == 8077).values(directors=["David Fincher"]))
        await session.commit()
    await rate(harness, 4310, {194: "4"})
    chat = harness.chat(4310)

    replies = await chat.say("/similar Alien")

    items = await similar_items(harness, 4310)
    await assert_reasons_hold(harness, items, ALIEN)
    directed = [
        t for t, stored in items if SimilarReasonKind.SAME_DIRECTOR in {k for k, _ in json.loads(stored)}
    ]
    assert directed and set(directed) <= scott - {ALIEN}
    assert any("Same director as Alien: Ridley Scott." in card for card in cards(replies))
