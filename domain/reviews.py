"""Reviews written in the bot: a rating (0.5–5, half steps) and a text of any length, and the
draft that collects them message by message."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.library import LibraryRepository
from db.repositories.recommendations import RecommendationRepository
from domain.entities import ItemStatus, Source
from domain.errors import ReviewTooLongError
from domain.parsing import RatingError, normalize_rating, split_rating
from domain.ports import JobQueue

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class ReviewDraft:
    """A review being written in the chat, kept in the conversation state (JSON) between
    messages, so nothing typed is lost to a restart or to another process.

    - `tmdb_id`: the film, once known; `item_id`: the pick it came from (✅ Watched).
    - `rating`: 0.5–5 once known.
    - `parts`: the review's text messages by Telegram `message_id`. Telegram splits a text
      over 4,096 characters into several messages, which may arrive in any order: the text
      is the parts in `message_id` order. A message already taken (a double delivery) is
      not taken twice.
    - `review_id`: the saved review, once saved.
    """

    tmdb_id: int | None = None
    item_id: int | None = None
    rating: Decimal | None = None
    parts: dict[int, str] = field(default_factory=dict)
    review_id: int | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.parts[k] for k in sorted(self.parts) if self.parts[k])

    def take(self, message_id: int, text: str) -> bool:
        """Take one text message; False when this message was taken before.

        While the rating is unknown, a leading rating ("4.5 …", "★★★★ …", "8/10 …") is the
        rating and the rest a part of the review; once it is known, the whole message is.

        Raises:
            RatingError: the message starts with a number that is not a rating ("7 great");
                the rest of the message is kept as a part all the same.
        """
        if message_id in self.parts:
            return False
        if self.rating is not None:
            self.parts[message_id] = text.strip()
            return True
        try:
            rated = split_rating(text)
        except RatingError as exc:
            self.parts[message_id] = exc.rest
            raise
        self.parts[message_id] = rated.text
        self.rating = rated.rating
        return True

    def to_json(self) -> dict[str, Any]:
        """The draft as JSON-safe values (FSM data)."""
        return {
            "tmdb_id": self.tmdb_id,
            "item_id": self.item_id,
            "rating": None if self.rating is None else str(self.rating),
            "parts": {str(k): v for k, v in self.parts.items()},
            "review_id": self.review_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReviewDraft:
        """Read `to_json`'s form back; missing keys are unknowns."""
        rating = data.get("rating")
        return cls(
            tmdb_id=data.get("tmdb_id"),
            item_id=data.get("item_id"),
            rating=None if rating is None else Decimal(rating),
            parts={int(k): str(v) for k, v in (data.get("parts") or {}).items()},
            review_id=data.get("review_id"),
        )


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
        # the review written next takes the rating (upsert_review syncs it): no sync here
        await self.library.rate(user_id, tmdb_id, rating, source=Source.BOT, sync_review=False)
        review_id, created = await self.library.upsert_review(
            user_id,
            tmdb_id,
            rating=rating,
            text=text,
            source=Source.BOT,
            recommendation_item_id=recommendation_item_id,
        )
        self.jobs.refresh_summary(user_id)
        if text:  # the embedding job refreshes the taste after it, in the same job
            self.jobs.embed_reviews([review_id])
        else:
            self.jobs.refresh_taste(user_id)
        log.info("review_saved", user_id=user_id, tmdb_id=tmdb_id, created=created, chars=len(text))
        return SavedReview(review_id, created, len(text))
