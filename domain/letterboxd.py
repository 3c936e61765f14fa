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

The work is shared with three modules below this one: `domain.letterboxd_types` (the result
types and errors), `domain.letterboxd_archive` (which member of a zip or folder is which
file, decoding, the zip's safety checks) and `domain.letterboxd_rows` (the CSV rows merged
into films, review HTML into text). Import the public names from here.

Usage::

    export = read_export(Path("letterboxd-user-2026-11-21-utc.zip"))
    for film in export.films:
        ...  # match film.name / film.year to TMDB
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from domain.letterboxd_archive import (
    MAX_COMPRESSION_RATIO,
    RECOGNISED_FILES,
    Member,
    csv_role,
    folder_members,
    zip_members,
)
from domain.letterboxd_rows import MAX_PROBLEMS, Parser, html_to_text
from domain.letterboxd_types import (
    HOW_TO_EXPORT,
    SKIPPING_CODES,
    LetterboxdExport,
    LetterboxdFilm,
    LetterboxdFormatError,
    Problem,
)

__all__ = [
    "MAX_COMPRESSION_RATIO",
    "MAX_EXPORT_BYTES",
    "MAX_PROBLEMS",
    "MAX_UPLOAD_BYTES",
    "RECOGNISED_FILES",
    "SKIPPING_CODES",
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

#: Refuse an export whose recognised files add up to more than this many uncompressed bytes
#: (the zip-bomb guard, checked from the zip directory before anything is decompressed; the
#: largest real export seen is under 1 MB unpacked).
MAX_EXPORT_BYTES: Final = 100 * 1024 * 1024
#: Largest file accepted: what a Telegram bot may download (Bot API `getFile`: "up to 20 MB").
MAX_UPLOAD_BYTES: Final = 20 * 1024 * 1024
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
        raise LetterboxdFormatError(f"I couldn't find “{path.name}”. {HOW_TO_EXPORT}", code="missing")
    if path.is_dir():
        return _parse(folder_members(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LetterboxdFormatError(
            f"I couldn't open “{path.name}”. {HOW_TO_EXPORT}", code="missing"
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
        raise LetterboxdFormatError(f"“{shown}” is empty. {HOW_TO_EXPORT}", code="empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise LetterboxdFormatError(
            f"“{shown}” is bigger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; a Letterboxd export is "
            f"far smaller. {HOW_TO_EXPORT}",
            code="too_big",
        )
    if data[:2] == b"PK" or shown.lower().endswith(".zip"):
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, EOFError, ValueError) as exc:
            raise LetterboxdFormatError(
                f"“{shown}” isn't a zip file (or it is damaged). {HOW_TO_EXPORT}", code="not_zip"
            ) from exc
        with archive:
            try:
                return _parse(zip_members(archive))
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise LetterboxdFormatError(
                    f"“{shown}” is damaged and can't be unpacked. {HOW_TO_EXPORT}", code="damaged"
                ) from exc
    name = csv_role(shown, data)
    return _parse([Member(name, len(data), lambda: io.BytesIO(data))], lone=True)


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
# Reading the files found
# ---------------------------------------------------------------------------------------------


def _parse(members: list[Member], *, lone: bool = False) -> LetterboxdExport:
    """The export made of `members` (found by `domain.letterboxd_archive`), read by
    `domain.letterboxd_rows`. `lone`: a single CSV sent on its own, refused as `empty` when it
    holds no rows at all."""
    if not members:
        raise LetterboxdFormatError(
            "This doesn't look like a Letterboxd export: no ratings.csv, watched.csv, diary.csv, "
            f"reviews.csv, watchlist.csv or likes/films.csv in it. {HOW_TO_EXPORT}",
            code="no_files",
        )
    total = sum(member.size for member in members)
    if total > MAX_EXPORT_BYTES:
        raise LetterboxdFormatError(
            f"This export is too big to import ({total // (1024 * 1024)} MB unpacked; the limit is "
            f"{MAX_EXPORT_BYTES // (1024 * 1024)} MB). {HOW_TO_EXPORT}",
            code="too_big",
        )
    parser = Parser()
    for member in members:
        parser.read(member)
    if parser.fatal is not None and not parser.files:
        # nothing usable at all: say why (a lone file with other columns is another site's export)
        raise parser.fatal
    if lone and not parser.films and parser.rows_read.get(members[0].name, 0) == 0 and not parser.skipped:
        raise LetterboxdFormatError(f"{members[0].name} has no films in it. {HOW_TO_EXPORT}", code="empty")
    return parser.result()
