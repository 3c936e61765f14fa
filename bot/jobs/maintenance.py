"""The maintenance machinery behind the jobs (see the package docstring): stall recovery
(`recover_stalled`, `retry_stalled`, `watch_stalled` and their timings), the periodic
`rebuild_cf` and `sweep`, and what they and a starting worker queue (`queue_overdue_rounds`,
`queue_missing`, `queue_cf_if_due`).

Its tasks are registered on the blueprint of `bot.jobs.tasks`, with that module's queues,
priorities and retry strategy; `make_job_app` loads this module before it copies the
blueprint."""

from __future__ import annotations

import asyncio

import procrastinate
import structlog
from procrastinate.exceptions import ConnectorException
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.jobs.outbox import (
    EMBED_REVIEWS,
    EMBED_TOPICS,
    REBUILD_CF,
    RECOVER_STALLED,
    SWEEP,
    batches,
    defer_cf_rebuild,
    defer_films,
    defer_round_close,
    defer_task,
    defer_taste,
)
from bot.jobs.tasks import (
    BULK_QUEUE,
    IMPORT_QUEUE,
    PRIORITY_BULK,
    PRIORITY_CF,
    PRIORITY_CONTROL,
    RETRY,
    blueprint,
    current_runtime,
    in_worker_session,
)
from db.repositories.groups import GroupRepository
from domain.cf import build_cf_model
from domain.embeddings import JOB_BATCH, EmbeddingService
from domain.imports import cf_model_due
from domain.ports import Embedder

log = structlog.get_logger(__name__)

#: A running job whose worker sent no heartbeat for this long is retried (its worker died).
#: procrastinate workers send a heartbeat every 10 s (`Worker.update_heartbeat_interval`), so
#: 60 s is six missed heartbeats: a live worker whose event loop is busy is not mistaken for
#: a dead one.
STALLED_AFTER_SECONDS = 60
#: How often every worker process looks for stalled jobs: a killed worker's job is re-queued
#: at most STALLED_AFTER_SECONDS + STALL_CHECK_SECONDS (70 s) after its last heartbeat.
STALL_CHECK_SECONDS = 10.0


@blueprint.task(
    name=RECOVER_STALLED,
    queue=IMPORT_QUEUE,
    priority=PRIORITY_CONTROL,
    queueing_lock=RECOVER_STALLED,
    lock=RECOVER_STALLED,
)
async def recover_stalled(timestamp: int | None = None) -> int:
    """Re-queue jobs left running by a worker that died (see `retry_stalled`).

    Not scheduled: every worker process runs `watch_stalled` instead, which never waits in a
    queue. The task stays so that it can be queued by hand and so that a `recover_stalled`
    job queued by an older version (which scheduled it every minute) still runs."""
    return await retry_stalled(current_runtime().app)


async def retry_stalled(
    app: procrastinate.App, *, seconds_since_heartbeat: float = STALLED_AFTER_SECONDS
) -> int:
    """Retry now every job left `doing` by a worker with no heartbeat for
    `seconds_since_heartbeat` seconds, or by no worker at all (procrastinate docs, "Retry
    stalled jobs"). The job keeps its queue and priority and counts one more attempt. Returns
    how many were re-queued; a job another process re-queued first is skipped.

    Raises:
        procrastinate.exceptions.ConnectorException: the database could not be reached.
    """
    stalled = list(await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat))
    retried = 0
    for job in stalled:
        try:
            await app.job_manager.retry_job(job)
        except ConnectorException:  # no longer 'doing': another worker process re-queued it
            log.info("job_stalled_already_retried", job_id=job.id, task=job.task_name)
            continue
        log.warning("job_stalled_retried", job_id=job.id, task=job.task_name, queue=job.queue)
        retried += 1
    return retried


async def watch_stalled(
    app: procrastinate.App,
    *,
    every: float = STALL_CHECK_SECONDS,
    seconds_since_heartbeat: float = STALLED_AFTER_SECONDS,
) -> None:
    """Run `retry_stalled` at once and then every `every` seconds, until cancelled.

    A plain asyncio loop in each worker process rather than a queued job, so it never waits
    behind other jobs. A failed check (database unreachable) is logged as a warning and the
    loop carries on at the next tick."""
    while True:
        try:
            await retry_stalled(app, seconds_since_heartbeat=seconds_since_heartbeat)
        except Exception as exc:  # the database is away: try again at the next tick
            log.warning("stall_check_failed", error=repr(exc))
        await asyncio.sleep(every)


@blueprint.periodic(cron="23 * * * *")
@blueprint.task(
    name=REBUILD_CF,
    queue=BULK_QUEUE,
    priority=PRIORITY_CF,
    retry=RETRY,
    queueing_lock=REBUILD_CF,
    lock=REBUILD_CF,
)
async def rebuild_cf(timestamp: int | None = None) -> int:
    """Retrain the CF model from every user's history (hourly, and on demand)."""

    async def work(_svc: EmbeddingService, session: AsyncSession) -> int:
        from bot.settings import load_settings  # WorkerRuntime carries no settings: CF_PRIOR_WEIGHT

        return (await build_cf_model(session, prior_weight=load_settings().cf.prior_weight)).version

    return int(await in_worker_session(work))


@blueprint.periodic(cron="*/10 * * * *")
@blueprint.task(name=SWEEP, queue=BULK_QUEUE, priority=PRIORITY_BULK, queueing_lock=SWEEP, lock=SWEEP)
async def sweep(timestamp: int | None = None) -> dict[str, int]:
    """Queue whatever still lacks a vector for the current model, and stale tastes; and the
    end of every group vote whose time ran out without its job (a lost defer)."""
    rt = current_runtime()
    counts = await queue_missing(rt.app, rt.session_factory, rt.embedder)
    return {**counts, "group_rounds": await queue_overdue_rounds(rt.app, rt.session_factory)}


async def queue_overdue_rounds(
    app: procrastinate.App, session_factory: async_sessionmaker[AsyncSession]
) -> int:
    """Queue the end of every group vote still open a minute past its deadline; returns how many."""
    async with session_factory() as session:
        overdue = await GroupRepository(session).overdue_rounds()
    for round_id in overdue:
        await defer_round_close(app, round_id, 0.0)
    if overdue:
        log.warning("group_rounds_overdue", rounds=overdue)
    return len(overdue)


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
    await defer_films(app, films)
    for chunk in batches(reviews, JOB_BATCH):
        await defer_task(app, EMBED_REVIEWS, review_ids=chunk)
    if topics:
        await defer_task(app, EMBED_TOPICS, topic_ids=topics)
    for user_id in users:
        await defer_taste(app, user_id)
    counts = {"films": len(films), "reviews": len(reviews), "topics": len(topics), "users": len(users)}
    log.info("embeddings_queued", **counts)
    return counts


async def queue_cf_if_due(app: procrastinate.App, session_factory: async_sessionmaker[AsyncSession]) -> bool:
    """Queue a CF rebuild at once when `domain.imports.cf_model_due` says so (no model yet
    but user histories, or a model older than the newest finished import); True when one
    was queued. Every worker process checks at start (`bot.jobs.run_workers`), so a new
    database never waits for the hourly rebuild.

    Raises:
        sqlalchemy.exc.SQLAlchemyError, procrastinate.exceptions.ConnectorException: the
            database could not be reached.
    """
    async with session_factory() as session:
        due = await cf_model_due(session)
    if not due:
        return False
    log.info("cf_model_due")
    return await defer_cf_rebuild(app, delay_s=0)
