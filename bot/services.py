"""Services for one update, built around that update's database session.

`ServiceFactory` is created once at start-up with the long-lived parts (TMDB client,
settings, the CF model cache, the embedding model's name); `bind(session, jobs)` gives the
per-update services handlers ask for by name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from domain.avoid import AvoidService
from domain.catalog import CatalogService
from domain.cf import CFModelCache
from domain.imports import ImportService
from domain.ports import JobQueue, MovieSource
from domain.profile import ProfileService
from domain.recommendations import RecommendationService
from domain.reviews import ReviewService


class Services(TypedDict):
    """What handlers may declare as parameters (besides aiogram's own: state, bot, …)."""

    catalog: CatalogService
    reviews: ReviewService
    recommendations: RecommendationService
    imports: ImportService
    profile: ProfileService
    avoid: AvoidService


@dataclass(frozen=True)
class ServiceFactory:
    """`embedding_model` names the vectors the recommender reads (None: ignore vectors)."""

    settings: Settings
    movie_source: MovieSource | None
    embedding_model: str | None = None
    cf_cache: CFModelCache = field(default_factory=CFModelCache)

    def bind(self, session: AsyncSession, jobs: JobQueue) -> Services:
        catalog = CatalogService(
            session, self.movie_source, ttl=dt.timedelta(days=self.settings.tmdb.cache_ttl_days)
        )
        return Services(
            catalog=catalog,
            reviews=ReviewService(session, jobs, max_chars=self.settings.bot.max_review_chars),
            recommendations=RecommendationService(
                session,
                catalog,
                repeat_window=dt.timedelta(days=self.settings.bot.recommend_repeat_window_days),
                cf_cache=self.cf_cache,
                embedding_model=self.embedding_model,
                jobs=jobs,
            ),
            imports=ImportService(session, catalog, jobs),
            profile=ProfileService(session),
            avoid=AvoidService(session, jobs),
        )
