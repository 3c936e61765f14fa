"""The recommendation service: gathers history and candidates, calls the pure recommender,
stores and returns three picks; records feedback on them.

Seam: everything that decides *which* films lives in `recommender/` (pure functions);
this module only does I/O around it, so a better recommender replaces those functions
without touching the bot.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from enum import Enum

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.films import to_info
from db.repositories.library import LibraryRepository
from db.repositories.recommendations import NewItem, RecommendationRepository
from domain.catalog import CatalogService
from domain.entities import FilmInfo, ItemStatus, Slot
from recommender import (
    Candidate,
    FilmFeatures,
    HistoryEntry,
    Reason,
    ReasonKind,
    build_taste,
    is_cold_start,
    pick_three,
    score_candidates,
)

log = structlog.get_logger(__name__)

STRATEGY = "v1-tmdb-related"
#: Best-rated films whose TMDB recommendations/similar lists give the candidates.
MAX_SEEDS = 5
#: A film counts as liked (a seed) from this rating up, or when it is liked on Letterboxd.
SEED_MIN_RATING = 4.0
#: Popular well-rated catalog films added as candidates (the fallback and cold start).
POPULAR_CANDIDATES = 150


@dataclass(frozen=True, slots=True)
class ShownPick:
    """A pick as stored: `item_id` identifies it in callback data."""

    item_id: int
    film: FilmInfo
    slot: Slot
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class RecommendationResult:
    """Up to three picks (fewer only if the catalog runs dry). `cold_start` when the user's
    history is too thin to personalise: the picks are popular, well-rated films."""

    picks: tuple[ShownPick, ...]
    cold_start: bool
    history_size: int


class Feedback(Enum):
    """Outcome of a ✅ / ⏭ tap."""

    UPDATED = "updated"
    ALREADY_DONE = "already_done"
    NOT_FOUND = "not_found"


def features(film: FilmInfo) -> FilmFeatures:
    return FilmFeatures(
        tmdb_id=film.tmdb_id,
        title=film.title,
        year=film.year,
        genres=film.genres,
        keywords=film.keywords,
        popularity=film.popularity,
        vote_average=film.vote_average,
        vote_count=film.vote_count,
        original_language=film.original_language,
    )


def encode_reasons(reasons: tuple[Reason, ...]) -> str:
    """Reasons as stored in `recommendation_items.reason` (JSON list of [kind, values])."""
    return json.dumps([[r.kind.value, list(r.values)] for r in reasons], ensure_ascii=False)


def decode_reasons(raw: str) -> tuple[Reason, ...]:
    return tuple(Reason(ReasonKind(kind), tuple(values)) for kind, values in json.loads(raw))


class RecommendationService:
    def __init__(
        self, session: AsyncSession, catalog: CatalogService, *, repeat_window: dt.timedelta
    ) -> None:
        self.library = LibraryRepository(session)
        self.items = RecommendationRepository(session)
        self.catalog = catalog
        self.repeat_window = repeat_window

    async def recommend(self, user_id: int) -> RecommendationResult:
        """Three films the user has not rated, watched or been shown within the repeat window:
        🎯 safe, 🧭 adjacent, 🎲 wildcard.

        Raises:
            MovieSourceError: TMDB failed (only when it is configured).
        """
        rows = await self.library.history(user_id)
        history = [
            HistoryEntry(
                features(to_info(film)), float(uf.rating) if uf.rating is not None else None, uf.liked
            )
            for uf, film in rows
        ]
        taste = build_taste(history)
        exclude = {film.tmdb_id for uf, film in rows if uf.rating is not None or uf.watched}
        exclude |= await self.items.recent_tmdb_ids(user_id, self.repeat_window)

        seeds = _seeds(history)
        support = await self.catalog.related(seeds, ("recommendations", "similar"))
        # read back from the catalog: it may know more (keywords) than TMDB's list results carry
        related = await self.catalog.known(support)
        candidates = [
            Candidate(features(film), seeds=tuple(support[tmdb_id]))
            for tmdb_id, film in related.items()
            if tmdb_id not in exclude
        ]
        popular = await self.catalog.popular(
            exclude=exclude, genres=taste.top_genres, limit=POPULAR_CANDIDATES
        )
        if taste.top_genres:
            popular += await self.catalog.popular(exclude=exclude, limit=POPULAR_CANDIDATES // 2)
        candidates += [Candidate(features(film), from_popular=True) for film in popular]

        picks = pick_three(score_candidates(candidates, taste, exclude=exclude), taste)
        details = await self.catalog.get([p.film.tmdb_id for p in picks])
        stored = await self.items.create(
            user_id,
            STRATEGY,
            [NewItem(p.film.tmdb_id, p.slot.value, p.score, encode_reasons(p.reasons)) for p in picks],
        )
        shown = tuple(
            ShownPick(item.id, details.get(p.film.tmdb_id) or _from_features(p.film), p.slot, p.reasons)
            for item, p in zip(stored, picks, strict=True)
        )
        log.info(
            "recommended",
            user_id=user_id,
            history=len(history),
            candidates=len(candidates),
            seeds=len(seeds),
            picks=[p.film.tmdb_id for p in picks],
        )
        return RecommendationResult(shown, is_cold_start(taste), len(history))

    async def feedback(self, user_id: int, item_id: int, status: ItemStatus) -> Feedback:
        """Mark one of the user's picks watched or skipped. Other users' items are NOT_FOUND."""
        if await self.items.set_status(item_id, user_id, status.value):
            log.info("pick_feedback", user_id=user_id, item_id=item_id, status=status.value)
            return Feedback.UPDATED
        item = await self.items.get_for_user(item_id, user_id)
        return Feedback.NOT_FOUND if item is None else Feedback.ALREADY_DONE

    async def pick_film(self, user_id: int, item_id: int) -> FilmInfo | None:
        """The film of one of the user's picks (for ✅ → review); None if not theirs."""
        item = await self.items.get_for_user(item_id, user_id)
        if item is None:
            return None
        return (await self.catalog.get([item.tmdb_id])).get(item.tmdb_id)


def _from_features(film: FilmFeatures) -> FilmInfo:
    return FilmInfo(tmdb_id=film.tmdb_id, title=film.title, year=film.year, genres=film.genres)


def _seeds(history: list[HistoryEntry]) -> list[int]:
    """The user's best films: rated ≥ 4 or liked, best rating first, up to MAX_SEEDS."""
    liked = [h for h in history if (h.rating or 0) >= SEED_MIN_RATING or h.liked]
    liked.sort(key=lambda h: (h.rating or SEED_MIN_RATING, h.film.vote_count), reverse=True)
    return [h.film.tmdb_id for h in liked[:MAX_SEEDS]]
