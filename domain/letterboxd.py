"""Read a Letterboxd account export into one merged record per film (pure: no database, no network).

Letterboxd ("Settings → Import & Export → Export your data") gives a `.zip` of CSV files. This
module reads that zip, or the folder it unpacks to, and merges the film-activity files:

===================  ==========================================================================
file                 columns used
===================  ==========================================================================
`ratings.csv`        Date, Name, Year, Rating (the current rating of each film)
`watched.csv`        Date, Name, Year
`diary.csv`          Date, Name, Year, Rating, Watched Date (one row per logged viewing)
`reviews.csv`        Date, Name, Year, Rating, Review (raw HTML), Watched Date
`likes/films.csv`    Date, Name, Year
`watchlist.csv`      Date, Name, Year
===================  ==========================================================================

Any of them may be missing; other files (profile.csv, comments.csv, lists/…) are ignored. In a
zip the files sit at the root or under one top folder ("letterboxd-user-2026-11-21-utc/").

The `Letterboxd URI` of diary and review rows points at the log entry, not the film, so films
are identified by name + year (`LetterboxdFilm.key`). Two different films with the same title
and year (rare, but real exports have a few) therefore merge into one record.

A file sent in the chat arrives as bytes: `read_export_bytes` takes the zip or a single CSV
(`ratings.csv`, `diary.csv`, … recognised by its name or, failing that, by its columns).

Nothing here is fatal for a bad row: rows that cannot be read are skipped and described in
`LetterboxdExport.problems` (a code the bot translates, plus the offending value); a file
with the wrong columns or a broken encoding is skipped or decoded as well as possible while
the others are read. Only an input with nothing usable raises `LetterboxdFormatError`, whose
`code` says why (the bot translates it; `str(error)` is an English sentence for the CLI).

Usage::

    export = read_export(Path("letterboxd-user-2026-11-21-utc.zip"))
    for film in export.films:
        ...  # match film.name / film.year to TMDB
"""

from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import IO, Final

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PageElement, Tag
from charset_normalizer import from_bytes
from dateutil import parser as date_parser

from domain.entities import Source

__all__ = [
    "MAX_EXPORT_BYTES",
    "MAX_PROBLEMS",
    "MAX_UPLOAD_BYTES",
    "RECOGNISED_FILES",
    "UNMATCHED_COLUMNS",
    "LetterboxdExport",
    "LetterboxdFilm",
    "LetterboxdFormatError",
    "Problem",
    "html_to_text",
    "read_export",
    "read_export_bytes",
    "unmatched_csv_bytes",
]

#: The files this module reads, in the order they are read (which sets the "first-seen" film order).
RECOGNISED_FILES: Final[tuple[str, ...]] = (
    "ratings.csv",
    "watched.csv",
    "diary.csv",
    "reviews.csv",
    "likes/films.csv",
    "watchlist.csv",
)
#: Refuse an export whose recognised files add up to more than this many uncompressed bytes
#: (the zip-bomb guard, checked from the zip directory before anything is decompressed; the
#: largest real export seen is under 1 MB unpacked).
MAX_EXPORT_BYTES: Final = 100 * 1024 * 1024
#: Largest file accepted: what a Telegram bot may download (Bot API `getFile`: "up to 20 MB").
MAX_UPLOAD_BYTES: Final = 20 * 1024 * 1024
#: A member that unpacks to more than this many times its compressed size (and over 1 MB) is
#: refused as a zip bomb; CSV text deflates about 5:1, bombs 1000:1.
MAX_COMPRESSION_RATIO: Final = 100
#: Header of `write_unmatched_csv`.
UNMATCHED_COLUMNS: Final[tuple[str, ...]] = (
    "Name",
    "Year",
    "Rating",
    "Watched Date",
    "Watched",
    "Liked",
    "Watchlist",
    "Review",
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
# Letterboxd zips use deflate; bzip2/lzma decompress without an output bound, so they are refused.
_SAFE_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_HOW_TO_EXPORT = (
    "On Letterboxd open Settings → Import & Export → Export your data, then send me that .zip file."
)
# Columns a recognised file must have besides Name (without them every row would be useless).
_REQUIRED_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {"ratings.csv": ("Name", "Rating"), "reviews.csv": ("Name", "Review")}
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
        return _film_key(self.name, self.year)


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
# Public functions
# ---------------------------------------------------------------------------------------------


def read_export(path: Path) -> LetterboxdExport:
    """Parse a Letterboxd export on disk: the `.zip` Letterboxd gives, or the folder it unpacks to.

    Reads every file of `RECOGNISED_FILES` that is present (at the root, or under a single top
    folder) and merges them per film (see `LetterboxdFilm` for the rules). Bad rows and bad
    files are skipped and reported in `skipped_rows`/`problems`, never fatal.

    Raises `LetterboxdFormatError` when the path does not exist, is not a folder or a valid
    zip, or nothing in it can be read (see the error's codes).
    """
    if not path.exists():
        raise LetterboxdFormatError(f"I couldn't find “{path.name}”. {_HOW_TO_EXPORT}", code="missing")
    if path.is_dir():
        return _parse(_folder_members(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LetterboxdFormatError(
            f"I couldn't open “{path.name}”. {_HOW_TO_EXPORT}", code="missing"
        ) from exc
    return read_export_bytes(data, path.name)


def read_export_bytes(data: bytes, file_name: str) -> LetterboxdExport:
    """Parse an export sent as a file: the zip, or one of its CSV files on its own.

    A zip is recognised by its signature, whatever its name. A lone CSV is taken as the
    recognised file its name mentions ("ratings.csv", "my diary.csv", "watchlist (1).csv");
    failing that, by its columns (Review → reviews.csv, Watched Date → diary.csv, Rating →
    ratings.csv, otherwise watched.csv).

    Raises `LetterboxdFormatError`: `empty`, `too_big` (over `MAX_UPLOAD_BYTES`, or more than
    `MAX_EXPORT_BYTES` unpacked), `zip_bomb` (a member unpacking to over
    `MAX_COMPRESSION_RATIO` times its size), `not_zip`, `damaged`, `compression`, `encrypted`,
    `several_exports`, `no_files`, `other_site`, `wrong_columns` or `unreadable` (when that
    was the only file). Size checks read the zip directory only: nothing is decompressed
    before they pass.
    """
    shown = Path(file_name).name or "file"
    if not data:
        raise LetterboxdFormatError(f"“{shown}” is empty. {_HOW_TO_EXPORT}", code="empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise LetterboxdFormatError(
            f"“{shown}” is bigger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; a Letterboxd export is "
            f"far smaller. {_HOW_TO_EXPORT}",
            code="too_big",
        )
    if data[:2] == b"PK" or shown.lower().endswith(".zip"):
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, EOFError, ValueError) as exc:
            raise LetterboxdFormatError(
                f"“{shown}” isn't a zip file (or it is damaged). {_HOW_TO_EXPORT}", code="not_zip"
            ) from exc
        with archive:
            try:
                return _parse(_zip_members(archive))
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise LetterboxdFormatError(
                    f"“{shown}” is damaged and can't be unpacked. {_HOW_TO_EXPORT}", code="damaged"
                ) from exc
    name = _csv_role(shown, data)
    return _parse([_Member(name, len(data), lambda: io.BytesIO(data))], lone=True)


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


def unmatched_csv_bytes(films: Iterable[LetterboxdFilm]) -> bytes:
    """Films (typically those not matched to TMDB) as a Letterboxd-like CSV file.

    Columns: `Name,Year,Rating,Watched Date,Watched,Liked,Watchlist,Review`. Year and Rating
    are empty when None; dates are YYYY-MM-DD; the flags are `Yes` or empty (like Letterboxd's
    `Rewatch`); Review is the plain text (newlines quoted by the csv module). UTF-8 with a BOM
    (so spreadsheets open it as UTF-8), `\r\n` row ends (csv default). Films of an IMDb export
    (with `imdb_id`) add a last column `imdbID` ("tt0078748").
    """
    listed = list(films)
    with_imdb = any(film.imdb_id for film in listed)
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([*UNMATCHED_COLUMNS, *(["imdbID"] if with_imdb else [])])
    for film in listed:
        writer.writerow(
            [
                film.name,
                "" if film.year is None else str(film.year),
                "" if film.rating is None else str(film.rating),
                "" if film.watched_on is None else film.watched_on.isoformat(),
                "Yes" if film.watched else "",
                "Yes" if film.liked else "",
                "Yes" if film.on_watchlist else "",
                film.review or "",
                *([film.imdb_id or ""] if with_imdb else []),
            ]
        )
    return out.getvalue().encode("utf-8-sig")


# ---------------------------------------------------------------------------------------------
# Locating the files
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Member:
    """One recognised file: its canonical name ("likes/films.csv"), size in bytes, and an opener."""

    name: str
    size: int
    open: Callable[[], IO[bytes]]


def _resolve(paths: Iterable[str]) -> dict[str, str]:
    """Map canonical recognised names to the paths as given (at the root, or in one top folder).

    `paths` are file paths as the folder or the zip directory spells them; they are compared
    as relative POSIX paths (backslashes read as "/", leading "/" dropped, so `/abs/ratings.csv`
    is `abs/ratings.csv`), ignoring case. `__MACOSX/`, dot-entries and `..` parts are ignored;
    of several paths that compare equal the first is taken. The values are the given paths
    (keys of the zip directory). Raises `LetterboxdFormatError` when several top folders hold
    export files.
    """
    index: dict[str, str] = {}
    for raw in paths:
        rel = raw.replace("\\", "/").lstrip("/")
        parts = rel.split("/")
        if parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
            continue
        index.setdefault(rel.casefold(), raw)
    found = {name: index[name] for name in RECOGNISED_FILES if name in index}
    if found:
        return found
    tops = sorted({key.split("/", 1)[0] for key in index if "/" in key})
    candidates: list[dict[str, str]] = []
    for top in tops:
        under = {name: index[f"{top}/{name}"] for name in RECOGNISED_FILES if f"{top}/{name}" in index}
        if under:
            candidates.append(under)
    if len(candidates) > 1:
        raise LetterboxdFormatError(
            "This holds more than one Letterboxd export. "
            "Please send just one export .zip, as Letterboxd made it.",
            code="several_exports",
        )
    return candidates[0] if candidates else {}


def _folder_members(root: Path) -> list[_Member]:
    """The recognised files of an unpacked export folder (searched up to 3 levels deep)."""
    rels: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).relative_to(root).parts)
        if depth >= 2:
            dirnames.clear()
        prefix = Path(dirpath).relative_to(root).as_posix()
        rels.extend(name if prefix == "." else f"{prefix}/{name}" for name in filenames)
    members: list[_Member] = []
    for name, rel in _resolve(rels).items():
        file_path = root / rel
        members.append(_Member(name, file_path.stat().st_size, _file_opener(file_path)))
    return members


def _file_opener(path: Path) -> Callable[[], IO[bytes]]:
    def opener() -> IO[bytes]:
        return path.open("rb")

    return opener


def _zip_opener(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
    def opener() -> IO[bytes]:
        return archive.open(info)

    return opener


def _zip_members(archive: zipfile.ZipFile) -> list[_Member]:
    """The recognised members of an export zip, checked from the zip directory alone (nothing
    is decompressed here). zipfile stops reading a member at its declared size and checks its
    CRC, so a forged directory cannot unpack more than it declares. Member names are only
    compared, never used as paths (nothing is extracted): an absolute or `../` name is harmless;
    of duplicate names the last is read (as zipfile does)."""
    infos = {info.filename: info for info in archive.infolist() if not info.is_dir()}
    members: list[_Member] = []
    for name, rel in _resolve(infos).items():
        info = infos[rel]
        if info.compress_type not in _SAFE_COMPRESSION:
            raise LetterboxdFormatError(
                f"{name} in this zip uses a compression I can't read. {_HOW_TO_EXPORT}", code="compression"
            )
        if info.flag_bits & 0x1:
            raise LetterboxdFormatError(f"This zip is password-protected. {_HOW_TO_EXPORT}", code="encrypted")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1024 * 1024 and ratio > MAX_COMPRESSION_RATIO:
            raise LetterboxdFormatError(
                f"{name} in this zip unpacks to {info.file_size // (1024 * 1024)} MB from "
                f"{max(info.compress_size // 1024, 1)} KB: that is not an export Letterboxd made, "
                "so I didn't unpack it.",
                code="zip_bomb",
            )
        members.append(_Member(name, info.file_size, _zip_opener(archive, info)))
    return members


#: Words in a lone CSV's name that say which export file it is (first match wins).
_NAME_HINTS: Final[tuple[tuple[str, str], ...]] = (
    ("watchlist", "watchlist.csv"),
    ("diary", "diary.csv"),
    ("review", "reviews.csv"),
    ("rating", "ratings.csv"),
    ("like", "likes/films.csv"),
    ("watched", "watched.csv"),
)
#: Columns of other sites' exports, to say what was sent instead of a bare "wrong columns".
_OTHER_SITES: Final[tuple[tuple[frozenset[str], str], ...]] = (
    (frozenset({"const", "your rating"}), "IMDb"),
    (frozenset({"const", "title type"}), "IMDb"),
    (frozenset({"profile name", "start time"}), "Netflix"),
    (frozenset({"title", "date"}), "Netflix"),
    (frozenset({"trakt_id"}), "Trakt"),
    (frozenset({"imdb_id", "tmdb_id", "rating"}), "Trakt"),
)


def _csv_role(file_name: str, data: bytes) -> str:
    """Which recognised file a lone CSV is (see `read_export_bytes`)."""
    lowered = file_name.lower()
    for hint, role in _NAME_HINTS:
        if hint in lowered:
            return role
    head = io.StringIO(data[:4096].decode("utf-8", errors="replace"), newline="")  # a bare \r is a newline
    try:
        first = next(csv.reader(head), [])
    except csv.Error:  # not CSV at all: no recognised header
        first = []
    header = {column.strip().lower() for column in first}
    if "review" in header:
        return "reviews.csv"
    if "watched date" in header:
        return "diary.csv"
    if "rating" in header:
        return "ratings.csv"
    return "watched.csv"


def _other_site(columns: set[str]) -> str | None:
    lowered = {column.lower() for column in columns}
    for needed, site in _OTHER_SITES:
        if needed <= lowered and "letterboxd uri" not in lowered:
            return site
    return None


def _decode(raw: bytes) -> tuple[str, str | None]:
    """Text of a file, without NUL characters, and, when it is not UTF-8, the encoding it was
    read as.

    UTF-8 (with or without BOM) first; otherwise charset-normalizer's best guess (spreadsheets
    re-save CSVs as Windows-1252 or UTF-16); if even that fails, UTF-8 with U+FFFD for the bad
    bytes (the rows around them still read). NUL (U+0000) is dropped wherever it is: no cell
    carries it on (PostgreSQL refuses it in text)."""
    try:
        return _no_nul(raw.decode("utf-8-sig")), None
    except UnicodeDecodeError:
        pass
    best = from_bytes(raw).best()
    if best is not None:
        return _no_nul(str(best)), best.encoding
    return _no_nul(raw.decode("utf-8", errors="replace")), "utf-8 (damaged bytes replaced)"


def _no_nul(text: str) -> str:
    return text.replace("\x00", "")


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


class _Parser:
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

    def read(self, member: _Member) -> None:
        """Read one recognised file, row by row; a file that can't be used is noted and skipped."""
        with member.open() as raw:
            data = raw.read()
        text, encoding = _decode(data)
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
        site = _other_site(columns)
        if site is not None:
            error = LetterboxdFormatError(
                f"This looks like an export from {site}, not from Letterboxd. {_HOW_TO_EXPORT}",
                code="other_site",
                site=site,
            )
        else:
            error = LetterboxdFormatError(
                f"{name} doesn't look like a Letterboxd file: it has no {' or '.join(missing)} column. "
                f"{_HOW_TO_EXPORT}",
                code="wrong_columns",
                file=name,
                missing=" or ".join(missing),
            )
        self.fatal = self.fatal or error

    def _row(self, file: str, row: dict[str, str | list[str] | None]) -> None:
        name = _clean_name(_cell(row, "Name"))
        if not name:
            raise _RowError("empty_name")
        year = _parse_year(_cell(row, "Year"))
        logged = _parse_date(_cell(row, "Date"))
        watched_date = _parse_date(_cell(row, "Watched Date"))
        rating = _parse_rating(_cell(row, "Rating"))
        if file == "ratings.csv" and rating is None:
            raise _RowError("no_rating")
        order: _Order = (watched_date or logged or date.min, logged or date.min, self.seq)

        key = _film_key(name, year)
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


def _parse(members: list[_Member], *, lone: bool = False) -> LetterboxdExport:
    if not members:
        raise LetterboxdFormatError(
            "This doesn't look like a Letterboxd export: no ratings.csv, watched.csv, diary.csv, "
            f"reviews.csv, watchlist.csv or likes/films.csv in it. {_HOW_TO_EXPORT}",
            code="no_files",
        )
    total = sum(member.size for member in members)
    if total > MAX_EXPORT_BYTES:
        raise LetterboxdFormatError(
            f"This export is too big to import ({total // (1024 * 1024)} MB unpacked; the limit is "
            f"{MAX_EXPORT_BYTES // (1024 * 1024)} MB). {_HOW_TO_EXPORT}",
            code="too_big",
        )
    parser = _Parser()
    for member in members:
        parser.read(member)
    if parser.fatal is not None and not parser.files:
        # nothing usable at all: say why (a lone file with other columns is another site's export)
        raise parser.fatal
    if lone and not parser.films and parser.rows_read.get(members[0].name, 0) == 0 and not parser.skipped:
        raise LetterboxdFormatError(f"{members[0].name} has no films in it. {_HOW_TO_EXPORT}", code="empty")
    return parser.result()


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


def _clean_name(name: str) -> str:
    return unicodedata.normalize("NFC", " ".join(name.split()))


def _film_key(name: str, year: int | None) -> tuple[str, int | None]:
    return (_clean_name(name).casefold(), year)


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
