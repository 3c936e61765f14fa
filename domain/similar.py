"""More like this: three picks like one film (/similar <title>, 🔁 on a pick card), for
one user.

Candidates come from four places: the CF model's neighbours of the film (its row of the
item-to-item weights: scoring the film alone as a positive signal), the films nearest to its
vector (when an embedding model is configured), TMDB's recommendations and similar lists of
it (when TMDB is configured), and the catalog's popular films sharing a genre with it (so an
offline catalog without a CF model still answers). A candidate is kept only when at least one
reason relative to the film holds (recommender/similar.py's rules).

They are then ranked by the user's own taste with `RecommendationService.rank(extra=…)`, which
also drops films the user rated, watched, marked 🚫 or was shown within the repeat window, and
films their /settings exclude; the film asked about is never a pick. The order is
`recommender.similar.combined`: CLOSENESS_SHARE of closeness to the film (relative to the
closest candidate), the rest the user's taste percentile among the candidates. `pick_three`
then fills the 🎯 🧭 🎲 slots (without the quality floor: closeness already chose the pool)
and the picks are stored like /recommend's (strategy "similar"), each with its reasons about
the film.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.films import FilmRepository
from db.repositories.rate_limits import RateLimitRepository
from db.repositories.vectors import VectorRepository
from domain.catalog import CatalogService, SearchOutcome
from domain.entities import FilmInfo
from domain.parsing import parse_title_query
from domain.picks import LOOSEN_BELOW_PICKS, RecommendationResult
from domain.recommendations import RecommendationService
from recommender import pick_three
from recommender.similar import (
    Closeness,
    FilmFacts,
    SimilarReason,
    closeness,
    combined,
    percentiles,
    relative,
    similar_reasons,
)

log = structlog.get_logger(__name__)

STRATEGY = "similar"
#: The cooldown key shared with /recommend (bot/middlewares.py ThrottleMiddleware).
RATE_LIMIT_KEY = "recommend"
#: Candidates taken from each source.
CF_NEIGHBOURS = 100
EMBEDDING_NEIGHBOURS = 50
GENRE_CANDIDATES = 100
#: Longest title query read (longer text is cut).
MAX_QUERY_CHARS = 200


@dataclass(frozen=True, slots=True)
class SimilarResult:
    """Picks like `film`: `result` as /recommend's (stored), `reasons` tmdb id → the reasons
    about `film` of each pick (non-empty for every pick)."""

    film: FilmInfo
    result: RecommendationResult
    reasons: Mapping[int, tuple[SimilarReason, ...]]


def facts(film: FilmInfo) -> FilmFacts:
    """The rule inputs of a catalog film (directors are known once its details were fetched
    from TMDB; never for the offline catalogs)."""
    return FilmFacts(film.tmdb_id, film.genres, film.keywords, film.directors)


def encode(reasons: Sequence[SimilarReason], film: FilmInfo) -> str:
    """Reasons as stored in `recommendation_items.reason`: a JSON list of [kind, values] (as
    `domain.picks.encode_reasons`), each value list ending with the asked film's id."""
    return json.dumps(
        [[r.kind.value, [*r.values, f"tmdb:{film.tmdb_id}"]] for r in reasons], ensure_ascii=False
    )


class SimilarService:
    def __init__(
        self,
        session: AsyncSession,
        catalog: CatalogService,
        recommendations: RecommendationService,
        *,
        cooldown: dt.timedelta,
        embedding_model: str | None,
    ) -> None:
        self.session = session
        self.catalog = catalog
        self.recommendations = recommendations
        self.films = FilmRepository(session)
        self.vectors = VectorRepository(session)
        self.rate_limits = RateLimitRepository(session)
        self.cooldown = cooldown
        self.embedding_model = embedding_model

    async def find(self, text: str) -> SearchOutcome | None:
        """The film a typed title means, by /review's rules (`domain.catalog.choose`): one film,
        up to five candidates, or neither (not found). None when `text` holds no title.

        Raises:
            MovieSourceError: TMDB was given up and the catalog has no such film.
        """
        query = parse_title_query(text[:MAX_QUERY_CHARS], current_year=dt.date.today().year)
        if query is None:
            return None
        return await self.catalog.search(query)

    async def full(self, film: FilmInfo) -> FilmInfo:
        """`film` with its details (search results lack keywords): the catalog's record while
        fresh, else TMDB's; `film` itself when neither has more."""
        return (await self.catalog.get([film.tmdb_id])).get(film.tmdb_id, film)

    async def known(self, tmdb_id: int) -> FilmInfo | None:
        """The catalog's record of a film (no TMDB call); None when the catalog lacks it."""
        return (await self.catalog.known([tmdb_id])).get(tmdb_id)

    async def acquire(self, user_id: int) -> float:
        """Take the user's /recommend turn (the cooldown shared with /recommend): 0.0 when
        allowed (and recorded), else the seconds left to wait."""
        if not self.cooldown:
            return 0.0
        return await self.rate_limits.try_acquire(user_id, RATE_LIMIT_KEY, self.cooldown)

    async def release(self, user_id: int) -> None:
        """Give the turn back (/similar answered without picks: candidates or not found)."""
        await self.rate_limits.release(user_id, RATE_LIMIT_KEY)

    async def more_like(self, user_id: int, film: FilmInfo) -> SimilarResult:
        """Up to three films like `film` for the user, stored as a recommendation (module
        docstring). Fewer when too few candidates pass the user's history and /settings
        (`result.loosen` then names the setting that removed the most, as for /recommend).

        Raises:
            MovieSourceError: as `RecommendationService.rank` does (TMDB failed without a budget).
        """
        asked = facts(film)
        found = await self._candidates(film)
        found.pop(film.tmdb_id, None)
        records = await self.catalog.known(found)  # full records: directors too
        max_cf = max((c.cf_weight for c in found.values()), default=0.0)
        reasons: dict[int, tuple[SimilarReason, ...]] = {}
        for tmdb_id, record in records.items():
            signals = replace(found[tmdb_id], film=facts(record))
            found[tmdb_id] = signals
            if why := similar_reasons(asked, signals, max_cf):
                reasons[tmdb_id] = why
        ranking = await self.recommendations.rank(user_id, extra=reasons.keys())
        scored = sorted(
            (s for s in ranking.scored if s.film.tmdb_id in reasons and s.film.tmdb_id != film.tmdb_id),
            key=lambda s: -s.score,
        )
        taste = percentiles([s.film.tmdb_id for s in scored])
        close = relative({s.film.tmdb_id: closeness(asked, found[s.film.tmdb_id], max_cf) for s in scored})
        rescored = [replace(s, score=combined(close[s.film.tmdb_id], taste[s.film.tmdb_id])) for s in scored]
        picks = pick_three(rescored, ranking.taste)
        shown = await self.recommendations.store_picks(
            user_id, picks, STRATEGY, {p.film.tmdb_id: encode(reasons[p.film.tmdb_id], film) for p in picks}
        )
        log.info(
            "recommended_similar",
            user_id=user_id,
            like=film.tmdb_id,
            candidates=len(found),
            with_reasons=len(reasons),
            ranked=len(scored),
            picks=[p.film.tmdb_id for p in picks],
        )
        loosen = ranking.loosen if len(shown) < LOOSEN_BELOW_PICKS else None
        result = RecommendationResult(shown, False, ranking.history_size, loosen)
        return SimilarResult(film, result, {p.film.tmdb_id: reasons[p.film.tmdb_id] for p in shown})

    async def _candidates(self, film: FilmInfo) -> dict[int, Closeness]:
        """tmdb id → its signals linking it to `film`, from every source (facts filled later)."""
        cf_model = await self.recommendations.cf_cache.get(self.session)
        ids, weights = cf_model.scores({film.tmdb_id: 1.0})
        neighbours = sorted(
            ((int(t), float(w)) for t, w in zip(ids.tolist(), weights.tolist(), strict=True) if w > 0),
            key=lambda pair: -pair[1],
        )[:CF_NEIGHBOURS]
        cf = dict(neighbours)
        pool: dict[int, None] = dict.fromkeys(cf)

        vector = None
        if self.embedding_model:
            vector = (await self.vectors.film_vectors(self.embedding_model, [film.tmdb_id])).get(film.tmdb_id)
            if vector is not None:
                near = await self.vectors.nearest_films(
                    self.embedding_model, vector, limit=EMBEDDING_NEIGHBOURS, exclude=[film.tmdb_id]
                )
                pool.update(dict.fromkeys(t for t, _ in near))

        related: set[int] = set()
        if self.catalog.online:
            related = set(await self.catalog.related([film.tmdb_id], ("recommendations", "similar")))
            pool.update(dict.fromkeys(related))

        if film.genres:
            pool.update(
                dict.fromkeys(
                    await self.films.popular_ids(
                        exclude=[film.tmdb_id], genres=film.genres, limit=GENRE_CANDIDATES
                    )
                )
            )
        sims: dict[int, float] = {}
        if self.embedding_model and vector is not None:
            sims = await self.vectors.similarities(self.embedding_model, vector, list(pool))
        return {
            t: Closeness(FilmFacts(t), cf_weight=cf.get(t, 0.0), embedding=sims.get(t), tmdb=t in related)
            for t in pool
        }
