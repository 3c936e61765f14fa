"""Letterboxd and IMDb imports: parse an export, match its films to TMDB, store them with
source `letterboxd` (or `imdb`).

A file sent in the chat is read by `read_sent_file`: an IMDb ratings export (recognised by its
columns, `domain.imdb`) or a Letterboxd export (`domain.letterboxd`). Both become one
`LetterboxdExport`; IMDb films carry their IMDb id and are matched by it (`domain.imdb.ImdbMatcher`),
Letterboxd films by name and year (`domain.matching.TitleMatcher`).

Two ways in, one code path (`ImportService.store_export`):

- in the chat: `start` checks the file and queues an import (the file is kept in `imports`);
  a background job calls `run`, which imports in chunks of `CHUNK` films, committing each
  chunk, reporting progress and stopping at the next chunk when the user cancels;
- `python -m bot import-letterboxd`: `import_letterboxd` on a file or folder.

Re-running an import (a restarted job, or a newer export) creates no duplicates: log rows,
reviews and viewings are upserted by (user, film[, date]), and every title decision is in the
shared match cache (written as it is made), so a resumed job skips straight to where it
stopped. A rating replaces a stored one only when its row is newer (see
`db.repositories.library`).

TMDB faults: a title TMDB fails on (after the client's retries) is deferred, not fatal; the
rest of its chunk is stored, and deferred titles are retried after the last chunk, in rounds
after the waits of `RETRY_WAITS`. Titles still failing are counted in `ImportReport.unchecked`
(sending the same file again later finishes them). Only when TMDB looks down (see
`store_export`) does the import raise `MovieSourceError`, for the job to be retried.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Final

import structlog
from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CFModelInfo, Import, UserFilm
from db.repositories.films import FilmRepository
from db.repositories.imports import ACTIVE, ImportRepository
from db.repositories.library import HAS_SIGNAL, LibraryRepository, LogRow, ReviewRow
from db.repositories.matches import TitleMatchRepository
from domain.entities import Source
from domain.imdb import ImdbMatcher, ImdbOutcome, imdb_csv_in_zip, looks_like_imdb, read_imdb_bytes
from domain.letterboxd import (
    MAX_UPLOAD_BYTES,
    LetterboxdExport,
    LetterboxdFilm,
    LetterboxdFormatError,
    Problem,
    read_export,
    read_export_bytes,
    unmatched_csv_bytes,
)
from domain.matching import MatchOutcome, Pair, TitleMatcher
from domain.ports import JobQueue, MovieSource, MovieSourceError

log = structlog.get_logger(__name__)

#: Films matched and stored per transaction; progress is reported after each chunk.
CHUNK: Final = 100
#: Seconds to wait before each round of retrying the titles TMDB failed on (one round per
#: wait). TMDB errors come in bursts (429s, a restart); the client has already retried each
#: request for ~4 s, so the rounds wait longer and longer (77 s in all, only while titles fail).
RETRY_WAITS: Final[tuple[float, ...]] = (2.0, 5.0, 10.0, 20.0, 40.0)
#: The retry rounds end within this many seconds: a round whose wait would end later is not
#: started (each round itself takes what the client's own retries take, ~4 s per request).
RETRY_BUDGET_S: Final = 90.0


def read_sent_file(data: bytes, file_name: str) -> LetterboxdExport:
    """Parse a file sent to be imported: an IMDb ratings export (a CSV whose header is IMDb's,
    whatever its name, or a zip of that one CSV; `domain.imdb`), else a Letterboxd export, the
    zip or one of its CSV files (`domain.letterboxd.read_export_bytes`).

    Raises:
        LetterboxdFormatError: nothing in the file can be imported (`code` says why).
    """
    if len(data) <= MAX_UPLOAD_BYTES and looks_like_imdb(data):
        return read_imdb_bytes(data, file_name)
    try:
        return read_export_bytes(data, file_name)
    except LetterboxdFormatError as exc:
        # a zip without Letterboxd's files, or whose ratings.csv is IMDb's
        if exc.code not in ("no_files", "other_site") or (inner := imdb_csv_in_zip(data)) is None:
            raise
        return read_imdb_bytes(inner, file_name)


def unmatched_csv_path(export: Path) -> Path:
    """Where the CLI writes unmatched films: beside the export, `<name>-unmatched.csv`."""
    export = export.resolve()
    stem = export.stem if export.is_file() else export.name
    return export.parent / f"{stem}-unmatched.csv"


@dataclass(frozen=True, slots=True)
class ImportReport:
    """Outcome of an import. Film counts are of distinct films (name + year) of the export.

    - `films`: films in the export; `matched` + `unmatched` + `unchecked` = films (fewer when
      cancelled).
    - `unmatched`: films TMDB (or the catalog) has no film for.
    - `unchecked`: films that could not be checked because TMDB kept failing on them; nothing
      is decided about them, and importing the same file again later finishes them.
    - `ratings`, `watched`, `reviews`, `likes`, `watchlist`: matched films stored with each.
    - `viewings`: dated diary entries stored (a rewatch is one more viewing).
    - `skipped_rows`, `problems`: rows that could not be read, and why (see `Problem`).
    - `unmatched_films`: the films no TMDB film fits, for the unmatched CSV.
    - `source`: the export's site, "letterboxd" or "imdb" (`domain.entities.Source`).
    """

    films: int
    matched: int = 0
    unmatched: int = 0
    unchecked: int = 0
    ratings: int = 0
    watched: int = 0
    reviews: int = 0
    likes: int = 0
    watchlist: int = 0
    viewings: int = 0
    skipped_rows: int = 0
    problems: tuple[Problem, ...] = ()
    unmatched_films: tuple[LetterboxdFilm, ...] = field(default=(), repr=False)
    source: str = Source.LETTERBOXD.value

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (the `imports.report` column); `from_json` reads it back."""
        data = asdict(self)
        data["problems"] = [[p.file, p.row, p.code, p.value] for p in self.problems]
        data["unmatched_films"] = [_film_json(f) for f in self.unmatched_films]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportReport:
        values = dict(data)
        values["problems"] = tuple(Problem(*p) for p in data.get("problems", ()))
        values["unmatched_films"] = tuple(_film_from_json(f) for f in data.get("unmatched_films", ()))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """Where a running import is: `done` of `total` films processed, `matched` of them found;
    `history_done` once every rated, watched or logged film is stored (the watchlist and
    likes-only films come last)."""

    done: int
    total: int
    matched: int
    history_done: bool


@dataclass(frozen=True, slots=True)
class PendingImport:
    """A queued or running import and where it reports: the chat, its progress message (None
    until the handler has sent it) and the user's language."""

    import_id: int
    user_id: int
    chat_id: int
    message_id: int | None
    locale: str


class HistoryUse(Enum):
    """Whether the recommendations already use an imported history, as the report says it.

    - READY: the user's taste vector was recomputed with every film of their history;
    - PENDING: some films have no vector yet (they are queued): the taste vector follows
      when they are embedded (`bot.jobs` refreshes it after each batch);
    - EMPTY: the history has no film the recommender weighs (nothing matched, or only
      watchlist entries), so there is nothing to say.
    """

    READY = "ready"
    PENDING = "pending"
    EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What a finished import job tells the chat: `status` is "done", "cancelled" or "failed";
    `error` is set when the file could not be read at all (then `report` is None). `history`
    says whether the recommendations use the history yet (None: not known, nothing is said)."""

    import_id: int
    status: str
    report: ImportReport | None
    error: LetterboxdFormatError | None = None
    history: HistoryUse | None = None


async def cf_model_due(session: AsyncSession) -> bool:
    """Whether the CF model should be rebuilt now: some user has a history (a film rated,
    watched, liked or 🚫) and either there is no model at all, or the newest one was built
    before the newest finished import (done or cancelled: both store films). One query."""
    built = select(func.max(CFModelInfo.built_at)).scalar_subquery()
    imported = (
        select(func.max(Import.finished_at)).where(Import.status.in_(("done", "cancelled"))).scalar_subquery()
    )
    history = exists(select(UserFilm.user_id).where(HAS_SIGNAL))
    row = (await session.execute(select(history, built, imported))).one()
    has_history, built_at, imported_at = row
    if not has_history:
        return False
    return built_at is None or (imported_at is not None and built_at < imported_at)


@dataclass(frozen=True, slots=True)
class QueuedImport:
    """An import `start` queued: its id and what the file holds."""

    import_id: int
    films: int
    skipped_rows: int


ProgressCallback = Callable[[ImportProgress], Awaitable[None]]


class ImportService:
    """Letterboxd and IMDb imports for one session. `source`: TMDB (None: the catalog only).
    `retry_waits`: seconds before each round of retrying deferred titles (`RETRY_WAITS`;
    tests make them tiny). Match decisions are committed on this session as they are made."""

    def __init__(
        self,
        session: AsyncSession,
        source: MovieSource | None,
        jobs: JobQueue,
        *,
        retry_waits: Sequence[float] = RETRY_WAITS,
    ) -> None:
        self.session = session
        self.library = LibraryRepository(session)
        self.imports = ImportRepository(session)
        self.matcher = TitleMatcher(
            FilmRepository(session), TitleMatchRepository(session), source, checkpoint=session.commit
        )
        self.imdb_matcher = ImdbMatcher(
            FilmRepository(session),
            TitleMatchRepository(session),
            source,
            self.matcher,
            checkpoint=session.commit,
        )
        self.jobs = jobs
        self.retry_waits = tuple(retry_waits)

    # --- in the chat

    async def start(
        self, *, user_id: int, chat_id: int, file_name: str, data: bytes, locale: str
    ) -> QueuedImport:
        """Check a file sent in the chat and queue its import (the job runs after commit).

        Raises:
            LetterboxdFormatError: nothing in the file can be imported (`code` says why).
            ImportInProgressError: the user's previous import is still queued or running.
        """
        export = await asyncio.to_thread(read_sent_file, data, file_name)
        row = await self.imports.create(
            user_id=user_id,
            chat_id=chat_id,
            file_name=file_name,
            payload=data,
            locale=locale,
            films_total=len(export.films),
        )
        self.jobs.run_import(row.id)
        log.info("import_queued", import_id=row.id, user_id=user_id, films=len(export.films), bytes=len(data))
        return QueuedImport(row.id, len(export.films), export.skipped_rows)

    async def set_progress_message(self, import_id: int, message_id: int) -> None:
        """Remember the chat message the job edits with its progress."""
        await self.imports.set_message(import_id, message_id)

    async def cancel(self, user_id: int) -> bool:
        """Cancel the user's queued or running import; False when there is none. Films
        already stored stay (the job stops after its current chunk)."""
        import_id = await self.imports.cancel(user_id)
        if import_id is not None:
            log.info("import_cancel_requested", import_id=import_id, user_id=user_id)
        return import_id is not None

    async def unmatched_csv(self, user_id: int, import_id: int) -> tuple[str, bytes] | None:
        """(file name, CSV bytes) of the films an import could not match; None when the import
        is not this user's, not finished, or matched everything."""
        row = await self.imports.owned(user_id, import_id)
        if row is None or row.report is None or row.status in ACTIVE:
            return None
        report = ImportReport.from_json(row.report)
        if not report.unmatched_films:
            return None
        stem = Path(row.file_name).stem or "letterboxd"
        return f"{stem}-unmatched.csv", unmatched_csv_bytes(report.unmatched_films)

    async def run(self, import_id: int, on_progress: ProgressCallback) -> ImportOutcome | None:
        """The job: import a queued export; None when it is not queued or running any more.

        Commits after every chunk (so work survives a restart) and at the end. A file that
        cannot be read at all ends the import as "failed" with `error` set. Films TMDB could
        not be checked on (`ImportReport.unchecked`) still end it as "done".

        Raises:
            MovieSourceError: TMDB looks down (see `store_export`); the job is retried and
                resumes from the match cache.
        """
        row = await self.imports.get(import_id)
        if row is None or row.status not in ACTIVE:
            return None
        user_id, payload = row.user_id, row.payload
        await self.imports.progress(import_id, status="running", films_done=0)
        await self.session.commit()
        try:
            if payload is None:
                raise LetterboxdFormatError("The file is gone.", code="empty")
            export = await asyncio.to_thread(read_sent_file, payload, row.file_name)
        except LetterboxdFormatError as exc:
            await self.imports.finish(import_id, status="failed", report={"error": exc.code}, films_done=0)
            await self.session.commit()
            return ImportOutcome(import_id, "failed", None, exc)

        async def cancelled() -> bool:
            # None: the user ran /forget meanwhile and the import went with their data
            return await self.imports.status(import_id) in (None, "cancelled")

        async def progress(p: ImportProgress) -> None:
            await self.imports.progress(import_id, status="running", films_done=p.done)
            await self.session.commit()
            await on_progress(p)

        report = await self.store_export(user_id, export, on_progress=progress, cancelled=cancelled)
        if await self.imports.status(import_id) is None:
            return None
        accounted = report.matched + report.unmatched + report.unchecked
        status = "done" if accounted == report.films else "cancelled"
        await self.imports.finish(import_id, status=status, report=report.to_json(), films_done=accounted)
        await self.session.commit()
        log.info("import_finished", import_id=import_id, user_id=user_id, status=status, **_counts(report))
        return ImportOutcome(import_id, status, report)

    async def pending(self, import_id: int) -> PendingImport | None:
        """The import if it is still queued or running (not cancelled, not finished)."""
        row = await self.imports.get(import_id)
        if row is None or row.status not in ACTIVE:
            return None
        return PendingImport(import_id, row.user_id, row.chat_id, row.message_id, row.locale)

    async def fail(self, import_id: int) -> None:
        """End an import that cannot go on (TMDB down for hours); what is stored stays."""
        await self.imports.finish(import_id, status="failed", report={"error": "tmdb"})

    # --- the command line

    async def import_letterboxd(
        self, user_id: int, path: Path, *, unmatched_csv: Path | None = None
    ) -> tuple[ImportReport, Path | None]:
        """Import an export on disk (`.zip` or its unpacked folder; an IMDb ratings CSV too)
        for a user; returns the report and where the unmatched films were written (None when
        all matched).

        Raises:
            LetterboxdFormatError: not a readable Letterboxd export (message is user-safe).
            MovieSourceError: TMDB looks down; what is stored so far stays, a re-run resumes.
        """
        export = await asyncio.to_thread(_read_path, path)
        report = await self.store_export(user_id, export)
        written: Path | None = None
        if report.unmatched_films:
            written = unmatched_csv or unmatched_csv_path(path)
            await asyncio.to_thread(written.write_bytes, unmatched_csv_bytes(report.unmatched_films))
        log.info("letterboxd_imported", user_id=user_id, **_counts(report))
        return report, written

    # --- the one import path

    async def store_export(
        self,
        user_id: int,
        export: LetterboxdExport,
        *,
        on_progress: ProgressCallback | None = None,
        cancelled: Callable[[], Awaitable[bool]] | None = None,
    ) -> ImportReport:
        """Match and store a parsed export in chunks of `CHUNK` films, committing each.

        Rated, watched and logged films go first, watchlist- and likes-only films last. A film
        TMDB fails on is deferred: the rest of its chunk is stored, and the deferred films are
        matched again after the last chunk, in one round after each wait of `retry_waits`
        (within `RETRY_BUDGET_S`); those still failing are
        reported as `unchecked`. A cancel stops at the next chunk or round (the films not yet
        done are then in no count). Then asks for the review vectors and the taste vector to be
        refreshed.

        Raises:
            MovieSourceError: TMDB looks down: `domain.matching.TMDB_DOWN_AFTER` searches in a
                row failed, or films are left unchecked and not one TMDB search of this import
                succeeded. Everything stored before stays committed.
        """
        films = sorted(export.films, key=lambda f: not f.watched)
        history = sum(1 for f in films if f.watched)
        tally = _Tally(source=export.source)
        deferred: list[LetterboxdFilm] = []
        stopped = False
        done = 0
        for start in range(0, len(films), CHUNK):
            if start and cancelled is not None and await cancelled():
                stopped = True
                break
            chunk = films[start : start + CHUNK]
            deferred += await self._match_and_store(user_id, chunk, tally)
            done += len(chunk)
            if on_progress is not None:
                await on_progress(ImportProgress(done, len(films), tally.matched, done >= history))
        if not stopped:
            deferred, stopped = await self._retry_deferred(user_id, deferred, tally, len(films), cancelled)
            if on_progress is not None and tally.retried:
                await on_progress(ImportProgress(done, len(films), tally.matched, True))
        if deferred and not stopped and tally.answered == 0 and tally.error is not None:
            log.warning("import_tmdb_down", user_id=user_id, unchecked=len(deferred))
            raise tally.error
        # the recommender reads user_films directly, so it sees the history at once; review
        # vectors, the taste vector and the taste summary follow in background jobs
        self.jobs.embed_reviews(await self.library.review_ids(user_id))
        self.jobs.refresh_taste(user_id)
        self.jobs.refresh_summary(user_id)
        logs = list(tally.stored.values())
        return ImportReport(
            films=len(films),
            matched=tally.matched,
            unmatched=len(tally.unmatched),
            unchecked=0 if stopped else len(deferred),
            ratings=sum(1 for r in logs if r.rating is not None),
            watched=sum(1 for r in logs if r.watched),
            reviews=len(tally.reviews),
            likes=sum(1 for r in logs if r.liked),
            watchlist=sum(1 for r in logs if r.on_watchlist),
            viewings=len(tally.viewings),
            skipped_rows=export.skipped_rows,
            problems=export.problems,
            unmatched_films=tuple(tally.unmatched),
            source=export.source.value,
        )

    async def _retry_deferred(
        self,
        user_id: int,
        deferred: list[LetterboxdFilm],
        tally: _Tally,
        total: int,
        cancelled: Callable[[], Awaitable[bool]] | None,
    ) -> tuple[list[LetterboxdFilm], bool]:
        """Rounds of matching the deferred films again (see `store_export`). Returns the films
        still deferred and whether a cancel stopped the rounds."""
        deadline = time.monotonic() + RETRY_BUDGET_S
        for round_no, wait in enumerate(self.retry_waits, start=1):
            if not deferred or time.monotonic() + wait > deadline:
                break
            if cancelled is not None and await cancelled():
                return deferred, True
            log.info("import_retry_round", user_id=user_id, round=round_no, films=len(deferred), wait_s=wait)
            await asyncio.sleep(wait)
            tally.retried = True
            still: list[LetterboxdFilm] = []
            for start in range(0, len(deferred), CHUNK):
                still += await self._match_and_store(user_id, deferred[start : start + CHUNK], tally)
            deferred = still
        if deferred:
            log.warning("import_films_unchecked", user_id=user_id, films=len(deferred), of=total)
        return deferred, False

    async def _match_and_store(
        self, user_id: int, films: Sequence[LetterboxdFilm], tally: _Tally
    ) -> list[LetterboxdFilm]:
        """Match films and store those decided, in one transaction (committed); returns the
        films TMDB failed on (deferred: not stored, not counted). Films with an IMDb id are
        matched by it, the others by name and year."""
        decided: dict[str | Pair, int | None] = {}
        by_title = [(f.name, f.year) for f in films if f.imdb_id is None]
        if by_title:
            outcome = await self.matcher.match_deferring(by_title)
            tally.note(outcome)
            decided.update(outcome.decided)
        by_imdb = [(f.imdb_id, (f.name, f.year)) for f in films if f.imdb_id is not None]
        if by_imdb:
            found = await self.imdb_matcher.match_deferring(by_imdb)
            tally.note(found)
            decided.update(found.decided)
        groups: dict[int, list[LetterboxdFilm]] = {}
        deferred: list[LetterboxdFilm] = []
        for film in films:
            key: str | Pair = film.imdb_id or (film.name, film.year)
            if key not in decided:
                deferred.append(film)
            elif (tmdb_id := decided[key]) is None:
                tally.unmatched.append(film)
            else:
                groups.setdefault(tmdb_id, []).append(film)
        rows = [_log_row(i, [*_earlier(tally.stored.get(i)), *group]) for i, group in groups.items()]
        review_rows = [r for r in (_review_row(i, group) for i, group in groups.items()) if r]
        watches = [
            (i, day, rating) for i, group in groups.items() for f in group for day, rating in f.watches
        ]
        await self.library.merge_log(user_id, rows, source=tally.source)
        await self.library.merge_reviews(user_id, review_rows, source=tally.source)
        await self.library.merge_watches(user_id, watches)
        await self.session.commit()
        tally.stored.update({r.tmdb_id: r for r in rows})
        tally.reviews.update({r.tmdb_id: r for r in review_rows})
        tally.viewings.update((i, day) for i, day, _ in watches)
        tally.matched += sum(len(group) for group in groups.values())
        return deferred


@dataclass(slots=True)
class _Tally:
    """What one import has stored so far (private to `ImportService.store_export`)."""

    source: Source = Source.LETTERBOXD
    stored: dict[int, LogRow] = field(default_factory=dict)
    reviews: dict[int, ReviewRow] = field(default_factory=dict)
    viewings: set[tuple[int, dt.date]] = field(default_factory=set)
    unmatched: list[LetterboxdFilm] = field(default_factory=list)
    matched: int = 0
    #: TMDB searches that answered, and the last TMDB failure
    answered: int = 0
    error: MovieSourceError | None = None
    retried: bool = False

    def note(self, outcome: MatchOutcome | ImdbOutcome) -> None:
        self.answered += outcome.answered
        self.error = outcome.error or self.error


def _counts(report: ImportReport) -> dict[str, int]:
    return {
        "films": report.films,
        "matched": report.matched,
        "unmatched": report.unmatched,
        "skipped_rows": report.skipped_rows,
    }


def _read_path(path: Path) -> LetterboxdExport:
    """An export on disk: a file as `read_sent_file` reads it, a folder as Letterboxd's."""
    if path.is_file():
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise LetterboxdFormatError(f"I couldn't open “{path.name}”.", code="missing") from exc
        return read_sent_file(data, path.name)
    return read_export(path)


def _earlier(row: LogRow | None) -> Sequence[LetterboxdFilm]:
    """A film already stored by an earlier chunk, as an entry to merge with (two spellings of
    one film can land in different chunks)."""
    if row is None:
        return ()
    return (
        LetterboxdFilm(
            name="",
            year=None,
            rating=row.rating,
            watched=row.watched,
            watched_on=row.watched_on,
            liked=row.liked,
            on_watchlist=row.on_watchlist,
            rated_on=row.rated_at.date() if row.rating is not None and row.rated_at is not None else None,
        ),
    )


def _log_row(tmdb_id: int, group: Iterable[LetterboxdFilm]) -> LogRow:
    """Merge the export's entries that matched the same TMDB film (e.g. two spellings): the
    most recently given rating (`rated_on`; undated ones count as oldest, later entries win
    ties). `rated_at` is that rating's date (midnight UTC; None when its row has no date), or
    for an unrated film its last watch date (history recency)."""
    films = list(group)
    rated = [(f.rated_on or dt.date.min, i, f) for i, f in enumerate(films) if f.rating is not None]
    dates = [f.watched_on for f in films if f.watched_on is not None]
    chosen = max(rated, key=lambda item: item[:2])[2] if rated else None
    latest = chosen.rated_on if chosen is not None else max(dates, default=None)
    return LogRow(
        tmdb_id=tmdb_id,
        rating=chosen.rating if chosen is not None else None,
        watched=any(f.watched for f in films),
        watched_on=max(dates) if dates else None,
        liked=any(f.liked for f in films),
        on_watchlist=any(f.on_watchlist for f in films) and not any(f.watched for f in films),
        rated_at=_midnight(latest),
    )


def _midnight(day: dt.date | None) -> dt.datetime | None:
    return None if day is None else dt.datetime.combine(day, dt.time(), dt.UTC)


def _review_row(tmdb_id: int, group: Iterable[LetterboxdFilm]) -> ReviewRow | None:
    reviewed = [f for f in group if f.review]
    if not reviewed:
        return None
    latest = max(reviewed, key=lambda f: (f.reviewed_on is not None, f.reviewed_on))
    assert latest.review is not None
    return ReviewRow(
        tmdb_id=tmdb_id,
        rating=latest.review_rating if latest.review_rating is not None else latest.rating,
        text=latest.review,
        reviewed_on=latest.reviewed_on,
    )


def _film_json(film: LetterboxdFilm) -> dict[str, Any]:
    return {
        "name": film.name,
        "year": film.year,
        "rating": None if film.rating is None else str(film.rating),
        "watched": film.watched,
        "watched_on": None if film.watched_on is None else film.watched_on.isoformat(),
        "liked": film.liked,
        "on_watchlist": film.on_watchlist,
        "review": film.review,
        "imdb_id": film.imdb_id,
    }


def _film_from_json(data: dict[str, Any]) -> LetterboxdFilm:
    return LetterboxdFilm(
        name=data["name"],
        year=data["year"],
        rating=None if data["rating"] is None else Decimal(data["rating"]),
        watched=data["watched"],
        watched_on=None if data["watched_on"] is None else dt.date.fromisoformat(data["watched_on"]),
        liked=data["liked"],
        on_watchlist=data["on_watchlist"],
        review=data["review"],
        imdb_id=data.get("imdb_id"),
    )
