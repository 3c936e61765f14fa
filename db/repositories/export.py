"""Everything one user owns, as flat rows for /export (see domain.profile.EXPORT_COLUMNS)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    AvoidTopic,
    Film,
    Recommendation,
    RecommendationItem,
    Review,
    TasteSummary,
    UserFilm,
    Watch,
)

#: One exported row: column name → value (None, str, int, bool, Decimal, date or datetime).
Row = dict[str, Any]


class ExportRepository:
    """Every query is filtered by `user_id`; each kind is one query (joined with the film)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rows(self, user_id: int) -> list[Row]:
        """The user's rows, kind by kind: rating, review, watch, recommendation, feedback,
        avoid_topic, taste_summary; each kind oldest first."""
        return [
            *await self._ratings(user_id),
            *await self._reviews(user_id),
            *await self._watches(user_id),
            *await self._recommendations(user_id),
            *await self._avoid_topics(user_id),
            *await self._summary(user_id),
        ]

    async def _ratings(self, user_id: int) -> list[Row]:
        stmt = (
            select(UserFilm, Film.title, Film.year)
            .join(Film, Film.tmdb_id == UserFilm.tmdb_id)
            .where(UserFilm.user_id == user_id)
            .order_by(UserFilm.rated_at.asc().nulls_first(), UserFilm.tmdb_id)
        )
        result: Sequence[Any] = (await self.session.execute(stmt)).all()
        return [
            {
                "kind": "rating",
                "date": uf.rated_at or uf.watched_on,
                "tmdb_id": uf.tmdb_id,
                "title": title,
                "year": year,
                "rating": _stars(uf.rating),
                "watched": uf.watched,
                "liked": uf.liked,
                "watchlist": uf.on_watchlist,
                "not_interested": uf.not_interested,
                "source": uf.source,
            }
            for uf, title, year in result
        ]

    async def _reviews(self, user_id: int) -> list[Row]:
        stmt = (
            select(Review, Film.title, Film.year)
            .join(Film, Film.tmdb_id == Review.tmdb_id)
            .where(Review.user_id == user_id)
            .order_by(Review.created_at, Review.id)
        )
        result: Sequence[Any] = (await self.session.execute(stmt)).all()
        return [
            {
                "kind": "review",
                "date": review.reviewed_on or review.created_at,
                "tmdb_id": review.tmdb_id,
                "title": title,
                "year": year,
                "rating": _stars(review.rating),
                "text": review.text,
                "source": review.source,
            }
            for review, title, year in result
        ]

    async def _watches(self, user_id: int) -> list[Row]:
        stmt = (
            select(Watch, Film.title, Film.year)
            .join(Film, Film.tmdb_id == Watch.tmdb_id)
            .where(Watch.user_id == user_id)
            .order_by(Watch.watched_on, Watch.tmdb_id)
        )
        result: Sequence[Any] = (await self.session.execute(stmt)).all()
        return [
            {
                "kind": "watch",
                "date": watch.watched_on,
                "tmdb_id": watch.tmdb_id,
                "title": title,
                "year": year,
                "rating": _stars(watch.rating),
            }
            for watch, title, year in result
        ]

    async def _recommendations(self, user_id: int) -> list[Row]:
        """One `recommendation` row per pick shown, then one `feedback` row per pick the user
        answered (✅ watched, ⏭ skipped, 🚫 not interested), dated when they answered."""
        stmt = (
            select(RecommendationItem, Recommendation.strategy, Film.title, Film.year)
            .join(Recommendation, Recommendation.id == RecommendationItem.recommendation_id)
            .join(Film, Film.tmdb_id == RecommendationItem.tmdb_id)
            .where(RecommendationItem.user_id == user_id, Recommendation.user_id == user_id)
            .order_by(RecommendationItem.created_at, RecommendationItem.id)
        )
        result: Sequence[Any] = (await self.session.execute(stmt)).all()
        shown: list[Row] = []
        feedback: list[Row] = []
        for item, strategy, title, year in result:
            film = {"tmdb_id": item.tmdb_id, "title": title, "year": year}
            shown.append(
                {
                    "kind": "recommendation",
                    "date": item.created_at,
                    **film,
                    "slot": item.slot,
                    "status": item.status,
                    "text": item.reason,
                    "source": strategy,
                }
            )
            if item.status != "shown":
                feedback.append(
                    {
                        "kind": "feedback",
                        "date": item.status_at,
                        **film,
                        "slot": item.slot,
                        "status": item.status,
                    }
                )
        feedback.sort(
            key=lambda row: (row["date"] is None, row["date"] or dt.datetime.min.replace(tzinfo=dt.UTC))
        )
        return shown + feedback

    async def _avoid_topics(self, user_id: int) -> list[Row]:
        stmt = select(AvoidTopic).where(AvoidTopic.user_id == user_id).order_by(AvoidTopic.id)
        return [
            {"kind": "avoid_topic", "date": topic.created_at, "text": topic.topic}
            for topic in await self.session.scalars(stmt)
        ]

    async def _summary(self, user_id: int) -> list[Row]:
        summary = await self.session.get(TasteSummary, user_id)
        if summary is None:
            return []
        return [
            {
                "kind": "taste_summary",
                "date": summary.updated_at,
                "text": summary.text,
                "source": summary.source,
            }
        ]


def _stars(rating: Decimal | None) -> str | None:
    """A rating as exported: "4.5" (0.5–5 stars), or None."""
    return None if rating is None else f"{rating:.1f}"
