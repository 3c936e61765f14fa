"""Small custom filters."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message


def with_message(callback: CallbackQuery) -> dict[str, Message] | bool:
    """Match callbacks whose message the bot can still edit, and pass it as `message`.

    Buttons on messages older than 48 hours arrive with an InaccessibleMessage; such taps
    fall through to the catch-all ("this button is no longer valid").
    """
    return {"message": callback.message} if isinstance(callback.message, Message) else False
