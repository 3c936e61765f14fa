"""Catch-all handlers. This router is included LAST: it answers whatever no other handler
took, so every message and every button gets a useful reply."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from bot import texts

router = Router(name=__name__)


@router.message()
async def unknown_message(message: Message) -> None:
    """Text outside any flow, an unknown command, a sticker… → a hint."""
    await message.answer(texts.unknown_text())


@router.callback_query()
async def stale_button(callback: CallbackQuery) -> None:
    """Garbage callback data, a button from a finished flow or of another user's item."""
    await callback.answer(texts.button_invalid(), show_alert=True)
