"""What the bot says and shows for the watchlist: 🔖 Save (on pick cards and on a /review
result), the /watchlist pages with ✅ Watched, ❌ Remove and ◀ ▶, and /recommend watchlist.

Callback data carries TMDB ids and page numbers only; the handlers (bot/handlers/watchlist.py)
act on the tapping user's own watchlist, so a forged id can at most touch the tapper's list.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.text_decorations import html_decoration as hd

from bot.keyboard_builder import InlineKeyboard
from bot.keyboards import DbId, Index
from bot.texts import film_line
from domain.entities import FilmInfo
from domain.watchlist import SaveOutcome, WatchlistPage

#: Longest film title on a /watchlist button (Telegram shows about this much on a phone).
LABEL_CHARS = 32


class SaveOrigin(StrEnum):
    PICK = "p"  # a pick card: the card stays, its 🔖 becomes "Saved"
    REVIEW = "r"  # a /review result: saving ends the review of that film


class WatchlistSave(CallbackData, prefix="wls"):
    """🔖 Save under a pick card or a /review result."""

    tmdb_id: DbId
    origin: SaveOrigin


class WatchlistTurn(CallbackData, prefix="wlp"):
    """◀ / ▶ under a /watchlist page: show page `page` (0-based)."""

    page: Index


class WatchlistWatched(CallbackData, prefix="wlw"):
    """✅ next to a /watchlist film: start its review."""

    tmdb_id: DbId


class WatchlistRemove(CallbackData, prefix="wlr"):
    """❌ next to a /watchlist film; `page` is the page it was shown on (re-shown after)."""

    tmdb_id: DbId
    page: Index


# --- 🔖 Save ----------------------------------------------------------------------------------
def save_button(tmdb_id: int, origin: SaveOrigin) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("🔖 Save"), callback_data=WatchlistSave(tmdb_id=tmdb_id, origin=origin).pack()
    )


def with_save_button(
    markup: InlineKeyboardMarkup, tmdb_id: int, origin: SaveOrigin, *, before_last: bool = False
) -> InlineKeyboardMarkup:
    """`markup` with a 🔖 Save row: at the end, or before the last row (a ❌ Cancel)."""
    rows = list(markup.inline_keyboard)
    at = len(rows) - 1 if before_last and rows else len(rows)
    rows.insert(at, [save_button(tmdb_id, origin)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def with_saved_label(markup: InlineKeyboardMarkup | None, data: str) -> InlineKeyboardMarkup | None:
    """`markup` with the 🔖 button of callback `data` relabelled "Saved" (tapping it again
    says it is already saved); None when there is no such button."""
    if markup is None:
        return None
    found = False
    rows = []
    for row in markup.inline_keyboard:
        new_row = []
        for button in row:
            if button.callback_data == data:
                found = True
                button = button.model_copy(update={"text": _("🔖 Saved")})
            new_row.append(button)
        rows.append(new_row)
    return InlineKeyboardMarkup(inline_keyboard=rows) if found else None


def save_answer(outcome: SaveOutcome) -> str:
    """The answer to a 🔖 tap (NOT_FOUND is answered as an invalid button)."""
    match outcome:
        case SaveOutcome.SAVED:
            return _("🔖 Saved to your watchlist.")
        case SaveOutcome.ALREADY_SAVED:
            return _("It's already on your watchlist.")
        case _:
            return _("You've already seen this one: it's rated or marked watched.")


def saved_instead_of_review(film: FilmInfo) -> str:
    return _(
        "🔖 {film} is on your watchlist. /watchlist shows it, /recommend watchlist picks from it."
    ).format(film=f"<b>{hd.quote(film.label)}</b>")


# --- /watchlist -----------------------------------------------------------------------------
def empty() -> str:
    return _(
        "Your watchlist is empty. Tap 🔖 Save on a pick from /recommend or on a film you find "
        "with /review, or /import your Letterboxd export: its watchlist comes along."
    )


def page_text(page: WatchlistPage) -> str:
    """The page's films, numbered across pages, under a heading with the total."""
    if not page.films:
        return empty()
    heading = ngettext(
        "🔖 <b>Your watchlist</b> · {n} film", "🔖 <b>Your watchlist</b> · {n} films", page.total
    ).format(n=page.total)
    if page.pages > 1:
        heading += " · " + _("page {page} of {pages}").format(page=page.page + 1, pages=page.pages)
    lines = [f"{number}. {film_line(film)}" for number, film in enumerate(page.films, page.first_number)]
    hint = _(
        "✅ Watched it: rate it (it then leaves the list). ❌ Remove it. /recommend watchlist picks three."
    )
    return "\n".join([heading, "", *lines, "", hint])


def _label(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def page_keyboard(page: WatchlistPage) -> InlineKeyboardMarkup | None:
    """Per film a row ✅ n. Title | ❌ n, then ◀ ▶ where there is a page before or after;
    None for an empty list."""
    if not page.films:
        return None
    kb = InlineKeyboard()
    for number, film in enumerate(page.films, page.first_number):
        kb.row(
            InlineKeyboardButton(
                text=_label(f"✅ {number}. {film.label}"),
                callback_data=WatchlistWatched(tmdb_id=film.tmdb_id).pack(),
            ),
            InlineKeyboardButton(
                text=f"❌ {number}",
                callback_data=WatchlistRemove(tmdb_id=film.tmdb_id, page=page.page).pack(),
            ),
        )
    nav = []
    if page.page > 0:
        nav.append(InlineKeyboardButton(text="◀", callback_data=WatchlistTurn(page=page.page - 1).pack()))
    if page.page < page.pages - 1:
        nav.append(InlineKeyboardButton(text="▶", callback_data=WatchlistTurn(page=page.page + 1).pack()))
    if nav:
        kb.row(*nav)
    return kb.as_markup()


def removed() -> str:
    return _("❌ Removed from your watchlist.")


# --- /recommend watchlist -----------------------------------------------------------------------
def recommend_heading(picks: int) -> str:
    return ngettext(
        "🔖 From your watchlist, for tonight: the one that fits your taste best.",
        "🔖 From your watchlist, for tonight: the {n} that fit your taste best.",
        picks,
    ).format(n=picks)


def recommend_empty() -> str:
    return _(
        "Your watchlist is empty, so there's nothing to pick from. Tap 🔖 Save on a pick from "
        "/recommend or on a film you find with /review, or /import your Letterboxd export."
    )
