"""`/export letterboxd`'s file on the real database: Letterboxd's documented import columns,
exactly; UTF-8 without BOM; reviews with commas, quotes, line breaks and HTML characters quoted
and escaped so Letterboxd's importer reads them back as written; what goes in and what not."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import DEMO_CATALOG
from db.repositories.library import LibraryRepository, LogRow, ReviewRow
from domain.catalog import CatalogService
from domain.letterboxd import html_to_text
from domain.letterboxd_export import (
    LETTERBOXD_IMPORT_COLUMNS,
    LetterboxdExportService,
    LetterboxdFilmRow,
    letterboxd_csv_bytes,
)
from integrations.tmdb_csv import read_tmdb_csv
from tests.domain.helpers import new_user

#: https://letterboxd.com/about/importing-data/: the fields Letterboxd's importer reads (their
#: header names are case-sensitive), of which the export writes these.
LETTERBOXD_FIELDS = {
    "LetterboxdURI",
    "tmdbID",
    "imdbID",
    "Title",
    "Year",
    "Directors",
    "Rating",
    "Rating10",
    "WatchedDate",
    "Rewatch",
    "Tags",
    "Review",
}
REVIEW = 'Tense, "perfect" & <scary>,\nthe second line; ½ star off'


def read_back(data: bytes) -> list[dict[str, str]]:
    """What an importer following Letterboxd's format gets: UTF-8, a header row, CSV quoting,
    the Review as HTML."""
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    for row in rows:
        row["Review"] = html_to_text(row["Review"]) if row["Review"] else ""
    return rows


def test_the_header_is_letterboxds_and_each_field_is_quoted_only_when_needed() -> None:
    rows = [
        LetterboxdFilmRow("Alien", 1979, 348, Decimal("4.5"), dt.date(2024, 3, 1), REVIEW),
        LetterboxdFilmRow("Amélie", 2001, 194, Decimal("5.0"), None, None),
        LetterboxdFilmRow("Untitled", None, 999, None, dt.date(2024, 3, 2), None),
    ]
    data = letterboxd_csv_bytes(rows)
    assert not data.startswith(b"\xef\xbb\xbf"), "no BOM: it would become part of 'Title'"
    assert set(LETTERBOXD_IMPORT_COLUMNS) <= LETTERBOXD_FIELDS
    assert data.decode("utf-8").split("\r\n") == [
        "Title,Year,tmdbID,Rating,WatchedDate,Review",
        'Alien,1979,348,4.5,2024-03-01,"Tense, ""perfect"" &amp; &lt;scary&gt;,\n'
        'the second line; ½ star off"',
        "Amélie,2001,194,5,,",
        "Untitled,,999,,2024-03-02,",
        "",
    ]
    back = read_back(data)
    assert back[0] == {
        "Title": "Alien",
        "Year": "1979",
        "tmdbID": "348",
        "Rating": "4.5",
        "WatchedDate": "2024-03-01",
        "Review": REVIEW,
    }
    assert [row["Rating"] for row in back] == ["4.5", "5", ""]


@pytest.fixture
async def library(session: AsyncSession) -> LibraryRepository:
    await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(read_tmdb_csv(DEMO_CATALOG))
    return LibraryRepository(session)


async def test_rated_and_watched_films_and_the_bots_reviews_go_in_nothing_else(
    session: AsyncSession, library: LibraryRepository
) -> None:
    ann, bob = await new_user(session, 3201), await new_user(session, 3202)
    # written in the bot: rated and reviewed, rated only, watched without a rating
    await library.rate(ann, 348, Decimal("4.5"), source="bot")
    await library.upsert_review(ann, 348, rating=Decimal("4.5"), text=REVIEW, source="bot")
    await library.rate(ann, 603, Decimal("3"), source="bot")
    await library.upsert_review(ann, 603, rating=Decimal("3"), text="  ", source="bot")  # rating only
    await library.rate(ann, 862, None, source="bot")
    # from a Letterboxd import: its diary date and review are on Letterboxd already
    diary = dt.date(2022, 5, 1)
    await library.merge_log(
        ann,
        [
            LogRow(1091, Decimal("4"), True, diary, False, False, dt.datetime(2022, 5, 1, tzinfo=dt.UTC)),
            LogRow(238, None, False, None, False, True),  # watchlist only
        ],
        source="letterboxd",
    )
    await library.merge_reviews(
        ann, [ReviewRow(1091, Decimal("4"), "imported text", diary)], source="letterboxd"
    )
    # from an IMDb import: a rating with its date, no viewing
    await library.merge_log(
        ann,
        [LogRow(194, Decimal("3.5"), True, None, False, False, dt.datetime(2021, 1, 1, tzinfo=dt.UTC))],
        source="imdb",
    )
    await library.mark_not_interested(ann, 155, source="bot")
    await library.rate(bob, 680, Decimal("5"), source="bot")
    await session.commit()

    export = await LetterboxdExportService(session).export(ann, 3201, today=dt.date(2026, 11, 30))
    assert export.file_name == "letterboxd-import-3201-2026-11-30.csv"
    assert (export.films, export.reviews) == (5, 1)
    rows = {row["tmdbID"]: row for row in read_back(export.data)}
    assert set(rows) == {"348", "603", "862", "1091", "194"}, (
        "no watchlist-only, 🚫-only or other user's film"
    )
    today = str(await session.scalar(select(func.current_date())))  # the day the bot stamped
    assert rows["348"] == {
        "Title": "Alien",
        "Year": "1979",
        "tmdbID": "348",
        "Rating": "4.5",
        "WatchedDate": today,
        "Review": REVIEW,
    }
    assert (rows["603"]["Rating"], rows["603"]["Review"]) == ("3", ""), "an empty review is no review"
    assert (rows["862"]["Rating"], rows["862"]["WatchedDate"]) == ("", today)
    assert (rows["1091"]["Rating"], rows["1091"]["WatchedDate"], rows["1091"]["Review"]) == ("4", "", "")
    assert (rows["194"]["Title"], rows["194"]["Rating"], rows["194"]["WatchedDate"]) == ("Amélie", "3.5", "")
    assert list(rows)[:2] == ["194", "1091"], "oldest rating first"


async def test_a_user_with_nothing_rated_gets_an_empty_file(
    session: AsyncSession, library: LibraryRepository
) -> None:
    user_id = await new_user(session, 3203)
    await library.mark_not_interested(user_id, 155, source="bot")
    export = await LetterboxdExportService(session).export(user_id, 3203)
    assert (export.films, export.reviews) == (0, 0)
    assert export.data == b"Title,Year,tmdbID,Rating,WatchedDate,Review\r\n"
