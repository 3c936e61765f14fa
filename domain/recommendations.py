"""The recommendation service: gathers history and candidates, calls the pure recommender,
stores and returns three picks (onboarding a new user is domain/onboarding.py; the ✅ / ⏭ / 🚫
answers to the picks are domain/feedback.py).

Candidates come from four sources (see `recommender.types.CandidateSource`): the CF model
over all users' histories (`domain.cf`), the nearest films to the user's taste vector
(pgvector HNSW), TMDB's related lists of the user's best films (when TMDB is configured),
and popular well-rated catalog films (with a thin CF signal, also well-rated films of the era
the user is watching: `PRIOR_CANDIDATES`). Everything that decides *which* films lives in
`recommender/` (pure functions); this module only does the I/O around it.

While a user waits, the catalog service's TMDB calls share a time budget
(`domain.catalog.SourceBudget`, `TMDB_INTERACTIVE_BUDGET_SECONDS`): past it, or on a TMDB
error, the ranking goes on without TMDB's lists and the picks come from the catalog.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

import numpy as np
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.films import FilmRepository, FilmRow
from db.repositories.library import HistoryRow, LibraryRepository
from db.repositories.rankings import RankingStampRepository
from db.repositories.recommendations import NewItem, RecommendationRepository
from db.repositories.vectors import VectorRepository
from domain.catalog import CatalogService
from domain.cf_cache import CFModelCache
from domain.entities import FilmInfo
from domain.picks import (
    LOOSEN_BELOW_PICKS,
    SLOT_REASONS,
    Ranking,
    RecommendationResult,
    ShownPick,
    _from_features,
    encode_reasons,
    features,
    genres_first,
    load_signals_and_history,
    reason_genres,
)
from domain.ports import MovieSourceError
from domain.preferences import Preferences, _mentions, _preferred
from domain.ranking_cache import RankingCache
from domain.settings import Setting, StandingFilters, UserSettingsService
from recommender import (
    Candidate,
    CandidateSource,
    CatalogStats,
    HistoryEntry,
    Pick,
    RecentPicks,
    build_taste,
    explain,
    history_weights,
    is_cold_start,
    pick_three,
    score_candidates,
)
from recommender.cf import recent_weights
from recommender.scoring import (
    BAYES_MIN_VOTES,
    BAYES_PRIOR_MEAN,
    DEFAULT_WEIGHTS,
    ERA_WIDTH_YEARS,
    VOTES_CAP,
    RankWeights,
    cf_strength,
    top_cf_candidates,
)

log = structlog.get_logger(__name__)

STRATEGY = "v2-hybrid"
#: Best-rated recent films whose TMDB recommendations/similar lists give candidates.
MAX_SEEDS = 3
#: A film counts as liked (a seed) from this rating up, or when it is liked on Letterboxd.
SEED_MIN_RATING = 4.0
#: Candidates taken from each source.
CF_CANDIDATES = 300
#: Best films of the short-term CF query (`recommender.cf.recent_weights`) added to them.
RECENT_CF_CANDIDATES = 100
#: Films that most often follow the user's latest ones (recommender.sequence) added to them.
SEQ_CANDIDATES = 100
TASTE_CANDIDATES = 100
POPULAR_CANDIDATES = 100
#: Well-rated, well-known films of the user's era added when the CF model knows the user
#: thinly (`recommender.scoring.cf_strength` < 1): a fresh install's CF candidates.
PRIOR_CANDIDATES = 100
#: Most recent history films the taste profile (genres, decades, keywords) is built from; the
#: CF and taste-vector signals use the whole history.
TASTE_HISTORY = 300
#: Recently shown films (the last five answers) the novelty and repeat terms look at.
RECENT_PICKS = 15
#: Loved films (TasteProfile.loved) searched for the "similar to" reason of a pick.
REASON_LIKED_POOL = 300


class RecommendationService:
    def __init__(
        self,
        session: AsyncSession,
        catalog: CatalogService,
        *,
        repeat_window: dt.timedelta,
        cf_cache: CFModelCache,
        embedding_model: str | None,
        weights: RankWeights = DEFAULT_WEIGHTS,
        rankings: RankingCache | None = None,
    ) -> None:
        """`rankings`: the process's reused rankings (domain.ranking_cache; None: this
        service's own)."""
        self.library = LibraryRepository(session)
        self.stamps = RankingStampRepository(session)
        self.rankings = rankings if rankings is not None else RankingCache()
        self.items = RecommendationRepository(session)
        self.vectors = VectorRepository(session)
        self.films = FilmRepository(session)
        self.user_settings = UserSettingsService(session)
        self.session = session
        self.catalog = catalog
        self.repeat_window = repeat_window
        self.cf_cache = cf_cache
        self.embedding_model = embedding_model
        self.weights = weights

    async def rank(
        self,
        user_id: int,
        *,
        genres: Sequence[str] = (),
        preferences: Preferences | None = None,
        extra: Collection[int] = (),
        skip_recently_shown: bool = True,
    ) -> Ranking:
        """Score every candidate for the user, best first (no picks, nothing stored).

        Hard rules: never a film the user rated, watched, marked 🚫, or (unless
        `skip_recently_shown` is False: a group's picks, domain.groups) was shown within the
        repeat window; never a film failing the user's standing filters (/settings,
        `domain.settings`; `Ranking.loosen` names the setting that removed the most).
        `preferences` (a clarifying answer) filter the candidates and add their genres
        to `genres`. `extra`: catalog films scored too, beside the user's own candidates (a
        group's shared pool). Raises MovieSourceError only when TMDB is configured, fails and
        the catalog service has no budget (with one, TMDB's part is left out instead).

        A plain ranking (no `preferences`, no `extra`, recently shown films skipped) is reused
        while nothing it reads has changed (domain.ranking_cache): the films shown since are
        left out and the terms that depend on the latest picks recomputed.
        """
        if preferences is not None or extra or not skip_recently_shown:
            return await self._rank(user_id, genres, preferences, extra, skip_recently_shown)
        key = (user_id, tuple(genres))
        stamp = await self.stamps.stamp(user_id, self.embedding_model)  # before anything it stamps
        cached = self.rankings.get(key, stamp)
        if cached is not None:
            exclude = await self.items.recent_tmdb_ids(user_id, self.repeat_window)
            return cached.rescore(await self._recent(user_id), exclude=exclude)
        ranking = await self._rank(user_id, genres, preferences, extra, skip_recently_shown)
        if not self.catalog.degraded:  # TMDB's lists are missing from it: rank again next time
            self.rankings.put(key, stamp, ranking)
        return ranking

    async def _recent(self, user_id: int) -> RecentPicks:
        """The films of the user's last RECENT_PICKS picks (the novelty and repeat terms)."""
        return RecentPicks(tuple(features(f) for f in await self.items.recent_rows(user_id, RECENT_PICKS)))

    async def _rank(
        self,
        user_id: int,
        genres: Sequence[str],
        preferences: Preferences | None,
        extra: Collection[int],
        skip_recently_shown: bool,
    ) -> Ranking:
        """`rank` without reuse: everything read from PostgreSQL (and TMDB) now."""
        if preferences is not None:
            genres = tuple(dict.fromkeys((*genres, *preferences.genres)))
        signals, rows = await load_signals_and_history(self.library, user_id, limit=TASTE_HISTORY)
        history = [
            HistoryEntry(features(row.film), row.rating, row.liked) for row in rows if not row.not_interested
        ]
        taste = build_taste(history)
        weights = history_weights(signals, tau=self.weights.recency_tau, floor=self.weights.recency_floor)
        exclude = {s.tmdb_id for s in signals if s.rating is not None or s.watched or s.not_interested}
        if skip_recently_shown:
            exclude |= await self.items.recent_tmdb_ids(user_id, self.repeat_window)
        recent = await self._recent(user_id)

        cf_model = await self.cf_cache.get(self.session)
        positive = [t for t, w in weights.items() if w > 0]
        cf_ids, cf_scores = cf_model.scores(weights)
        cf = dict(zip(cf_ids.tolist(), cf_scores.tolist(), strict=True))
        damping = self.weights.popularity_exponent
        cf_top = top_cf_candidates(cf_model, cf_ids, cf_scores, exclude, CF_CANDIDATES, damping)
        recent_ids, recent_scores = cf_model.scores(recent_weights(signals))
        recent_cf = dict(zip(recent_ids.tolist(), recent_scores.tolist(), strict=True))
        cf_top += top_cf_candidates(
            cf_model, recent_ids, recent_scores, exclude, RECENT_CF_CANDIDATES, damping
        )
        seq = cf_model.transitions.scores([s.tmdb_id for s in signals if s.interacted])
        cf_top += sorted((t for t in seq if t not in exclude), key=lambda t: (-seq[t], t))[:SEQ_CANDIDATES]
        sources: dict[int, set[CandidateSource]] = {t: {CandidateSource.CF} for t in cf_top}

        taste_vector = (
            await self.vectors.taste(self.embedding_model, user_id) if self.embedding_model else None
        )
        if taste_vector is not None and self.embedding_model:
            for tmdb_id, _sim in await self.vectors.nearest_films(
                self.embedding_model, taste_vector, limit=TASTE_CANDIDATES, exclude=exclude
            ):
                sources.setdefault(tmdb_id, set()).add(CandidateSource.TASTE)

        tmdb_seeds: dict[int, list[int]] = {}
        if self.catalog.online and weights:
            tmdb_seeds = await self.catalog.related(_seeds(rows), ("recommendations", "similar"))
            for tmdb_id in tmdb_seeds:
                sources.setdefault(tmdb_id, set()).add(CandidateSource.TMDB)

        popular = await self.catalog.popular_ids(
            exclude=exclude, genres=tuple(genres) or taste.top_genres, limit=POPULAR_CANDIDATES
        )
        strength = cf_strength(int(np.count_nonzero(cf_model.support_counts(positive))), len(positive))
        if strength < 1 and not is_cold_start(taste):  # thin CF: well-rated, well-known films of their era
            popular += await self.films.prior_ids(
                exclude=exclude,
                era_year=taste.era_year,
                prior_votes=BAYES_MIN_VOTES,
                prior_mean=BAYES_PRIOR_MEAN,
                votes_cap=VOTES_CAP,
                era_width=ERA_WIDTH_YEARS,
                limit=PRIOR_CANDIDATES,
            )
        standing = await self.user_settings.get(user_id)
        if not standing.is_default:  # a strict setting may leave out every film of the lists above
            popular += await self.user_settings.popular_ids(
                standing, exclude=exclude, limit=POPULAR_CANDIDATES
            )
        for tmdb_id in popular:
            sources.setdefault(tmdb_id, set()).add(CandidateSource.POPULAR)
        for tmdb_id in extra:
            sources.setdefault(tmdb_id, set())

        pool = [t for t in sources if t not in exclude]
        films = await self.films.rows_many(pool)
        films, loosen = await self._standing(user_id, standing, films, extra)
        if preferences is not None:
            films = _preferred(films, preferences)
        content: dict[int, float] = {}
        avoid: dict[int, float] = {}
        topics = await self.vectors.user_topics(user_id)
        if self.embedding_model:
            if taste_vector is not None:
                content = await self.vectors.similarities(self.embedding_model, taste_vector, pool)
            if topics:
                avoid = await self.vectors.avoid_similarities(self.embedding_model, user_id, pool)
        pool_support = dict(zip(pool, cf_model.support_counts(pool).tolist(), strict=True))
        candidates = [
            Candidate(
                film=features(film),
                sources=frozenset(sources[t]),
                cf=cf.get(t, 0.0),
                cf_support=pool_support[t],
                recent_cf=recent_cf.get(t, 0.0),
                seq=seq.get(t, 0.0),
                content=content.get(t),
                avoid=avoid.get(t, 0.0),
                avoid_keyword=_mentions(film, topics),
                similar_seeds=tuple(tmdb_seeds.get(t, ())),
            )
            for t in pool
            if (film := films.get(t)) is not None
        ]
        scored = score_candidates(
            candidates,
            taste,
            exclude=exclude,
            recent=recent,
            preferred_genres=genres,
            with_reasons=False,
            cf_strength=strength,
            weights=self.weights,
        )
        logged = sum(1 for s in signals if s.rating is not None or s.liked or s.watched or s.not_interested)
        return Ranking(scored, taste, weights, cf_model, logged, loosen)

    async def _standing(
        self, user_id: int, standing: StandingFilters, films: dict[int, FilmRow], extra: Collection[int]
    ) -> tuple[dict[int, FilmRow], Setting | None]:
        """The candidates that pass the user's standing filters (/settings), and the setting
        that removed the most of them (None: none removed). The watchlist setting leaves
        `extra` films alone (a list the caller chose, e.g. the watchlist itself)."""
        if standing.is_default:
            return films, None
        watchlisted: set[int] = set()
        if not standing.from_watchlist:
            watchlisted = await self.user_settings.watchlisted(user_id, films) - set(extra)
        kept = {t: f for t, f in films.items() if standing.admits(f, watchlisted=t in watchlisted)}
        if len(kept) == len(films):
            return films, None
        loosen = standing.loosen(films.values(), watchlisted=watchlisted)
        log.info("settings_applied", user_id=user_id, candidates=len(films), passing=len(kept), loosen=loosen)
        return kept, loosen

    async def recommend(
        self,
        user_id: int,
        *,
        genres: Sequence[str] = (),
        preferences: Preferences | None = None,
        ranking: Ranking | None = None,
    ) -> RecommendationResult:
        """Three films the user has not rated, watched, marked 🚫 or been shown within the
        repeat window: 🎯 safe, 🧭 adjacent, 🎲 wildcard, with the reasons that produced them.
        `genres` (from onboarding) are preferred and `preferences` (the answer to a clarifying
        question) applied for this answer only. `ranking`: what `rank` just returned for the
        same user and arguments (saves ranking twice); None ranks here.

        With a time budget (see the module docstring), TMDB failing or hanging leaves the picks
        to the catalog; only when the catalog then has no film to offer does TMDB's failure
        surface.

        Raises:
            MovieSourceError: TMDB failed (only when it is configured) and, with a budget,
                the catalog alone gave no pick.
        """
        if ranking is None:
            ranking = await self.rank(user_id, genres=genres, preferences=preferences)
        if not ranking.scored and self.catalog.degraded and ranking.loosen is None:
            raise MovieSourceError("TMDB gave no answer in time and the catalog has no candidates")
        stats = await self.rankings.catalog_stats(self._catalog_stats)
        picks = await self._explained(pick_three(ranking.scored, ranking.taste, stats), ranking)
        shown = await self.store_picks(user_id, picks, STRATEGY)
        log.info(
            "recommended",
            user_id=user_id,
            history=ranking.history_size,
            candidates=len(ranking.scored),
            picks=[p.film.tmdb_id for p in picks],
            slots=[p.slot.value for p in picks],
            degraded=self.catalog.degraded,
        )
        loosen = ranking.loosen if len(shown) < LOOSEN_BELOW_PICKS else None
        return RecommendationResult(shown, not ranking.personal, ranking.history_size, loosen)

    async def _catalog_stats(self) -> CatalogStats:
        return CatalogStats(*await self.films.vote_medians(BAYES_MIN_VOTES, BAYES_PRIOR_MEAN))

    async def _explained(self, picks: list[Pick], ranking: Ranking) -> list[Pick]:
        """Explain each pick (ranking skips reasons): the liked films behind its CF score, the
        liked films closest to it in embedding space, shared genres and themes, its rating."""
        if not picks:
            return picks
        # the loved films (the only ones a reason may name), most recent first
        liked = [t for t in ranking.weights if t in ranking.taste.loved][:REASON_LIKED_POOL]
        near: dict[int, list[int]] = {}
        if self.embedding_model and liked:
            near = await self.vectors.nearest_among(
                self.embedding_model, [p.film.tmdb_id for p in picks], liked
            )
        by_id = {s.film.tmdb_id: s for s in ranking.scored}
        cf_seeds = {
            p.film.tmdb_id: ranking.cf_model.contributors(p.film.tmdb_id, ranking.weights) for p in picks
        }
        named = ranking.taste.seed_titles
        unnamed = {t for ids in (*cf_seeds.values(), *near.values()) for t in ids if t not in named}
        taste = ranking.taste
        if unnamed:  # seeds older than the profile's window: name them too
            extra = await self.films.rows_many(unnamed)
            taste = replace(taste, seed_titles={**named, **{t: f.title for t, f in extra.items()}})
        explained = []
        for pick in picks:
            scored = by_id[pick.film.tmdb_id]
            candidate = replace(
                scored.candidate,
                cf_seeds=tuple(cf_seeds[pick.film.tmdb_id]),
                similar_seeds=tuple(
                    dict.fromkeys((*scored.candidate.similar_seeds, *near.get(pick.film.tmdb_id, ())))
                ),
            )
            slot_reasons = tuple(r for r in pick.reasons if r.kind in SLOT_REASONS)
            explained.append(replace(pick, reasons=slot_reasons + explain(candidate, taste)))
        return explained

    async def pick_film(self, user_id: int, item_id: int) -> FilmInfo | None:
        """The film of one of the user's picks (for ✅ → review); None if not theirs."""
        item = await self.items.get_for_user(item_id, user_id)
        if item is None:
            return None
        return (await self.catalog.get([item.tmdb_id])).get(item.tmdb_id)

    # --- picks from a given list (the watchlist) -------------------------------------------------
    async def recommend_from(self, user_id: int, tmdb_ids: Collection[int]) -> RecommendationResult:
        """Up to three of `tmdb_ids` (catalog films: the user's watchlist), ranked by the user's
        taste as `rank` scores its candidates, explained and stored like `recommend`'s picks
        (strategy "watchlist"): 🎯 the best fit, 🧭 and 🎲 by `pick_three` without the quality
        floor (the user chose these films). Never a film the user rated, watched or marked 🚫.
        Films shown within the repeat window are left out while at least three others remain.

        `cold_start` is False (the films are the user's own choice, not popular fallbacks);
        no picks when none of `tmdb_ids` is left. Raises MovieSourceError as `rank` does.
        """
        wanted = set(tmdb_ids)
        if not wanted:
            return RecommendationResult((), False, 0)
        ranking = await self.rank(user_id, extra=wanted, skip_recently_shown=False)
        scored = [s for s in ranking.scored if s.film.tmdb_id in wanted]
        shown_lately = await self.items.recent_tmdb_ids(user_id, self.repeat_window)
        fresh = [s for s in scored if s.film.tmdb_id not in shown_lately]
        ranking = replace(ranking, scored=fresh if len({s.film.tmdb_id for s in fresh}) >= 3 else scored)
        picks = await self._explained(pick_three(ranking.scored, ranking.taste), ranking)
        shown = await self.store_picks(user_id, picks, "watchlist")
        log.info(
            "recommended_from_list",
            user_id=user_id,
            listed=len(wanted),
            picks=[p.film.tmdb_id for p in picks],
        )
        return RecommendationResult(shown, False, ranking.history_size, from_watchlist=True)

    # --- storing picks (also those chosen elsewhere: "more like this", domain/similar.py) --------
    async def store_picks(
        self, user_id: int, picks: Sequence[Pick], strategy: str, reasons: Mapping[int, str] | None = None
    ) -> tuple[ShownPick, ...]:
        """Store `picks` as one recommendation of `strategy` (so ✅ ⏭ 🚫 work on them and the
        repeat window counts them) and return them with full film records. `reasons` (tmdb id →
        JSON as in `recommendation_items.reason`) replace the picks' own stored reasons. With no
        picks the recommendation is stored empty: it still records that the user asked (the
        admin /stats counts such users as active)."""
        reasons = reasons or {}
        details = await self.catalog.get([p.film.tmdb_id for p in picks])
        stored = await self.items.create(
            user_id,
            strategy,
            [
                NewItem(
                    p.film.tmdb_id,
                    p.slot.value,
                    p.score,
                    reasons.get(p.film.tmdb_id) or encode_reasons(p.reasons),
                )
                for p in picks
            ],
        )
        return tuple(
            ShownPick(
                item.id,
                genres_first(details.get(p.film.tmdb_id) or _from_features(p.film), reason_genres(p.reasons)),
                p.slot,
                p.reasons,
            )
            for item, p in zip(stored, picks, strict=True)
        )


def _seeds(rows: Sequence[HistoryRow]) -> list[int]:
    """The user's best recent films: rated ≥ 4 or liked, among the 50 most recent, best rating
    first, up to MAX_SEEDS (rows are most recent first)."""
    liked = [
        (row.rating if row.rating is not None else SEED_MIN_RATING, row.film.vote_count, row.tmdb_id)
        for row in rows[:50]
        if not row.not_interested and ((row.rating or 0) >= SEED_MIN_RATING or row.liked)
    ]
    liked.sort(reverse=True)
    return [tmdb_id for _, _, tmdb_id in liked[:MAX_SEEDS]]
