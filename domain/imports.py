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

This module holds the service that runs an import (`ImportService`: queueing, running in
chunks, progress, retry rounds, reports), reading a sent file (`read_sent_file`) and the rule
for rebuilding the CF model after imports (`cf_model_due`). The report, progress and outcome
types are in `domain.import_types`; matching a chunk and storing its films is
`domain.import_store.ImportStore`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Final

import structlog
from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CFModelInfo, Import, UserFilm
from db.repositories.imports import ACTIVE, ImportRepository
from db.repositories.library import HAS_SIGNAL, LibraryRepository
from domain.imdb import imdb_csv_in_zip, looks_like_imdb, read_imdb_bytes
from domain.import_store import ImportStore, ImportTally
from domain.import_types import ImportOutcome, ImportProgress, ImportReport, PendingImport, QueuedImport
from domain.letterboxd import (
    MAX_UPLOAD_BYTES,
    LetterboxdExport,
    LetterboxdFilm,
    LetterboxdFormatError,
    read_export,
    read_export_bytes,
    unmatched_csv_bytes,
)
from domain.ports import JobQueue, MovieSource

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
        self.store = ImportStore(session, source)
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
        tally = ImportTally(source=export.source)
        deferred: list[LetterboxdFilm] = []
        stopped = False
        done = 0
        for start in range(0, len(films), CHUNK):
            if start and cancelled is not None and await cancelled():
                stopped = True
                break
            chunk = films[start : start + CHUNK]
            deferred += await self.store.match_and_store(user_id, chunk, tally)
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
        tally: ImportTally,
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
                still += await self.store.match_and_store(user_id, deferred[start : start + CHUNK], tally)
            deferred = still
        if deferred:
            log.warning("import_films_unchecked", user_id=user_id, films=len(deferred), of=total)
        return deferred, False


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
