"""The result types and errors of reading a Letterboxd export (`domain.letterboxd`).

Holds `LetterboxdFormatError` (an input with nothing usable), `Problem` (a row or file that
could not be used, with the English text of each code and `SKIPPING_CODES`), `LetterboxdFilm`
(one merged film, and `film_key`, how films are told apart) and `LetterboxdExport` (the
whole parse), plus the "how to export" hint every error message ends with. They are the
lowest layer: the archive reader (`domain.letterboxd_archive`) and the row parser
(`domain.letterboxd_rows`) both build them, and `domain.letterboxd` re-exports them, the
place to import them from.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from domain.entities import Source

HOW_TO_EXPORT = (
    "On Letterboxd open Settings → Import & Export → Export your data, then send me that .zip file."
)


class LetterboxdFormatError(ValueError):
    """The input is not a readable Letterboxd export.

    `code` says why, for a translated answer: `missing` (no such path), `empty` (no bytes),
    `too_big` (over `MAX_UPLOAD_BYTES` or `MAX_EXPORT_BYTES` unpacked), `zip_bomb`,
    `not_zip`, `damaged`, `compression`, `encrypted`, `several_exports`, `no_files` (no
    recognised file), `other_site` (`params["site"]` names it, e.g. "IMDb"), `wrong_columns`
    (`params["file"]`, `params["missing"]`), `unreadable` (`params["file"]`: not CSV text).
    The message (`str(error)`) is a friendly English sentence that names files only by their
    name inside the export, never a server path.
    """

    def __init__(self, message: str, *, code: str, **params: str) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True, slots=True)
class Problem:
    """A part of the export that could not be used (or was read with a caveat).

    - `file`: the recognised file, as named inside the export ("diary.csv").
    - `row`: 1-based data row (header excluded), or None for the whole file.
    - `code`: `empty_name`, `bad_year`, `bad_date`, `bad_rating`, `no_rating` (the row was
      skipped); `wrong_columns` (the file was skipped; `value` lists the missing columns);
      `unreadable` (the rest of the file from `row` on is not CSV); `encoding` (the file is not
      UTF-8 and was read as `value`, e.g. "cp1252": nothing was skipped).
      IMDb exports (domain.imdb) add `bad_imdb_rating` (not 1–10) and `bad_const` (no IMDb
      id), which skip the row, and `not_films` (row None, `value` the count: TV series,
      episodes and other titles that are not films, left out on purpose).
    - `value`: the offending cell, shortened to 30 characters, or the detail named above.
    """

    file: str
    row: int | None
    code: str
    value: str = ""

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file} row {self.row}"
        return f"{where}: {_PROBLEM_TEXT[self.code].format(value=self.value)}"


_PROBLEM_TEXT: Final[Mapping[str, str]] = MappingProxyType(
    {
        "empty_name": "empty Name",
        "bad_year": "Year {value} is not a year",
        "bad_date": "date {value} is not a date",
        "bad_rating": "rating {value} is not 0.5–5 in half steps",
        "no_rating": "no rating",
        "wrong_columns": "no {value} column, file skipped",
        "unreadable": "not readable as CSV from here on",
        "encoding": "not UTF-8, read as {value}",
        "bad_imdb_rating": "rating {value} is not 1–10",
        "bad_const": "Const {value} is not an IMDb id",
        "not_films": "{value} TV series, episodes or other titles that are not films left out",
    }
)
#: Problem codes that mean rows were skipped (the others are notes).
SKIPPING_CODES: Final = frozenset(
    {"empty_name", "bad_year", "bad_date", "bad_rating", "no_rating", "bad_imdb_rating", "bad_const"}
)


@dataclass(frozen=True, slots=True)
class LetterboxdFilm:
    """Everything one export says about one film (all files merged).

    - `name`: the title as Letterboxd spells it (NFC, whitespace runs collapsed), first spelling seen.
    - `year`: release year, or None when the export leaves it empty (unreleased/obscure films).
    - `rating`: stars, 0.5–5 in half steps (`Decimal("4.5")`, `Decimal("5")`), or None if unrated.
      From ratings.csv (latest `Date` if repeated); failing that the latest rated diary row,
      then the latest rated reviews.csv row.
    - `rated_on`: when `rating` was given, the best date its row has: the `Date` of the
      ratings.csv row; for a diary or reviews.csv rating its `Date` (when it was logged), else
      its `Watched Date`. None when the row has no date or the film is unrated.
    - `watched`: the film is in watched.csv, diary.csv, ratings.csv or reviews.csv.
    - `watched_on`: latest `Watched Date` in diary.csv/reviews.csv, else None.
    - `liked`: the film is in likes/films.csv.
    - `on_watchlist`: the film is in watchlist.csv (this alone does not make it `watched`).
    - `review`: plain text (see `html_to_text`) of the latest non-empty review, ordered by
      `Watched Date` (or `Date` when that is empty); None when there is none. Reviews of
      several viewings are not concatenated.
    - `reviewed_on`: the `Date` the chosen review was logged (its `Watched Date` if `Date` is
      empty), None when there is no review.
    - `review_rating`: the rating given with the chosen review: its own Rating cell, else the
      diary entry of the same film on the same Watched Date (diary and reviews.csv rows are
      joined by Name, Year and Watched Date).
    - `watches`: every dated viewing, `(Watched Date, rating of that diary entry or None)`,
      oldest first, one per date: a rewatch is one more date, not another film.
    - `imdb_id`: the IMDb title id ("tt0078748") when the film comes from an IMDb export
      (domain.imdb): it is then matched by that id, not by name and year. None for Letterboxd.
    """

    name: str
    year: int | None
    rating: Decimal | None = None
    watched: bool = False
    watched_on: date | None = None
    liked: bool = False
    on_watchlist: bool = False
    review: str | None = None
    reviewed_on: date | None = None
    review_rating: Decimal | None = None
    watches: tuple[tuple[date, Decimal | None], ...] = ()
    rated_on: date | None = None
    imdb_id: str | None = None

    @property
    def key(self) -> tuple[str, int | None]:
        """`(casefolded name with whitespace collapsed, year)`: how films are merged and deduplicated."""
        return film_key(self.name, self.year)


@dataclass(frozen=True, slots=True)
class LetterboxdExport:
    """A parsed export.

    - `films`: one per distinct `LetterboxdFilm.key`, in first-seen order (files are read in
      `RECOGNISED_FILES` order, rows in file order).
    - `files_read`: the recognised files found, as paths inside the export, in reading order,
      e.g. `("ratings.csv", "likes/films.csv")`.
    - `rows_read`: data rows (header excluded, skipped rows included) per file in `files_read`.
    - `skipped_rows`: rows that could not be used (empty Name, a rating that is not 0.5–5 in
      half steps, a Year or date that does not parse, a ratings.csv row without a rating), plus
      the rows of files skipped whole (wrong columns) or cut short (broken CSV).
    - `problems`: the first `MAX_PROBLEMS` problems (see `Problem`), in reading order;
      `str(problem)` reads e.g. `"ratings.csv row 7: rating '7' is not 0.5–5 in half steps"`.
    - `source`: where the export comes from: `Source.LETTERBOXD`, or `Source.IMDB` for an IMDb
      ratings export read by `domain.imdb.read_imdb_bytes` (same shape, ratings only).
    """

    films: tuple[LetterboxdFilm, ...]
    files_read: tuple[str, ...]
    rows_read: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    skipped_rows: int = 0
    problems: tuple[Problem, ...] = ()
    source: Source = Source.LETTERBOXD


# ---------------------------------------------------------------------------------------------
# Film identity: `LetterboxdFilm.key`, and how `domain.letterboxd_rows` merges rows
# ---------------------------------------------------------------------------------------------


def clean_name(name: str) -> str:
    """A title as shown: whitespace runs collapsed to one space, Unicode NFC."""
    return unicodedata.normalize("NFC", " ".join(name.split()))


def film_key(name: str, year: int | None) -> tuple[str, int | None]:
    """`(clean_name casefolded, year)`: how two rows are told to be the same film."""
    return (clean_name(name).casefold(), year)
