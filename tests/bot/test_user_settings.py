"""/settings through Dispatcher.feed_update on the real database (demo catalog, no TMDB): the
settings message and its buttons, and every recommendation path honouring the settings
(/recommend, the onboarding grid, the clarifying answer), the "loosen this" hint, persistence
and forged taps."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from aiogram import Dispatcher
from aiogram.types import Message
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.user_settings_ui import ChooseDecade, ChooseWatchlist, DecadeEnd, OpenScreen, Screen, ToggleGenre
from db.models import Film, RecommendationItem, User, UserSettings
from db.repositories.library import LibraryRepository, LogRow
from db.repositories.users import UserRepository
from domain.cf import build_cf_model
from tests.bot.conftest import BotHarness, Chat, make_harness

INVALID = "This button is no longer valid."
CARD_TITLES = ("🎯 Safe pick", "🧭 Something adjacent", "🎲 Wildcard")
QUESTION = "One quick question so my picks fit better:"
HEADER = "⚙️ Your settings"
SCI_FI = [348, 679, 8077, 70981, 157336, 27205, 603, 78, 335984, 62, 329865, 1091, 438631]
ROMANCE = [194, 76, 843, 289, 239, 313369, 4348, 137]


@pytest.fixture
async def harness(
    dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[BotHarness]:
    """The bot on the demo catalog, without the /recommend cooldown (several asks per test)."""
    async for h in make_harness(dispatcher, session_factory, recommend_cooldown_seconds=0):
        yield h


def cards(replies: list[str]) -> list[str]:
    return [r for r in replies if r.startswith(CARD_TITLES)]


def labels(message: Message | None) -> list[str]:
    assert message is not None and message.reply_markup is not None
    return [b.text for row in message.reply_markup.inline_keyboard for b in row]


def settings_message(chat: Chat) -> Message:
    """The settings message as stored now."""
    found = [m for m in chat.session.messages.values() if (m.text or "").startswith("⚙️ <b>Your settings")]
    assert found, "no settings message"
    return found[-1]


async def shown(
    harness: BotHarness, telegram_id: int
) -> list[tuple[int, tuple[str, ...], int | None, int | None]]:
    """(tmdb_id, genres, year, runtime) of every film recommended to a user, in order."""
    async with harness.session_factory() as session:
        rows = await session.execute(
            select(Film.tmdb_id, Film.genres, Film.year, Film.runtime)
            .join(RecommendationItem, RecommendationItem.tmdb_id == Film.tmdb_id)
            .join(User, User.id == RecommendationItem.user_id)
            .where(User.telegram_id == telegram_id)
            .order_by(RecommendationItem.id)
        )
        return [(r.tmdb_id, tuple(r.genres or ()), r.year, r.runtime) for r in rows]


async def stored_settings(
    harness: BotHarness,
) -> list[tuple[int, list[str], int | None, int | None, int | None]]:
    async with harness.session_factory() as session:
        rows = await session.execute(
            select(
                User.telegram_id, UserSettings.excluded_genres, UserSettings.min_year, UserSettings.max_year
            )
            .add_columns(UserSettings.max_runtime)
            .join(User, User.id == UserSettings.user_id)
            .order_by(User.telegram_id)
        )
        return [(r[0], list(r[1]), r[2], r[3], r[4]) for r in rows]


#: A horror fan's few films: Alien, The Shining and Halloween loved, Before Sunrise not.
HORROR_FAN = {348: "5", 694: "5", 948: "4.5", 76: "1.5"}
#: Enough science fiction liked and romance disliked for /recommend to pick at once.
SCI_FI_FAN = {348: "5", 679: "5", 78: "4.5", 603: "5", 194: "1", 76: "1.5"}


async def with_history(chat: Chat) -> None:
    await chat.say("/review Alien (1979)")
    await chat.say("5 perfect")


async def exclude(chat: Chat, *genres: str) -> None:
    await chat.say("/settings")
    await chat.tap("Genres to exclude", message=settings_message(chat))
    for genre in genres:
        await chat.tap(genre, message=settings_message(chat))
    await chat.tap("Back", message=settings_message(chat))


async def decades_and_runtime(chat: Chat, start: str, end: str, runtime: str | None) -> None:
    await chat.say("/settings")
    await chat.tap("From:", message=settings_message(chat))
    await chat.tap(start, message=settings_message(chat))
    await chat.tap("To:", message=settings_message(chat))
    await chat.tap(end, message=settings_message(chat))
    if runtime is not None:
        await chat.tap(runtime, message=settings_message(chat))


# --- the settings message -------------------------------------------------------------------------


async def test_settings_shows_the_defaults_and_each_tap_edits_it_in_place(harness: BotHarness) -> None:
    chat = harness.chat(4101)
    [text] = await chat.say("/settings")
    assert text.startswith(HEADER)
    for line in (
        "🎭 Genres to exclude: none",
        "📅 Decades: any",
        "⏱ Longest runtime: any",
        "🌍 Original languages: any",
        "🔖 Picks from my watchlist: on",
    ):
        assert line in text
    message = settings_message(chat)
    assert labels(message) == [
        "🎭 Genres to exclude",
        "📅 From: any",
        "📅 To: any",
        "⏱ 90 min",
        "⏱ 120 min",
        "⏱ 150 min",
        "✓ Any length",
        "🌍 Original languages",
        "🔖 Picks from my watchlist: on",
        "↩️ Reset",
    ]
    messages_before = len(chat.session.messages)

    await chat.tap("Genres to exclude", message=message)
    grid = labels(settings_message(chat))
    assert grid[0] == "Drama" and "Horror" in grid and grid[-1] == "◀ Back"  # the catalog's genres
    await chat.tap("Horror", message=settings_message(chat))
    await chat.tap("Romance", message=settings_message(chat))
    assert "✓ Horror" in labels(settings_message(chat)) and "✓ Romance" in labels(settings_message(chat))
    await chat.tap("✓ Romance", message=settings_message(chat))  # allowed again
    assert "Romance" in labels(settings_message(chat))
    await chat.tap("Back", message=settings_message(chat))

    await chat.tap("From:", message=settings_message(chat))
    await chat.tap("1980s", message=settings_message(chat))
    await chat.tap("To:", message=settings_message(chat))
    await chat.tap("1990s", message=settings_message(chat))
    await chat.tap("120 min", message=settings_message(chat))
    await chat.tap("Original languages", message=settings_message(chat))
    await chat.tap("All but these", message=settings_message(chat))
    await chat.tap("Japanese", message=settings_message(chat))
    await chat.tap("Back", message=settings_message(chat))
    await chat.tap("Picks from my watchlist", message=settings_message(chat))

    final = settings_message(chat)
    assert final.message_id == message.message_id and len(chat.session.messages) == messages_before
    text = final.text or ""
    for line in (
        "🎭 Genres to exclude: Horror",
        "📅 Decades: 1980s – 1990s",
        "⏱ Longest runtime: 120 min",
        "🌍 Original languages: all but Japanese",
        "🔖 Picks from my watchlist: off",
    ):
        assert line in text
    assert "✓ ⏱ 120 min" in labels(final) and "📅 From: 1980s" in labels(final)
    assert await stored_settings(harness) == [(4101, ["Horror"], 1980, 1999, 120)]
    async with harness.session_factory() as session:
        row = await session.scalar(select(UserSettings))
        assert row is not None and row.languages_exclude == ["ja"] and row.from_watchlist is False

    [answer, reset] = await chat.tap("Reset", message=final)
    assert answer == "Settings reset: every film can be picked again."
    assert "🎭 Genres to exclude: none" in reset and "📅 Decades: any" in reset
    assert await stored_settings(harness) == []


# --- every recommendation path honours them --------------------------------------------------------


async def _rate(session: AsyncSession, telegram_id: int, ratings: dict[int, str]) -> None:
    user = await UserRepository(session).upsert(telegram_id, first_name="Ann", language_code="en")
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    rows = [
        LogRow(t, Decimal(r), True, None, False, False, rated_at=base + dt.timedelta(days=i))
        for i, (t, r) in enumerate(ratings.items())
    ]
    await LibraryRepository(session).merge_log(user.id, rows, source="bot")


async def with_neighbours(session: AsyncSession) -> None:
    """20 users in two taste clusters (science fiction, romance) and their CF model: the
    recommender has neighbours for a user who rated a few of those films."""
    for i in range(10):
        seen = SCI_FI[i % 3 :] + ROMANCE[:1]
        await _rate(session, 7_300 + i, {t: ("5" if t in SCI_FI else "1.5") for t in seen})
    for i in range(10):
        await _rate(session, 8_300 + i, dict.fromkeys(ROMANCE[i % 2 :], "4.5"))
    await build_cf_model(session, min_users=2)


async def test_excluded_horror_stays_out_of_recommend(harness: BotHarness) -> None:
    plain, strict = harness.chat(4201), harness.chat(4202)
    async with harness.session_factory() as session:
        await with_neighbours(session)
        for chat in (plain, strict):  # enough films for picks at once, no question
            await _rate(session, chat.user.telegram_id, SCI_FI_FAN)
        await session.commit()
    await exclude(strict, "Horror")

    rounds = 0
    while not any("Horror" in genres for _id, genres, _y, _r in await shown(harness, 4201)):
        rounds += 1  # the plain user is shown a horror film within a few answers: it would be
        assert rounds <= 5
        assert len(cards(await plain.say("/recommend"))) == 3
        assert len(cards(await strict.say("/recommend"))) == 3

    strict_films = await shown(harness, 4202)
    assert len(strict_films) == 3 * rounds
    assert not any("Horror" in genres for _id, genres, _y, _r in strict_films)


async def test_a_decade_range_and_a_longest_runtime_are_honoured(harness: BotHarness) -> None:
    chat = harness.chat(4203)
    await with_history(chat)
    await decades_and_runtime(chat, "1980s", "2000s", "120 min")

    replies = await chat.say("/recommend")

    assert len(cards(replies)) == 3
    films = await shown(harness, 4203)
    assert len(films) == 3
    assert all(year is not None and 1980 <= year <= 2009 for _id, _g, year, _r in films)
    assert all(runtime is not None and runtime <= 120 for _id, _g, _y, runtime in films)


async def test_excluded_horror_stays_out_of_the_onboarding_grid(harness: BotHarness) -> None:
    async with harness.session_factory() as session:
        horror = set(await session.scalars(select(Film.title).where(Film.genres.contains(["Horror"]))))
    plain, strict = harness.chat(4204), harness.chat(4205)
    await exclude(strict, "Horror")

    for chat in (plain, strict):
        await chat.say("/recommend")  # a new user: the grid of popular films first
    plain_titles = [label.rsplit(" (", 1)[0] for label in labels(plain.session.last_keyboard_message(4204))]
    strict_grid = labels(strict.session.last_keyboard_message(4205))
    strict_titles = [label.rsplit(" (", 1)[0] for label in strict_grid]

    assert horror & set(plain_titles)  # without the setting the grid has horror films
    assert "🎬 Show picks" in strict_grid and len([t for t in strict_grid if " (" in t]) == 8
    assert not horror & set(strict_titles)
    # … and the picks at its end too
    await strict.tap("Show picks")
    films = await shown(harness, 4205)
    assert len(films) == 3 and not any("Horror" in genres for _id, genres, _y, _r in films)


async def test_excluded_horror_stays_out_of_a_clarifying_answer(harness: BotHarness) -> None:
    async with harness.session_factory() as session:
        await with_neighbours(session)
        for telegram_id in (4206, 4207):
            await _rate(session, telegram_id, HORROR_FAN)
        await session.commit()
    plain, strict = harness.chat(4206), harness.chat(4207)
    await exclude(strict, "Horror")

    for chat in (plain, strict):
        [question] = await chat.say("/recommend")
        assert question.startswith(QUESTION)
        assert len(cards(await chat.tap("🌑 Dark"))) == 3  # Horror, Crime or Mystery

    plain_films, strict_films = await shown(harness, 4206), await shown(harness, 4207)
    dark = {"Horror", "Crime", "Mystery"}
    assert all(dark & set(genres) for _id, genres, _y, _r in plain_films + strict_films)
    assert any("Horror" in genres for _id, genres, _y, _r in plain_films)
    assert not any("Horror" in genres for _id, genres, _y, _r in strict_films)


async def test_picks_from_the_watchlist_can_be_turned_off(harness: BotHarness) -> None:
    first, second = harness.chat(4208), harness.chat(4209)
    for chat in (first, second):
        await with_history(chat)
    await first.say("/recommend")
    top = [t for t, _g, _y, _r in await shown(harness, 4208)]
    assert len(top) == 3
    async with harness.session_factory() as session:  # the same films on the second user's watchlist
        user = await UserRepository(session).upsert(4209, first_name="Ann", language_code="en")
        rows = [LogRow(t, None, False, None, False, True) for t in top]
        await LibraryRepository(session).merge_log(user.id, rows, source="letterboxd")
        await session.commit()
    await second.say("/settings")
    await second.tap("Picks from my watchlist: on", message=settings_message(second))

    assert len(cards(await second.say("/recommend"))) == 3
    assert not {t for t, _g, _y, _r in await shown(harness, 4209)} & set(top)


# --- too strict: the bot says what to loosen --------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "advice"),
    [
        (("1920s", "1920s", None), "try allowing more decades"),  # Metropolis alone
        (("2000s", "Any", "90 min"), "try allowing longer films"),  # Jiro Dreams of Sushi alone
    ],
)
async def test_settings_leaving_too_few_films_name_the_one_to_loosen(
    harness: BotHarness, steps: tuple[str, str, str | None], advice: str
) -> None:
    chat = harness.chat(4301)
    await with_history(chat)
    await decades_and_runtime(chat, *steps)

    replies = await chat.say("/recommend")

    assert f"Your settings leave too few films: {advice} (/settings)." in replies
    assert len(cards(replies)) == len(await shown(harness, 4301)) == 1  # what passes is still shown
    assert not any("run out of films" in r for r in replies)


async def test_a_language_setting_too_strict_is_named(harness: BotHarness) -> None:
    chat = harness.chat(4302)
    await with_history(chat)
    await chat.say("/settings")
    await chat.tap("Original languages", message=settings_message(chat))
    await chat.tap("Italian", message=settings_message(chat))  # "only these": one film

    replies = await chat.say("/recommend")

    assert "Your settings leave too few films: try allowing more original languages (/settings)." in replies
    assert [t for t, _g, _y, _r in await shown(harness, 4302)] == [429]  # The Good, the Bad and the Ugly


# --- they stick ----------------------------------------------------------------------------------------


async def test_settings_persist_for_a_new_bot(
    harness: BotHarness, dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    chat = harness.chat(4401)
    await with_history(chat)
    await exclude(chat, "Horror", "Science Fiction")
    await decades_and_runtime(chat, "1970s", "2010s", "150 min")

    # a new bot: a fresh Bot API session, services and conversation storage on the same database
    async for restarted in make_harness(
        dispatcher, session_factory, load_demo=False, recommend_cooldown_seconds=0
    ):
        again = restarted.chat(4401)
        [text] = await again.say("/settings")
        assert "🎭 Genres to exclude: Horror, Science Fiction" in text
        assert "📅 Decades: 1970s – 2010s" in text and "⏱ Longest runtime: 150 min" in text
        assert len(cards(await again.say("/recommend"))) == 3
    films = await shown(harness, 4401)
    assert len(films) == 3
    for _id, genres, year, runtime in films:
        assert not {"Horror", "Science Fiction"} & set(genres)
        assert year is not None and 1970 <= year <= 2019 and runtime is not None and runtime <= 150


# --- forged and foreign taps ---------------------------------------------------------------------------


async def test_forged_settings_taps_change_nothing(harness: BotHarness) -> None:
    owner, intruder = harness.chat(4501), harness.chat(4502)
    await owner.say("/settings")
    message = settings_message(owner)
    forged = [
        ToggleGenre(genre="Nonsense").pack(),  # well-formed, but not a genre offered
        "set_gen:",
        "set_dec:from:1985",
        "set_dec:to:1900",
        "set_dec:sideways:1990",
        "set_run:100",
        "set_run:-1",
        "set_lang:include:xx",
        "set_lang:both:en",
        "set_lmode:maybe",
        "set_wl:2",
        "set_scr:admin",
        "set_reset:1",
    ]
    for data in forged:
        assert await owner.tap_data(data, message=message) == [INVALID], data
    assert settings_message(owner).text == message.text  # the message was not edited
    assert await stored_settings(harness) == []

    # another user's tap on the owner's message (a forwarded or copied button) changes no one's settings
    for data in (
        ToggleGenre(genre="Horror").pack(),
        ChooseDecade(end=DecadeEnd.FROM, decade="1990").pack(),
        ChooseWatchlist(allowed=False).pack(),
        OpenScreen(screen=Screen.GENRES).pack(),
    ):
        assert await intruder.tap_data(data, message=message) == [INVALID], data
    assert settings_message(owner).text == message.text
    assert await stored_settings(harness) == []

    # the owner's own well-formed tap still works
    await owner.tap_data(ToggleGenre(genre="Horror").pack(), message=message)
    assert await stored_settings(harness) == [(4501, ["Horror"], None, None, None)]
    async with harness.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(UserSettings)) == 1
