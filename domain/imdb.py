"""IMDb ratings exports: read one into the import's film records, and match them by IMDb id.

IMDb ("Your ratings" → ⋯ → Export; the file is then under "Your exports") gives one CSV, one
row per title the user rated. Its header is read by name, ignoring case and surrounding
spaces, so the older and newer layouts both work:

==================  =============================================================================
column              use
==================  =============================================================================
`Const`             the IMDb title id, "tt0078748" (required): the film is matched by it
`Your Rating`       1–10 (required); becomes half stars, rating ÷ 2 (7 → 3.5, 1 → 0.5)
`Date Rated`        YYYY-MM-DD: when the rating was given (the stored rating's time)
`Title`             the title (required); `Original Title` when Title is empty
`Year`              release year (else the year of `Release Date`)
`Title Type`        which titles are films (below); every other row is left out and counted
==================  =============================================================================

Other columns (URL, IMDb Rating, Runtime (mins), Genres, Num Votes, Directors, Position,
Created, Modified, Description) are ignored.

**Films.** `Title Type` movie, tvMovie, video and short are films (IMDb's older labels too:
"Feature Film", "TV Movie", "Short Film", "Documentary"; any spacing or case; an empty cell
counts as a film). TV series, mini-series, episodes, specials, games, podcasts and music
videos are left out, counted in one `Problem` with code `not_films` (not a skipped row).

**A zip** holding that one CSV (and no other CSV) is read too (`imdb_csv_in_zip`).

**Encoding.** UTF-8 with or without BOM; otherwise Windows-1252, then Latin-1 (noted as an
`encoding` problem). NUL characters are dropped.

**Rows that cannot be used** are skipped, counted in `skipped_rows` and described in
`problems` as in `domain.letterboxd` (`bad_const`, `empty_name`, `no_rating`,
`bad_imdb_rating`); a year or date that does not parse is left empty instead (the rating is
kept). A title rated twice (same Const) is one film, the later Date Rated winning.

**Matching** (`ImdbMatcher`): with TMDB, exactly by IMDb id through TMDB's `/find` (decisions
cached in `title_matches` under the key (IMDb id, `IMDB_CACHE_YEAR`), which no Letterboxd
(name, year) key can take: their year is 0 or a real year). An id TMDB links to no film is
matched by title and year instead (TMDB entries without their IMDb link), through
`domain.matching.TitleMatcher`, as is every film when TMDB is not configured (the catalog).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Final

import structlog

from db.repositories.films import FilmRepository
from db.repositories.matches import MatchDecision, TitleMatchRepository
from domain.entities import FilmInfo, Source
from domain.letterboxd import (
    MAX_PROBLEMS,
    MAX_UPLOAD_BYTES,
    LetterboxdExport,
    LetterboxdFilm,
    LetterboxdFormatError,
    Problem,
)
from domain.matching import NEGATIVE_TTL, TMDB_DOWN_AFTER, Pair, TitleMatcher
from domain.ports import MovieSource, MovieSourceError

__all__ = [
    "FILM_TYPES",
    "IMDB_CACHE_YEAR",
    "REQUIRED_COLUMNS",
    "ImdbMatcher",
    "ImdbOutcome",
    "imdb_csv_in_zip",
    "looks_like_imdb",
    "read_imdb_bytes",
]

log = structlog.get_logger(__name__)

#: Columns an IMDb ratings export must have (casefolded), as IMDb names them.
REQUIRED_COLUMNS: Final[tuple[str, ...]] = ("Const", "Your Rating", "Title")
#: `Title Type` values that are films, casefolded without spaces, dashes or underscores.
FILM_TYPES: Final = frozenset(
    {"", "movie", "featurefilm", "tvmovie", "video", "short", "shortfilm", "documentary"}
)
#: The `title_matches.year` of an IMDb-id decision: Letterboxd keys use 0 or a real year.
IMDB_CACHE_YEAR: Final = -1
#: `title_matches.method` of an IMDb-id decision made with TMDB's /find.
IMDB_METHOD: Final = "imdb"

_CONST = re.compile(r"tt\d{7,12}")
_YEAR = re.compile(r"\d{4}")
_MIN_YEAR, _MAX_YEAR = 1800, 2999
_TYPE_NOISE = re.compile(r"[\s_\-]+")
_HOW_TO_EXPORT = (
    "On IMDb open Your ratings, choose Export, then download the CSV from Your exports and send it to me."
)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def looks_like_imdb(data: bytes) -> bool:
    """Whether a CSV's header is an IMDb export's: a `Const` column with `Your Rating` or
    `Title Type` (and no `Letterboxd URI`). Reads the first line only; False for anything else
    (a zip, binary, an empty file)."""
    if not data or data[:2] == b"PK":
        return False
    head = _decode(data[:4096])[0]
    try:
        first = next(csv.reader(io.StringIO(head, newline="")), [])
    except csv.Error:
        return False
    header = {_column(name) for name in first}
    return (
        "const" in header and bool({"your rating", "title type"} & header) and "letterboxd uri" not in header
    )


def imdb_csv_in_zip(data: bytes) -> bytes | None:
    """The IMDb export inside a zip: the bytes of its only CSV member when that is an IMDb
    export (`looks_like_imdb`), else None (not a zip, several CSVs, or another CSV). A member
    over `MAX_UPLOAD_BYTES` unpacked, encrypted or compressed other than deflate is never
    unpacked (None)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [
                info
                for info in archive.infolist()
                if not info.is_dir()
                and info.filename.casefold().endswith(".csv")
                and not info.filename.startswith("__MACOSX")
            ]
            if len(members) != 1:
                return None
            [info] = members
            safe = info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
            if not safe or info.flag_bits & 0x1 or info.file_size > MAX_UPLOAD_BYTES:
                return None
            raw = archive.read(info)
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, RuntimeError, NotImplementedError):
        return None
    return raw if looks_like_imdb(raw) else None


def read_imdb_bytes(data: bytes, file_name: str) -> LetterboxdExport:
    """Parse an IMDb ratings export (the CSV) into an export of `source` `Source.IMDB`.

    Every film is `watched`, rated (`rating` = Your Rating ÷ 2, `rated_on` = Date Rated) and
    carries its `imdb_id`; `files_read` and the problems name the file as sent. See the module
    docstring for the columns, which titles are films, and what is skipped.

    Raises `LetterboxdFormatError` (the import's error, so the chat answers it the same way):
    `empty` (no bytes), `imdb_columns` (`params["missing"]`: a required column is missing),
    `imdb_no_films` (no row is a rated film; `params["rows"]`, `params["not_films"]` count the
    rows and the TV titles among them).
    """
    shown = Path(file_name).name or "ratings.csv"
    if not data:
        raise LetterboxdFormatError(f"“{shown}” is empty. {_HOW_TO_EXPORT}", code="empty")
    text, encoding = _decode(data)
    reader = _Reader(shown)
    if encoding is not None:
        reader.note(Problem(shown, None, "encoding", encoding))
    return reader.read(text)


@dataclass(slots=True)
class _Reader:
    """Reads one file's rows (private to `read_imdb_bytes`)."""

    file: str
    films: dict[str, LetterboxdFilm] = field(default_factory=dict)
    rows: int = 0
    skipped: int = 0
    not_films: int = 0
    problems: list[Problem] = field(default_factory=list)

    def note(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def read(self, text: str) -> LetterboxdExport:
        source = io.StringIO(text, newline="")
        raw = csv.reader(source)
        try:
            header = [_column(name) for name in next(raw, [])]
            missing = [name for name in REQUIRED_COLUMNS if name.casefold() not in header]
            if missing:
                raise LetterboxdFormatError(
                    f"“{self.file}” looks like an IMDb export but has no {' or '.join(missing)} column. "
                    f"{_HOW_TO_EXPORT}",
                    code="imdb_columns",
                    missing=" or ".join(missing),
                )
            for cells in raw:
                if not any(cell.strip() for cell in cells):
                    continue  # a blank line
                self.rows += 1
                self._row(dict(zip(header, cells, strict=False)))
        except csv.Error:
            # csv stops at the first line it cannot parse; the rows before it are kept
            rest = max(text.count("\n") - self.rows - 1, 1)
            self.skipped += rest
            self.note(Problem(self.file, self.rows + 1, "unreadable"))
        if not self.films:
            raise LetterboxdFormatError(
                f"“{self.file}” has no rated films in it ({self.rows} rows, {self.not_films} of them "
                f"TV series, episodes or other titles that are not films). {_HOW_TO_EXPORT}",
                code="imdb_no_films",
                rows=str(self.rows),
                not_films=str(self.not_films),
            )
        problems = list(self.problems)
        if self.not_films:
            problems.insert(0, Problem(self.file, None, "not_films", str(self.not_films)))
        return LetterboxdExport(
            films=tuple(self.films.values()),
            files_read=(self.file,),
            rows_read=MappingProxyType({self.file: self.rows}),
            skipped_rows=self.skipped,
            problems=tuple(problems[:MAX_PROBLEMS]),
            source=Source.IMDB,
        )

    def _row(self, row: Mapping[str, str]) -> None:
        kind = _TYPE_NOISE.sub("", row.get("title type", "")).casefold()
        if kind not in FILM_TYPES:
            self.not_films += 1
            return
        try:
            film = _film(row)
        except _RowError as exc:
            self.skipped += 1
            self.note(Problem(self.file, self.rows, exc.code, exc.value))
            return
        assert film.imdb_id is not None
        earlier = self.films.get(film.imdb_id)
        if earlier is None or (film.rated_on or dt.date.min) >= (earlier.rated_on or dt.date.min):
            self.films[film.imdb_id] = film


class _RowError(ValueError):
    def __init__(self, code: str, value: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.value = value


def _film(row: Mapping[str, str]) -> LetterboxdFilm:
    const = row.get("const", "").strip().casefold()
    if not _CONST.fullmatch(const):
        raise _RowError("bad_const", _short(const))
    title = _clean(row.get("title", "")) or _clean(row.get("original title", ""))
    if not title:
        raise _RowError("empty_name")
    rating = _rating(row.get("your rating", "").strip())
    return LetterboxdFilm(
        name=title,
        year=_year(row.get("year", "").strip()) or _year(row.get("release date", "").strip()[:4]),
        rating=rating,
        watched=True,
        rated_on=_date(row.get("date rated", "").strip()),
        imdb_id=const,
    )


def _rating(value: str) -> Decimal:
    """IMDb's 1–10 as half stars: 7 → 3.5. "7.0" is read as 7; anything else raises."""
    if not value:
        raise _RowError("no_rating")
    try:
        number = Decimal(value.replace(",", "."))
    except ArithmeticError:
        number = Decimal("NaN")
    if not number.is_finite() or number % 1 != 0 or not 1 <= number <= 10:
        raise _RowError("bad_imdb_rating", _short(value))
    return Decimal(int(number)) / 2


def _year(value: str) -> int | None:
    if _YEAR.fullmatch(value) and _MIN_YEAR <= int(value) <= _MAX_YEAR:
        return int(value)
    return None


def _date(value: str) -> dt.date | None:
    """Date Rated: ISO (YYYY-MM-DD, what IMDb writes), also with a time after it; else None."""
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
    return day if _MIN_YEAR <= day.year <= _MAX_YEAR else None


def _column(name: str) -> str:
    return name.replace("\ufeff", "").strip().casefold()


def _clean(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(text.split()))


def _short(value: str) -> str:
    return repr(value if len(value) <= 30 else value[:29] + "…")


def _decode(raw: bytes) -> tuple[str, str | None]:
    """The text and, when it is not UTF-8, the encoding it was read as (Windows-1252, which
    fails on five unused bytes, then Latin-1, which never fails). NULs are dropped."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.replace("\x00", ""), None if encoding == "utf-8-sig" else encoding
    return raw.decode("latin-1").replace("\x00", ""), "latin-1"


# ---------------------------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImdbOutcome:
    """What `ImdbMatcher.match_deferring` decided, keyed by IMDb id.

    - `decided`: {IMDb id: TMDB id, or None when no film fits}.
    - `deferred`: ids TMDB failed on (after the client's retries), in input order: ask again.
    - `error`: the last of those failures (None when nothing was deferred).
    - `answered`: TMDB requests (finds and title searches) that got an answer.
    """

    decided: dict[str, int | None]
    deferred: tuple[str, ...] = ()
    error: MovieSourceError | None = None
    answered: int = 0


class ImdbMatcher:
    """Matches IMDb films (id, and title + year for the fallback) to TMDB ids.

    `titles` decides the fallback by title and year (and shares its checkpoint); `cache` holds
    the /find decisions under (IMDb id, `IMDB_CACHE_YEAR`). `source` None: titles only.
    `down_after`: see `domain.matching.TMDB_DOWN_AFTER`.
    """

    def __init__(
        self,
        films: FilmRepository,
        cache: TitleMatchRepository,
        source: MovieSource | None,
        titles: TitleMatcher,
        *,
        checkpoint: Callable[[], Awaitable[None]] | None = None,
        down_after: int = TMDB_DOWN_AFTER,
    ) -> None:
        self.films = films
        self.cache = cache
        self.source = source
        self.titles = titles
        self.checkpoint = checkpoint
        self.down_after = down_after

    async def match_deferring(self, items: Sequence[tuple[str, Pair]]) -> ImdbOutcome:
        """Decide each (IMDb id, (title, year)) now where possible (see the module docstring);
        found films are in the catalog afterwards. An id TMDB failed on is deferred.

        Raises:
            MovieSourceError: TMDB looks down (`down_after` requests in a row failed); what was
                decided before is cached.
        """
        pairs = dict(items)  # IMDb id → (title, year), first seen
        cached = await self.cache.get([(imdb_id, IMDB_CACHE_YEAR) for imdb_id in pairs])
        now = dt.datetime.now(dt.UTC)
        decided: dict[str, int | None] = {}
        to_find: list[str] = []
        by_title: list[str] = []
        for imdb_id in pairs:
            decision = cached.get((imdb_id, IMDB_CACHE_YEAR))
            if decision is not None and decision.tmdb_id is not None:
                decided[imdb_id] = decision.tmdb_id
            elif self.source is None or (decision is not None and self._fresh(decision, now)):
                by_title.append(imdb_id)  # no TMDB, or TMDB links no film to this id
            else:
                to_find.append(imdb_id)
        failed: set[str] = set()
        error: MovieSourceError | None = None
        answered = 0
        if to_find:
            found, failed, error = await self._find_all(to_find)
            answered += len(to_find) - len(failed)
            decided.update({i: tmdb_id for i, tmdb_id in found.items() if tmdb_id is not None})
            by_title += [i for i, tmdb_id in found.items() if tmdb_id is None]
        if by_title:
            outcome = await self.titles.match_deferring([pairs[i] for i in by_title])
            answered += outcome.answered
            error = outcome.error or error
            for imdb_id in by_title:
                if pairs[imdb_id] in outcome.decided:
                    decided[imdb_id] = outcome.decided[pairs[imdb_id]]
                else:
                    failed.add(imdb_id)
        deferred = tuple(i for i in pairs if i in failed)
        return ImdbOutcome(decided, deferred, error if deferred else None, answered)

    async def _find_all(
        self, ids: Sequence[str]
    ) -> tuple[dict[str, int | None], set[str], MovieSourceError | None]:
        """TMDB /find for every id concurrently (the client paces the requests), storing each
        batch of decisions as it ends. Returns {id: TMDB id or None}, the ids that failed and
        the last error; raises that error when `down_after` finds in a row failed."""
        source = self.source
        assert source is not None
        tasks = {asyncio.create_task(source.find_by_imdb(imdb_id)): imdb_id for imdb_id in ids}
        found: dict[str, int | None] = {}
        failed: set[str] = set()
        error: MovieSourceError | None = None
        in_a_row = 0
        pending: set[asyncio.Task[FilmInfo | None]] = set(tasks)
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                films: list[FilmInfo] = []
                decisions: list[MatchDecision] = []
                crash: BaseException | None = None
                for task in done:
                    imdb_id = tasks[task]
                    exc = task.exception()
                    if exc is None:
                        film = task.result()
                        films += [film] if film is not None else []
                        found[imdb_id] = film.tmdb_id if film is not None else None
                        decisions.append(MatchDecision(imdb_id, IMDB_CACHE_YEAR, found[imdb_id], IMDB_METHOD))
                        in_a_row = 0
                    elif isinstance(exc, MovieSourceError):
                        failed.add(imdb_id)
                        error = exc
                        in_a_row += 1
                    else:
                        crash = exc
                await self._store(films, decisions)
                if crash is not None:  # not a TMDB fault: a bug or a dying worker
                    raise crash
                if in_a_row >= self.down_after and error is not None:
                    log.warning("tmdb_down", failed_in_a_row=in_a_row, error=str(error))
                    raise error
        finally:
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        if failed:
            log.warning("tmdb_finds_deferred", deferred=len(failed), of=len(ids), error=str(error))
        return found, failed, error

    async def _store(self, films: Sequence[FilmInfo], decisions: Sequence[MatchDecision]) -> None:
        if not decisions:
            return
        await self.films.upsert(films)
        await self.cache.put(decisions)
        if self.checkpoint is not None:
            await self.checkpoint()

    @staticmethod
    def _fresh(decision: MatchDecision, now: dt.datetime) -> bool:
        """A "TMDB links no film to this id" decision is trusted for `NEGATIVE_TTL`."""
        return decision.decided_at is None or now - decision.decided_at < NEGATIVE_TTL
