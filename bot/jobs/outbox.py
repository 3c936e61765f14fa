"""Queueing jobs: the task names, deferring with queueing locks, and what one update asks
for (`JobOutbox`), deferred after its transaction commits."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import procrastinate
import structlog
from procrastinate.exceptions import AlreadyEnqueued

from domain.embeddings import JOB_BATCH

log = structlog.get_logger(__name__)


#: Task names as stored in procrastinate_jobs.task_name.
EMBED_FILMS = "embed_films"
EMBED_REVIEWS = "embed_reviews"
REFRESH_TASTE = "refresh_taste"
REFRESH_SUMMARY = "refresh_summary"
EMBED_TOPICS = "embed_avoid_topics"
REBUILD_CF = "rebuild_cf"
SWEEP = "sweep"
RUN_IMPORT = "run_import"
RECOVER_STALLED = "recover_stalled"


async def defer_taste(app: procrastinate.App, user_id: int) -> None:
    """Queue a taste refresh unless one for this user is already waiting."""
    with contextlib.suppress(AlreadyEnqueued):
        await app.configure_task(REFRESH_TASTE, queueing_lock=f"taste:{user_id}").defer_async(user_id=user_id)


async def defer_summary(app: procrastinate.App, user_id: int) -> None:
    """Queue a taste-summary refresh unless one for this user is already waiting."""
    with contextlib.suppress(AlreadyEnqueued):
        await app.configure_task(REFRESH_SUMMARY, queueing_lock=f"summary:{user_id}").defer_async(
            user_id=user_id
        )


async def _defer(app: procrastinate.App, task: str, **kwargs: Any) -> None:
    await app.configure_task(task).defer_async(**kwargs)


def _chunks(items: Sequence[int], size: int) -> list[list[int]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


@dataclass
class JobOutbox:
    """The jobs one update asked for (implements `domain.ports.JobQueue`); deferred by
    `flush` after the update's transaction has committed."""

    review_ids: set[int] = field(default_factory=set)
    tmdb_ids: set[int] = field(default_factory=set)
    topic_ids: set[int] = field(default_factory=set)
    user_ids: set[int] = field(default_factory=set)
    summary_user_ids: set[int] = field(default_factory=set)
    import_ids: set[int] = field(default_factory=set)

    def embed_reviews(self, review_ids: Sequence[int]) -> None:
        self.review_ids.update(review_ids)

    def embed_films(self, tmdb_ids: Sequence[int]) -> None:
        self.tmdb_ids.update(tmdb_ids)

    def refresh_taste(self, user_id: int) -> None:
        self.user_ids.add(user_id)

    def embed_avoid_topics(self, topic_ids: Sequence[int]) -> None:
        self.topic_ids.update(topic_ids)

    def refresh_summary(self, user_id: int) -> None:
        self.summary_user_ids.add(user_id)

    def run_import(self, import_id: int) -> None:
        self.import_ids.add(import_id)

    def __bool__(self) -> bool:
        return bool(
            self.review_ids
            or self.tmdb_ids
            or self.topic_ids
            or self.user_ids
            or self.summary_user_ids
            or self.import_ids
        )

    async def flush(self, app: procrastinate.App) -> None:
        """Defer everything recorded. A failure is logged and swallowed: the sweep catches
        up, and the user's update has already succeeded."""
        if not self:
            return
        try:
            for chunk in _chunks(sorted(self.tmdb_ids), JOB_BATCH):
                await _defer(app, EMBED_FILMS, tmdb_ids=chunk)
            if self.review_ids:
                await _defer(app, EMBED_REVIEWS, review_ids=sorted(self.review_ids))
            if self.topic_ids:
                await _defer(app, EMBED_TOPICS, topic_ids=sorted(self.topic_ids))
            for user_id in sorted(self.user_ids):
                await defer_taste(app, user_id)
            for user_id in sorted(self.summary_user_ids):
                await defer_summary(app, user_id)
            for import_id in sorted(self.import_ids):
                await _defer(app, RUN_IMPORT, import_id=import_id)
        except Exception:
            log.exception("jobs_defer_failed", reviews=len(self.review_ids), users=len(self.user_ids))
        finally:
            self.review_ids.clear()
            self.tmdb_ids.clear()
            self.topic_ids.clear()
            self.user_ids.clear()
            self.summary_user_ids.clear()
            self.import_ids.clear()
