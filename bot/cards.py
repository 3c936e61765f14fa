"""Poster cards: a pick as a photo with a caption (title, year, runtime, genres, director,
leading actors, a one-line synopsis, the reason, the TMDB rating) and a row of links
(Letterboxd, TMDB, IMDb, ▶️ Trailer) under its ✅ ⏭ 🚫 buttons.

A card is a photo only when TMDB is configured (:class:`CardStyle` has an image base URL)
and the film has a poster; otherwise it is a text message (offline: the text card as before,
see `bot.texts.pick_card_explained`). The link row is on every card, and is kept when a tap
replaces the buttons (↩️ Undo, bot/handlers/callbacks.py), so undoing brings the whole
keyboard back (:func:`keep_links`).

Telegram caps a caption at 1,024 characters (UTF-16 code units, after HTML parsing):
:func:`caption` builds it to fit, shortening the synopsis first, then the explanation.
Every film or user text is HTML-escaped here.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import structlog
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.text_decorations import html_decoration as hd

from bot.settings import Settings
from bot.texts import film_line, reason_text, slot_title, stars_value
from domain.entities import FilmInfo
from domain.picks import ShownPick
from domain.where_to_watch import WhereToWatchService

log = structlog.get_logger(__name__)

#: Telegram's caption limit, in characters as it counts them (UTF-16 code units of the text
#: after HTML parsing).
MAX_CAPTION = 1024
#: The synopsis line at most (characters, "…" excluded).
SYNOPSIS_CHARS = 200
#: TMDB's poster size on cards (https://developer.themoviedb.org/docs/image-basics).
POSTER_SIZE = "w500"
#: Leading actors named on a card.
ACTORS = 3
ELLIPSIS = "…"
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True, slots=True)
class CardStyle:
    """How cards look in this deployment: `image_base_url` is TMDB's image root
    ("https://image.tmdb.org/t/p", no trailing slash), None without TMDB (text cards);
    `where` (with TMDB) gives cards their 📺 button and "📺 On Netflix for you" note."""

    image_base_url: str | None = None
    where: WhereToWatchService | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, online: bool, where: WhereToWatchService | None = None
    ) -> CardStyle:
        """Posters (and 📺) only when TMDB is configured (`online`): offline catalogs have none."""
        return cls(settings.tmdb.image_base_url.rstrip("/") if online else None, where if online else None)

    @property
    def online(self) -> bool:
        """TMDB is configured: cards get the 📺 where-to-watch button."""
        return self.image_base_url is not None

    async def notes(self, user_id: int | None, tmdb_ids: list[int]) -> dict[int, str]:
        """tmdb id → "📺 On Netflix for you" for films streaming on the user's services in
        their country (cached offers, or fetched within the update's TMDB budget; a film
        whose offers are not at hand gets no note). Empty offline or without `user_id`."""
        if self.where is None or user_id is None:
            return {}
        from bot.where_ui import for_you_line  # here: bot.where_ui imports bot.keyboards

        found = await self.where.for_you(user_id, tmdb_ids)
        return {tmdb_id: for_you_line(names) for tmdb_id, names in found.items()}

    def poster_url(self, film: FilmInfo) -> str | None:
        """`<image_base_url>/w500<poster_path>`; None without TMDB or without a poster."""
        if self.image_base_url is None or not film.poster_path:
            return None
        return f"{self.image_base_url}/{POSTER_SIZE}{film.poster_path}"


# --- links ------------------------------------------------------------------------------------


def letterboxd_url(tmdb_id: int) -> str:
    """Letterboxd's page for a TMDB id (letterboxd.com/tmdb/<id>/ redirects to the film)."""
    return f"https://letterboxd.com/tmdb/{tmdb_id}/"


def tmdb_url(tmdb_id: int) -> str:
    return f"https://www.themoviedb.org/movie/{tmdb_id}"


def imdb_url(imdb_id: str) -> str:
    return f"https://www.imdb.com/title/{imdb_id}/"


def trailer_url(key: str) -> str:
    return f"https://www.youtube.com/watch?v={key}"


def link_row(film: FilmInfo) -> list[InlineKeyboardButton]:
    """Letterboxd and TMDB (always), IMDb (with an IMDb id), ▶️ Trailer (with a trailer)."""
    row = [
        InlineKeyboardButton(text="Letterboxd", url=letterboxd_url(film.tmdb_id)),
        InlineKeyboardButton(text="TMDB", url=tmdb_url(film.tmdb_id)),
    ]
    if film.imdb_id:
        row.append(InlineKeyboardButton(text="IMDb", url=imdb_url(film.imdb_id)))
    if film.trailer_key:
        row.append(InlineKeyboardButton(text=_("▶️ Trailer"), url=trailer_url(film.trailer_key)))
    return row


def keep_links(
    markup: InlineKeyboardMarkup | None, old: InlineKeyboardMarkup | None
) -> InlineKeyboardMarkup | None:
    """`markup` with the link rows (rows of URL buttons only) of `old` under it, so replacing
    a card's buttons keeps its links; None when there are no buttons at all."""
    rows = list(markup.inline_keyboard) if markup is not None else []
    for row in old.inline_keyboard if old is not None else ():
        if row and all(button.url for button in row) and row not in rows:
            rows.append(list(row))
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


# --- caption ----------------------------------------------------------------------------------


def visible_length(text: str) -> int:
    """The length Telegram counts for an HTML text: tags dropped, entities decoded, UTF-16."""
    return len(html.unescape(_TAG.sub("", text)).encode("utf-16-le")) // 2


def shorten(text: str, limit: int) -> str:
    """`text` (plain, whitespace collapsed) in at most `limit` characters plus "…": cut at the
    last word boundary that fits (mid-word only when a single word is longer than that)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[: limit + 1] else text[:limit]
    return cut[:limit].rstrip(" ,;:.-–—") + ELLIPSIS


def people_lines(film: FilmInfo) -> list[str]:
    """ "Director: …" and "Starring: …" (up to three actors), escaped; none without credits."""
    lines = []
    if film.directors:
        names = ", ".join(film.directors[:2])
        lines.append(
            ngettext("Director: {names}", "Directors: {names}", len(film.directors[:2])).format(
                names=hd.quote(names)
            )
        )
    if film.cast_names:
        lines.append(_("Starring: {names}").format(names=hd.quote(", ".join(film.cast_names[:ACTORS]))))
    return lines


def rating_line(film: FilmInfo) -> str | None:
    """ "⭐ 8.1/10 on TMDB" (the user's number format); None for a film nobody has rated."""
    if film.vote_count <= 0 or film.vote_average <= 0:
        return None
    return _("⭐ {score}/10 on TMDB").format(score=stars_value(film.vote_average))


def caption(
    pick: ShownPick, explanation: str | None = None, *, limit: int = MAX_CAPTION, note: str | None = None
) -> str:
    """The card's HTML text, at most `limit` visible characters: slot, film line, people,
    synopsis (italic, ≤ SYNOPSIS_CHARS), the reason (the language model's `explanation`, or
    the template reasons), the TMDB rating, then `note` (HTML: "📺 On Netflix for you").
    Over the limit the synopsis is shortened (then left out), then the explanation, then the
    people lines go."""
    film = pick.film
    head = [slot_title(pick.slot), film_line(film)]
    people = people_lines(film)
    rating = rating_line(film)
    reason_raw = " ".join(explanation.split()) if explanation else None
    template = " ".join(reason_text(r) for r in pick.reasons[:2])

    def build(synopsis: str | None, reason: str | None, with_people: bool) -> str:
        lines = [*head, *(people if with_people else [])]
        if synopsis:
            lines.append(f"<i>{hd.quote(synopsis)}</i>")
        lines.append(hd.quote(reason) if reason is not None else template)
        if rating:
            lines.append(rating)
        if note:
            lines.append(note)
        return "\n".join(line for line in lines if line)

    overview = " ".join((film.overview or "").split())
    text = build(None, reason_raw, True)
    room = limit - visible_length(text) - 1  # the synopsis line's newline
    if overview and room > len(ELLIPSIS) + 10:
        return build(shorten(overview, min(SYNOPSIS_CHARS, room - len(ELLIPSIS))), reason_raw, True)
    if visible_length(text) <= limit:
        return text
    if reason_raw is not None:  # a long explanation: cut it to what is left
        without_reason = visible_length(build(None, "", True))
        text = build(None, shorten(reason_raw, max(limit - without_reason - len(ELLIPSIS), 0)), True)
        if visible_length(text) <= limit:
            return text
    return build(None, shorten(reason_raw, 200) if reason_raw else None, False)


# --- sending ----------------------------------------------------------------------------------


async def send_card(
    message: Message,
    pick: ShownPick,
    markup: InlineKeyboardMarkup,
    style: CardStyle | None,
    *,
    explanation: str | None = None,
    text_card: str,
    note: str | None = None,
) -> Message:
    """Send one pick: a photo with `caption` when `style` gives the film a poster URL, else
    the `text_card` (what offline cards look like) — or the full caption as text when TMDB is
    configured (the film just has no poster). A poster Telegram refuses (it could not fetch
    the URL) falls back to text too. `note`: a last caption line (CardStyle.notes)."""
    poster = style.poster_url(pick.film) if style is not None else None
    if poster is not None:
        try:
            return await message.answer_photo(
                photo=poster, caption=caption(pick, explanation, note=note), reply_markup=markup
            )
        except TelegramBadRequest as exc:
            log.warning("card_poster_refused", tmdb_id=pick.film.tmdb_id, error=exc.message)
    online = style is not None and style.image_base_url is not None
    return await message.answer(
        caption(pick, explanation, note=note) if online else text_card, reply_markup=markup
    )
