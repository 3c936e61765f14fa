"""Background jobs on a PostgreSQL queue (procrastinate): embeddings, taste vectors, the CF model.

- Handlers never run these jobs. Services record what they want in the update's `JobOutbox`
  (`domain.ports.JobQueue`); `DatabaseMiddleware` defers the jobs after the update's
  transaction commits, so a job never sees uncommitted data.
- `python -m bot worker` runs workers (any number, on any machine that reaches the
  database); `python -m bot run` also runs one in-process unless `WORKER_IN_PROCESS=false`.
- A job that raises is retried with exponential backoff (RETRY); after the last attempt it
  stays `failed`, listed by `python -m bot jobs failed` and re-queued by `python -m bot jobs
  retry ID`.
- Nothing is lost when the worker is down or a deferral fails: the periodic `sweep` finds
  every film, review and topic without a vector for the current model and every stale taste
  vector, and queues them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import procrastinate
import structlog
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.session import sync_url
from domain.cf import build_cf_model
from domain.embeddings import JOB_BATCH, EmbeddingService
from domain.ports import Embedder

log = structlog.get_logger(__name__)

#: Up to 4 retries (5 runs), waiting 10 s, 100 s, ~17 min and ~2.8 h (procrastinate's
#: wait = exponential_wait ** (attempts + 1)), so an OpenAI outage of a few hours is ridden
#: out before a job is marked failed.
RETRY = procrastinate.RetryStrategy(max_attempts=4, exponential_wait=10)
QUEUE = "recommender"
#: Task names as stored in procrastinate_jobs.task_name.
EMBED_FILMS = "embed_films"
EMBED_REVIEWS = "embed_reviews"
REFRESH_TASTE = "refresh_taste"
EMBED_TOPICS = "embed_avoid_topics"
REBUILD_CF = "rebuild_cf"
SWEEP = "sweep"

blueprint = procrastinate.Blueprint()


@dataclass
class WorkerRuntime:
    """What the tasks need, set by `run_worker` (tasks run only inside a worker)."""

    session_factory: async_sessionmaker[AsyncSession]
    embedder: Embedder
    app: procrastinate.App


_runtime: WorkerRuntime | None = None


def _rt() -> WorkerRuntime:
    if _runtime is None:  # pragma: no cover - a task outside run_worker is a programming error
        raise RuntimeError("job ran outside bot.jobs.run_worker")
    return _runtime


async def _in_session(work: Callable[[EmbeddingService, AsyncSession], Awaitable[Any]]) -> Any:
    rt = _rt()
    async with rt.session_factory() as session:
        result = await work(EmbeddingService(session, rt.embedder), session)
        await session.commit()
        return result


@blueprint.task(name=EMBED_FILMS, queue=QUEUE, retry=RETRY)
async def embed_films(tmdb_ids: list[int]) -> int:
    """Embed up to JOB_BATCH catalog films (one embedder call)."""
    return int(await _in_session(lambda svc, _s: svc.embed_films(tmdb_ids)))


@blueprint.task(name=EMBED_REVIEWS, queue=QUEUE, retry=RETRY)
async def embed_reviews(review_ids: list[int]) -> int:
    """Embed reviews (one embedder call), then refresh their authors' taste vectors."""
    authors: set[int] = await _in_session(lambda svc, _s: svc.embed_reviews(review_ids))
    for user_id in sorted(authors):
        await defer_taste(_rt().app, user_id)
    return len(authors)


@blueprint.task(name=REFRESH_TASTE, queue=QUEUE, retry=RETRY)
async def refresh_taste(user_id: int) -> bool:
    """Recompute one user's taste vector."""
    return bool(await _in_session(lambda svc, _s: svc.refresh_taste(user_id)))


@blueprint.task(name=EMBED_TOPICS, queue=QUEUE, retry=RETRY)
async def embed_avoid_topics(topic_ids: list[int]) -> int:
    """Embed /avoid topics."""
    return int(await _in_session(lambda svc, _s: svc.embed_avoid_topics(topic_ids)))


@blueprint.periodic(cron="23 * * * *")
@blueprint.task(name=REBUILD_CF, queue=QUEUE, retry=RETRY, queueing_lock=REBUILD_CF, lock=REBUILD_CF)
async def rebuild_cf(timestamp: int | None = None) -> int:
    """Retrain the CF model from every user's history (hourly, and on demand)."""

    async def work(_svc: EmbeddingService, session: AsyncSession) -> int:
        return (await build_cf_model(session)).version

    return int(await _in_session(work))


@blueprint.periodic(cron="*/10 * * * *")
@blueprint.task(name=SWEEP, queue=QUEUE, queueing_lock=SWEEP, lock=SWEEP)
async def sweep(timestamp: int | None = None) -> dict[str, int]:
    """Queue whatever still lacks a vector for the current model, and stale tastes."""
    return await queue_missing(_rt().app, _rt().session_factory, _rt().embedder)


async def queue_missing(
    app: procrastinate.App, session_factory: async_sessionmaker[AsyncSession], embedder: Embedder
) -> dict[str, int]:
    """Queue embedding jobs (JOB_BATCH items each) for every catalog film, review and avoid
    topic without a current vector, and a taste refresh for every stale user. Returns counts.
    Used by the periodic sweep and by `python -m bot embed backfill`."""
    async with session_factory() as session:
        svc = EmbeddingService(session, embedder)
        films = await svc.films_to_embed()
        reviews = await svc.reviews_to_embed()
        topics = [t for t, _ in await svc.vectors.topics_to_embed(svc.model)]
        users = await svc.stale_tastes()
    for chunk in _chunks(films, JOB_BATCH):
        await _defer(app, EMBED_FILMS, tmdb_ids=chunk)
    for chunk in _chunks(reviews, JOB_BATCH):
        await _defer(app, EMBED_REVIEWS, review_ids=chunk)
    if topics:
        await _defer(app, EMBED_TOPICS, topic_ids=topics)
    for user_id in users:
        await defer_taste(app, user_id)
    counts = {"films": len(films), "reviews": len(reviews), "topics": len(topics), "users": len(users)}
    log.info("embeddings_queued", **counts)
    return counts


async def defer_taste(app: procrastinate.App, user_id: int) -> None:
    """Queue a taste refresh unless one for this user is already waiting."""
    with contextlib.suppress(AlreadyEnqueued):
        await app.configure_task(REFRESH_TASTE, queueing_lock=f"taste:{user_id}").defer_async(user_id=user_id)


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

    def embed_reviews(self, review_ids: Sequence[int]) -> None:
        self.review_ids.update(review_ids)

    def embed_films(self, tmdb_ids: Sequence[int]) -> None:
        self.tmdb_ids.update(tmdb_ids)

    def refresh_taste(self, user_id: int) -> None:
        self.user_ids.add(user_id)

    def embed_avoid_topics(self, topic_ids: Sequence[int]) -> None:
        self.topic_ids.update(topic_ids)

    def __bool__(self) -> bool:
        return bool(self.review_ids or self.tmdb_ids or self.topic_ids or self.user_ids)

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
        except Exception:
            log.exception("jobs_defer_failed", reviews=len(self.review_ids), users=len(self.user_ids))
        finally:
            self.review_ids.clear()
            self.tmdb_ids.clear()
            self.topic_ids.clear()
            self.user_ids.clear()


def make_job_app(database_url: str, *, periodic: bool = True) -> procrastinate.App:
    """A procrastinate App on the bot's database (psycopg 3 connection pool), with the tasks.
    Open it with `async with app.open_async():`. `periodic=False` leaves out the schedule
    (the sweep and the hourly CF rebuild), so a worker runs only what was queued (tests)."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=sync_url(database_url)),
        worker_defaults={"queues": [QUEUE]},
    )
    app.add_tasks_from(blueprint, namespace="")
    if not periodic:
        app.periodic_registry.periodic_tasks.clear()
    return app


async def run_worker(
    app: procrastinate.App,
    session_factory: async_sessionmaker[AsyncSession],
    embedder: Embedder,
    *,
    wait: bool = True,
    concurrency: int = 1,
    name: str | None = None,
) -> None:
    """Run a worker on an opened `app` until cancelled (or, with wait=False, until the
    queue is empty: what tests and the benchmark use)."""
    global _runtime
    _runtime = WorkerRuntime(session_factory, embedder, app)
    try:
        await app.run_worker_async(
            queues=[QUEUE],
            wait=wait,
            concurrency=concurrency,
            name=name or "worker",
            install_signal_handlers=False,
            listen_notify=wait,
        )
    finally:
        _runtime = None


async def drain(
    app: procrastinate.App, session_factory: async_sessionmaker[AsyncSession], embedder: Embedder
) -> None:
    """Run every queued job now, in this process (tests, benchmarks, CLI)."""
    await run_worker(app, session_factory, embedder, wait=False)
