"""Nothing a user sends is lost: one update at a time per chat (also across two dispatchers,
as two processes would run), review drafts that keep every word, and bad input answered
kindly. Real dispatcher, real PostgreSQL, Telegram faked at the Bot API boundary."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import Chat, Message, Update, User
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bot.fsm import ChatLocks, PostgresStorage, bind_session, flush_state, lock_id
from bot.outage import DatabaseHealth, is_database_unavailable
from db.models import AvoidTopic, FsmState, Review, UserFilm
from db.models import User as DbUser
from db.session import create_session_factory
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


# --- one update at a time, across processes ------------------------------------------------------


async def test_two_dispatchers_never_handle_one_chat_at_once(engine: AsyncEngine) -> None:
    """Two processes' locks, each update in a session of its own, take turns on one key, and
    different keys do not wait for each other."""
    key, other = StorageKey(1, 9, 9), StorageKey(1, 10, 10)
    sessions = create_session_factory(engine)
    first, second = (ChatLocks() for _ in range(2))
    inside: list[str] = []
    overlaps = 0

    async def hold(locks: ChatLocks, name: str, k: StorageKey) -> None:
        nonlocal overlaps
        async with sessions() as session, locks.hold(k, session):
            if k == key and any(n != "other" for n in inside):
                overlaps += 1
            inside.append(name if k == key else "other")
            await asyncio.sleep(0.05)
            inside.remove(name if k == key else "other")
            await session.commit()  # as DatabaseMiddleware does: the commit lets the chat go

    started = asyncio.get_running_loop().time()
    await asyncio.gather(
        *(hold(first if i % 2 else second, f"u{i}", key) for i in range(6)), hold(first, "o", other)
    )
    assert overlaps == 0
    assert asyncio.get_running_loop().time() - started >= 6 * 0.05  # they took turns
    assert lock_id(key) != lock_id(other)


async def test_a_lock_held_in_another_process_is_waited_for(engine: AsyncEngine) -> None:
    key = StorageKey(1, 11, 11)
    async with engine.connect() as other_process:
        await other_process.execute(select(func.pg_advisory_xact_lock(lock_id(key))))
        locks = ChatLocks()
        entered = asyncio.Event()

        async def handle() -> None:
            async with create_session_factory(engine)() as session, locks.hold(key, session):
                entered.set()

        task = asyncio.create_task(handle())
        await asyncio.sleep(0.2)
        assert not entered.is_set()  # still held by the other connection
        await other_process.rollback()
        await asyncio.wait_for(task, 5)
        assert entered.is_set()


async def test_a_chat_held_too_long_elsewhere_is_handled_anyway(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A stuck process must not silence a chat for good: after lock_timeout the update goes
    on in a new transaction of the same session, with a warning."""
    from bot import fsm

    monkeypatch.setattr(fsm, "LOCK_TIMEOUT_SECONDS", 0.3)
    key = StorageKey(1, 13, 13)
    async with engine.connect() as stuck:
        await stuck.execute(select(func.pg_advisory_xact_lock(lock_id(key))))
        started = asyncio.get_running_loop().time()
        with caplog.at_level(logging.WARNING):
            async with create_session_factory(engine)() as session, ChatLocks().hold(key, session):
                assert await session.scalar(select(1)) == 1  # the session still works
        assert 0.3 <= asyncio.get_running_loop().time() - started < 5
        assert any("chat_lock_timeout" in r.getMessage() for r in caplog.records)
        await stuck.rollback()


async def test_state_outlives_the_process(session_factory: async_sessionmaker[AsyncSession]) -> None:
    """What one storage object wrote, a new one (a restarted process) reads."""
    key = StorageKey(bot_id=1, chat_id=5, user_id=5)
    await PostgresStorage(session_factory).set_state(key, "ReviewFlow:more")
    await PostgresStorage(session_factory).set_data(key, {"draft": {"parts": {"3": "é\n"}}})
    restarted = PostgresStorage(session_factory)
    assert await restarted.get_state(key) == "ReviewFlow:more"
    assert await restarted.get_data(key) == {"draft": {"parts": {"3": "é\n"}}}
    await restarted.set_state(key, None)
    assert await restarted.get_state(key) is None
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(FsmState).filter_by(chat_id=5)) == 1
    await restarted.set_data(key, {})  # cleared: no row is left for that chat
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(FsmState).filter_by(chat_id=5)) == 0
    assert await restarted.get_data(key) == {} and await restarted.get_state(key) is None


async def test_an_update_reads_its_state_once_and_writes_it_once(
    connection: AsyncConnection, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """aiogram reads the state, the handler the data, then updates and clears it: one SELECT
    and, at the commit, one statement (here a DELETE: nothing is left to keep)."""
    key = StorageKey(bot_id=1, chat_id=14, user_id=14)
    storage = PostgresStorage(session_factory)
    await storage.set_state(key, "ReviewFlow:text")  # outside an update: written at once
    await storage.set_data(key, {"draft": {"tmdb_id": 348}})
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "fsm_states" in statement:
            statements.append(statement.split()[0])

    event.listen(connection.sync_connection, "before_cursor_execute", record)
    try:
        async with session_factory() as session:
            with bind_session(session):
                context = FSMContext(storage, key)
                assert await context.get_state() == "ReviewFlow:text"
                data = await context.get_data()
                assert data == {"draft": {"tmdb_id": 348}}
                data["draft"]["tmdb_id"] = 1  # a change to the copy is not the stored data
                assert await context.get_data() == {"draft": {"tmdb_id": 348}}
                await context.update_data(parts=["a"])
                await context.clear()
                assert await context.get_state() is None and await context.get_data() == {}
                assert statements == ["SELECT"]  # nothing written before the commit
                assert await flush_state() == 1
            await session.commit()
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", record)
    assert statements == ["SELECT", "DELETE"]
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(FsmState).filter_by(chat_id=14)) == 0


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


async def test_advisory_lock_sql_is_transaction_scoped(engine: AsyncEngine) -> None:
    """The lock is the update's transaction's: once it commits, nobody holds it, and the
    update's own statements ran on the lock's connection."""
    locks = ChatLocks()
    key = StorageKey(1, 12, 12)
    held_query = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()"
    )
    async with create_session_factory(engine)() as session, locks.hold(key, session):
        assert await session.scalar(held_query) == 1
        await session.commit()
    async with engine.connect() as conn:
        held = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
        assert held == 0
