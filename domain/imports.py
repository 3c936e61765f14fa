"""Letterboxd import: parse an export, match its films to TMDB, store them with source `letterboxd`.

Used by `python -m bot import-letterboxd` now and by the in-chat upload later. Re-running
an import creates no duplicates: rows are upserted by (user, film).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.library import LibraryRepository, LogRow, ReviewRow
from domain.catalog import CatalogService
from domain.entities import ImportReport, Source
from domain.letterboxd import LetterboxdFilm, read_export, write_unmatched_csv
from domain.ports import JobQueue

log = structlog.get_logger(__name__)


def unmatched_csv_path(export: Path) -> Path:
    """Where the unmatched rows go: beside the export, `<name>-unmatched.csv`."""
    export = export.resolve()
    stem = export.stem if export.is_file() else export.name
    return export.parent / f"{stem}-unmatched.csv"


class ImportService:
    def __init__(self, session: AsyncSession, catalog: CatalogService, jobs: JobQueue) -> None:
        self.library = LibraryRepository(session)
        self.catalog = catalog
        self.jobs = jobs

    async def import_letterboxd(
        self, user_id: int, path: Path, *, unmatched_csv: Path | None = None
    ) -> ImportReport:
        """Import a Letterboxd export (`.zip` or its unpacked folder) for a user.

        Args:
            user_id: internal user id (not the Telegram id).
            path: the export.
            unmatched_csv: where to write films that matched no TMDB film; default beside
                the export (see :func:`unmatched_csv_path`). Not written when all matched.

        Raises:
            LetterboxdFormatError: not a readable Letterboxd export (message is user-safe).
            MovieSourceError: TMDB failed while matching; nothing is stored.
        """
        export = await asyncio.to_thread(read_export, path)
        films = export.films
        matched = await self.catalog.match_titles([(f.name, f.year) for f in films])
        by_film: dict[int, list[LetterboxdFilm]] = {}
        unmatched: list[LetterboxdFilm] = []
        for film in films:
            tmdb_id = matched.get((film.name, film.year))
            if tmdb_id is None:
                unmatched.append(film)
            else:
                by_film.setdefault(tmdb_id, []).append(film)

        log_rows = [_log_row(tmdb_id, group) for tmdb_id, group in by_film.items()]
        review_rows = [r for r in (_review_row(tmdb_id, group) for tmdb_id, group in by_film.items()) if r]
        await self.library.merge_log(user_id, log_rows, source=Source.LETTERBOXD)
        await self.library.merge_reviews(user_id, review_rows, source=Source.LETTERBOXD)
        # the recommender sees the new history at once (CF reads user_films directly); the
        # taste vector and review vectors follow in background jobs
        self.jobs.embed_reviews(await self.library.review_ids(user_id))
        self.jobs.refresh_taste(user_id)

        csv_path: Path | None = None
        if unmatched:
            csv_path = unmatched_csv or unmatched_csv_path(path)
            await asyncio.to_thread(write_unmatched_csv, unmatched, csv_path)
        report = ImportReport(
            films_in_export=len(films),
            matched=len(films) - len(unmatched),
            unmatched=len(unmatched),
            ratings=sum(1 for r in log_rows if r.rating is not None),
            watched=sum(1 for r in log_rows if r.watched),
            reviews=len(review_rows),
            likes=sum(1 for r in log_rows if r.liked),
            watchlist=sum(1 for r in log_rows if r.on_watchlist),
            unmatched_csv=str(csv_path) if csv_path else None,
        )
        log.info(
            "letterboxd_imported",
            user_id=user_id,
            films=report.films_in_export,
            matched=report.matched,
            unmatched=report.unmatched,
            skipped_rows=export.skipped_rows,
        )
        return report


def _log_row(tmdb_id: int, group: Iterable[LetterboxdFilm]) -> LogRow:
    """Merge the export's entries that matched the same TMDB film (e.g. two spellings)."""
    films = list(group)
    rated = [f for f in films if f.rating is not None]
    dates = [f.watched_on for f in films if f.watched_on is not None]
    return LogRow(
        tmdb_id=tmdb_id,
        rating=rated[-1].rating if rated else None,
        watched=any(f.watched for f in films),
        watched_on=max(dates) if dates else None,
        liked=any(f.liked for f in films),
        on_watchlist=any(f.on_watchlist for f in films) and not any(f.watched for f in films),
        # the export gives no rating time; the last watch date is the best proxy for recency
        rated_at=dt.datetime.combine(max(dates), dt.time(), dt.UTC) if dates else None,
    )


def _review_row(tmdb_id: int, group: Iterable[LetterboxdFilm]) -> ReviewRow | None:
    reviewed = [f for f in group if f.review]
    if not reviewed:
        return None
    latest = max(reviewed, key=lambda f: (f.reviewed_on is not None, f.reviewed_on))
    assert latest.review is not None
    return ReviewRow(
        tmdb_id=tmdb_id, rating=latest.rating, text=latest.review, reviewed_on=latest.reviewed_on
    )
