"""Per-process reuse of users' rankings between /recommend answers.

Ranking every candidate is most of an answer's time (the log, the taste profile, the CF
scores, four candidate sources, the scoring), yet between two answers a user usually changes
nothing it reads: they tap ⏭ or ask again. A ranking is reused, for at most
RANKING_TTL_SECONDS, while its stamp (`db.repositories.rankings`: the user's log, avoided
topics, /settings, taste vector and the CF model's version, read from PostgreSQL on every
answer) is unchanged. Each reuse leaves out the films shown since and recomputes the terms
that depend on the latest picks (`recommender.recent.Rescorer`), so an answer never
repeats a film and a replica holding an older ranking, or none, answers the same way. The TTL
bounds what the stamp does not see: catalog films added by other users' imports, TMDB's lists.

Nothing here must survive the process: a miss ranks from PostgreSQL as before.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Hashable
from dataclasses import replace

from cachetools import TTLCache

from db.repositories.rankings import RankingStamp
from domain.picks import Ranking
from recommender import CatalogStats
from recommender.recent import RecentPicks, Rescorer

#: How long a ranking, and the catalog's vote medians, are reused (seconds).
RANKING_TTL_SECONDS = 600.0
#: Users whose rankings one process keeps (least recently used out first). A ranking
#: of the bench's heaviest user (1,284 ratings, 540 candidates) takes 1.8 MB (tracemalloc), so
#: at most about 230 MB per process.
RANKING_CACHE_USERS = 128


class CachedRanking:
    """A stored ranking, brought up to date with the latest picks by `rescore`. Its `Rescorer`
    is built on the first reuse, so a ranking that is never reused costs nothing more."""

    def __init__(self, stamp: RankingStamp, ranking: Ranking) -> None:
        self.stamp = stamp
        self.ranking = ranking
        self._rescorer: Rescorer | None = None

    def rescore(self, recent: RecentPicks, *, exclude: Collection[int]) -> Ranking:
        """The ranking without the films in `exclude` and with the novelty and repeat terms
        computed against `recent` (recommender.recent.Rescorer)."""
        if self._rescorer is None:
            self._rescorer = Rescorer(self.ranking.scored)
        return replace(self.ranking, scored=self._rescorer.rescore(recent, exclude=exclude))


class RankingCache:
    """Rankings by (user id, preferred genres) with the stamp they were computed under, and the
    catalog's vote medians (`CatalogStats`). One instance per process, held by the service
    factory; `timer` (seconds, monotonic) is for tests."""

    def __init__(
        self,
        *,
        ttl: float = RANKING_TTL_SECONDS,
        users: int = RANKING_CACHE_USERS,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rankings: TTLCache[Hashable, CachedRanking] = TTLCache(users, ttl, timer=timer)
        self._stats: TTLCache[str, CatalogStats] = TTLCache(1, ttl, timer=timer)
        self._cf_version = 0

    def get(self, key: Hashable, stamp: RankingStamp) -> CachedRanking | None:
        """The ranking stored under `key` with this very `stamp`, unexpired; else None (and
        a ranking under an older stamp is dropped)."""
        entry = self._rankings.get(key)
        if entry is None:
            return None
        if entry.stamp != stamp:
            del self._rankings[key]
            return None
        return entry

    def put(self, key: Hashable, stamp: RankingStamp, ranking: Ranking) -> None:
        """Keep `ranking`, computed after `stamp` was read, for RANKING_TTL_SECONDS. The first
        ranking of a newer CF model drops every other: each holds its CF model, and a large
        one must not stay in memory twice."""
        if stamp.cf_version != self._cf_version:
            self._rankings.clear()
            self._cf_version = stamp.cf_version
        self._rankings[key] = CachedRanking(stamp, ranking)

    def clear(self) -> None:
        """Forget every ranking and the vote medians."""
        self._rankings.clear()
        self._stats.clear()

    async def catalog_stats(self, load: Callable[[], Awaitable[CatalogStats]]) -> CatalogStats:
        """The catalog's vote medians (the 🧭/🎲 quality floor and "lesser-known",
        recommender.picks), loaded with `load` at most once per TTL: films added since move
        a median of thousands of films by little, and for at most RANKING_TTL_SECONDS."""
        stats = self._stats.get("catalog")
        if stats is None:
            stats = self._stats["catalog"] = await load()
        return stats
