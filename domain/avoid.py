"""Soft-avoid topics (/avoid): films close to a topic are pushed down, never banned.

A topic matches a film by embedding similarity to the topic text (so "gore" also finds a
"blood-soaked slasher"), and by keyword before its vector exists. Topics belong to one user;
every query here is filtered by `user_id`.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AvoidTopic
from domain.ports import JobQueue

log = structlog.get_logger(__name__)

#: Longest topic accepted, in characters (a topic is a few words, not a review).
MAX_TOPIC_CHARS = 100
#: Most topics one user may keep.
MAX_TOPICS = 20


@dataclass(frozen=True, slots=True)
class AvoidTopicInfo:
    id: int
    topic: str


class AvoidTopicError(ValueError):
    """A topic was refused; `reason` is "empty", "too_long" or "too_many"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AvoidService:
    def __init__(self, session: AsyncSession, jobs: JobQueue) -> None:
        self.session = session
        self.jobs = jobs

    async def add(self, user_id: int, topic: str) -> AvoidTopicInfo:
        """Add a topic (whitespace collapsed); adding an existing one (any case) returns it.

        Raises:
            AvoidTopicError: empty, longer than MAX_TOPIC_CHARS, or the user has MAX_TOPICS.
        """
        topic = " ".join(topic.split())
        if not topic:
            raise AvoidTopicError("empty")
        if len(topic) > MAX_TOPIC_CHARS:
            raise AvoidTopicError("too_long")
        existing = await self.session.scalar(
            select(AvoidTopic).where(
                AvoidTopic.user_id == user_id, func.lower(AvoidTopic.topic) == topic.lower()
            )
        )
        if existing is not None:
            return AvoidTopicInfo(existing.id, existing.topic)
        count = await self.session.scalar(
            select(func.count()).select_from(AvoidTopic).where(AvoidTopic.user_id == user_id)
        )
        if (count or 0) >= MAX_TOPICS:
            raise AvoidTopicError("too_many")
        topic_id = await self.session.scalar(
            insert(AvoidTopic)
            .values(user_id=user_id, topic=topic)
            .on_conflict_do_nothing()
            .returning(AvoidTopic.id)
        )
        if topic_id is None:  # a concurrent add of the same topic won
            return await self.add(user_id, topic)
        self.jobs.embed_avoid_topics([topic_id])
        log.info("avoid_topic_added", user_id=user_id, topic_id=topic_id)
        return AvoidTopicInfo(topic_id, topic)

    async def list(self, user_id: int) -> list[AvoidTopicInfo]:
        """The user's topics, oldest first."""
        rows = await self.session.execute(
            select(AvoidTopic.id, AvoidTopic.topic)
            .where(AvoidTopic.user_id == user_id)
            .order_by(AvoidTopic.created_at, AvoidTopic.id)
        )
        return [AvoidTopicInfo(row.id, row.topic) for row in rows]

    async def remove(self, user_id: int, topic_id: int) -> bool:
        """Delete one of the user's topics; False if it is not theirs (or already gone)."""
        deleted = await self.session.scalar(
            delete(AvoidTopic)
            .where(AvoidTopic.id == topic_id, AvoidTopic.user_id == user_id)
            .returning(AvoidTopic.id)
        )
        if deleted is not None:
            log.info("avoid_topic_removed", user_id=user_id, topic_id=topic_id)
        return deleted is not None
