"""The catalog service: finds films and keeps the `films` table as a write-through cache of TMDB.

With a :class:`~domain.ports.MovieSource` (TMDB configured) searches go to TMDB and every
film seen is written into the catalog; full records are served from the catalog while
fresh (`ttl`). Without one, everything runs on the catalog alone (pg_trgm search).

While a user waits (/recommend, the onboarding grid, a clarifying answer), the service gets a
:class:`SourceBudget`: its TMDB calls share a total time, and past it, or on a TMDB error,
they are given up for that update and the catalog answers alone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import structlog
from rapidfuzz import utils
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Film
from db.repositories.films import FilmRepository, to_info
from domain.entities import FilmInfo
from domain.parsing import TitleQuery
from domain.ports import MovieSource, MovieSourceError, RelatedKind

log = structlog.get_logger(__name__)

#: How many candidates the review flow offers as buttons.
MAX_OPTIONS = 5
#: An exact title without a year is taken at once when its best-known film has at least
#: this many times the TMDB votes of every other film of that exact title ("12 Angry Men"
#: 1957 over the 1997 remake); otherwise the user picks. A rule of thumb, not a fitted value.
DOMINANT_VOTES_RATIO = 10
#: ...and at least this many votes (a film barely anyone rated is not "the" film).
DOMINANT_VOTES_MIN = 50
#: A year in the query keeps candidates within this many years of it (festival vs. release).
YEAR_WINDOW = 1

T = TypeVar("T")


class SourceBudget:
    """The total time the film source (TMDB) may take while one user waits: one per update.

    `call` runs one source call within what is left of `seconds` (wall-clock seconds spent
    inside calls, summed; `clock` gives seconds, monotonic). The first call that runs out of
    time or raises MovieSourceError (outage, 5xx or 429 after retries, rejected key, a bad
    answer) gives the source up for the rest of the update: it and every later call return
    None at once, and one warning, `tmdb_degraded`, is logged. The caller then answers from
    the catalog.
    """

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.spent = 0.0
        #: Why the source was given up ("timeout", "budget_spent" or the error's class name).
        self.given_up: str | None = None
        self._clock = clock

    @property
    def degraded(self) -> bool:
        """True once the source was given up: answers of this update come from the catalog."""
        return self.given_up is not None

    async def call(self, what: str, fetch: Callable[[], Awaitable[T]]) -> T | None:
        """`await fetch()` within the time left; None when the source is (or now gets) given up.

        `what` names the call in the warning (e.g. "popular"). Cancelling `fetch` at the
        deadline cancels its HTTP requests and retry waits; keep database work out of it.
        """
        if self.given_up is not None:
            return None
        remaining = self.seconds - self.spent
        if remaining <= 0:
            self._give_up(what, "budget_spent")
            return None
        started = self._clock()
        reason = "timeout"
        try:
            async with asyncio.timeout(remaining) as scope:
                return await fetch()
        except TimeoutError:
            if not scope.expired():
                raise
        except MovieSourceError as exc:
            reason = type(exc).__name__
        finally:
            self.spent += self._clock() - started
        self._give_up(what, reason)
        return None

    def _give_up(self, what: str, reason: str) -> None:
        self.given_up = reason
        spent = round(self.spent, 3)
        log.warning("tmdb_degraded", call=what, reason=reason, spent_s=spent, budget_s=self.seconds)


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    """`chosen` when one film clearly matches; otherwise up to five `options` to pick from."""

    chosen: FilmInfo | None
    options: tuple[FilmInfo, ...]


def _same_title(a: str, b: str | None) -> bool:
    return b is not None and utils.default_process(a) == utils.default_process(b)


def choose(query: TitleQuery, results: Sequence[FilmInfo]) -> SearchOutcome:
    """What the review flow does with search results, in this order:

    1. with a year, only films within YEAR_WINDOW of it are candidates (all of them when none is);
    2. a single candidate is taken at once;
    3. with a year, a film of exactly that title (or original title) and year is taken at once;
    4. without a year, the best-known film of exactly that title is taken at once when it
       dominates: DOMINANT_VOTES_MIN votes or more, and DOMINANT_VOTES_RATIO times the votes
       of every other film of that exact title ("The Matrix", "12 Angry Men");
    5. otherwise up to MAX_OPTIONS candidates are offered, exact titles first.
    """
    candidates = list(results)
    if query.year is not None:
        near = [f for f in candidates if f.year is not None and abs(f.year - query.year) <= YEAR_WINDOW]
        candidates = near or candidates
    if len(candidates) == 1:
        return SearchOutcome(candidates[0], ())
    exact = [
        f
        for f in candidates
        if _same_title(query.title, f.title) or _same_title(query.title, f.original_title)
    ]
    if query.year is not None:
        same_year = [f for f in exact if f.year == query.year]
        if len(same_year) == 1:
            return SearchOutcome(same_year[0], ())
    elif exact:
        best, *others = sorted(exact, key=lambda f: (-f.vote_count, -f.popularity))
        if best.vote_count >= DOMINANT_VOTES_MIN and all(
            best.vote_count >= DOMINANT_VOTES_RATIO * other.vote_count for other in others
        ):
            return SearchOutcome(best, ())
    ordered = exact + [f for f in candidates if f not in exact]
    return SearchOutcome(None, tuple(ordered[:MAX_OPTIONS]))


class CatalogService:
    """Film lookups for the bot (the importer matches titles with domain.matching).

    Without a `budget`, errors of the source (MovieSourceError) propagate and callers turn
    them into a friendly message. With one (a user waits), `search`, `get`, `related`,
    `popular` and `popular_ids` ask the source within it and, once it is given up, answer
    from the catalog alone (`degraded` says so).
    """

    def __init__(
        self,
        session: AsyncSession,
        source: MovieSource | None,
        *,
        ttl: dt.timedelta,
        budget: SourceBudget | None = None,
    ) -> None:
        self.films = FilmRepository(session)
        self.source = source
        self.ttl = ttl
        self.budget = budget

    @property
    def online(self) -> bool:
        """True when TMDB is configured."""
        return self.source is not None

    @property
    def degraded(self) -> bool:
        """True when TMDB was given up in this update (see SourceBudget): answers so far came
        from the catalog alone."""
        return self.budget is not None and self.budget.degraded

    async def _ask(self, what: str, fetch: Callable[[], Awaitable[T]]) -> T | None:
        """A source call: within the budget when there is one (None: given up), else as is."""
        if self.budget is None:
            return await fetch()
        return await self.budget.call(what, fetch)

    async def search(self, query: TitleQuery) -> SearchOutcome:
        """Find a film by what the user typed (title, optionally a year).

        Tries title + year, then the title alone, then the raw text ("Blade Runner 2049").
        With a budget, a TMDB that hangs or fails is given up and the catalog is searched.

        Raises:
            MovieSourceError: TMDB failed (without a budget), or was given up and the catalog
                has no such film.
        """
        attempts: list[tuple[str, int | None]] = [(query.title, query.year)]
        if query.year is not None:
            attempts += [(query.title, None), (query.raw, None)]
        for title, year in attempts:
            results = await self._search(title, year)
            if results:
                return choose(TitleQuery(title, query.year, query.raw), results)
        if self.degraded:  # not "no such film": TMDB could not be asked
            raise MovieSourceError("TMDB gave no answer in time and the catalog has no such film")
        return SearchOutcome(None, ())

    async def _search(self, title: str, year: int | None) -> list[FilmInfo]:
        """TMDB's search (within the budget when there is one); the catalog's trigram search
        without TMDB, once the budget gave TMDB up, or when TMDB finds nothing (TMDB's search
        forgives no typo: "Interstelar")."""
        source = self.source
        page = None if source is None else await self._ask("search", lambda: source.search(title, year=year))
        if page is None or not page.results:
            return [to_info(f) for f in await self.films.search(title, year=year, limit=MAX_OPTIONS * 2)]
        await self.films.upsert(page.results)
        return list(page.results)

    async def get(self, tmdb_ids: Sequence[int]) -> dict[int, FilmInfo]:
        """Full records for these ids: from the catalog while fresh, the rest from TMDB in one
        concurrent batch (each id fetched at most once). Ids nobody knows are absent; when the
        budget gives TMDB up, the catalog's records stand, stale or not."""
        rows = await self.films.get_many(tmdb_ids)
        now = dt.datetime.now(dt.UTC)
        found = {i: to_info(f) for i, f in rows.items()}
        if self.source is None:
            return found
        source = self.source
        stale = [i for i in dict.fromkeys(tmdb_ids) if not self._fresh(rows.get(i), now)]
        if stale:
            fetched = await self._ask("details", lambda: source.details(stale))
            if fetched is not None:
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

        Empty without TMDB, and when the budget gives TMDB up. Candidates are written to the
        catalog (basic columns)."""
        if self.source is None or not seeds:
            return {}
        source = self.source
        jobs = [(seed, kind) for seed in seeds for kind in kinds]

        async def fetch() -> list[list[FilmInfo]]:
            return await _all(source.related(seed, kind) for seed, kind in jobs)

        pages = await self._ask("related", fetch)
        if pages is None:
            return {}
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
        fetched and written through first, so a new catalog is never empty (with a budget that
        gives TMDB up, the catalog answers alone).

        Raises:
            MovieSourceError: TMDB failed (only without a budget).
        """
        await self._fetch_popular(genres)
        return [to_info(f) for f in await self.films.popular(exclude=exclude, genres=genres, limit=limit)]

    async def popular_ids(
        self, *, exclude: Iterable[int] = (), genres: Sequence[str] = (), limit: int = 200
    ) -> list[int]:
        """The ids of `popular` (the recommender's prior candidates), without loading the films.

        Raises:
            MovieSourceError: TMDB failed (only without a budget).
        """
        await self._fetch_popular(genres)
        return await self.films.popular_ids(exclude=exclude, genres=genres, limit=limit)

    async def top_genres(self, limit: int) -> list[str]:
        """The catalog's `limit` most common genres (TMDB genre names), most common first."""
        return await self.films.top_genres(limit)

    async def _fetch_popular(self, genres: Sequence[str]) -> None:
        if self.source is None:
            return
        source = self.source

        async def fetch() -> list[list[FilmInfo]]:
            return await _all(source.popular(genres=genres, page=p) for p in (1, 2))

        pages = await self._ask("popular", fetch)
        if pages is not None:
            await self.films.upsert(film for page in pages for film in page)


async def _all(calls: Iterable[Coroutine[object, object, T]]) -> list[T]:
    """Run `calls` concurrently, results in order; when one fails, the others are cancelled
    (asyncio.gather would leave them running) and its error propagates."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()  # no-op for finished tasks
