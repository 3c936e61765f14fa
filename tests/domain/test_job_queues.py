"""Interactive work never waits behind bulk work: queues, priorities and the worker loops of
`bot.jobs` on the real procrastinate queue in PostgreSQL.

Bulk jobs are made slow (each film-embedding job sleeps BULK_JOB_S) so that a backlog is a
backlog; the import probe is a real `run_import` job for an import that does not exist (it
looks the import up, finds nothing and ends "gone"), so the tests measure the queueing, not
an import's work.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

import asyncpg
import procrastinate
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import jobs
from db.session import create_engine, create_session_factory
from domain.embeddings import JOB_BATCH, EmbeddingService
from integrations.embeddings import LocalEmbedder

#: Seconds one bulk job takes here; a backlog of BACKLOG jobs is 6 s of work for one loop
#: (the tests end long before).
BULK_JOB_S = 0.2
BACKLOG = 30
MISSING_IMPORT = 987_654_321


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on their own engine (not the test transaction): loops run jobs concurrently,
    and concurrent sessions cannot share the test's one connection. The jobs here write
    nothing."""
    engine = create_engine(database_url, pool_size=4)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def bulk_started(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Film-embedding jobs take BULK_JOB_S each; the list gets each one's start time."""
    started: list[float] = []

    async def slow_embed_films(self: EmbeddingService, tmdb_ids: Sequence[int]) -> int:
        started.append(time.perf_counter())
        await asyncio.sleep(BULK_JOB_S)
        return 0

    monkeypatch.setattr(EmbeddingService, "embed_films", slow_embed_films)
    return started


async def _queue_backlog(app: procrastinate.App, size: int = BACKLOG) -> None:
    """What `catalog load-csv` and the sweep leave: `size` film-embedding jobs."""
    outbox = jobs.JobOutbox()
    outbox.embed_films(range(1, size * JOB_BATCH + 1))
    await outbox.flush(app)


async def _queue_import(app: procrastinate.App) -> int:
    outbox = jobs.JobOutbox()
    outbox.run_import(MISSING_IMPORT)
    await outbox.flush(app)
    [job] = list(await app.job_manager.list_jobs_async(task=jobs.RUN_IMPORT))
    assert job.id is not None
    return job.id


async def _query(database_url: str, sql: str) -> list[asyncpg.Record]:
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def _status(app: procrastinate.App, job_id: int) -> str:
    [job] = list(await app.job_manager.list_jobs_async(id=job_id))
    return str(job.status)


async def _bulk_todo(app: procrastinate.App) -> int:
    return len(list(await app.job_manager.list_jobs_async(task=jobs.EMBED_FILMS, status="todo")))


async def _until(app: procrastinate.App, job_id: int, status: str, *, within: float) -> float:
    """Seconds until the job reaches `status`; fails the test after `within` seconds."""
    started = time.perf_counter()
    while (current := await _status(app, job_id)) != status:
        assert time.perf_counter() - started < within, f"job {job_id} still {current} after {within} s"
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


def test_each_task_is_on_its_queue_with_interactive_work_first() -> None:
    app = jobs.make_job_app("postgresql://unused/unused", periodic=False)
    placed = {name: (task.queue, task.priority) for name, task in app.tasks.items()}
    assert placed[jobs.RUN_IMPORT] == (jobs.IMPORT_QUEUE, jobs.PRIORITY_IMPORT)
    for user_task in (jobs.EMBED_REVIEWS, jobs.REFRESH_TASTE, jobs.REFRESH_SUMMARY, jobs.EMBED_TOPICS):
        assert placed[user_task] == (jobs.USER_QUEUE, jobs.PRIORITY_USER)
    for bulk_task in (jobs.EMBED_FILMS, jobs.SWEEP, jobs.REBUILD_CF):
        assert placed[bulk_task][0] == jobs.BULK_QUEUE
    assert jobs.PRIORITY_IMPORT > jobs.PRIORITY_USER > jobs.PRIORITY_CF > jobs.PRIORITY_BULK
    # the production loops serve every queue, and the bulk queue only in its own loop
    served = [q for loop in jobs.DEFAULT_LOOPS for q in loop.queues]
    assert sorted(served) == sorted(jobs.QUEUES)
    assert [loop.name for loop in jobs.DEFAULT_LOOPS if jobs.BULK_QUEUE in loop.queues] == ["bulk"]
    assert jobs.IMPORT_QUEUE not in jobs.BULK_LOOP.queues


async def test_one_loop_takes_an_import_and_a_users_job_before_an_older_bulk_backlog(
    database_url: str,
    job_app: procrastinate.App,
    sessions: async_sessionmaker[AsyncSession],
    bulk_started: list[float],
) -> None:
    """A single loop (concurrency 1) on every queue: procrastinate fetches by priority, then
    age, across queues, so the import and the user's job queued after the backlog run first."""
    await _queue_backlog(job_app, 5)
    await _queue_import(job_app)
    user = jobs.JobOutbox()
    user.refresh_summary(MISSING_IMPORT)  # a user's own job (no such user: it does nothing)
    await user.flush(job_app)

    await jobs.drain(job_app, sessions, LocalEmbedder())

    rows = await _query(
        database_url,
        "SELECT j.task_name FROM procrastinate_events e JOIN procrastinate_jobs j ON j.id = e.job_id"
        " WHERE e.type = 'started' ORDER BY e.id",
    )
    order = [r["task_name"] for r in rows]
    assert order[:2] == [jobs.RUN_IMPORT, jobs.REFRESH_SUMMARY], order[:5]
    assert order[2:] == [jobs.EMBED_FILMS] * 5


async def test_the_production_loops_start_an_import_at_once_behind_a_bulk_backlog(
    job_app: procrastinate.App,
    sessions: async_sessionmaker[AsyncSession],
    bulk_started: list[float],
) -> None:
    """The layout `python -m bot run` and `python -m bot worker` use: the bulk loop is busy
    with the backlog, and an import queued now finishes in well under a bulk job or two."""
    await _queue_backlog(job_app)
    workers = asyncio.create_task(jobs.run_workers(job_app, sessions, LocalEmbedder(), name="test"))
    try:
        for _ in range(100):  # the bulk loop has started on the backlog
            if bulk_started:
                break
            await asyncio.sleep(0.05)
        assert bulk_started, "the bulk loop never started"
        import_job = await _queue_import(job_app)
        waited = await _until(job_app, import_job, "succeeded", within=5.0)
        assert waited < 2 * BULK_JOB_S + 1.0, waited  # listen/notify: no polling delay either
        assert await _bulk_todo(job_app) > BACKLOG // 2  # it did not wait for the backlog
    finally:
        workers.cancel()
        with pytest.raises(asyncio.CancelledError):
            await workers


async def test_a_dead_workers_import_is_requeued_and_resumed_while_bulk_work_waits(
    database_url: str,
    job_app: procrastinate.App,
    sessions: async_sessionmaker[AsyncSession],
    bulk_started: list[float],
) -> None:
    """The process running an import was killed: its job is left 'doing' under a worker whose
    heartbeat stopped two minutes ago. The stall watch is no queued job, so the backlog cannot
    delay it: the import is re-queued and runs again while bulk jobs are still waiting."""
    await _queue_backlog(job_app)
    import_job = await _queue_import(job_app)
    await _query(
        database_url,
        "WITH dead AS (INSERT INTO procrastinate_workers (last_heartbeat)"
        " VALUES (now() - interval '2 minutes') RETURNING id)"
        f" UPDATE procrastinate_jobs SET status = 'doing', worker_id = (SELECT id FROM dead)"
        f" WHERE id = {import_job} RETURNING id",
    )
    workers = asyncio.create_task(
        jobs.run_workers(job_app, sessions, LocalEmbedder(), name="test", stall_check_seconds=0.1)
    )
    try:
        # the watch re-queues it at once; the interactive loop polls every second (a re-queued
        # job sends no notification)
        waited = await _until(job_app, import_job, "succeeded", within=5.0)
        assert waited < jobs.INTERACTIVE_LOOP.poll_seconds + 1.5, waited
        assert await _bulk_todo(job_app) > BACKLOG // 2
        [job] = list(await job_app.job_manager.list_jobs_async(id=import_job))
        assert job.attempts == 2  # the killed run (counted by the re-queue) and this one
    finally:
        workers.cancel()
        with pytest.raises(asyncio.CancelledError):
            await workers


async def test_a_job_of_a_live_worker_is_left_alone(database_url: str, job_app: procrastinate.App) -> None:
    """A heartbeat within STALLED_AFTER_SECONDS means the worker lives (in another process)."""
    import_job = await _queue_import(job_app)
    await _query(
        database_url,
        "WITH alive AS (INSERT INTO procrastinate_workers (last_heartbeat)"
        " VALUES (now() - interval '20 seconds') RETURNING id)"
        " UPDATE procrastinate_jobs SET status = 'doing', worker_id = (SELECT id FROM alive)"
        f" WHERE id = {import_job} RETURNING id",
    )
    assert await jobs.retry_stalled(job_app) == 0
    assert await _status(job_app, import_job) == "doing"


def test_worker_loops_for_the_command_line() -> None:
    assert jobs.worker_loops() == jobs.DEFAULT_LOOPS
    assert [loop.concurrency for loop in jobs.worker_loops(concurrency=3)] == [3, 3]
    [only] = jobs.worker_loops(queues=["imports", "user", "imports"])
    assert only.queues == ("imports", "user") and only.concurrency == 1
    assert only.poll_seconds == jobs.INTERACTIVE_LOOP.poll_seconds < jobs.BULK_LOOP.poll_seconds
    with pytest.raises(ValueError, match="unknown queue"):
        jobs.worker_loops(queues=["recomender"])
    with pytest.raises(ValueError, match="at least 1"):
        jobs.worker_loops(concurrency=0)
