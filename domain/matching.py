"""Match Letterboxd films (name + year, all an export gives) to TMDB ids.

Letterboxd takes its film data from TMDB, so most names are TMDB titles verbatim; the rest
differ by punctuation, accents, a leading article, an original title, or a year that is
one off (festival vs. release year). The rules:

1. **Cache.** Every decision is stored in `title_matches` and shared by all users, so the
   same (name, year) is never matched twice. "No such film" decisions made with TMDB are
   trusted for `NEGATIVE_TTL` (TMDB keeps adding films), those made on the catalog alone
   are not trusted once TMDB is configured. Decisions are written as they are made (and
   committed by the `checkpoint` callback when one is given), so a crash keeps them.
2. **Catalog.** One query for exact titles (or original titles), case-insensitive, year ±1.
3. **TMDB** (`/search/movie`, when configured), concurrently within the client's rate limit:
   first without the year (one request finds the film and its ±1-year neighbours); when
   nothing fits and there were more results than one page, again with the year.
   Without TMDB: the catalog's trigram search instead.

**TMDB faults.** A search that fails after the client's own retries (`MovieSourceError`)
leaves its title undecided: `match_deferring` returns it in `MatchOutcome.deferred` (nothing
is cached for it) and decides the others. Only when `TMDB_DOWN_AFTER` searches in a row fail
is TMDB taken as down: the searches still running are cancelled and the error is raised.

A result fits when its title or original title, normalised by `title_key`, is the name's
(exact) or close to it (rapidfuzz ratio ≥ `TITLE_MATCH_MIN`) with the same numbers in it
("Scary Movie" is not "Scary Movie 2"), and its year is within ±1 (any year when the export
has none). The best fit is an exact title with the exact year,
then an exact title ±1 year, then the closest title, then TMDB popularity.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final

import structlog
from rapidfuzz import fuzz

from db.repositories.films import FilmRepository, to_info
from db.repositories.matches import MatchDecision, TitleMatchRepository
from domain.entities import FilmInfo
from domain.ports import MovieSource, MovieSourceError

log = structlog.get_logger(__name__)

#: rapidfuzz `ratio` (0–100) of normalised titles from which a title counts as the same.
TITLE_MATCH_MIN: Final = 90
#: How long a TMDB "no such film" decision is trusted before the title is searched again.
NEGATIVE_TTL: Final = dt.timedelta(days=30)
#: Failed TMDB searches in a row (in the order they end, none succeeding between them) after
#: which TMDB is taken as down rather than failing on a few titles. Each failure has already
#: been retried by the client (4 attempts), so at 30 % errors a run of 50 never happens; when
#: TMDB is down it comes after about 50 × 3.5 s / 8 concurrent searches ≈ 20 s.
TMDB_DOWN_AFTER: Final = 50
#: Leading articles dropped by `title_key` ("The Thing" ~ "Thing, The" ~ "Thing").
_ARTICLES: Final = ("the", "a", "an")
_TRAILING_ARTICLE = re.compile(r",\s*(the|a|an)$")
_APOSTROPHES = re.compile(r"['’`´]")
#: Letters NFKD does not decompose ("Æon Flux" ~ "Aeon Flux").
_LIGATURES = str.maketrans(
    {"æ": "ae", "œ": "oe", "ø": "o", "ß": "ss", "ł": "l", "đ": "d", "ð": "d", "þ": "th"}
)

Pair = tuple[str, int | None]


@dataclass(frozen=True, slots=True)
class MatchOutcome:
    """What `TitleMatcher.match_deferring` decided.

    - `decided`: {pair: TMDB id, or None when no film fits}; every such decision is cached.
    - `deferred`: pairs TMDB failed on (after the client's retries), in input order: neither
      decided nor cached; ask again later.
    - `error`: the last of those failures (None when nothing was deferred).
    - `answered`: TMDB searches that got an answer (a film or "no such film").
    """

    decided: dict[Pair, int | None]
    deferred: tuple[Pair, ...] = ()
    error: MovieSourceError | None = None
    answered: int = 0


def name_key(name: str) -> str:
    """How a Letterboxd name is cached: casefolded, whitespace runs collapsed (NFC)."""
    return unicodedata.normalize("NFC", " ".join(name.split())).casefold()


def title_key(title: str) -> str:
    """A title reduced for comparison: accents stripped, case folded, "&" read as "and",
    apostrophes dropped, ligatures spelled out (æ → ae), other punctuation as spaces, and a
    leading (or trailing ", The") English article removed. "The Lord of the Rings: The Two Towers" →
    "lord of the rings the two towers"; "Amélie" → "amelie"; "Pan's Labyrinth" → "pans labyrinth".
    """
    decomposed = unicodedata.normalize("NFKD", title.casefold().translate(_LIGATURES))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip()
    bare = _TRAILING_ARTICLE.sub("", bare)
    bare = _APOSTROPHES.sub("", bare.replace("&", " and "))
    words = "".join(ch if ch.isalnum() else " " for ch in bare).split()
    if len(words) > 1 and words[0] in _ARTICLES:
        words = words[1:]
    return " ".join(words)


def best_match(name: str, year: int | None, results: Sequence[FilmInfo]) -> FilmInfo | None:
    """The result that is this film, or None (see the module docstring for the rules)."""
    target = title_key(name)
    if not target:
        return None
    best: tuple[tuple[bool, bool, bool, float, float], FilmInfo] | None = None
    for film in results:
        if year is not None and (film.year is None or abs(film.year - year) > 1):
            continue
        keys = [title_key(t) for t in (film.title, film.original_title) if t]
        exact = target in keys
        closeness = max(
            (fuzz.ratio(target, key) for key in keys if _numbers(key) == _numbers(target)), default=0.0
        )
        if not exact and closeness < TITLE_MATCH_MIN:
            continue
        same_year = year is None or film.year == year
        rank = (exact and same_year, exact, same_year, closeness, film.popularity)
        if best is None or rank > best[0]:
            best = (rank, film)
    return best[1] if best else None


def _numbers(key: str) -> list[str]:
    """The numbers in a title key, in order: sequels and years in titles must agree."""
    return _NUMBER.findall(key)


_NUMBER = re.compile(r"\d+")


class TitleMatcher:
    """Matches (name, year) pairs with the shared cache, the catalog and TMDB.

    `source` None: catalog only. `checkpoint` (e.g. the session's commit) is awaited after
    each batch of decisions is written, so they outlive a crash of the caller; without it the
    caller's transaction holds them. `down_after`: see `TMDB_DOWN_AFTER`.
    """

    def __init__(
        self,
        films: FilmRepository,
        cache: TitleMatchRepository,
        source: MovieSource | None,
        *,
        checkpoint: Callable[[], Awaitable[None]] | None = None,
        down_after: int = TMDB_DOWN_AFTER,
    ) -> None:
        self.films = films
        self.cache = cache
        self.source = source
        self.checkpoint = checkpoint
        self.down_after = down_after

    async def match(self, pairs: Sequence[Pair]) -> dict[Pair, int | None]:
        """Decide every pair: {pair: TMDB id, or None when no film fits}. Found films are in
        the catalog afterwards (the caller may reference them by foreign key).

        Raises:
            MovieSourceError: TMDB failed on some pair; the other pairs' decisions are cached
                (asking again resumes from there).
        """
        outcome = await self.match_deferring(pairs)
        if outcome.error is not None:
            raise outcome.error
        return outcome.decided

    async def match_deferring(self, pairs: Sequence[Pair]) -> MatchOutcome:
        """Decide what can be decided now; a pair TMDB fails on is deferred, not decided (see
        `MatchOutcome`). Found films are in the catalog afterwards.

        Raises:
            MovieSourceError: TMDB looks down (`down_after` searches in a row failed); what was
                decided before is cached.
        """
        unique = list(dict.fromkeys(pairs))
        decided: dict[Pair, int | None] = {}
        cached = await self.cache.get([(name_key(n), y or 0) for n, y in unique])
        now = dt.datetime.now(dt.UTC)
        for pair in unique:
            decision = cached.get((name_key(pair[0]), pair[1] or 0))
            if decision is not None and self._trusted(decision, now):
                decided[pair] = decision.tmdb_id
        todo = [p for p in unique if p not in decided]
        if not todo:
            return MatchOutcome(decided)
        in_catalog = await self.films.match_titles(todo)
        decided.update(in_catalog)
        await self._store([], [(p, i, "catalog") for p, i in in_catalog.items()])
        todo = [p for p in todo if p not in in_catalog]
        if not todo:
            return MatchOutcome(decided)
        if self.source is None:
            found = [await self._search_catalog(name, year) for name, year in todo]
            decided.update({p: f.tmdb_id if f else None for p, f in zip(todo, found, strict=True)})
            # a catalog "no" is not stored: TMDB may know the film once it is configured
            await self._store([], [(p, f.tmdb_id, "catalog") for p, f in zip(todo, found, strict=True) if f])
            return MatchOutcome(decided)
        failed, error = await self._search_tmdb_all(todo, decided)
        deferred = tuple(p for p in todo if p in failed)
        return MatchOutcome(decided, deferred, error if deferred else None, len(todo) - len(failed))

    async def _search_tmdb_all(
        self, pairs: Sequence[Pair], decided: dict[Pair, int | None]
    ) -> tuple[set[Pair], MovieSourceError | None]:
        """Search TMDB for every pair concurrently (the client paces the requests), storing
        each batch of decisions as it ends. Fills `decided`; returns the pairs that failed and
        the last error. Raises the error when `down_after` searches in a row failed."""
        tasks = {asyncio.create_task(self._search_tmdb(name, year)): (name, year) for name, year in pairs}
        failed: set[Pair] = set()
        error: MovieSourceError | None = None
        in_a_row = 0
        pending: set[asyncio.Task[FilmInfo | None]] = set(tasks)
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                found: list[FilmInfo] = []
                decisions: list[tuple[Pair, int | None, str]] = []
                crash: BaseException | None = None
                for task in done:
                    pair = tasks[task]
                    exc = task.exception()
                    if exc is None:
                        film = task.result()
                        found.extend([film] if film else [])
                        decisions.append((pair, film.tmdb_id if film else None, "tmdb"))
                        in_a_row = 0
                    elif isinstance(exc, MovieSourceError):
                        failed.add(pair)
                        error = exc
                        in_a_row += 1
                    else:
                        crash = exc
                decided.update({pair: tmdb_id for pair, tmdb_id, _ in decisions})
                await self._store(found, decisions)
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
            log.warning("tmdb_searches_deferred", deferred=len(failed), of=len(pairs), error=str(error))
        return failed, error

    async def _store(
        self, films: Sequence[FilmInfo], decisions: Sequence[tuple[Pair, int | None, str]]
    ) -> None:
        """Write found films to the catalog and decisions to the cache, then `checkpoint`."""
        if not decisions:
            return
        await self.films.upsert(films)
        await self.cache.put(
            [MatchDecision(name_key(n), y or 0, tmdb_id, method) for (n, y), tmdb_id, method in decisions]
        )
        if self.checkpoint is not None:
            await self.checkpoint()

    def _trusted(self, decision: MatchDecision, now: dt.datetime) -> bool:
        if decision.tmdb_id is not None:
            return True
        if decision.method != "tmdb" or self.source is None:
            return self.source is None
        return decision.decided_at is None or now - decision.decided_at < NEGATIVE_TTL

    async def _search_tmdb(self, name: str, year: int | None) -> FilmInfo | None:
        assert self.source is not None
        page = await self.source.search(name)
        found = best_match(name, year, page.results)
        if found is None and year is not None and page.total_pages > 1:
            found = best_match(name, year, (await self.source.search(name, year=year)).results)
        return found

    async def _search_catalog(self, name: str, year: int | None) -> FilmInfo | None:
        rows = await self.films.search(name, year=year, limit=20)
        return best_match(name, year, [to_info(f) for f in rows])
