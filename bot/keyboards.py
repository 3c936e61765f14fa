"""Inline keyboards and their typed callback data (Telegram allows 64 bytes: ids only)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from domain.entities import FilmInfo


class PickAction(StrEnum):
    WATCHED = "w"
    SKIP = "s"


class PickCallback(CallbackData, prefix="pick"):
    """✅ / ⏭ under a recommended film; `item_id` is the recommendation item."""

    action: PickAction
    item_id: int


class FilmChoice(CallbackData, prefix="film"):
    """One of the search candidates offered in the review flow."""

    tmdb_id: int


class RatingChoice(CallbackData, prefix="rate"):
    """A star rating button; `halves` = rating × 2 (1 = ½ … 10 = 5)."""

    halves: int


class FlowAction(StrEnum):
    CANCEL = "cancel"
    NO_TEXT = "notext"
    DONE = "done"


class FlowCallback(CallbackData, prefix="flow"):
    action: FlowAction


def stars(halves: int) -> str:
    """Letterboxd-style stars: 9 → "★★★★½"."""
    return "★" * (halves // 2) + ("½" if halves % 2 else "")


def pick_keyboard(item_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Watched"), callback_data=PickCallback(action=PickAction.WATCHED, item_id=item_id))
    kb.button(text=_("⏭ Skip"), callback_data=PickCallback(action=PickAction.SKIP, item_id=item_id))
    return kb.as_markup()


def film_choices_keyboard(films: Sequence[FilmInfo]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for film in films:
        kb.button(text=film.label[:60], callback_data=FilmChoice(tmdb_id=film.tmdb_id))
    kb.button(text=_("❌ Cancel"), callback_data=FlowCallback(action=FlowAction.CANCEL))
    kb.adjust(1)
    return kb.as_markup()


def rating_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for halves in range(1, 11):
        kb.button(text=stars(halves), callback_data=RatingChoice(halves=halves))
    kb.button(text=_("❌ Cancel"), callback_data=FlowCallback(action=FlowAction.CANCEL))
    kb.adjust(5, 5, 1)
    return kb.as_markup()


def review_text_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("💾 Save without a review"), callback_data=FlowCallback(action=FlowAction.NO_TEXT))
    kb.button(text=_("❌ Cancel"), callback_data=FlowCallback(action=FlowAction.CANCEL))
    kb.adjust(1)
    return kb.as_markup()


def done_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Done"), callback_data=FlowCallback(action=FlowAction.DONE))
    return kb.as_markup()
