"""Inline keyboards and their typed callback data (Telegram allows 64 bytes: ids only)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from enum import StrEnum
from typing import Annotated

from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from pydantic import Field

from bot.keyboard_builder import InlineKeyboard
from domain.avoid import AvoidTopicInfo
from domain.entities import FilmInfo

#: A row id or TMDB id in callback data: a PostgreSQL `integer` (1 … 2³¹−1). Data outside it
#: (a forged or truncated button) does not unpack, so the button's filter does not match and
#: the catch-all answers "no longer valid" instead of the database rejecting the number.
DbId = Annotated[int, Field(ge=1, le=2**31 - 1)]
#: A position in a short list kept in FSM data.
Index = Annotated[int, Field(ge=0, le=1000)]

#: Prefix of a selected button in toggle keyboards (onboarding films and genres).
CHECK = "✓ "


class PickAction(StrEnum):
    WATCHED = "w"
    SKIP = "s"
    NOT_INTERESTED = "n"


class PickCallback(CallbackData, prefix="pick"):
    """✅ / ⏭ / 🚫 under a recommended film; `item_id` is the recommendation item."""

    action: PickAction
    item_id: DbId


class FilmChoice(CallbackData, prefix="film"):
    """One of the search candidates offered in the review flow."""

    tmdb_id: DbId


class RatingChoice(CallbackData, prefix="rate"):
    """A star rating button; `halves` = rating × 2 (1 = ½ … 10 = 5)."""

    halves: Annotated[int, Field(ge=1, le=10)]


class FlowAction(StrEnum):
    CANCEL = "cancel"
    NO_TEXT = "notext"
    DONE = "done"


class FlowCallback(CallbackData, prefix="flow"):
    action: FlowAction


class AvoidRemove(CallbackData, prefix="avoid"):
    """❌ next to one of the user's avoid topics; `topic_id` is the topic's row id."""

    topic_id: DbId


class ImportUnmatched(CallbackData, prefix="imp"):
    """📄 under an import report: send the films it could not match as CSV."""

    import_id: DbId


class OnboardFilm(CallbackData, prefix="ob_film"):
    """A popular film offered at cold start: tapping it means "I liked it"."""

    tmdb_id: DbId


class OnboardGenre(CallbackData, prefix="ob_genre"):
    """A genre offered at cold start, by its position in the offered list (kept in FSM data)."""

    index: Index


class OnboardDone(CallbackData, prefix="ob_done"):
    """🎬 Show picks: leave onboarding and recommend."""


async def remove_keyboard(message: Message) -> None:
    """Take the buttons off a message the user tapped. A second tap on a message whose
    buttons are already gone (the client had not refreshed yet) changes nothing, so
    Telegram's "message is not modified" is not an error here."""
    try:
        await message.edit_reply_markup(reply_markup=None)
    except TelegramBadRequest as exc:
        if "message is not modified" not in exc.message:
            raise


def stars(halves: int) -> str:
    """Letterboxd-style stars: 9 → "★★★★½"."""
    return "★" * (halves // 2) + ("½" if halves % 2 else "")


def pick_keyboard(
    item_id: int,
    tmdb_id: int | None = None,
    links: Sequence[InlineKeyboardButton] = (),
    *,
    online: bool = False,
) -> InlineKeyboardMarkup:
    """✅ ⏭ 🚫 for recommendation item `item_id`; with `tmdb_id` (the card's film), a 🔖 Save
    row under them (bot/watchlist_ui.py), with 🔁 and, when TMDB is configured (`online`,
    bot/cards.py `CardStyle.online`), 📺 where to watch (bot/where_ui.py); with `links` (URL
    buttons, bot/cards.py `link_row`), a last row of them."""
    if links:
        markup = pick_keyboard(item_id, tmdb_id, online=online)
        return InlineKeyboardMarkup(inline_keyboard=[*markup.inline_keyboard, list(links)])
    kb = InlineKeyboard()
    kb.button(text=_("✅ Watched"), callback_data=PickCallback(action=PickAction.WATCHED, item_id=item_id))
    kb.button(text=_("⏭ Skip"), callback_data=PickCallback(action=PickAction.SKIP, item_id=item_id))
    kb.button(
        text=_("🚫 Not interested"),
        callback_data=PickCallback(action=PickAction.NOT_INTERESTED, item_id=item_id),
    )
    if tmdb_id is None:
        return kb.as_markup()
    from bot import similar_ui, watchlist_ui, where_ui  # here: they import this module's DbId

    markup = watchlist_ui.with_save_button(kb.as_markup(), tmdb_id, watchlist_ui.SaveOrigin.PICK)
    markup.inline_keyboard[-1].append(similar_ui.more_button(tmdb_id))  # 🔁 beside 🔖
    if online:
        markup.inline_keyboard[-1].append(where_ui.watch_button(tmdb_id))  # 📺 beside 🔁
    return markup


def avoid_keyboard(topics: Sequence[AvoidTopicInfo]) -> InlineKeyboardMarkup | None:
    """One ❌ button per topic (None without topics: Telegram refuses an empty keyboard)."""
    if not topics:
        return None
    kb = InlineKeyboard()
    for topic in topics:
        kb.button(text=f"❌ {topic.topic}"[:60], callback_data=AvoidRemove(topic_id=topic.id))
    kb.adjust(1)
    return kb.as_markup()


def onboarding_keyboard(
    films: Sequence[tuple[int, str]],
    genres: Sequence[str],
    *,
    liked: Collection[int] = (),
    selected: Collection[str] = (),
) -> InlineKeyboardMarkup:
    """Films (`(tmdb_id, label)`, one per row) and genres (three per row) to tap, then 🎬.
    Liked films and selected genres are marked "✓ "."""
    kb = InlineKeyboard()
    for tmdb_id, label in films:
        mark = CHECK if tmdb_id in liked else ""
        kb.button(text=f"{mark}{label}"[:60], callback_data=OnboardFilm(tmdb_id=tmdb_id))
    for index, genre in enumerate(genres):
        mark = CHECK if genre in selected else ""
        kb.button(text=f"{mark}{genre}", callback_data=OnboardGenre(index=index))
    kb.button(text=_("🎬 Show picks"), callback_data=OnboardDone())
    genre_rows = [3] * (len(genres) // 3) + ([len(genres) % 3] if len(genres) % 3 else [])
    kb.adjust(*[1] * len(films), *genre_rows, 1)
    return kb.as_markup()


def film_choices_keyboard(films: Sequence[FilmInfo]) -> InlineKeyboardMarkup:
    kb = InlineKeyboard()
    for film in films:
        kb.button(text=film.label[:60], callback_data=FilmChoice(tmdb_id=film.tmdb_id))
    kb.button(text=_("❌ Cancel"), callback_data=FlowCallback(action=FlowAction.CANCEL))
    kb.adjust(1)
    return kb.as_markup()


def rating_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboard()
    for halves in range(1, 11):
        kb.button(text=stars(halves), callback_data=RatingChoice(halves=halves))
    kb.button(text=_("❌ Cancel"), callback_data=FlowCallback(action=FlowAction.CANCEL))
    kb.adjust(5, 5, 1)
    return kb.as_markup()


def review_text_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboard()
    kb.button(text=_("💾 Save without a review"), callback_data=FlowCallback(action=FlowAction.NO_TEXT))
    kb.button(text=_("❌ Cancel"), callback_data=FlowCallback(action=FlowAction.CANCEL))
    kb.adjust(1)
    return kb.as_markup()


def done_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboard()
    kb.button(text=_("✅ Done"), callback_data=FlowCallback(action=FlowAction.DONE))
    return kb.as_markup()


def import_report_keyboard(import_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(
        text=_("📄 Films I couldn't match (CSV)"), callback_data=ImportUnmatched(import_id=import_id)
    )
    return builder.as_markup()


#: /language buttons: each language by its own name (not translated), in this order.
LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "es": "Español", "pt": "Português"}


class LanguageChoice(CallbackData, prefix="lang"):
    """A /language button; `code` is a key of LANGUAGE_NAMES (checked by the service)."""

    code: str


class ForgetAnswer(StrEnum):
    YES = "y"
    KEEP = "n"


class ForgetConfirm(CallbackData, prefix="forget"):
    """Yes / Keep under the /forget question. `nonce` is the random token stored in that
    user's FSM data when the question was asked: a forged, stale or other user's tap does not match."""

    answer: ForgetAnswer
    nonce: str


def language_keyboard(current: str) -> InlineKeyboardMarkup:
    """Two buttons per row; the current language is marked "✓ "."""
    kb = InlineKeyboard()
    for code, name in LANGUAGE_NAMES.items():
        kb.button(text=(CHECK if code == current else "") + name, callback_data=LanguageChoice(code=code))
    kb.adjust(2)
    return kb.as_markup()


def forget_keyboard(nonce: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboard()
    for text, answer in (
        (_("🗑 Yes, delete everything"), ForgetAnswer.YES),
        (_("Keep my data"), ForgetAnswer.KEEP),
    ):
        kb.button(text=text, callback_data=ForgetConfirm(answer=answer, nonce=nonce))
    kb.adjust(1)
    return kb.as_markup()


class ClarifyAnswer(CallbackData, prefix="clar"):
    """An answer to the clarifying question, by its position among the offered options (the
    question is kept in FSM data, see bot/handlers/clarify.py)."""

    index: Index


class ClarifySkip(CallbackData, prefix="clar_skip"):
    """🎬 Just recommend: skip the clarifying question."""


def clarify_keyboard(labels: Sequence[str]) -> InlineKeyboardMarkup:
    """The options (two per row, in order), then 🎬 Just recommend on its own row."""
    kb = InlineKeyboard()
    for index, label in enumerate(labels):
        kb.button(text=label[:60], callback_data=ClarifyAnswer(index=index))
    kb.button(text=_("🎬 Just recommend"), callback_data=ClarifySkip())
    kb.adjust(*[2] * (len(labels) // 2), *([1] if len(labels) % 2 else []), 1)
    return kb.as_markup()
