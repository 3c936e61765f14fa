"""What the bot says and shows for "your ratings": the /ratings list (pages, sort, ✏️ change,
🗑 delete with a confirmation) and the ↩️ Undo button that replaces ✅ / ⏭ / 🚫 on a pick card
after a tap. Texts, keyboards and callback data of the feature (handlers:
bot/handlers/ratings.py; rules: domain/ratings.py, domain/feedback.py).

Callback data carries ids and the view (page, order) only; every handler acts on the tapping
user's own films, so a forged id matches nothing of theirs and changes nothing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.i18n import get_i18n, ngettext
from aiogram.utils.i18n import gettext as _
from aiogram.utils.text_decorations import html_decoration as hd
from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from pydantic import Field

from bot.keyboard_builder import InlineKeyboard
from bot.keyboards import DbId, stars
from domain.feedback import UNDO_WINDOW
from domain.ratings import RatedFilm, RatingsOrder, RatingsPage

#: A /ratings page number in callback data (0-based; 10 films a page).
Page = Annotated[int, Field(ge=0, le=100_000)]
#: A rating in half stars (1 = ½ … 10 = 5).
Halves = Annotated[int, Field(ge=1, le=10)]
#: Longest film title on a button, before "…".
BUTTON_TITLE_CHARS = 40


class RatingsView(CallbackData, prefix="rtp"):
    """◀ / ▶ / the sort toggle / ◀ Back: show page `page` in `order`."""

    page: Page
    order: RatingsOrder


class RatingsEdit(CallbackData, prefix="rte"):
    """✏️ next to a film: offer the stars to change its rating."""

    tmdb_id: DbId
    page: Page
    order: RatingsOrder


class RatingsSet(CallbackData, prefix="rts"):
    """A star button after ✏️: the film's new rating (the review flow's are `rate:`)."""

    tmdb_id: DbId
    halves: Halves
    page: Page
    order: RatingsOrder


class RatingsDelete(CallbackData, prefix="rtd"):
    """🗑 next to a film: ask before deleting."""

    tmdb_id: DbId
    page: Page
    order: RatingsOrder


class DeleteAnswer(StrEnum):
    YES = "y"
    KEEP = "n"


class RatingsDeleteConfirm(CallbackData, prefix="rtx"):
    """Yes / Keep under "Delete your rating and review of …?"."""

    tmdb_id: DbId
    answer: DeleteAnswer
    page: Page
    order: RatingsOrder


class UndoFeedback(CallbackData, prefix="undo"):
    """↩️ Undo under a pick card answered ✅ / ⏭ / 🚫; `item_id` is the recommendation item."""

    item_id: DbId


# --- texts ------------------------------------------------------------------------------------
def _locale() -> Locale:
    try:
        return Locale.parse(get_i18n().current_locale)
    except (LookupError, ValueError, UnknownLocaleError):  # outside an i18n context
        return Locale("en")


def film_title(film: RatedFilm) -> str:
    """'<b>Alien</b> (1979)' (escaped)."""
    return f"<b>{hd.quote(film.title)}</b>" + (f" ({film.year})" if film.year else "")


def rating_line(film: RatedFilm) -> str:
    """'<b>Alien</b> (1979) ★★★★½ · 12 Mar 2025', with 📝 when a review goes with it (the date
    in the user's language; none for an imported rating without one)."""
    line = f"{film_title(film)} {stars(film.halves)}"
    if film.rated_at is not None:
        line += " · " + format_date(film.rated_at.date(), "d MMM y", locale=_locale())
    return line + (" 📝" if film.reviewed else "")


def order_name(order: RatingsOrder) -> str:
    return _("newest first") if order is RatingsOrder.DATE else _("best first")


def page_text(view: RatingsPage) -> str:
    """The list: a head line, then one numbered line per film; or the hint when there are none."""
    if not view.total:
        return ratings_empty()
    head = ngettext("⭐ Your ratings: {n} film", "⭐ Your ratings: {n} films", view.total).format(
        n=view.total
    )
    head += " · " + order_name(view.order)
    if view.pages > 1:
        head += " · " + _("page {page} of {pages}").format(page=view.page + 1, pages=view.pages)
    lines = [f"{n}. {rating_line(film)}" for n, film in enumerate(view.films, start=view.offset + 1)]
    return "\n".join([head, "", *lines])


def ratings_empty() -> str:
    return _(
        "You haven't rated any films yet. Rate one with /review, "
        "or bring your Letterboxd history with /import."
    )


def change_prompt(film: RatedFilm) -> str:
    return _("Change your rating of {film} (now {stars}): tap the new one.").format(
        film=film_title(film), stars=stars(film.halves)
    )


def rating_changed(film: RatedFilm) -> str:
    """A callback answer (plain text, not HTML)."""
    return _("Saved: {title} {stars}").format(title=_short(film.title), stars=stars(film.halves))


def delete_confirm(film: RatedFilm) -> str:
    question = (
        _("Delete your rating and review of {film}?") if film.reviewed else _("Delete your rating of {film}?")
    ).format(film=film_title(film))
    return question + "\n" + _("The film leaves your log, so I may recommend it again.")


def deleted() -> str:
    return _("Deleted.")


def kept() -> str:
    return _("Kept.")


def undone() -> str:
    return _("↩️ Undone: the buttons are back.")


def undone_review_left() -> str:
    return _("↩️ Undone: the buttons are back and that review is cancelled.")


def undone_rating_kept() -> str:
    return _("↩️ Undone: the buttons are back. Your rating stays (change it in /ratings).")


def undo_too_late() -> str:
    minutes = int(UNDO_WINDOW.total_seconds() // 60)
    return ngettext(
        "Too late to undo: that was more than {n} minute ago.",
        "Too late to undo: that was more than {n} minutes ago.",
        minutes,
    ).format(n=minutes)


def _short(title: str, limit: int = BUTTON_TITLE_CHARS) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


# --- keyboards --------------------------------------------------------------------------------
def page_keyboard(view: RatingsPage) -> InlineKeyboardMarkup | None:
    """Per film a row ✏️ n. Title | 🗑 n; then ◀ ▶ (where there is a page to go to) and the
    sort toggle. None without films (Telegram refuses an empty keyboard)."""
    if not view.films:
        return None
    kb = InlineKeyboard()
    for n, film in enumerate(view.films, start=view.offset + 1):
        kb.button(
            text=f"✏️ {n}. {_short(film.title)}",
            callback_data=RatingsEdit(tmdb_id=film.tmdb_id, page=view.page, order=view.order),
        )
        kb.button(
            text=f"🗑 {n}", callback_data=RatingsDelete(tmdb_id=film.tmdb_id, page=view.page, order=view.order)
        )
    nav = 0
    if view.page > 0:
        kb.button(text="◀", callback_data=RatingsView(page=view.page - 1, order=view.order))
        nav += 1
    if view.page < view.pages - 1:
        kb.button(text="▶", callback_data=RatingsView(page=view.page + 1, order=view.order))
        nav += 1
    other = RatingsOrder.RATING if view.order is RatingsOrder.DATE else RatingsOrder.DATE
    kb.button(
        text=_("⭐ Sort by rating") if other is RatingsOrder.RATING else _("📅 Sort by date"),
        callback_data=RatingsView(page=0, order=other),
    )
    kb.adjust(*[2] * len(view.films), *([nav] if nav else []), 1)
    return kb.as_markup()


def change_keyboard(film: RatedFilm, page: int, order: RatingsOrder) -> InlineKeyboardMarkup:
    """½ … 5 stars (the review flow's layout, its own callback data), then ◀ Back."""
    kb = InlineKeyboard()
    for halves in range(1, 11):
        kb.button(
            text=stars(halves),
            callback_data=RatingsSet(tmdb_id=film.tmdb_id, halves=halves, page=page, order=order),
        )
    kb.button(text=_("◀ Back"), callback_data=RatingsView(page=page, order=order))
    kb.adjust(5, 5, 1)
    return kb.as_markup()


def delete_keyboard(film: RatedFilm, page: int, order: RatingsOrder) -> InlineKeyboardMarkup:
    kb = InlineKeyboard()
    for text, answer in ((_("🗑 Yes, delete"), DeleteAnswer.YES), (_("Keep"), DeleteAnswer.KEEP)):
        kb.button(
            text=text,
            callback_data=RatingsDeleteConfirm(tmdb_id=film.tmdb_id, answer=answer, page=page, order=order),
        )
    kb.adjust(2)
    return kb.as_markup()


def undo_keyboard(item_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboard()
    kb.button(text=_("↩️ Undo"), callback_data=UndoFeedback(item_id=item_id))
    return kb.as_markup()


async def edit(message: Message, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Show `text` and `markup` in place of the tapped message. A tap that changes nothing
    (the same page twice) is not an error: Telegram's "message is not modified" is ignored."""
    try:
        await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as exc:
        if "message is not modified" not in exc.message:
            raise


async def set_buttons(message: Message, markup: InlineKeyboardMarkup | None) -> None:
    """Replace the tapped message's buttons (None: take them off); "not modified" is ignored."""
    try:
        await message.edit_reply_markup(reply_markup=markup)
    except TelegramBadRequest as exc:
        if "message is not modified" not in exc.message:
            raise
