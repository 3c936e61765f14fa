"""Queueing jobs: the task names, deferring with queueing locks, and what one update asks
for (`JobOutbox`), deferred after its transaction commits."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
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
CLOSE_GROUP_ROUND = "close_group_round"


async def defer_taste(app: procrastinate.App, user_id: int) -> None:
    """Queue a taste refresh unless one for this user is already waiting."""
    with contextlib.suppress(AlreadyEnqueued):
        await app.configure_task(REFRESH_TASTE, queueing_lock=f"taste:{user_id}").defer_async(user_id=user_id)


async def defer_tastes(app: procrastinate.App, user_ids: Iterable[int]) -> int:
    """`defer_taste` for each user (one job per user at most waiting); returns how many
    users were asked for."""
    count = 0
    for user_id in user_ids:
        await defer_taste(app, user_id)
        count += 1
    return count


async def defer_films(app: procrastinate.App, tmdb_ids: Sequence[int], *, priority: int | None = None) -> int:
    """Queue `embed_films` jobs of JOB_BATCH films each for these films (the task's priority
    unless `priority` is given: higher runs first); returns the number of jobs.

    Raises:
        procrastinate.exceptions.ConnectorException: the queue could not be reached.
    """
    chunks = batches(tmdb_ids, JOB_BATCH)
    for chunk in chunks:
        kwargs: dict[str, Any] = {"tmdb_ids": chunk}
        await app.configure_task(EMBED_FILMS, priority=priority).defer_async(**kwargs)
    return len(chunks)


#: Seconds between an import's end and the CF rebuild it asks for. `rebuild_cf` has a
#: queueing lock, so the imports that end while that rebuild waits share it: a burst of
#: imports costs one rebuild, and the model still follows within about half a minute.
CF_REBUILD_DELAY_S = 30.0


async def defer_cf_rebuild(app: procrastinate.App, *, delay_s: float = CF_REBUILD_DELAY_S) -> bool:
    """Queue a CF model rebuild in `delay_s` seconds; False (logged at info) when one is
    already waiting, which then covers this request too.

    Raises:
        procrastinate.exceptions.ConnectorException: the queue could not be reached.
    """
    try:
        await app.configure_task(
            REBUILD_CF, queueing_lock=REBUILD_CF, schedule_in={"seconds": delay_s}
        ).defer_async()
    except AlreadyEnqueued:
        log.info("cf_rebuild_already_queued")
        return False
    log.info("cf_rebuild_queued", delay_s=delay_s)
    return True


async def defer_round_close(app: procrastinate.App, round_id: int, delay_s: float) -> None:
    """Queue the end of a group round's vote in `delay_s` seconds (one job per round)."""
    with contextlib.suppress(AlreadyEnqueued):
        await app.configure_task(
            CLOSE_GROUP_ROUND, queueing_lock=f"round:{round_id}", schedule_in={"seconds": delay_s}
        ).defer_async(round_id=round_id)


async def defer_summary(app: procrastinate.App, user_id: int) -> None:
    """Queue a taste-summary refresh unless one for this user is already waiting."""
    with contextlib.suppress(AlreadyEnqueued):
        await app.configure_task(REFRESH_SUMMARY, queueing_lock=f"summary:{user_id}").defer_async(
            user_id=user_id
        )


async def defer_task(app: procrastinate.App, task: str, **kwargs: Any) -> None:
    """Queue the task named `task` on `app` with `kwargs` (its queue, priority and locks are the
    task's own)."""
    await app.configure_task(task).defer_async(**kwargs)


def batches(items: Sequence[int], size: int) -> list[list[int]]:
    """`items` in lists of at most `size`, in order (one job each)."""
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
    #: group round id → seconds until its vote closes
    group_rounds: dict[int, float] = field(default_factory=dict)

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

    def close_group_round(self, round_id: int, delay_seconds: float) -> None:
        self.group_rounds[round_id] = delay_seconds

    def __bool__(self) -> bool:
        return bool(
            self.review_ids
            or self.tmdb_ids
            or self.topic_ids
            or self.user_ids
            or self.summary_user_ids
            or self.import_ids
            or self.group_rounds
        )

    async def flush(self, app: procrastinate.App) -> None:
        """Defer everything recorded. A failure is logged and swallowed: the sweep catches
        up, and the user's update has already succeeded."""
        if not self:
            return
        try:
            await defer_films(app, sorted(self.tmdb_ids))
            if self.review_ids:
                await defer_task(app, EMBED_REVIEWS, review_ids=sorted(self.review_ids))
            if self.topic_ids:
                await defer_task(app, EMBED_TOPICS, topic_ids=sorted(self.topic_ids))
            for user_id in sorted(self.user_ids):
                await defer_taste(app, user_id)
            for user_id in sorted(self.summary_user_ids):
                await defer_summary(app, user_id)
            for import_id in sorted(self.import_ids):
                await defer_task(app, RUN_IMPORT, import_id=import_id)
            for round_id, delay in sorted(self.group_rounds.items()):
                await defer_round_close(app, round_id, delay)
        except Exception:
            log.exception("jobs_defer_failed", reviews=len(self.review_ids), users=len(self.user_ids))
        finally:
            self.review_ids.clear()
            self.tmdb_ids.clear()
            self.topic_ids.clear()
            self.user_ids.clear()
            self.summary_user_ids.clear()
            self.import_ids.clear()
            self.group_rounds.clear()
