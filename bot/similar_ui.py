"""What the bot says and shows for "more like this": /similar <title>, the candidates to choose
from when the title is ambiguous, the 🔁 button on pick cards, and the reasons about the film
asked for (recommender/similar.py's rules) that the picks' cards show.

Callback data carries TMDB ids only; the handlers (bot/handlers/similar.py) answer the tapping
user with picks for them, so a forged id at most asks about another catalog film.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.text_decorations import html_decoration as hd

from bot.keyboard_builder import InlineKeyboard
from bot.keyboards import DbId
from bot.texts import genre_name
from domain.entities import FilmInfo
from recommender.similar import SimilarReason, SimilarReasonKind

#: Reasons shown on one card, most telling first.
REASONS_SHOWN = 3


class SimilarTo(CallbackData, prefix="simt"):
    """🔁 More like this under a pick card: three picks like film `tmdb_id`."""

    tmdb_id: DbId


class SimilarChoice(CallbackData, prefix="simc"):
    """One of the candidates /similar offers for an ambiguous title."""

    tmdb_id: DbId


def more_button(tmdb_id: int) -> InlineKeyboardButton:
    """🔁 for a pick card's 🔖 row (bot/keyboards.pick_keyboard)."""
    return InlineKeyboardButton(text=_("🔁 More like this"), callback_data=SimilarTo(tmdb_id=tmdb_id).pack())


def choices_keyboard(films: Sequence[FilmInfo]) -> InlineKeyboardMarkup:
    """One button per candidate film, one per row."""
    kb = InlineKeyboard()
    for film in films:
        kb.button(text=film.label[:60], callback_data=SimilarChoice(tmdb_id=film.tmdb_id))
    kb.adjust(1)
    return kb.as_markup()


def usage() -> str:
    return _(
        "Which film should I find more like? Send /similar with its title: "
        '"/similar Alien" or "/similar Alien 1979".'
    )


def not_found(query: str) -> str:
    return _("I couldn't find “{query}”. Check the spelling or add the year: /similar Alien 1979.").format(
        query=hd.quote(query)
    )


def choose() -> str:
    return _("Which one do you mean? I'll find films like it.")


def heading(film: FilmInfo, picks: int) -> str:
    return ngettext(
        "🔁 A film like {film} for you:",
        "🔁 {n} films like {film} for you:",
        picks,
    ).format(n=picks, film=f"<b>{hd.quote(film.label)}</b>")


def nothing(film: FilmInfo) -> str:
    return _(
        "I have nothing like {film} that you haven't seen or been shown lately. Try /recommend, "
        "or ask about another film."
    ).format(film=f"<b>{hd.quote(film.label)}</b>")


def reason_text(reason: SimilarReason, film: FilmInfo) -> str:
    """One reason about `film` as a plain sentence (not HTML: the card escapes it)."""
    title, v = film.title, reason.values
    match reason.kind:
        case SimilarReasonKind.SAME_DIRECTOR:
            return _("Same director as {film}: {names}.").format(film=title, names=", ".join(v))
        case SimilarReasonKind.FANS_LOVED:
            return _("Fans of {film} loved it.").format(film=title)
        case SimilarReasonKind.TMDB_SIMILAR:
            return _("TMDB lists it as similar to {film}.").format(film=title)
        case SimilarReasonKind.SHARED_KEYWORDS:
            return _("Like {film}, it's about {keywords}.").format(film=title, keywords=", ".join(v))
        case SimilarReasonKind.SHARED_GENRES:
            return ngettext(
                "Shares {film}'s genre: {genres}.", "Shares {film}'s genres: {genres}.", len(v)
            ).format(film=title, genres=", ".join(genre_name(g) for g in v))
    return ""  # pragma: no cover - every kind is handled above


def explanations(film: FilmInfo, reasons: Mapping[int, Sequence[SimilarReason]]) -> dict[int, str]:
    """tmdb id → the card text of each pick's reasons about `film` (for `send_picks`)."""
    return {
        tmdb_id: " ".join(reason_text(r, film) for r in why[:REASONS_SHOWN])
        for tmdb_id, why in reasons.items()
    }
