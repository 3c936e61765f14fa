"""Inline mode (`@bot <title>` in any chat) and films opened by a deep link: which films to offer.

A title is searched on TMDB (within the update's interactive budget, as /review does) and
the films seen are written through to the catalog; the catalog's trigram search answers when
TMDB is not configured, finds nothing, is slow or fails, and when the user typed faster than
one TMDB-backed search per `cooldown` (inline queries arrive with every keystroke). An empty
query offers the user's latest picks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.films import to_info
from db.repositories.rate_limits import RateLimitRepository
from db.repositories.recommendations import RecommendationRepository
from domain.catalog import CatalogService
from domain.entities import FilmInfo, SearchPage
from domain.parsing import TitleQuery, parse_title_query
from domain.ports import MovieSourceError

T = TypeVar("T")

#: Results of one inline answer (Telegram takes up to 50; ten fit a phone screen).
MAX_RESULTS: Final = 10
#: At most one TMDB-backed inline search per user this often; faster typing is answered
#: from the catalog.
COOLDOWN: Final = dt.timedelta(seconds=0.5)
#: The `rate_limits` key of inline searches.
RATE_KEY: Final = "inline"
#: Longest title searched (Telegram caps inline queries at 256 characters).
MAX_QUERY_CHARS: Final = 200
#: How many recent pick items are read to find MAX_RESULTS distinct films.
RECENT_ITEMS: Final = 3 * MAX_RESULTS


class InlineSource(StrEnum):
    TMDB = "tmdb"  # TMDB's search (written through to the catalog)
    CATALOG = "catalog"  # the catalog's search
    PICKS = "picks"  # the user's latest picks (empty query)


@dataclass(frozen=True, slots=True)
class InlineResults:
    """Up to MAX_RESULTS `films`, best first, and where they came from.

    `complete` is False when TMDB is configured but was not asked (over the user's rate
    limit) or gave no answer in time: a later query may find more, so the answer should not
    be cached for long. `personal` (the user's picks) must not be shown to anyone else.
    """

    films: tuple[FilmInfo, ...]
    source: InlineSource
    complete: bool = True

    @property
    def personal(self) -> bool:
        return self.source is InlineSource.PICKS


class InlineService:
    """Films for inline queries and `/start film_<id>` (per update; `catalog` carries the
    update's TMDB budget)."""

    def __init__(self, session: AsyncSession, catalog: CatalogService, *, cooldown: dt.timedelta = COOLDOWN):
        self.catalog = catalog
        self.items = RecommendationRepository(session)
        self.limits = RateLimitRepository(session)
        self.cooldown = cooldown

    async def films_for(self, user_id: int, text: str) -> InlineResults:
        """What to offer for the inline query `text` of user `user_id` (a `users.id`).

        Blank: their latest picks, newest first, each film once. Otherwise films matching the
        title (optionally with a year: "Alien 1979"). Never raises for TMDB's sake: a TMDB
        error or timeout is answered from the catalog.
        """
        query = parse_title_query(text[:MAX_QUERY_CHARS], current_year=dt.date.today().year)
        if query is None:
            return InlineResults(await self.recent_picks(user_id), InlineSource.PICKS)
        if not self.catalog.online:
            return InlineResults(await self._from_catalog(query), InlineSource.CATALOG)
        if await self.limits.try_acquire(user_id, RATE_KEY, self.cooldown) > 0:
            return InlineResults(await self._from_catalog(query), InlineSource.CATALOG, complete=False)
        found, answered = await self._from_tmdb(query)
        if found:
            return InlineResults(found, InlineSource.TMDB)
        # TMDB found nothing (its search forgives no typo) or gave no answer: the catalog
        return InlineResults(await self._from_catalog(query), InlineSource.CATALOG, complete=answered)

    async def recent_picks(self, user_id: int) -> tuple[FilmInfo, ...]:
        """The films of the user's latest picks, newest first, each once, at most MAX_RESULTS."""
        films = _distinct(tuple(to_info(f) for f in await self.items.recent_films(user_id, RECENT_ITEMS)))
        return tuple(films[:MAX_RESULTS])

    async def film(self, tmdb_id: int) -> FilmInfo | None:
        """The film `tmdb_id` from the catalog, fetched from TMDB when configured and missing
        or stale (within the budget); None when nobody knows it."""
        return (await self.catalog.get([tmdb_id])).get(tmdb_id)

    async def _from_catalog(self, query: TitleQuery) -> tuple[FilmInfo, ...]:
        rows = await self.catalog.films.search(query.title, year=query.year, limit=MAX_RESULTS)
        if not rows and query.year is not None:  # "Blade Runner 2049": the year is the title's
            rows = await self.catalog.films.search(query.raw, limit=MAX_RESULTS)
        return tuple(to_info(f) for f in rows)

    async def _from_tmdb(self, query: TitleQuery) -> tuple[tuple[FilmInfo, ...], bool]:
        """(films found, whether TMDB answered every search asked)."""
        source = self.catalog.source
        assert source is not None
        attempts = [(query.title, query.year)] + ([(query.raw, None)] if query.year is not None else [])
        for title, year in attempts:

            async def fetch(title: str = title, year: int | None = year) -> SearchPage:
                return await source.search(title, year=year)

            page = await self._ask(fetch)
            if page is None:
                return (), False
            if page.results:
                films = tuple(_distinct(page.results)[:MAX_RESULTS])
                await self.catalog.store(films)
                return films, True
        return (), True

    async def _ask(self, fetch: Callable[[], Awaitable[T]]) -> T | None:
        """A TMDB call within the update's budget; None when it was given up or failed."""
        budget = self.catalog.budget
        if budget is not None:
            return await budget.call("inline_search", fetch)
        try:
            return await fetch()
        except MovieSourceError:
            return None


def _distinct(films: tuple[FilmInfo, ...]) -> list[FilmInfo]:
    """`films` in order, each id once (its first occurrence)."""
    seen: dict[int, FilmInfo] = {}
    for film in films:
        seen.setdefault(film.tmdb_id, film)
    return list(seen.values())
