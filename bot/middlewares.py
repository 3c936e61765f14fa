"""Middlewares, outermost first (after aiogram's user context and our metrics): log context →
NUL characters out → DB session, chat lock + services → (aiogram's FSM state, read in that
session) → user → i18n (the user's /language choice, else Telegram's language) → throttle."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import procrastinate
import structlog
from aiogram import BaseMiddleware
from aiogram.dispatcher.flags import get_flag
from aiogram.dispatcher.middlewares.user_context import (
    EVENT_CHAT_KEY,
    EVENT_CONTEXT_KEY,
    EVENT_FROM_USER_KEY,
    UserContextMiddleware,
)
from aiogram.enums import ChatType
from aiogram.fsm.context import FSMContext
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.types import Chat as TelegramChat
from aiogram.types import Message, TelegramObject, Update
from aiogram.types import User as TelegramUser
from aiogram.utils.chat_action import ChatActionSender
from aiogram.utils.i18n import I18n, SimpleI18nMiddleware
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.flows import review
from bot.fsm import ChatLocks, bind_session, flush_state
from bot.jobs import JobOutbox
from bot.outage import DatabaseHealth
from bot.services import ServiceFactory
from bot.settings import Settings
from db.models import User
from db.repositories.rate_limits import RateLimitRepository
from db.repositories.users import UserRepository

log = structlog.get_logger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class LogContextMiddleware(BaseMiddleware):
    """Binds update id, its type and the Telegram user id to every log line of this update."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        user: TelegramUser | None = data.get("event_from_user")
        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(
            update_id=event.update_id, update_type=event.event_type, tg_user=user.id if user else None
        ):
            result = await handler(event, data)
            log.debug("update_done", elapsed_ms=round((time.perf_counter() - started) * 1000, 1))
            return result


class CommandLeavesFlowMiddleware(BaseMiddleware):
    """A command always wins over a flow: any "/command" leaves the current flow before
    routing, so flow handlers never see it. `left_state` tells /cancel what was left. A
    rating given in /review whose text had not come yet is saved first (anything but /cancel:
    `bot.flows.review.keep_rating_on_leave`)."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        data["left_state"] = None
        if isinstance(event, Message) and (event.text or "").startswith("/") and data.get("raw_state"):
            state: FSMContext = data["state"]
            data["left_state"] = data["raw_state"]
            command = (event.text or "").split(maxsplit=1)[0].split("@")[0]
            if data["raw_state"] == review.ReviewFlow.text.state and command != "/cancel":
                draft = (await state.get_data()).get(review.DRAFT)
                await review.keep_rating_on_leave(
                    event, draft, data["user"], data["reviews"], data["catalog"]
                )
            await state.clear()
            data["raw_state"] = None
        return await handler(event, data)


class NulCharactersMiddleware(BaseMiddleware):
    """Removes NUL characters from everything an update carries (texts, captions, names,
    callback data, file names): PostgreSQL text and JSONB cannot hold them, and no one types
    them on purpose. An update without any is passed on untouched (one scan of its JSON)."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        if "\\u0000" not in event.model_dump_json(exclude_none=True):
            return await handler(event, data)
        cleaned = Update.model_validate(
            _without_nul(event.model_dump(exclude_none=True)), context={"bot": data["bot"]}
        )
        context = UserContextMiddleware.resolve_event_context(cleaned)
        data.update(
            {EVENT_CONTEXT_KEY: context, EVENT_FROM_USER_KEY: context.user, EVENT_CHAT_KEY: context.chat}
        )
        log.info("nul_characters_removed")
        return await handler(cleaned, data)


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


class DatabaseMiddleware(BaseMiddleware):
    """One AsyncSession, and one transaction, per update: committed when the handler returns,
    rolled back if it raises. With `locks` (bot.fsm.ChatLocks), the chat's lock is the first
    statement of that transaction, so one update at a time per chat (`fsm`: aiogram's FSM
    middleware, which names the chat's key) holds across processes, and the commit releases
    it. The per-update services are built around the session, and the FSM storage reads and
    writes through it (`bot.fsm.bind_session`; aiogram's FSM middleware runs after this one),
    so a state change commits with the data it points at.

    `session_factory` and `service_factory` come from the dispatcher's workflow data (see
    `build_dispatcher`), so a test can hand its own to `feed_update`. Background jobs the
    services asked for are deferred after the commit, on `job_app` when there is one.
    A successful commit tells `db_health` the database is reachable.
    """

    def __init__(self, fsm: FSMContextMiddleware, locks: ChatLocks | None = None) -> None:
        self.fsm = fsm
        self.locks = locks

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        session_factory: async_sessionmaker[AsyncSession] = data["session_factory"]
        services: ServiceFactory = data["service_factory"]
        health: DatabaseHealth = data["db_health"]
        context = self.fsm.resolve_event_context(data["bot"], data) if self.locks is not None else None
        outbox = JobOutbox()
        # the chat is let go after the session has closed (a failed update's rollback included)
        async with contextlib.AsyncExitStack() as held, session_factory() as session:
            if context is not None and self.locks is not None:
                await held.enter_async_context(self.locks.hold(context.key, session))
            data["session"] = session
            data.update(services.bind(session, outbox))
            with bind_session(session):
                result = await handler(event, data)
                await flush_state()  # the FSM state the update changed, with its work
                await session.commit()
        health.ok()
        job_app: procrastinate.App | None = data.get("job_app")
        if job_app is not None:
            await outbox.flush(job_app)
        return result


class UserMiddleware(BaseMiddleware):
    """Creates the user on first contact (and refreshes name/language) and passes `user`.
    A user marked as having blocked the bot (`blocked_at`, bot.flood) is unmarked: they are
    writing to it again.

    An update with no person behind it (a channel post, a message sent on behalf of a group
    by its anonymous admin or a linked channel, another bot) is not handled: every handler
    acts for a user. A command sent that way gets a short explanation instead.
    """

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: TelegramUser | None = data.get("event_from_user")
        if tg_user is None or tg_user.is_bot:
            assert isinstance(event, Update)
            message = event.message
            if message is not None and (message.text or "").startswith("/"):
                i18n: I18n = data["i18n"]  # no user, no language: the default one
                with i18n.context(), i18n.use_locale(i18n.default_locale):
                    await message.answer(texts.speak_as_yourself())
            log.info("update_without_user_ignored")
            return None
        session: AsyncSession = data["session"]
        chat: TelegramChat | None = data.get(EVENT_CHAT_KEY)
        user = data["user"] = await UserRepository(session).upsert(
            tg_user.id,
            first_name=tg_user.first_name,
            language_code=tg_user.language_code,
            private=chat is not None and chat.type == ChatType.PRIVATE,
        )
        if user.blocked_at is not None:  # they write again: Telegram delivers again (bot.flood)
            user.blocked_at = None  # one UPDATE, flushed with the update's transaction
            log.info("user_unblocked_bot")
        return await handler(event, data)


class UserLocaleMiddleware(SimpleI18nMiddleware):
    """The locale of an update: the user's /language choice (`users.language`), else their
    Telegram `language_code` ("pt-br" → "pt"), else English (the source language).

    Runs after UserMiddleware, whose `user` row carries the choice, so it needs no query of
    its own. The locale is kept in the update's data (LOCALE_KEY): the error handler asks
    again after the session has closed, and gets the same answer.
    """

    LOCALE_KEY = "user_locale"

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        cached: str | None = data.get(self.LOCALE_KEY)
        if cached is not None:
            return cached
        user: User | None = data.get("user")
        choice = user.language if user is not None else None
        if choice is not None and (
            choice == self.i18n.default_locale or choice in self.i18n.available_locales
        ):
            locale = choice
        else:
            locale = await super().get_locale(event, data)
        data[self.LOCALE_KEY] = locale
        return locale


#: Seconds a flagged handler runs before "typing…" is shown (aiogram's ChatActionSender
#: `initial_sleep`): an answer that comes sooner needs no chat action, and costs no Bot API call.
CHAT_ACTION_DELAY_SECONDS = 0.5


class ChatActionMiddleware(BaseMiddleware):
    """ "typing…" (or the flag's action) while a message handler flagged `chat_action` runs
    longer than CHAT_ACTION_DELAY_SECONDS, repeated every 5 s (aiogram's ChatActionSender).
    aiogram's own ChatActionMiddleware sends one for every message handler at once, flagged
    or not: a sendChatAction per message, even for /help."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        action = get_flag(data, "chat_action")
        if action is None or not isinstance(event, Message):
            return await handler(event, data)
        async with ChatActionSender(
            bot=data["bot"],
            chat_id=event.chat.id,
            action=str(action),
            message_thread_id=event.message_thread_id if event.is_topic_message else None,
            initial_sleep=CHAT_ACTION_DELAY_SECONDS,
        ):
            return await handler(event, data)


#: What a rate-limited handler returns when its reply was not an answer (an onboarding grid, a
#: clarifying question, a wish it could not read): ThrottleMiddleware then gives the user's
#: turn back.
NOT_AN_ANSWER = object()


class ThrottleMiddleware(BaseMiddleware):
    """Per-user cooldown for handlers flagged `rate_limit="<key>"` (message handlers).

    The check and the record are one atomic statement in the update's transaction, so a
    command that fails (and rolls back) does not use up the user's turn; nor does one whose
    handler returns NOT_AN_ANSWER (the record is deleted in the same transaction).
    """

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        key = get_flag(data, "rate_limit")
        user: User | None = data.get("user")
        settings: Settings = data["settings"]
        cooldown = dt.timedelta(seconds=settings.bot.recommend_cooldown_seconds)
        if key is None or user is None or not cooldown:
            result = await handler(event, data)
            return None if result is NOT_AN_ANSWER else result
        limits = RateLimitRepository(data["session"])
        wait = await limits.try_acquire(user.id, key, cooldown)
        if wait > 0:
            log.info("throttled", key=key, wait_s=round(wait, 1))
            if isinstance(event, Message):
                await event.answer(texts.wait_seconds(math.ceil(wait)))
            return None
        result = await handler(event, data)
        if result is NOT_AN_ANSWER:
            await limits.release(user.id, key)
            return None
        return result
