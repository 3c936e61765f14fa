"""The rows of a Letterboxd export (`domain.letterboxd`): CSV rows merged into one film each.

`Parser` reads the recognised files found by `domain.letterboxd_archive`, one after the
other, checks their columns (`_REQUIRED_COLUMNS`), parses each row's cells (Name, Year, dates,
rating) and merges the rows per film (`_Acc`, then `_finish` into a `LetterboxdFilm`); rows
and files that cannot be used become `Problem`s (at most `MAX_PROBLEMS` kept). Review HTML
becomes plain text here too (`html_to_text`, public through `domain.letterboxd`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Final

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PageElement, Tag
from dateutil import parser as date_parser

from domain.letterboxd_archive import Member, decode, other_site
from domain.letterboxd_types import (
    HOW_TO_EXPORT,
    LetterboxdExport,
    LetterboxdFilm,
    LetterboxdFormatError,
    Problem,
    clean_name,
    film_key,
)

#: How many problems `LetterboxdExport.problems` keeps (all rows are counted in `skipped_rows`).
MAX_PROBLEMS: Final = 200

_MIN_YEAR, _MAX_YEAR = 1800, 2999
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
# What spreadsheets make of dates when they re-save a CSV: 6/30/2022, 30.06.2022, 2022/6/30.
_LOOSE_DATE_RE = re.compile(r"\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}")
_YEAR_RE = re.compile(r"\d{4}")
_BLANK_LINES_RE = re.compile(r"\n{3,}")
_BR = "\ue000"  # private-use placeholder for <br> while extracting text
_BLOCK_TAGS = frozenset(
    {"p", "blockquote", "div", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre"}
)
_MIN_RATING, _MAX_RATING = Decimal("0.5"), Decimal("5")
# Columns a recognised file must have besides Name (without them every row would be useless).
_REQUIRED_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {"ratings.csv": ("Name", "Rating"), "reviews.csv": ("Name", "Review")}
)


# ---------------------------------------------------------------------------------------------
# Reading and merging
# ---------------------------------------------------------------------------------------------

# Ordering of dated rows: (main date, Date, global row sequence); missing dates sort first.
_Order = tuple[date, date, int]
# A rating and its row: (ordering, stars, the date it was given or None).
_Rated = tuple[_Order, Decimal, date | None]


@dataclass(slots=True)
class _Acc:
    """Mutable per-film accumulator (private)."""

    name: str
    year: int | None
    ratings_rating: _Rated | None = None
    diary_rating: _Rated | None = None
    reviews_rating: _Rated | None = None
    watched: bool = False
    watched_on: date | None = None
    liked: bool = False
    on_watchlist: bool = False
    reviews: list[tuple[_Order, str, date | None, Decimal | None]] = field(default_factory=list)
    watches: dict[date, Decimal | None] = field(default_factory=dict)


class _RowError(ValueError):
    """A row that cannot be used: `code` and `value` as in `Problem`."""

    def __init__(self, code: str, value: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.value = value


class Parser:
    """Collects films across files; one instance per export."""

    def __init__(self) -> None:
        self.films: dict[tuple[str, int | None], _Acc] = {}
        self.rows_read: dict[str, int] = {}
        self.skipped = 0
        self.problems: list[Problem] = []
        self.seq = 0
        self.files: list[str] = []
        self.fatal: LetterboxdFormatError | None = None

    def note(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def read(self, member: Member) -> None:
        """Read one recognised file, row by row; a file that can't be used is noted and skipped."""
        with member.open() as raw:
            data = raw.read()
        text, encoding = decode(data)
        if encoding is not None:
            self.note(Problem(member.name, None, "encoding", encoding))
        reader = csv.DictReader(io.StringIO(text, newline=""))
        count = 0
        try:
            header = reader.fieldnames
            if header is None:  # an empty file: nothing in it, nothing wrong with it
                self.rows_read[member.name] = 0
                self.files.append(member.name)
                return
            columns = {column.strip() for column in header if column is not None}
            required = _REQUIRED_COLUMNS.get(member.name, ("Name",))
            missing = [column for column in required if column not in columns]
            if missing:
                self._skip_file(member.name, columns, missing, text)
                return
            self.files.append(member.name)
            for row in reader:
                count += 1
                self.seq += 1
                try:
                    self._row(member.name, {k.strip(): v for k, v in row.items() if k is not None})
                except _RowError as exc:
                    self.skipped += 1
                    self.note(Problem(member.name, count, exc.code, exc.value))
        except csv.Error:
            # csv stops at the first line it cannot parse (a NUL byte, a runaway field);
            # the rows before it are kept and the rest of the file is counted as skipped
            rest = max(text.count("\n") - count - 1, 1)
            self.skipped += rest
            self.note(Problem(member.name, count + 1, "unreadable"))
            if member.name not in self.files:
                self.files.append(member.name)
        self.rows_read[member.name] = count

    def _skip_file(self, name: str, columns: set[str], missing: list[str], text: str) -> None:
        rows = max(len(text.strip().splitlines()) - 1, 0)
        self.skipped += rows
        self.note(Problem(name, None, "wrong_columns", " or ".join(missing)))
        site = other_site(columns)
        if site is not None:
            error = LetterboxdFormatError(
                f"This looks like an export from {site}, not from Letterboxd. {HOW_TO_EXPORT}",
                code="other_site",
                site=site,
            )
        else:
            error = LetterboxdFormatError(
                f"{name} doesn't look like a Letterboxd file: it has no {' or '.join(missing)} column. "
                f"{HOW_TO_EXPORT}",
                code="wrong_columns",
                file=name,
                missing=" or ".join(missing),
            )
        self.fatal = self.fatal or error

    def _row(self, file: str, row: dict[str, str | list[str] | None]) -> None:
        name = clean_name(_cell(row, "Name"))
        if not name:
            raise _RowError("empty_name")
        year = _parse_year(_cell(row, "Year"))
        logged = _parse_date(_cell(row, "Date"))
        watched_date = _parse_date(_cell(row, "Watched Date"))
        rating = _parse_rating(_cell(row, "Rating"))
        if file == "ratings.csv" and rating is None:
            raise _RowError("no_rating")
        order: _Order = (watched_date or logged or date.min, logged or date.min, self.seq)

        key = film_key(name, year)
        acc = self.films.get(key)
        if acc is None:
            acc = self.films[key] = _Acc(name=name, year=year)
        if file == "likes/films.csv":
            acc.liked = True
            return
        if file == "watchlist.csv":
            acc.on_watchlist = True
            return
        acc.watched = True
        if watched_date is not None:
            if acc.watched_on is None or watched_date > acc.watched_on:
                acc.watched_on = watched_date
            if file == "diary.csv" or watched_date not in acc.watches:
                acc.watches[watched_date] = rating if file == "diary.csv" else acc.watches.get(watched_date)
        if rating is not None:
            if file == "ratings.csv":
                # ratings.csv has no Watched Date: order by Date only.
                acc.ratings_rating = _later(
                    acc.ratings_rating, ((logged or date.min, date.min, self.seq), rating, logged)
                )
            elif file == "diary.csv":
                acc.diary_rating = _later(acc.diary_rating, (order, rating, logged or watched_date))
            elif file == "reviews.csv":
                acc.reviews_rating = _later(acc.reviews_rating, (order, rating, logged or watched_date))
        if file == "reviews.csv":
            review = _cell(row, "Review")
            if review.strip():
                # joined to the diary entry of the same film and Watched Date for its rating
                joined = rating if rating is not None else acc.watches.get(watched_date or date.min)
                acc.reviews.append((order, review, logged or watched_date, joined))

    def result(self) -> LetterboxdExport:
        """Freeze the accumulated films into a `LetterboxdExport`."""
        films = tuple(_finish(acc) for acc in self.films.values())
        return LetterboxdExport(
            films=films,
            files_read=tuple(self.files),
            rows_read=MappingProxyType(dict(self.rows_read)),
            skipped_rows=self.skipped,
            problems=tuple(self.problems),
        )


def _finish(acc: _Acc) -> LetterboxdFilm:
    chosen = acc.ratings_rating or acc.diary_rating or acc.reviews_rating
    review: str | None = None
    reviewed_on: date | None = None
    review_rating: Decimal | None = None
    for _, raw, when, rated in sorted(acc.reviews, key=lambda item: item[0], reverse=True):
        text = html_to_text(raw)
        if text:
            review, reviewed_on, review_rating = text, when, rated
            break
    return LetterboxdFilm(
        name=acc.name,
        year=acc.year,
        rating=None if chosen is None else chosen[1],
        watched=acc.watched,
        watched_on=acc.watched_on,
        liked=acc.liked,
        on_watchlist=acc.on_watchlist,
        review=review,
        reviewed_on=reviewed_on,
        review_rating=review_rating,
        watches=tuple(sorted(acc.watches.items())),
        rated_on=None if chosen is None else chosen[2],
    )


def _later(current: _Rated | None, new: _Rated) -> _Rated:
    return new if current is None or new[0] >= current[0] else current


# ---------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------


def _cell(row: Mapping[str, str | list[str] | None], column: str) -> str:
    value = row.get(column)
    return value.strip() if isinstance(value, str) else ""


def _short(value: str) -> str:
    return repr(value if len(value) <= 30 else value[:29] + "…")


def _parse_year(value: str) -> int | None:
    if not value:
        return None
    if _YEAR_RE.fullmatch(value) and _MIN_YEAR <= int(value) <= _MAX_YEAR:
        return int(value)
    raise _RowError("bad_year", _short(value))


def _parse_date(value: str) -> date | None:
    """YYYY-MM-DD as Letterboxd writes it; also what a spreadsheet re-save makes of it
    (6/30/2022 month first as US Excel writes it, 30/06/2022 and 30.06.2022 day first when the
    first number cannot be a month), read by dateutil. Raises _RowError otherwise."""
    if not value:
        return None
    if _DATE_RE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    elif _LOOSE_DATE_RE.fullmatch(value):
        try:
            parsed = date_parser.parse(value, dayfirst="." in value)
        except (ValueError, OverflowError):
            pass
        else:
            if _MIN_YEAR <= parsed.year <= _MAX_YEAR:
                return date(parsed.year, parsed.month, parsed.day)
    raise _RowError("bad_date", _short(value))


def _parse_rating(value: str) -> Decimal | None:
    if not value:
        return None
    try:
        number = Decimal(value.replace(",", "."))
    except InvalidOperation:
        number = Decimal("NaN")
    if number.is_finite() and _MIN_RATING <= number <= _MAX_RATING and (number * 2) % 1 == 0:
        return Decimal(int(number * 2)) / 2
    raise _RowError("bad_rating", _short(value))


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------


def html_to_text(html: str) -> str:
    """Turn Letterboxd review HTML into plain text.

    Inline tags (`<i>`, `<b>`, `<a>` …) are dropped keeping their text; `<br>` becomes a line
    break (one break, even when a newline follows it); paragraphs and other blocks
    (`<p>`, `<blockquote>` …) are separated by a blank line, keeping their text; entities are
    decoded (`&amp;` → `&`, `&nbsp;` → space); trailing spaces are removed from each line, runs
    of blank lines collapse to one, and the ends are stripped. Newlines already in the text
    are kept (Letterboxd stores paragraph breaks as plain newlines). Never raises; tolerates
    unclosed tags. Returns "" for text that is empty once cleaned.
    """
    text = html.replace("\r\n", "\n").replace("\r", "\n").replace(_BR, "")
    if "<" in text or "&" in text:
        text = _soup_text(text)
    text = text.replace("\xa0", " ")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES_RE.sub("\n\n", text).strip()


def _soup_text(html: str) -> str:
    """Text of an HTML fragment with `<br>` as `_BR` and blocks wrapped in blank lines.

    Walks the tree with an explicit stack (unclosed tags nest deeply in real reviews, so no
    recursion). Only plain text nodes are kept: comments, doctypes and the like are dropped.
    """
    soup = BeautifulSoup(html, "html.parser")
    out: list[str] = []
    stack: list[tuple[Iterator[PageElement], str]] = [(iter(soup.contents), "")]
    while stack:
        children, closing = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            out.append(closing)
        elif type(child) is NavigableString:
            out.append(child)
        elif isinstance(child, Tag):
            if child.name == "br":
                out.append(_BR)
            elif child.name in _BLOCK_TAGS:
                out.append("\n\n")
                stack.append((iter(child.contents), "\n\n"))
            else:
                stack.append((iter(child.contents), ""))
    # A <br> followed by a newline in the source is one line break, not two.
    return "".join(out).replace(_BR + "\n", "\n").replace(_BR, "\n")
