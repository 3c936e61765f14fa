"""Telegram flood control around every Bot API call, and users who blocked the bot.

Telegram's limits (Bots FAQ, "My bot is hitting limits, how do I avoid this?",
https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this): avoid more
than one message per second in one chat, 20 messages per minute in one group, and about 30
messages per second overall; past them the Bot API answers HTTP 429 with
`parameters.retry_after`, the seconds to wait (https://core.telegram.org/bots/api#responseparameters),
which aiogram raises as `TelegramRetryAfter`.

`FloodControlMiddleware` (an aiogram request middleware, `bot.session.middleware(...)`):

- **Paces** the methods that send or edit messages (`PACED_METHODS`; not answerCallbackQuery,
  getUpdates, getMe, sendChatAction, …) when they are sent in bulk: from background jobs
  (import progress edits and reports) or to another chat than the one whose update is being
  handled. A reply into the chat of the update being handled (`REPLYING_TO`, set by
  `ReplyContextMiddleware`) is not paced: its volume is bounded by what that user sends, and
  /recommend's four messages must not take four seconds; a 429 is still honoured. Paced:
  each chat gets an aiolimiter leaky bucket of
  `per_chat_rate` sends per second (a burst of one), a group (negative chat id) also one of
  `group_per_minute` per minute, and all of them share one of `global_rate` per second (a
  burst of that many). Buckets are kept for the `max_chats` most recently used chats.
- **Honours 429**: waits `retry_after` seconds and tries again, `max_attempts` attempts in all,
  then re-raises `TelegramRetryAfter`; a `retry_after` longer than `max_retry_after` seconds is
  re-raised at once (no handler should hold an update that long). While a chat waits, other
  sends to that chat wait too.
- **403 Forbidden** (the user blocked the bot, deleted their account, or the bot was removed
  from the group): never retried. For a private chat (positive chat id: the user's Telegram
  id) the user's `users.blocked_at` is set, in a transaction of its own, and a warning is
  logged when it was not set yet; `bot.middlewares.UserMiddleware` clears it as soon as the
  user writes again. Then `BotBlockedError` (a `TelegramForbiddenError`) is raised: the
  errors handler `router` here takes it quietly, so the handler that was answering simply
  stops; background jobs see a `TelegramAPIError` as before. `sendChatAction` ("typing…")
  returns False instead of raising (aiogram's ChatActionSender calls it from a task whose
  exceptions nobody retrieves).
- **A tap answered already** (answerCallbackQuery refused with "query is too old": a tap
  redelivered after a replica died having answered it, or answered past Telegram's
  deadline) returns True: the spinner is gone either way, and the handler goes on with the
  tap's work instead of failing.

Install both request middlewares with `install_request_middlewares(bot, session_factory=...)`.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final, cast

import structlog
from aiogram import BaseMiddleware, Bot, Router
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.filters import ExceptionTypeFilter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import ErrorEvent, TelegramObject
from aiolimiter import AsyncLimiter
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.metrics import METRICS, BotAPIMetricsMiddleware, Metrics
from bot.response_models import ResponseModelsMiddleware
from db.models import User

log = structlog.get_logger(__name__)

#: Bot API methods that post or change a message in a chat: the ones Telegram's flood limits
#: are about (https://core.telegram.org/bots/api#available-methods).
PACED_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendAudio",
        "sendVideo",
        "sendAnimation",
        "sendVoice",
        "sendVideoNote",
        "sendPaidMedia",
        "sendMediaGroup",
        "sendSticker",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPoll",
        "sendDice",
        "sendInvoice",
        "forwardMessage",
        "forwardMessages",
        "copyMessage",
        "copyMessages",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
        "editMessageLiveLocation",
        "stopMessageLiveLocation",
    }
)

#: The chat whose update this task is handling (None in background jobs): sends into it are
#: replies, not bulk, and are not paced. Set by ReplyContextMiddleware.
REPLYING_TO: ContextVar[int | str | None] = ContextVar("replying_to", default=None)


class ReplyContextMiddleware(BaseMiddleware):
    """An outer update middleware: sets `REPLYING_TO` to the update's chat while it is handled."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        chat = data.get("event_chat")
        token = REPLYING_TO.set(chat.id if chat is not None else None)
        try:
            return await handler(event, data)
        finally:
            REPLYING_TO.reset(token)


#: Seconds the blocked_at UPDATE may take; it must never hold up the update being handled.
MARK_TIMEOUT_S = 2.0


#: Telegram's answer to a second answerCallbackQuery, or one after its deadline (Bot API).
QUERY_TOO_OLD: Final = "query is too old"


class BotBlockedError(TelegramForbiddenError):
    """Telegram refused to deliver to `chat_id` (HTTP 403). `marked`: this call set the user's
    `blocked_at` (False when it was set already, the chat is a group, or marking failed)."""

    def __init__(
        self, method: TelegramMethod[Any], message: str, *, chat_id: int | str, marked: bool
    ) -> None:
        super().__init__(method=method, message=message)
        self.chat_id = chat_id
        self.marked = marked


@dataclass
class _ChatPace:
    limiters: tuple[AsyncLimiter, ...]
    #: time.monotonic() before which nothing is sent to this chat (after a 429)
    resume_at: float = 0.0


@dataclass
class _Chats:
    """The most recently used chats' pacing state (an LRU of at most `size` chats)."""

    size: int
    entries: OrderedDict[int | str, _ChatPace] = field(default_factory=OrderedDict)

    def get(self, chat_id: int | str, make: Any) -> _ChatPace:
        entry = self.entries.get(chat_id)
        if entry is None:
            entry = self.entries[chat_id] = make(chat_id)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        else:
            self.entries.move_to_end(chat_id)
        return entry


class FloodControlMiddleware(BaseRequestMiddleware):
    """Pacing, 429 retries and 403 handling for every Bot API call (module docstring).

    Args:
        session_factory: where `users.blocked_at` is set on a 403; None: nothing is recorded.
        per_chat_rate: sends per second to one chat (Telegram's FAQ: about 1).
        group_per_minute: sends per minute to one group (Telegram's FAQ: 20).
        global_rate: sends per second over all chats (Telegram's FAQ: about 30).
        max_attempts: attempts of one call when Telegram answers 429, the first included.
        max_retry_after: seconds; a longer `retry_after` is re-raised without waiting (the
            update waiting holds its chat's lock and a database connection meanwhile).
        max_chats: chats whose rate limiters are kept (least recently used dropped first).
    """

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession] | None = None,
        per_chat_rate: float = 1.0,
        group_per_minute: float = 20.0,
        global_rate: float = 30.0,
        max_attempts: int = 3,
        max_retry_after: float = 30.0,
        max_chats: int = 10_000,
    ) -> None:
        if max_attempts < 1 or per_chat_rate <= 0 or group_per_minute <= 0 or global_rate <= 0:
            raise ValueError("max_attempts and the rates must be positive")
        self.session_factory = session_factory
        self.per_chat_rate = per_chat_rate
        self.group_per_minute = group_per_minute
        self.max_attempts = max_attempts
        self.max_retry_after = max_retry_after
        self._global = AsyncLimiter(global_rate, 1.0)
        self._chats = _Chats(max_chats)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        chat_id: int | str | None = getattr(method, "chat_id", None)
        paced = name in PACED_METHODS and (chat_id is None or chat_id != REPLYING_TO.get())
        attempt = 0
        while True:
            attempt += 1
            if paced:
                await self._pace(chat_id)
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                wait = float(exc.retry_after)
                if attempt >= self.max_attempts or wait > self.max_retry_after:
                    log.warning("telegram_flood_gave_up", method=name, retry_after=wait, attempts=attempt)
                    raise
                log.info("telegram_retry_after", method=name, retry_after=wait, attempt=attempt)
                if chat_id is not None:
                    pace = self._chat(chat_id)
                    pace.resume_at = max(pace.resume_at, time.monotonic() + wait)
                await asyncio.sleep(wait)
            except TelegramForbiddenError as exc:
                if chat_id is None or isinstance(exc, BotBlockedError):
                    raise
                marked = await self._mark_blocked(chat_id)
                if name == "sendChatAction":
                    # "typing…" not shown (its result is a bool): aiogram's ChatActionSender
                    # sends it from a task nobody awaits, where an exception would only be
                    # logged by asyncio as "never retrieved". (aiogram's sessions hand the
                    # method's result up the middleware chain, not a Response, despite the
                    # annotation.)
                    return cast(Response[TelegramType], False)
                raise BotBlockedError(method, exc.message, chat_id=chat_id, marked=marked) from exc
            except TelegramBadRequest as exc:
                if name != "answerCallbackQuery" or QUERY_TOO_OLD not in exc.message:
                    raise
                # a tap redelivered after a replica died having answered it (or answered after
                # Telegram's deadline): the spinner is gone, the tap's work goes on
                log.info("callback_query_too_old", query_id=getattr(method, "callback_query_id", None))
                return cast(Response[TelegramType], True)

    def _chat(self, chat_id: int | str) -> _ChatPace:
        return self._chats.get(chat_id, self._new_chat)

    def _new_chat(self, chat_id: int | str) -> _ChatPace:
        per_chat = AsyncLimiter(1, 1.0 / self.per_chat_rate)
        is_group = isinstance(chat_id, str) or chat_id < 0  # "@channel" or a group's negative id
        if is_group:
            return _ChatPace((per_chat, AsyncLimiter(self.group_per_minute, 60.0)))
        return _ChatPace((per_chat,))

    async def _pace(self, chat_id: int | str | None) -> None:
        """Wait for this chat's turn (a pending 429 pause, then its buckets), then the global one."""
        if chat_id is not None:
            pace = self._chat(chat_id)
            delay = pace.resume_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            for limiter in pace.limiters:
                await limiter.acquire()
        await self._global.acquire()

    async def _mark_blocked(self, chat_id: int | str) -> bool:
        """Set `blocked_at` of the user whose private chat this is; True when it was not set.

        A row locked by another transaction is skipped (SKIP LOCKED): that is the user's own
        update being handled right now, which holds their row until it commits, and waiting
        for it from inside it would never end. The user is marked at the next refused send.
        """
        if self.session_factory is None or not isinstance(chat_id, int) or chat_id <= 0:
            return False
        target = (
            select(User.id)
            .where(User.telegram_id == chat_id, User.blocked_at.is_(None))
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        try:
            async with asyncio.timeout(MARK_TIMEOUT_S), self.session_factory() as session:
                marked = await session.scalar(
                    update(User).where(User.id == target).values(blocked_at=func.now()).returning(User.id)
                )
                await session.commit()
        except Exception as exc:  # the database is away: the next refused send tries again
            log.warning("user_block_not_recorded", tg_user=chat_id, error=type(exc).__name__)
            return False
        if marked is not None:
            log.warning("user_blocked_bot", tg_user=chat_id)
            return True
        log.debug("user_blocked_bot_again", tg_user=chat_id)
        return False


def install_request_middlewares(
    bot: Bot,
    *,
    session_factory: async_sessionmaker[AsyncSession] | None,
    metrics: Metrics = METRICS,
    **flood: Any,
) -> FloodControlMiddleware:
    """Register on `bot.session`, in this order: `ResponseModelsMiddleware` (keeps the models
    that parse the answers alive, bot.response_models), `FloodControlMiddleware(
    session_factory=..., **flood)` (pacing, retries, 403s) and
    `BotAPIMetricsMiddleware(metrics)` (inner: it sees every attempt). Call once per Bot;
    returns the flood middleware.

    Raises:
        ValueError: bad `flood` options (see FloodControlMiddleware).
    """
    middleware = FloodControlMiddleware(session_factory=session_factory, **flood)
    bot.session.middleware(ResponseModelsMiddleware())
    bot.session.middleware(middleware)
    bot.session.middleware(BotAPIMetricsMiddleware(metrics))
    return middleware


#: Errors handler for BotBlockedError: included by `bot.dispatcher.build_dispatcher` before
#: the general errors router, so a send refused with 403 ends the update quietly (the warning
#: was logged once, when the user was marked).
router = Router(name=__name__)


@router.errors(ExceptionTypeFilter(BotBlockedError))
async def chat_unreachable(event: ErrorEvent) -> None:
    error = event.exception
    assert isinstance(error, BotBlockedError)
    log.info("update_left_chat_unreachable", update_id=event.update.update_id, chat_id=error.chat_id)
