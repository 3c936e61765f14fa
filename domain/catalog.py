"""The catalog service: finds films and keeps the `films` table as a write-through cache of TMDB.

With a :class:`~domain.ports.MovieSource` (TMDB configured) searches go to TMDB and every
film seen is written into the catalog; full records are served from the catalog while
fresh (`ttl`). Without one, everything runs on the catalog alone (pg_trgm search).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import utils
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Film
from db.repositories.films import FilmRepository, to_info
from domain.entities import FilmInfo
from domain.parsing import TitleQuery
from domain.ports import MovieSource, RelatedKind

#: How many candidates the review flow offers as buttons.
MAX_OPTIONS = 5


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    """`chosen` when one film clearly matches; otherwise up to five `options` to pick from."""

    chosen: FilmInfo | None
    options: tuple[FilmInfo, ...]


def _same_title(a: str, b: str | None) -> bool:
    return b is not None and utils.default_process(a) == utils.default_process(b)


def choose(query: TitleQuery, results: Sequence[FilmInfo]) -> SearchOutcome:
    """One result, or an exact title (or original title) + year match, is taken at once."""
    if len(results) == 1:
        return SearchOutcome(results[0], ())
    if query.year is not None:
        exact = [
            f
            for f in results
            if f.year == query.year
            and (_same_title(query.title, f.title) or _same_title(query.title, f.original_title))
        ]
        if len(exact) == 1:
            return SearchOutcome(exact[0], ())
    return SearchOutcome(None, tuple(results[:MAX_OPTIONS]))


class CatalogService:
    """Film lookups for the bot (the importer matches titles with domain.matching). Errors of
    the source (MovieSourceError) propagate; callers turn them into a friendly message."""

    def __init__(self, session: AsyncSession, source: MovieSource | None, *, ttl: dt.timedelta) -> None:
        self.films = FilmRepository(session)
        self.source = source
        self.ttl = ttl

    @property
    def online(self) -> bool:
        """True when TMDB is configured."""
        return self.source is not None

    async def search(self, query: TitleQuery) -> SearchOutcome:
        """Find a film by what the user typed (title, optionally a year).

        Tries title + year, then the title alone, then the raw text ("Blade Runner 2049").
        """
        attempts: list[tuple[str, int | None]] = [(query.title, query.year)]
        if query.year is not None:
            attempts += [(query.title, None), (query.raw, None)]
        for title, year in attempts:
            results = await self._search(title, year)
            if results:
                return choose(TitleQuery(title, query.year, query.raw), results)
        return SearchOutcome(None, ())

    async def _search(self, title: str, year: int | None) -> list[FilmInfo]:
        if self.source is None:
            return [to_info(f) for f in await self.films.search(title, year=year, limit=MAX_OPTIONS * 2)]
        page = await self.source.search(title, year=year)
        await self.films.upsert(page.results)
        return list(page.results)

    async def get(self, tmdb_ids: Sequence[int]) -> dict[int, FilmInfo]:
        """Full records for these ids: from the catalog while fresh, the rest from TMDB in one
        concurrent batch (each id fetched at most once). Ids nobody knows are absent."""
        rows = await self.films.get_many(tmdb_ids)
        now = dt.datetime.now(dt.UTC)
        found = {i: to_info(f) for i, f in rows.items()}
        if self.source is None:
            return found
        stale = [i for i in dict.fromkeys(tmdb_ids) if not self._fresh(rows.get(i), now)]
        if stale:
            fetched = await self.source.details(stale)
            await self.films.upsert(fetched)
            found.update({f.tmdb_id: f for f in fetched})
        return found

    async def known(self, tmdb_ids: Iterable[int]) -> dict[int, FilmInfo]:
        """What the catalog already has for these ids, without asking TMDB."""
        return {i: to_info(f) for i, f in (await self.films.get_many(tmdb_ids)).items()}

    def _fresh(self, film: Film | None, now: dt.datetime) -> bool:
        return (
            film is not None
            and film.details_fetched_at is not None
            and now - film.details_fetched_at <= self.ttl
        )

    async def related(self, seeds: Sequence[int], kinds: Iterable[RelatedKind]) -> dict[int, list[int]]:
        """TMDB recommendations/similar of each seed, concurrently: {candidate id: [seed ids]}.

        Empty without TMDB. Candidates are written to the catalog (basic columns)."""
        if self.source is None or not seeds:
            return {}
        source = self.source
        jobs = [(seed, kind) for seed in seeds for kind in kinds]
        pages = await asyncio.gather(*(source.related(seed, kind) for seed, kind in jobs))
        support: dict[int, list[int]] = {}
        seen: list[FilmInfo] = []
        for (seed, _), films in zip(jobs, pages, strict=True):
            for film in films:
                seeds_of = support.setdefault(film.tmdb_id, [])
                if seed not in seeds_of:
                    seeds_of.append(seed)
                seen.append(film)
        await self.films.upsert(seen)
        return support

    async def store(self, films: Iterable[FilmInfo]) -> int:
        """Write films into the catalog (e.g. from a TMDB-format CSV); returns how many."""
        return await self.films.upsert(films)

    async def size(self) -> int:
        return await self.films.count()

    async def popular(
        self, *, exclude: Iterable[int] = (), genres: Sequence[str] = (), limit: int = 200
    ) -> list[FilmInfo]:
        """Well-rated popular films (the fallback and cold-start candidates), best first.

        With TMDB, the first pages of `/discover/movie` (by popularity, any of `genres`) are
        fetched and written through first, so a new catalog is never empty.

        Raises:
            MovieSourceError: TMDB failed.
        """
        await self._fetch_popular(genres)
        return [to_info(f) for f in await self.films.popular(exclude=exclude, genres=genres, limit=limit)]

    async def popular_ids(
        self, *, exclude: Iterable[int] = (), genres: Sequence[str] = (), limit: int = 200
    ) -> list[int]:
        """The ids of `popular` (the recommender's prior candidates), without loading the films.

        Raises:
            MovieSourceError: TMDB failed.
        """
        await self._fetch_popular(genres)
        return await self.films.popular_ids(exclude=exclude, genres=genres, limit=limit)

    async def _fetch_popular(self, genres: Sequence[str]) -> None:
        if self.source is not None:
            source = self.source
            pages = await asyncio.gather(*(source.popular(genres=genres, page=p) for p in (1, 2)))
            await self.films.upsert(film for page in pages for film in page)
