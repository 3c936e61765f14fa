"""Errors that escaped a handler: answered with a friendly message in the user's language.
Users never see exception text.

- PostgreSQL unreachable: "try again in a minute" (/start and /help still answer, from
  texts alone); `DatabaseHealth` logs one warning when the outage starts and one when it ends.
- TMDB down after the client's retries: a warning and "TMDB isn't answering".
- Telegram refusing an edit that changes nothing (a second tap on a stale button): nothing to
  tell anyone; the tap is acknowledged.
- Anything else: logged once, as an error with the update's context.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import structlog
from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import I18n, I18nMiddleware

from bot import texts
from bot.outage import DatabaseHealth, is_database_unavailable
from domain.ports import MovieSourceError

router = Router(name=__name__)
log = structlog.get_logger(__name__)

#: What Telegram says when an edit would leave the message as it is (Bot API, editMessage*).
NOT_MODIFIED = "message is not modified"


def _database_unavailable(event: ErrorEvent) -> bool:
    return is_database_unavailable(event.exception)


@router.errors(_database_unavailable)
async def database_unavailable(event: ErrorEvent, bot: Bot, db_health: DatabaseHealth, **data: Any) -> None:
    db_health.failed(event.exception)
    message = event.update.message
    command = (message.text or "").split(maxsplit=1)[0].split("@")[0] if message else ""
    if command == "/start" and message is not None:
        name = message.from_user.first_name if message.from_user else None
        await _reply(event, bot, data, lambda: texts.welcome_degraded(name))
    elif command == "/help":
        await _reply(event, bot, data, texts.commands_help)
    else:
        await _reply(event, bot, data, texts.database_down)


@router.errors(ExceptionTypeFilter(MovieSourceError))
async def movie_source_failed(event: ErrorEvent, bot: Bot, **data: Any) -> None:
    log.warning("tmdb_failed", update_id=event.update.update_id, error=repr(event.exception))
    await _reply(event, bot, data, texts.tmdb_down)


@router.errors(ExceptionTypeFilter(TelegramBadRequest), F.exception.message.contains(NOT_MODIFIED))
async def edit_changed_nothing(event: ErrorEvent) -> None:
    log.info("edit_not_modified", update_id=event.update.update_id)
    if event.update.callback_query is not None:
        with contextlib.suppress(Exception):  # already answered by the handler, most likely
            await event.update.callback_query.answer()


@router.errors()
async def unexpected(event: ErrorEvent, bot: Bot, **data: Any) -> None:
    log.error("update_failed", update_id=event.update.update_id, exc_info=event.exception)
    await _reply(event, bot, data, texts.something_failed)


async def _reply(event: ErrorEvent, bot: Bot, data: dict[str, Any], text: Callable[[], str]) -> None:
    """Answer in the user's language (the i18n middleware's context has exited by now)."""
    i18n: I18n = data["i18n"]  # workflow data, see build_dispatcher
    middleware: I18nMiddleware | None = data.get("i18n_middleware")
    locale = i18n.default_locale
    if middleware is not None:
        with contextlib.suppress(Exception):  # the database may be what failed
            locale = await middleware.get_locale(event.update, data)
    else:  # failed before the i18n middleware ran (e.g. loading the FSM state): Telegram's language
        user = data.get("event_from_user")
        code = ((user.language_code if user else None) or "").split("-")[0].lower()
        if code in i18n.available_locales:
            locale = code
    with i18n.context(), i18n.use_locale(locale):
        message = text()
    chat = data.get("event_chat")
    try:
        if event.update.callback_query is not None:
            await event.update.callback_query.answer(message, show_alert=True)
        elif chat is not None:
            await bot.send_message(chat.id, message)
    except Exception:  # the reply itself failed (Telegram down?): already logged above
        log.warning("error_reply_failed", update_id=event.update.update_id)
