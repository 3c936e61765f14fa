"""Nothing a user sends is lost: updates of one chat delivered together, review drafts that
keep every word, bad input answered kindly, and a database outage. Real dispatcher, real
PostgreSQL, Telegram faked at the Bot API boundary. The chat locks and the FSM storage
themselves: tests/bot/test_fsm.py."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest
from aiogram import Dispatcher
from aiogram.types import Chat, Message, Update, User
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.outage import DatabaseHealth, is_database_unavailable
from db.models import AvoidTopic, Review, UserFilm
from db.models import User as DbUser
from tests.bot import conftest as harness_module
from tests.bot.conftest import BotHarness

ALIEN, HEAT = 348, 949
PART1 = "4 " + "A" * 4094
PART2 = "PART2-" + "B" * 1000


async def reviews_of(harness: BotHarness, chat: harness_module.Chat) -> list[Review]:
    async with harness.session_factory() as session:
        stmt = select(Review).join(DbUser, DbUser.id == Review.user_id)
        return list(await session.scalars(stmt.where(DbUser.telegram_id == chat.user.telegram_id)))


async def feed_together(chat: harness_module.Chat, *updates: Update) -> None:
    """Deliver updates at the same time, as aiogram polling does (`handle_as_tasks`)."""
    await asyncio.gather(*(chat.dp.feed_update(chat.bot, u, **chat.overrides) for u in updates))


# --- the review draft ------------------------------------------------------------------------


async def test_split_review_delivered_together_keeps_both_parts_in_order(harness: BotHarness) -> None:
    chat = harness.chat(7001)
    await chat.say("/review Alien 1979")
    first = chat.updates.message(chat.user, PART1)
    second = chat.updates.message(chat.user, PART2)
    await feed_together(chat, second, first)  # the later part even arrives first
    [review] = await reviews_of(harness, chat)
    assert review.rating == Decimal("4") and review.text == "A" * 4094 + "\n" + PART2


async def test_double_delivery_saves_one_review_without_error(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    chat = harness.chat(7002)
    await chat.say("/review Alien 1979")
    update = chat.updates.message(chat.user, "4.5 the chestburster scene")
    with caplog.at_level(logging.ERROR):
        await feed_together(chat, update, update)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    [review] = await reviews_of(harness, chat)
    assert review.text == "the chestburster scene" and review.rating == Decimal("4.5")
    assert not any("went wrong" in t for t in chat.session.sent_texts(7002, plain=True))


async def test_rating_typed_after_the_text_keeps_the_text(harness: BotHarness) -> None:
    chat = harness.chat(7003)
    await chat.say("/review Heat 1995")
    [ask] = await chat.say("great cast but too long")
    assert "Now the rating" in ask
    [saved] = await chat.say("3.5")
    assert "Saved" in saved
    [review] = await reviews_of(harness, chat)
    assert (
        review.tmdb_id == HEAT
        and review.text == "great cast but too long"
        and review.rating == Decimal("3.5")
    )


async def ratings_of(harness: BotHarness, telegram_id: int) -> dict[int, Decimal | None]:
    async with harness.session_factory() as session:
        rows = await session.execute(
            select(UserFilm.tmdb_id, UserFilm.rating)
            .join(DbUser, DbUser.id == UserFilm.user_id)
            .where(DbUser.telegram_id == telegram_id)
        )
        return {row.tmdb_id: row.rating for row in rows.all()}


async def test_a_rating_given_before_another_command_is_saved_not_lost(harness: BotHarness) -> None:
    """ "5", then /recommend instead of a review: the 5★ is kept (and said), then the command
    is answered; /cancel at the same step drops the rating, as it says."""
    chat = harness.chat(7010)
    await chat.say("/review Heat 1995")
    [ask] = await chat.say("5")
    assert "Now your review" in ask
    replies = await chat.say("/help")
    assert replies[0].startswith("Saved: Heat") and "★★★★★" in replies[0]
    assert "/recommend" in replies[-1]  # then /help's own answer
    assert await ratings_of(harness, 7010) == {HEAT: Decimal("5")}
    [rated] = await reviews_of(harness, chat)  # as "💾 Save without a review" does
    assert not rated.text and rated.rating == Decimal("5")

    await chat.say("/review Heat 1995")
    await chat.say("2")
    [cancelled] = await chat.say("/cancel")
    assert "Saved" not in cancelled
    assert await ratings_of(harness, 7010) == {HEAT: Decimal("5")}  # the 2★ was dropped


async def test_a_review_typed_while_candidates_are_shown_waits_for_the_film(harness: BotHarness) -> None:
    chat = harness.chat(7004)
    await chat.say("/review")
    [choose] = await chat.say("Alie")
    assert "Which one" in choose
    [kept] = await chat.say("4,5 the lobby scene")
    assert "keeping it" in kept
    [also_kept] = await chat.say("10/10 perfect")  # a rating, not a search for "Pitch Perfect"
    assert "keeping it" in also_kept
    saved = (await chat.tap("Alien (1979)"))[-1]
    assert "Saved" in saved and "★★★★★" in saved
    [review] = await reviews_of(harness, chat)
    assert review.tmdb_id == ALIEN and review.rating == Decimal("5")
    assert review.text == "the lobby scene\nperfect"


async def test_a_title_starting_with_a_number_is_still_searched(harness: BotHarness) -> None:
    chat = harness.chat(7005)
    await chat.say("/review")
    await chat.say("Alie")
    replies = await chat.say("3 Idiots")  # not a rating form: a title
    assert not any("keeping it" in r for r in replies)


async def test_a_stale_second_star_tap_is_not_an_error(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    chat = harness.chat(7006)
    await chat.say("/review Alien 1979")
    stars = chat.session.last_keyboard_message(7006)
    assert stars is not None
    await chat.tap("★★★★", message=stars)
    with caplog.at_level(logging.WARNING):
        replies = await chat.tap("★★★", message=stars)  # the same, now keyboard-less, message
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not any("went wrong" in r for r in replies)


# --- bad input -------------------------------------------------------------------------------------


def anonymous_admin_update(harness: BotHarness, text: str) -> Update:
    group = Chat(id=-100500, type="supergroup", title="Film club")
    message = Message(
        message_id=1,
        date=0,  # type: ignore[arg-type]
        chat=group,
        from_user=User(id=1087968824, is_bot=True, first_name="Group", username="GroupAnonymousBot"),
        sender_chat=group,
        text=text,
    )
    return Update(update_id=999_001, message=message)


async def test_the_anonymous_group_admin_gets_a_hint_not_an_error(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        for command in ("/start", "/recommend", "/avoid gore", "/myid", "/profile", "/cancel"):
            update = anonymous_admin_update(harness, command)
            await harness.dp.feed_update(harness.bot, update, **harness.overrides)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    sent = harness.bot.session.sent_texts(-100500, plain=True)  # type: ignore[attr-defined]
    assert len(sent) == 6 and all("on behalf of a group" in t for t in sent)


@pytest.mark.parametrize(
    "data", ["avoid:2147483648", "pick:w:9223372036854775808", "imp:2147483648", "film:0", "rate:11"]
)
async def test_out_of_range_ids_in_buttons_are_just_invalid(harness: BotHarness, data: str) -> None:
    chat = harness.chat(7010)
    await chat.say("/review Alien 1979")
    message = chat.session.last_keyboard_message(7010)
    assert message is not None
    assert await chat.tap_data(data, message=message) == ["This button is no longer valid."]


async def test_forged_forget_nonce_with_non_ascii_changes_nothing(harness: BotHarness) -> None:
    chat = harness.chat(7011)
    await chat.say("/review Alien 1979")
    await chat.say("4 fine")
    await chat.say("/forget")
    question = chat.session.last_keyboard_message(7011)
    assert question is not None
    assert await chat.tap_data("forget:y:é", message=question) == ["This button is no longer valid."]
    assert len(await reviews_of(harness, chat)) == 1


async def test_nul_characters_never_reach_the_database(harness: BotHarness) -> None:
    chat = harness.chat(7012)
    [found] = await chat.say("/review Ali\x00en 1979")
    assert "Alien (1979)" in found
    await chat.say("4 so\x00 good")
    [review] = await reviews_of(harness, chat)
    assert review.text == "so good"
    await chat.say("/avoid a\x00b")
    async with harness.session_factory() as session:
        assert await session.scalar(select(AvoidTopic.topic).order_by(AvoidTopic.id.desc()).limit(1)) == "ab"


# --- a database outage -----------------------------------------------------------------------------


def test_connection_errors_are_told_from_query_errors() -> None:
    assert is_database_unavailable(ConnectionRefusedError(111, "refused"))
    try:
        try:
            raise OSError("socket closed")
        except OSError as cause:
            raise RuntimeError("wrapped") from cause
    except RuntimeError as wrapped:
        assert is_database_unavailable(wrapped)
    assert not is_database_unavailable(ValueError("bad value"))


async def test_during_an_outage_help_answers_and_the_rest_says_try_again(
    dispatcher: Dispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    """A session factory whose server refuses connections: /start and /help still answer,
    everything else gets "try again", and the log has one warning, not an error per update."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from tests.bot.conftest import make_harness

    dead = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none", pool_pre_ping=False)
    factory = async_sessionmaker(dead, expire_on_commit=False)
    try:
        async for harness in make_harness(dispatcher, factory, load_demo=False):
            harness.overrides["db_health"] = health = DatabaseHealth()
            chat = harness.chat(7020, first_name="Zoe")
            with caplog.at_level(logging.INFO):
                [hello] = await chat.say("/start")
                [help_] = await chat.say("/help")
                [other] = await chat.say("/recommend")
                [more] = await chat.say("hello?")
            assert "Hi, Zoe!" in hello and "/recommend" in hello and "trouble" in hello
            assert help_.startswith("/review")
            assert "trouble right now" in other and "trouble right now" in more
            assert health.down
            assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
            warnings = [r for r in caplog.records if "database_unavailable" in r.getMessage()]
            assert len(warnings) == 1
            health.ok()
            assert not health.down
    finally:
        await dead.dispose()
