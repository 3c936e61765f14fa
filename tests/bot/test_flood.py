"""Telegram flood control (bot/flood.py): a real aiogram Bot against a fake Bot API on
loopback, users on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import Chat, Message, Update
from aiogram.types import User as TelegramUser
from prometheus_client import CollectorRegistry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import flood
from bot.flood import REPLYING_TO, BotBlockedError, FloodControlMiddleware, install_request_middlewares
from bot.metrics import Metrics
from db.models import User
from db.repositories.users import UserRepository
from tests.bot.conftest import BotHarness
from tests.fakes.mini_bot_api import MiniBotAPI


@pytest.fixture
async def api() -> AsyncIterator[MiniBotAPI]:
    async with MiniBotAPI() as server:
        yield server


@pytest.fixture
async def open_bots() -> AsyncIterator[list[Bot]]:
    bots: list[Bot] = []
    yield bots
    for bot in bots:
        await bot.session.close()


@pytest.fixture
def make_bot(api: MiniBotAPI, open_bots: list[Bot]) -> Any:
    """A real Bot talking to the fake API through FloodControlMiddleware(**options)."""

    def make(session_factory: async_sessionmaker[AsyncSession] | None = None, **options: Any) -> Bot:
        bot = Bot("42:TEST", session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))
        install_request_middlewares(
            bot, session_factory=session_factory, metrics=Metrics(CollectorRegistry()), **options
        )
        open_bots.append(bot)
        return bot

    return make


def sends(api: MiniBotAPI, chat_id: int | None = None) -> list[float]:
    return [at for method, chat, at in api.calls if method == "sendMessage" and chat_id in (None, chat)]


async def test_retry_after_is_waited_then_the_call_succeeds(api: MiniBotAPI, make_bot: Any) -> None:
    bot = make_bot(max_attempts=3)
    api.flood(1, retry_after=1)
    started = time.monotonic()
    message = await bot.send_message(7001, "hello")
    assert message.text == "hello"
    assert time.monotonic() - started >= 1.0
    first, second = sends(api)
    assert second - first >= 1.0


async def test_retry_after_gives_up_after_max_attempts(api: MiniBotAPI, make_bot: Any) -> None:
    bot = make_bot(max_attempts=2)
    api.flood(5, retry_after=1)
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(7002, "hello")
    assert len(sends(api)) == 2  # two attempts, then re-raised


async def test_a_retry_after_longer_than_the_limit_is_not_waited(api: MiniBotAPI, make_bot: Any) -> None:
    bot = make_bot(max_attempts=3, max_retry_after=5)
    api.flood(1, retry_after=30)
    started = time.monotonic()
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(7003, "hello")
    assert time.monotonic() - started < 1.0 and len(sends(api)) == 1


async def test_sends_to_one_chat_are_paced_other_chats_are_not(api: MiniBotAPI, make_bot: Any) -> None:
    bot = make_bot(per_chat_rate=5.0)  # one send per 0.2 s per chat
    started = time.monotonic()
    await asyncio.gather(*(bot.send_message(7004, f"m{i}") for i in range(5)))
    one_chat = time.monotonic() - started
    assert one_chat >= 0.75  # 4 waits of 0.2 s
    times = sends(api, 7004)
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.15

    started = time.monotonic()
    await asyncio.gather(*(bot.send_message(7100 + i, "hi") for i in range(5)))
    assert time.monotonic() - started < 0.5  # five chats: no waiting for each other


async def test_replies_to_the_chat_being_handled_are_not_paced(api: MiniBotAPI, make_bot: Any) -> None:
    """/recommend's four messages go at once; a send to another chat from the same handler, or
    from a background job (no update), is bulk and paced."""
    bot = make_bot(per_chat_rate=1.0, global_rate=100.0)

    async def reply(chat_id: int) -> float:
        token = REPLYING_TO.set(7200)  # as ReplyContextMiddleware does for an update of chat 7200
        try:
            started = time.monotonic()
            for i in range(4):
                await bot.send_message(chat_id, f"card {i}")
            return time.monotonic() - started
        finally:
            REPLYING_TO.reset(token)

    assert await reply(7200) < 0.5  # replies: no pacing
    assert await reply(7201) >= 2.5  # another chat: one per second
    started = time.monotonic()
    for i in range(3):
        await bot.send_message(7202, f"progress {i}")  # a job: paced
    assert time.monotonic() - started >= 1.5


async def test_the_dispatcher_marks_the_chat_being_handled(dispatcher: Dispatcher) -> None:
    seen: list[int | str | None] = []

    async def probe(event: Any, data: dict[str, Any]) -> None:
        seen.append(REPLYING_TO.get())

    middleware = flood.ReplyContextMiddleware()
    chat = type("ChatStub", (), {"id": 7300})()
    await middleware(probe, object(), {"event_chat": chat})  # type: ignore[arg-type]
    await middleware(probe, object(), {})  # type: ignore[arg-type]
    assert seen == [7300, None] and REPLYING_TO.get() is None
    assert any(isinstance(m, flood.ReplyContextMiddleware) for m in dispatcher.update.outer_middleware)


async def test_all_sends_share_the_global_rate(api: MiniBotAPI, make_bot: Any) -> None:
    bot = make_bot(global_rate=10.0, per_chat_rate=100.0)
    started = time.monotonic()
    await asyncio.gather(*(bot.send_message(7200 + i, "hi") for i in range(20)))
    # a burst of 10, then 10 more at 10 per second
    assert time.monotonic() - started >= 0.9


async def test_callback_answers_are_not_paced(api: MiniBotAPI, make_bot: Any) -> None:
    bot = make_bot(per_chat_rate=1.0, global_rate=1.0)
    started = time.monotonic()
    for i in range(5):
        await bot.answer_callback_query(f"q{i}")
    await bot.get_me()
    assert time.monotonic() - started < 2.0  # paced at 1 per second they would take 5 s


async def test_group_chats_also_get_the_per_minute_bucket() -> None:
    flood = FloodControlMiddleware(group_per_minute=20)
    assert len(flood._new_chat(-1001).limiters) == 2 and len(flood._new_chat(5).limiters) == 1


async def test_limiters_are_kept_for_a_bounded_number_of_chats(api: MiniBotAPI, make_bot: Any) -> None:
    bot = make_bot(max_chats=3, per_chat_rate=100.0)
    [flood] = [m for m in bot.session.middleware if isinstance(m, FloodControlMiddleware)]
    for chat_id in range(7300, 7310):
        await bot.send_message(chat_id, "hi")
    assert list(flood._chats.entries) == [7307, 7308, 7309]


async def _user(session_factory: async_sessionmaker[AsyncSession], telegram_id: int) -> User:
    async with session_factory() as session:
        user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
        assert user is not None
        return user


def _update(telegram_id: int, text: str, update_id: int = 1) -> Update:
    return Update(
        update_id=update_id,
        message=Message(
            message_id=update_id,
            date=dt.datetime.now(dt.UTC),
            chat=Chat(id=telegram_id, type="private"),
            from_user=TelegramUser(id=telegram_id, is_bot=False, first_name="Bea", language_code="en"),
            text=text,
        ),
    )


async def test_403_marks_the_user_blocked_once_and_their_next_message_clears_it(
    api: MiniBotAPI,
    make_bot: Any,
    harness: BotHarness,
    session_factory: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    telegram_id = 7400
    async with session_factory() as session:
        await UserRepository(session).upsert(telegram_id, first_name="Bea", language_code="en")
        await session.commit()
    bot = make_bot(session_factory)
    api.blocked.add(telegram_id)

    caplog.set_level(logging.INFO)
    with pytest.raises(BotBlockedError) as first:
        await bot.send_message(telegram_id, "hello")
    assert first.value.marked
    blocked_at = (await _user(session_factory, telegram_id)).blocked_at
    assert blocked_at is not None
    with pytest.raises(BotBlockedError) as second:
        await bot.send_message(telegram_id, "hello again")
    assert not second.value.marked  # already marked: no second warning
    assert len(sends(api, telegram_id)) == 2  # one attempt each, never retried
    warnings = [
        r for r in caplog.records if "user_blocked_bot" in r.getMessage() and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    assert (await _user(session_factory, telegram_id)).blocked_at == blocked_at

    # they unblock the bot and write: the mark is gone
    api.blocked.discard(telegram_id)
    await harness.dp.feed_update(bot, _update(telegram_id, "/help"), **harness.overrides)
    assert (await _user(session_factory, telegram_id)).blocked_at is None


async def test_a_handler_whose_reply_is_refused_ends_quietly(
    api: MiniBotAPI,
    make_bot: Any,
    harness: BotHarness,
    session_factory: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    telegram_id = 7401
    # no session factory: the typing action and the reply are refused at once, and their two
    # UPDATEs cannot share the test's single connection (production has a pool)
    bot = make_bot()
    api.blocked.add(telegram_id)
    caplog.set_level(logging.INFO)
    await harness.dp.feed_update(bot, _update(telegram_id, "/help"), **harness.overrides)
    await asyncio.sleep(0.2)  # let the "typing…" task finish
    assert api.count("sendMessage") == 1  # the reply, refused; no "something went wrong" after it
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_tap_answered_already_is_not_an_error(api: MiniBotAPI, make_bot: Any) -> None:
    """A tap redelivered after a replica died having answered it: Telegram refuses the second
    answer ("query is too old"); the handler must go on with the tap's work."""
    bot = make_bot()
    assert await bot.answer_callback_query("q1") is True
    assert await bot.answer_callback_query("q1") is True  # refused by the API, taken as done
    assert api.count("answerCallbackQuery") == 2
