"""What the bot says and shows for inline mode (`@bot <title>` in any chat) and for a film
opened by the deep link `t.me/<bot>?start=film_<id>`: the inline results, the card they post
(title line, synopsis, Letterboxd and TMDB links, a "Get picks like this" deep-link button),
and the film's card in the bot with 📝 Review, 🔖 Save and 🔁 More like this.

Callback data carries TMDB ids only; the handlers (bot/handlers/inline.py) act on the
tapping user's own data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InlineQueryResultUnion,
    InputTextMessageContent,
    LinkPreviewOptions,
)
from aiogram.utils.deep_linking import create_deep_link
from aiogram.utils.i18n import gettext as _
from aiogram.utils.text_decorations import html_decoration as hd

from bot import similar_ui, watchlist_ui
from bot.cards import letterboxd_url, shorten, tmdb_url
from bot.keyboards import DbId
from bot.texts import film_line
from bot.watchlist_ui import SaveOrigin
from domain.entities import FilmInfo

#: Deep-link payload of a film: `/start film_348` (Telegram allows [A-Za-z0-9_-]{1,64}).
FILM_PAYLOAD: Final = "film_"
_FILM_PAYLOAD = re.compile(r"film_(\d{1,10})")
#: Characters of the synopsis under an inline result's title (one line on a phone; "…" excluded).
DESCRIPTION_CHARS: Final = 100
#: Characters of the synopsis on a card ("…" excluded).
SYNOPSIS_CHARS: Final = 300
#: TMDB's thumbnail size (https://developer.themoviedb.org/docs/image-basics).
THUMBNAIL_SIZE: Final = "w92"
#: Deep-link payload of the button shown over an empty inline answer (plain /start).
START_FROM_INLINE: Final = "inline"


class CardReview(CallbackData, prefix="crv"):
    """📝 Review on a film's card opened by a deep link."""

    tmdb_id: DbId


def film_payload(tmdb_id: int) -> str:
    return f"{FILM_PAYLOAD}{tmdb_id}"


def parse_film_payload(payload: str | None) -> int | None:
    """The TMDB id of a `film_<id>` payload; None when it is not one (or out of range)."""
    match = _FILM_PAYLOAD.fullmatch(payload or "")
    if match is None:
        return None
    tmdb_id = int(match.group(1))
    return tmdb_id if 1 <= tmdb_id <= 2**31 - 1 else None


def thumbnail_url(film: FilmInfo, image_base_url: str | None) -> str | None:
    """`<image_base_url>/w92<poster_path>`; None without TMDB (no image root) or without a poster."""
    if image_base_url is None or not film.poster_path:
        return None
    return f"{image_base_url}/{THUMBNAIL_SIZE}{film.poster_path}"


def card_text(film: FilmInfo) -> str:
    """The title line, the synopsis (cut at a word boundary) and the Letterboxd and TMDB links."""
    links = " · ".join(
        f'<a href="{url}">{name}</a>'
        for name, url in (("Letterboxd", letterboxd_url(film.tmdb_id)), ("TMDB", tmdb_url(film.tmdb_id)))
    )
    synopsis = shorten(film.overview or "", SYNOPSIS_CHARS)
    return "\n\n".join([film_line(film), *([hd.quote(synopsis)] if synopsis else []), links])


def picks_like_this(bot_username: str, tmdb_id: int) -> InlineKeyboardMarkup:
    """The URL button under a card posted inline: opens the bot on this film."""
    url = create_deep_link(bot_username, "start", film_payload(tmdb_id))
    button = InlineKeyboardButton(text=_("Get picks like this"), url=url)
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


def results(
    films: Iterable[FilmInfo], bot_username: str, image_base_url: str | None = None
) -> list[InlineQueryResultUnion]:
    """One article per film: "Alien (1979)", a line of synopsis, the poster thumbnail (with
    `image_base_url`, TMDB's image root: see bot.cards.CardStyle); chosen, it posts the
    film's card with the deep-link button."""
    articles: list[InlineQueryResultUnion] = []
    for film in films:
        thumbnail = thumbnail_url(film, image_base_url)
        articles.append(
            InlineQueryResultArticle(
                id=str(film.tmdb_id),
                title=film.label,
                description=shorten(film.overview or "", DESCRIPTION_CHARS) or None,
                thumbnail_url=thumbnail,
                input_message_content=InputTextMessageContent(
                    message_text=card_text(film),
                    parse_mode="HTML",
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                ),
                reply_markup=picks_like_this(bot_username, film.tmdb_id),
            )
        )
    return articles


def open_bot_button(personal: bool) -> InlineQueryResultsButton:
    """Shown over the results: opens the private chat (/start inline is the plain /start)."""
    text = _("No picks yet: get some in the bot") if personal else _("Open WhatToWatch")
    return InlineQueryResultsButton(text=text, start_parameter=START_FROM_INLINE)


# --- the card in the bot ------------------------------------------------------------------------
def card_keyboard(tmdb_id: int) -> InlineKeyboardMarkup:
    """📝 Review | 🔖 Save (the watchlist's) | 🔁 More like this (/similar's)."""
    review = InlineKeyboardButton(text=_("📝 Review"), callback_data=CardReview(tmdb_id=tmdb_id).pack())
    save = watchlist_ui.save_button(tmdb_id, SaveOrigin.PICK)
    return InlineKeyboardMarkup(inline_keyboard=[[review, save, similar_ui.more_button(tmdb_id)]])


def unknown_film() -> str:
    return _("I don't know that film, sorry: the link may be broken. Here's what I can do.")
