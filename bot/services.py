"""Services for one update, built around that update's database session.

`ServiceFactory` is created once at start-up with the long-lived parts (TMDB client,
settings); `bind(session)` gives the per-update services handlers ask for by name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from domain.catalog import CatalogService
from domain.imports import ImportService
from domain.ports import MovieSource
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


@dataclass(frozen=True)
class ServiceFactory:
    settings: Settings
    movie_source: MovieSource | None

    def bind(self, session: AsyncSession) -> Services:
        catalog = CatalogService(
            session, self.movie_source, ttl=dt.timedelta(days=self.settings.tmdb.cache_ttl_days)
        )
        return Services(
            catalog=catalog,
            reviews=ReviewService(session, max_chars=self.settings.bot.max_review_chars),
            recommendations=RecommendationService(
                session,
                catalog,
                repeat_window=dt.timedelta(days=self.settings.bot.recommend_repeat_window_days),
            ),
            imports=ImportService(session, catalog),
            profile=ProfileService(session),
        )
