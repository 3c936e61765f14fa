"""The watchlist: films a user saved to watch later (🔖 on a pick or a /review result, or their
Letterboxd watchlist.csv), listed by /watchlist and picked from by /recommend watchlist.

A film leaves the watchlist once the user rates or watches it (db/repositories/watchlist.py);
while on it, it is a weak positive signal for the recommender (recommender.cf.W_WATCHLIST),
so saving or removing one queues a taste-vector refresh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.films import FilmRepository, to_info
from db.repositories.watchlist import Added, WatchlistRepository
from domain.entities import FilmInfo, Source
from domain.picks import RecommendationResult
from domain.ports import JobQueue
from domain.recommendations import RecommendationService

log = structlog.get_logger(__name__)

#: Films per /watchlist page.
PAGE_SIZE = 10


class SaveOutcome(Enum):
    """What a 🔖 tap did."""

    SAVED = "saved"
    ALREADY_SAVED = "already_saved"
    ALREADY_SEEN = "already_seen"  # rated or watched: nothing to save it for
    NOT_FOUND = "not_found"  # not a catalog film (a forged or stale button)


@dataclass(frozen=True, slots=True)
class WatchlistPage:
    """One page of a watchlist: `films` newest first, `page` 0-based (0 … pages − 1), `total`
    films on the whole list; `pages` is 0 for an empty list."""

    films: tuple[FilmInfo, ...]
    page: int
    pages: int
    total: int

    @property
    def first_number(self) -> int:
        """The 1-based position of `films[0]` in the whole list."""
        return self.page * PAGE_SIZE + 1


class WatchlistService:
    def __init__(self, session: AsyncSession, jobs: JobQueue, recommendations: RecommendationService) -> None:
        self.repo = WatchlistRepository(session)
        self.films = FilmRepository(session)
        self.jobs = jobs
        self.recommendations = recommendations

    async def save(self, user_id: int, tmdb_id: int) -> SaveOutcome:
        """Put a catalog film on the user's watchlist. A film they rated or watched is not saved
        (ALREADY_SEEN); one they marked 🚫 is, and the 🚫 is taken back. No TMDB call: a film
        the bot showed is in the catalog, anything else is NOT_FOUND."""
        if tmdb_id not in await self.films.get_many([tmdb_id]):
            return SaveOutcome.NOT_FOUND
        added = await self.repo.add(user_id, tmdb_id, source=Source.BOT)
        if added is Added.SEEN:
            return SaveOutcome.ALREADY_SEEN
        if added is Added.ALREADY:
            return SaveOutcome.ALREADY_SAVED
        self.jobs.refresh_taste(user_id)
        log.info("watchlist_saved", user_id=user_id, tmdb_id=tmdb_id)
        return SaveOutcome.SAVED

    async def remove(self, user_id: int, tmdb_id: int) -> bool:
        """Take a film off the user's watchlist; False when it was not on it."""
        if not await self.repo.remove(user_id, tmdb_id):
            return False
        self.jobs.refresh_taste(user_id)
        log.info("watchlist_removed", user_id=user_id, tmdb_id=tmdb_id)
        return True

    async def page(self, user_id: int, page: int = 0) -> WatchlistPage:
        """Page `page` (0-based) of the watchlist, newest first, PAGE_SIZE films. A page past
        the end (a stale ▶ after removals) gives the last page; a negative one the first."""
        total = await self.repo.count(user_id)
        pages = math.ceil(total / PAGE_SIZE)
        page = max(0, min(page, pages - 1))
        films = await self.repo.films(user_id, offset=page * PAGE_SIZE, limit=PAGE_SIZE) if total else []
        return WatchlistPage(tuple(to_info(f) for f in films), page, pages, total)

    async def film(self, user_id: int, tmdb_id: int) -> FilmInfo | None:
        """The film if it is on the user's watchlist (✅ Watched from the list), else None."""
        if not await self.repo.contains(user_id, tmdb_id):
            return None
        film = (await self.films.get_many([tmdb_id])).get(tmdb_id)
        return to_info(film) if film is not None else None

    async def recommend(self, user_id: int) -> RecommendationResult:
        """Up to three films from the watchlist for tonight, ranked by the user's taste, with
        reasons, stored as a recommendation (`RecommendationService.recommend_from`); no picks
        for an empty watchlist. Raises MovieSourceError as `RecommendationService.rank` does."""
        return await self.recommendations.recommend_from(user_id, await self.repo.tmdb_ids(user_id))
