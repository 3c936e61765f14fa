"""`/export letterboxd`: the user's films and reviews as a CSV Letterboxd's importer reads.

Letterboxd imports a CSV (https://letterboxd.com/about/importing-data/, "Settings → Import &
Export → Import data") whose header names the fields. This file uses these, in this order:

=============  ================================================================================
column         value
=============  ================================================================================
`Title`        the film's title (TMDB's, as Letterboxd has it)
`Year`         release year, empty when unknown
`tmdbID`       the TMDB id: Letterboxd takes its films from TMDB, so this matches exactly
`Rating`       0.5–5 stars in half steps ("4.5", "5"); empty for a film only marked watched
`WatchedDate`  YYYY-MM-DD, a diary date (below); empty for none
`Review`       the review written in the bot, HTML-escaped (Letterboxd reads reviews as HTML:
               "a <b>" stays "a <b>"); empty for none. Line breaks are kept (quoted by csv).
=============  ================================================================================

One row per film the user rated or watched (from any source: the bot, a Letterboxd or an
IMDb import) or reviewed in the bot; watchlist-only and 🚫-only films are left out. Only
reviews written in the bot go in (imported ones are on Letterboxd already), and only non-empty
ones. `WatchedDate` makes Letterboxd add a diary entry, so it is set only for what the bot
added: the film's watch date when its entry is not from a Letterboxd import (a rating or ✅
in the bot), else the day of the bot review; films as imported from Letterboxd get none, so
importing the file back adds no duplicate diary entries.

The file is UTF-8 without a byte-order mark (a BOM would become part of the first column's
name), `\\r\\n` row ends, every field quoted only when needed (commas, quotes, line breaks).
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import structlog
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Film, Review, UserFilm
from domain.entities import Source

log = structlog.get_logger(__name__)

#: The header, in Letterboxd's import field names.
LETTERBOXD_IMPORT_COLUMNS: Final[tuple[str, ...]] = (
    "Title",
    "Year",
    "tmdbID",
    "Rating",
    "WatchedDate",
    "Review",
)


@dataclass(frozen=True, slots=True)
class LetterboxdFilmRow:
    """One film as the export writes it (see the module docstring for each field)."""

    title: str
    year: int | None
    tmdb_id: int
    rating: Decimal | None
    watched_date: dt.date | None
    review: str | None


@dataclass(frozen=True, slots=True)
class LetterboxdCsv:
    """The file: its name, UTF-8 bytes, and how many films and reviews it holds."""

    file_name: str
    data: bytes
    films: int
    reviews: int


def letterboxd_csv_bytes(rows: Sequence[LetterboxdFilmRow]) -> bytes:
    """Rows as a Letterboxd import CSV (header `LETTERBOXD_IMPORT_COLUMNS`, UTF-8, no BOM)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LETTERBOXD_IMPORT_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.title,
                "" if row.year is None else str(row.year),
                str(row.tmdb_id),
                "" if row.rating is None else _stars(row.rating),
                "" if row.watched_date is None else row.watched_date.isoformat(),
                "" if not row.review else html.escape(row.review, quote=False),
            ]
        )
    return out.getvalue().encode("utf-8")


class LetterboxdExportService:
    """Builds the user's Letterboxd import file. Every query is filtered by the user's own id."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def export(self, user_id: int, telegram_id: int, *, today: dt.date | None = None) -> LetterboxdCsv:
        """The user's films as a Letterboxd import CSV, oldest first (by when they were
        rated), named `letterboxd-import-<telegram id>-<date>.csv`. `films` 0: nothing to
        export (the file still has its header)."""
        rows = await self.rows(user_id)
        day = (today or dt.datetime.now(dt.UTC).date()).isoformat()
        reviews = sum(1 for row in rows if row.review)
        log.info("letterboxd_exported", user_id=user_id, films=len(rows), reviews=reviews)
        return LetterboxdCsv(
            f"letterboxd-import-{telegram_id}-{day}.csv", letterboxd_csv_bytes(rows), len(rows), reviews
        )

    async def rows(self, user_id: int) -> list[LetterboxdFilmRow]:
        """The rows of the file, in one query (see the module docstring for what is in it)."""
        bot_review = and_(
            Review.user_id == user_id,
            Review.tmdb_id == UserFilm.tmdb_id,
            Review.source == Source.BOT.value,
            func.length(func.btrim(Review.text)) > 0,
        )
        stmt = (
            select(UserFilm, Film.title, Film.year, Review.text, Review.rating, Review.reviewed_on)
            .join(Film, Film.tmdb_id == UserFilm.tmdb_id)
            .outerjoin(Review, bot_review)
            .where(
                UserFilm.user_id == user_id,
                or_(UserFilm.rating.is_not(None), UserFilm.watched, Review.id.is_not(None)),
            )
            .order_by(UserFilm.rated_at.asc().nulls_first(), UserFilm.tmdb_id)
        )
        result: Sequence[Any] = (await self.session.execute(stmt)).all()
        return [_row(*columns) for columns in result]


def _row(
    entry: UserFilm,
    title: str,
    year: int | None,
    review: str | None,
    review_rating: Decimal | None,
    reviewed_on: dt.date | None,
) -> LetterboxdFilmRow:
    if entry.source != Source.LETTERBOXD.value and entry.watched_on is not None:
        watched_date: dt.date | None = entry.watched_on
    else:
        watched_date = reviewed_on if review else None
    return LetterboxdFilmRow(
        title=title,
        year=year,
        tmdb_id=entry.tmdb_id,
        rating=entry.rating if entry.rating is not None else review_rating,
        watched_date=watched_date,
        review=review.strip() if review else None,
    )


def _stars(rating: Decimal) -> str:
    """4.5 → "4.5", 5.0 → "5" (as Letterboxd writes its own ratings)."""
    return format(rating.normalize(), "f")
