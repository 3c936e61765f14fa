"""Errors that escaped a handler: logged once with the update's context, and answered with a
friendly message in the user's language. Users never see exception text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from aiogram import Bot, Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import I18n, I18nMiddleware

from bot import texts
from domain.ports import MovieSourceError

router = Router(name=__name__)
log = structlog.get_logger(__name__)


@router.errors(ExceptionTypeFilter(MovieSourceError))
async def movie_source_failed(event: ErrorEvent, bot: Bot, **data: Any) -> None:
    log.warning("tmdb_failed", update_id=event.update.update_id, error=repr(event.exception))
    await _reply(event, bot, data, texts.tmdb_down)


@router.errors()
async def unexpected(event: ErrorEvent, bot: Bot, **data: Any) -> None:
    log.error("update_failed", update_id=event.update.update_id, exc_info=event.exception)
    await _reply(event, bot, data, texts.something_failed)


async def _reply(event: ErrorEvent, bot: Bot, data: dict[str, Any], text: Callable[[], str]) -> None:
    """Answer in the user's language (the i18n middleware's context has exited by now)."""
    i18n: I18n = data["i18n"]  # workflow data, see build_dispatcher
    middleware: I18nMiddleware | None = data.get("i18n_middleware")
    locale = await middleware.get_locale(event.update, data) if middleware else i18n.default_locale
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
