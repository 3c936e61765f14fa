"""Reviews written in the bot: a rating (0.5–5, half steps) and a text of any length."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.library import LibraryRepository
from db.repositories.recommendations import RecommendationRepository
from domain.entities import ItemStatus, Source
from domain.errors import ReviewTooLongError
from domain.parsing import normalize_rating
from domain.ports import JobQueue

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SavedReview:
    review_id: int
    created: bool
    length: int


class ReviewService:
    """Saves reviews with source `bot`. One review per (user, film): re-reviewing updates it."""

    def __init__(self, session: AsyncSession, jobs: JobQueue, *, max_chars: int) -> None:
        self.library = LibraryRepository(session)
        self.recommendations = RecommendationRepository(session)
        self.jobs = jobs
        self.max_chars = max_chars

    async def save(
        self,
        user_id: int,
        tmdb_id: int,
        rating: Decimal,
        text: str,
        *,
        recommendation_item_id: int | None = None,
    ) -> SavedReview:
        """Rate the film, mark it watched and store the review.

        `recommendation_item_id` links the review to the pick it came from (✅ Watched);
        it is ignored unless the item is this user's, and the item is marked watched.

        Raises:
            RatingError: `rating` is not 0.5–5 in half steps.
            ReviewTooLongError: `text` is longer than `max_chars`.
        """
        rating = normalize_rating(rating)
        text = text.strip()
        if len(text) > self.max_chars:
            raise ReviewTooLongError(self.max_chars)
        if recommendation_item_id is not None:
            item = await self.recommendations.get_for_user(recommendation_item_id, user_id)
            if item is None or item.tmdb_id != tmdb_id:
                recommendation_item_id = None
            else:
                await self.recommendations.set_status(item.id, user_id, ItemStatus.WATCHED)
        await self.library.rate(user_id, tmdb_id, rating, source=Source.BOT)
        review_id, created = await self.library.upsert_review(
            user_id,
            tmdb_id,
            rating=rating,
            text=text,
            source=Source.BOT,
            recommendation_item_id=recommendation_item_id,
        )
        self.jobs.refresh_taste(user_id)
        self.jobs.refresh_summary(user_id)
        if text:
            self.jobs.embed_reviews([review_id])
        log.info("review_saved", user_id=user_id, tmdb_id=tmdb_id, created=created, chars=len(text))
        return SavedReview(review_id, created, len(text))

    async def append(self, user_id: int, review_id: int, text: str) -> int:
        """Append one more part of a long review (Telegram splits texts over 4096 characters).

        Returns the review's new length in characters.

        Raises:
            ReviewTooLongError: the review would exceed `max_chars`; nothing is appended.
            LookupError: the review is not this user's.
        """
        current = await self.library.review_length(user_id, review_id)
        if current is None:
            raise LookupError(review_id)
        if current + 1 + len(text.strip()) > self.max_chars:
            raise ReviewTooLongError(self.max_chars)
        length = await self.library.append_review_text(user_id, review_id, text.strip())
        if length is None:  # pragma: no cover - checked above in the same transaction
            raise LookupError(review_id)
        self.jobs.embed_reviews([review_id])
        return length
