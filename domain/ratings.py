"""Your ratings (/ratings): the user's rated films a page at a time, changing one rating and
deleting one film from the log.

Deleting is "this film is gone from my log": the film's `user_films` row (rating, watched,
liked, 🚫, watchlist), its review and its diary viewings go, so the film is no longer "seen" and
may be recommended again. (Keeping "watched" would leave a half-deleted film the user cannot
see in /ratings any more and that still shapes their picks.) Changing a rating stamps it now:
it is the newest rating (an older export re-imported does not overwrite it) and moves to the
top of the newest-first list. Both queue a taste refresh, so the recommender follows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.library import LibraryRepository
from db.repositories.ratings import RatedRow, RatingsOrder, RatingsRepository
from domain.entities import Source
from domain.parsing import normalize_rating
from domain.ports import JobQueue

__all__ = ["PAGE_SIZE", "RatedFilm", "RatingsOrder", "RatingsPage", "RatingsService"]

log = structlog.get_logger(__name__)

#: Films per /ratings page.
PAGE_SIZE = 10


@dataclass(frozen=True, slots=True)
class RatedFilm:
    """One rated film: `rating` 0.5–5; `rated_at` when it was given (None: an import without
    a date); `reviewed` whether a review text goes with it."""

    tmdb_id: int
    title: str
    year: int | None
    rating: Decimal
    rated_at: dt.datetime | None
    reviewed: bool

    @property
    def halves(self) -> int:
        """The rating in half stars (1 = ½ … 10 = 5)."""
        return int(self.rating * 2)


@dataclass(frozen=True, slots=True)
class RatingsPage:
    """Page `page` (0-based) of `pages` (at least 1) of the user's `total` rated films in
    `order`; `offset` is the position of its first film in the whole list (0-based)."""

    films: tuple[RatedFilm, ...]
    page: int
    pages: int
    total: int
    order: RatingsOrder
    offset: int


def _film(row: RatedRow) -> RatedFilm:
    return RatedFilm(row.tmdb_id, row.title, row.year, row.rating, row.rated_at, row.reviewed)


class RatingsService:
    """Every method acts on `user_id`'s own films only; a film they have not rated is
    "not found" (None / False) and nothing changes."""

    def __init__(self, session: AsyncSession, jobs: JobQueue, *, page_size: int = PAGE_SIZE) -> None:
        self.ratings = RatingsRepository(session)
        self.library = LibraryRepository(session)
        self.jobs = jobs
        self.page_size = page_size

    async def page(self, user_id: int, page: int = 0, order: RatingsOrder = RatingsOrder.DATE) -> RatingsPage:
        """One page of the user's rated films in `order`. A page past the end (the list
        shrank since the buttons were drawn) gives the last page; a negative one the first."""
        total = await self.ratings.count(user_id)
        pages = max(1, -(-total // self.page_size))
        page = min(max(page, 0), pages - 1)
        offset = page * self.page_size
        rows = await self.ratings.rated(user_id, order=order, offset=offset, limit=self.page_size)
        return RatingsPage(tuple(_film(r) for r in rows), page, pages, total, order, offset)

    async def film(self, user_id: int, tmdb_id: int) -> RatedFilm | None:
        """One of the user's rated films; None if they have not rated it."""
        rows = await self.ratings.rated(user_id, order=RatingsOrder.DATE, tmdb_id=tmdb_id)
        return _film(rows[0]) if rows else None

    async def change(self, user_id: int, tmdb_id: int, rating: Decimal) -> RatedFilm | None:
        """Give a rated film a new rating (now, source `bot`); its review takes it too. Returns
        the film as it is now, or None (nothing changed) if the user has not rated it.

        Raises:
            RatingError: `rating` is not 0.5–5 in half steps.
        """
        rating = normalize_rating(rating)
        if not await self.ratings.change(user_id, tmdb_id, rating, source=Source.BOT):
            return None
        await self.library.sync_review_ratings(user_id, [tmdb_id])
        self.jobs.refresh_taste(user_id)
        self.jobs.refresh_summary(user_id)
        log.info("rating_changed", user_id=user_id, tmdb_id=tmdb_id, rating=str(rating))
        return await self.film(user_id, tmdb_id)

    async def delete(self, user_id: int, tmdb_id: int) -> bool:
        """Take a rated film out of the user's log with its review and diary viewings (module
        docstring). False (nothing deleted) if the user has not rated it."""
        if not await self.ratings.delete(user_id, tmdb_id):
            return False
        self.jobs.refresh_taste(user_id)
        self.jobs.refresh_summary(user_id)
        log.info("rating_deleted", user_id=user_id, tmdb_id=tmdb_id)
        return True
