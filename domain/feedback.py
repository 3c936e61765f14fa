"""Answers to a pick (✅ Watched, ⏭ Skip, 🚫 Not interested) and their ↩️ Undo, for UNDO_WINDOW
after the tap.

An answer sets the recommendation item's status (stamped `status_at`); 🚫 also marks the film
`user_films.not_interested` (excluded for good, a dislike) and refreshes the taste.

Undoing puts the recommendation item back to `shown` (its `status_at` cleared, as if never
answered). Undoing 🚫 also takes back what the tap did to the film: `user_films.not_interested`
is unset, and the film may be recommended again, under this rule:

- the tap set the flag. The recommender never shows a film already marked 🚫, so when this
  card was shown the flag was unset, and the item's own move from `shown` to `not_interested`
  (stamped `status_at`, within the window) is what set it;
- unless another of the user's picks of the same film is still answered 🚫 (an older card of
  the same film tapped 🚫 too): that answer keeps the flag.

A log row the 🚫 tap created and that says nothing else (no rating, not watched, liked or on
the watchlist) is deleted, and the taste is refreshed. Undoing ✅ reopens the item only: a
rating already saved from the review it started stays (leaving that review flow, if it is
still open, is the chat's business: bot/handlers/ratings.py). ⏭ has no other effect to undo.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.library import LibraryRepository
from db.repositories.recommendations import RecommendationRepository
from domain.entities import ItemStatus
from domain.picks import Feedback
from domain.ports import JobQueue

log = structlog.get_logger(__name__)

#: How long after a ✅ / ⏭ / 🚫 tap ↩️ Undo still works.
UNDO_WINDOW = dt.timedelta(minutes=5)


class UndoOutcome(Enum):
    UNDONE = "undone"
    #: the item is already `shown` (undone before, or never answered): nothing changed
    NOTHING_TO_UNDO = "nothing"
    #: answered longer than the window ago: nothing changed
    TOO_LATE = "too_late"
    #: not this user's item (or no such item): nothing changed
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class Undo:
    """What an undo did: `status` is the answer taken back (UNDONE only); `tmdb_id` the film
    (None for NOT_FOUND)."""

    outcome: UndoOutcome
    item_id: int
    tmdb_id: int | None = None
    status: ItemStatus | None = None


class FeedbackService:
    def __init__(self, session: AsyncSession, jobs: JobQueue, *, window: dt.timedelta = UNDO_WINDOW) -> None:
        self.items = RecommendationRepository(session)
        self.library = LibraryRepository(session)
        self.jobs = jobs
        self.window = window

    async def answer(self, user_id: int, item_id: int, status: ItemStatus) -> Feedback:
        """Mark one of the user's picks watched, skipped or not interested (🚫: the film is
        excluded for good and counts as a dislike). Other users' items are NOT_FOUND."""
        tmdb_id = await self.items.set_status(item_id, user_id, status.value)
        if tmdb_id is not None:
            if status is ItemStatus.NOT_INTERESTED:
                await self.library.mark_not_interested(user_id, tmdb_id, source="bot")
                self.jobs.refresh_taste(user_id)
            log.info("pick_feedback", user_id=user_id, item_id=item_id, status=status.value)
            return Feedback.UPDATED
        item = await self.items.get_for_user(item_id, user_id)
        return Feedback.NOT_FOUND if item is None else Feedback.ALREADY_DONE

    async def undo(self, user_id: int, item_id: int, now: dt.datetime) -> Undo:
        """Take back the user's answer to one of their picks (module docstring), if it was given
        at most `window` before `now` (timezone-aware). Another user's item is NOT_FOUND."""
        item = await self.items.get_for_user(item_id, user_id)
        if item is None:
            return Undo(UndoOutcome.NOT_FOUND, item_id)
        if item.status == ItemStatus.SHOWN:
            return Undo(UndoOutcome.NOTHING_TO_UNDO, item_id, item.tmdb_id)
        if item.status_at is None or now - item.status_at > self.window:
            return Undo(UndoOutcome.TOO_LATE, item_id, item.tmdb_id)
        status = ItemStatus(item.status)
        if not await self.items.reopen(item.id, user_id, item.status, item.status_at):
            return Undo(UndoOutcome.NOTHING_TO_UNDO, item_id, item.tmdb_id)  # a concurrent undo won
        if status is ItemStatus.NOT_INTERESTED:
            if not await self.items.answered_elsewhere(user_id, item.tmdb_id, status.value, besides=item.id):
                await self.library.unmark_not_interested(user_id, item.tmdb_id)
            self.jobs.refresh_taste(user_id)
        log.info("pick_feedback_undone", user_id=user_id, item_id=item_id, status=status.value)
        return Undo(UndoOutcome.UNDONE, item_id, item.tmdb_id, status)
