"""Onboarding a new user: the grid of popular, varied films and common genres they tap on
(bot/flows/onboarding.py shows it), and recording the films they liked.

A user needs onboarding while they have no rated, watched or liked film: nothing to
personalise from. The grid's films are the most popular catalog films that pass the user's
standing filters (/settings), spread over genres and decades by MMR.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.films import FilmRepository, to_info
from db.repositories.library import LibraryRepository
from domain.catalog import CatalogService
from domain.entities import FilmInfo
from domain.picks import features
from domain.ports import JobQueue, MovieSourceError
from domain.settings import StandingFilters, UserSettingsService
from recommender import mmr_select
from recommender.picks import film_similarity

#: Popular films the onboarding grid is chosen from, and how much it favours variety (MMR's λ:
#: 1 is popularity only, 0 variety only).
ONBOARDING_POOL = 40
ONBOARDING_MMR_LAMBDA = 0.5


class OnboardingService:
    def __init__(
        self,
        session: AsyncSession,
        catalog: CatalogService,
        jobs: JobQueue,
        user_settings: UserSettingsService | None = None,
    ) -> None:
        """`user_settings`: the update's standing filters service (None: this service's own)."""
        self.library = LibraryRepository(session)
        self.films = FilmRepository(session)
        self.user_settings = user_settings if user_settings is not None else UserSettingsService(session)
        self.catalog = catalog
        self.jobs = jobs

    async def needed(self, user_id: int) -> bool:
        """True when the user has no rated, watched or liked film (nothing to personalise)."""
        return not await self.library.has_signal(user_id)

    async def grid_films(self, user_id: int, limit: int = 8) -> list[FilmInfo]:
        """Popular, well-rated films of different genres and decades (MMR over the most
        popular ones that pass the user's standing filters, /settings), for a new user to tap
        the ones they liked.

        Raises MovieSourceError only when TMDB is configured and fails, and, with a time
        budget, the catalog alone has no film to offer."""
        seen = await self.library.seen_ids(user_id)
        popular = await self.catalog.popular(exclude=seen, limit=ONBOARDING_POOL)
        if not popular and self.catalog.degraded:
            raise MovieSourceError("TMDB gave no answer in time and the catalog has no films")
        standing = await self.user_settings.get(user_id)
        if not standing.is_default:
            popular = await self._admitted_popular(user_id, standing, seen)
        rank = {film.tmdb_id: i for i, film in enumerate(popular)}
        chosen = mmr_select(
            [features(f) for f in popular],
            limit,
            relevance=lambda f: 1 - rank[f.tmdb_id] / max(len(popular), 1),
            similarity=film_similarity,
            lam=ONBOARDING_MMR_LAMBDA,
        )
        by_id = {f.tmdb_id: f for f in popular}
        return [by_id[f.tmdb_id] for f in chosen]

    async def grid_genres(self, limit: int = 9) -> list[str]:
        """The genres offered on the grid: the catalog's most common, most common first."""
        return await self.catalog.top_genres(limit)

    async def _admitted_popular(
        self, user_id: int, standing: StandingFilters, seen: set[int]
    ) -> list[FilmInfo]:
        """The ONBOARDING_POOL most popular catalog films (as `CatalogService.popular`) that
        pass `standing`, not in `seen`."""
        ids = await self.user_settings.popular_ids(standing, exclude=seen, limit=2 * ONBOARDING_POOL)
        watchlisted = set() if standing.from_watchlist else await self.user_settings.watchlisted(user_id, ids)
        rows = await self.films.get_many(ids)
        films = [to_info(rows[t]) for t in ids if t in rows]
        admitted = [f for f in films if standing.admits(f, watchlisted=f.tmdb_id in watchlisted)]
        return admitted[:ONBOARDING_POOL]

    async def like(self, user_id: int, tmdb_id: int) -> FilmInfo | None:
        """Record that the user liked a catalog film (a tap on the grid); None if the film is
        not in the catalog. Queues a taste-vector refresh."""
        film = (await self.films.get_many([tmdb_id])).get(tmdb_id)
        if film is None:
            return None
        await self.library.like(user_id, tmdb_id, source="bot")
        self.jobs.refresh_taste(user_id)
        return to_info(film)
