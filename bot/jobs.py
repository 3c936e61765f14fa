"""Background jobs on a PostgreSQL queue (procrastinate): embeddings, taste vectors and
summaries, the CF model.

- Handlers never run these jobs. Services record what they want in the update's `JobOutbox`
  (`domain.ports.JobQueue`); `DatabaseMiddleware` defers the jobs after the update's
  transaction commits, so a job never sees uncommitted data.
- Queues keep interactive work ahead of bulk work: `imports` (run_import), `user` (one user's
  review and topic vectors, taste vector and summary) and `bulk` (catalog film embeddings, the
  sweep, CF rebuilds). Jobs carry priorities (procrastinate fetches the highest priority first,
  then the oldest: `procrastinate_fetch_job_v2` orders by `priority DESC, id ASC`), and a worker
  process runs two loops (DEFAULT_LOOPS): an `interactive` one on imports + user and a `bulk`
  one, so a backlog of 4,800 film embeddings never delays an import or a user's vectors.
- Every worker process also runs `watch_stalled`, a plain asyncio loop (not a queued job, so it
  never waits behind anything) that re-queues the jobs of dead workers.
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

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import procrastinate
import structlog
from aiogram import Bot
from aiogram.utils.i18n import I18n
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.flows.imports import ImportNotifier
from bot.i18n import make_i18n
from db.session import sync_url
from domain.cf import build_cf_model
from domain.embeddings import JOB_BATCH, EmbeddingService
from domain.imports import ImportProgress, ImportService, PendingImport
from domain.ports import Embedder, LanguageModel, MovieSource, MovieSourceError
from domain.taste import TasteSummaryService

log = structlog.get_logger(__name__)

#: Up to 4 retries (5 runs), waiting 10 s, 100 s, ~17 min and ~2.8 h (procrastinate's
#: wait = exponential_wait ** (attempts + 1)), so an OpenAI outage of a few hours is ridden
#: out before a job is marked failed.
MAX_RETRIES = 4
RETRY = procrastinate.RetryStrategy(max_attempts=MAX_RETRIES, exponential_wait=10)

# --- queues and priorities -------------------------------------------------------------------
#: Letterboxd imports a user sent in the chat (run_import).
IMPORT_QUEUE = "imports"
#: One user's own derived data: review and /avoid topic vectors, taste vector, taste summary.
USER_QUEUE = "user"
#: Work over the whole catalog: film embeddings (thousands after `catalog load-csv`), the
#: sweep that queues them, the CF rebuild.
BULK_QUEUE = "bulk"
#: The one queue every job used before the split; still served (by the bulk loop) so that jobs
#: an older version queued are run, not stranded.
LEGACY_QUEUE = "recommender"
QUEUES = [IMPORT_QUEUE, USER_QUEUE, BULK_QUEUE, LEGACY_QUEUE]
#: Job priorities (procrastinate: higher first, default 0; equal priorities run oldest first).
#: They order jobs within one loop: an import before a user's vectors before bulk work.
PRIORITY_CONTROL = 100
PRIORITY_IMPORT = 50
PRIORITY_USER = 20
#: The hourly CF rebuild goes ahead of a film-embedding backlog (one job an hour).
PRIORITY_CF = 10
#: Film embeddings and the sweep: oldest first. The sweep deliberately waits behind queued
#: embeddings, so it does not queue again the films they are about to embed.
PRIORITY_BULK = 0
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
#: A running job whose worker sent no heartbeat for this long is retried (its worker died).
#: procrastinate workers send a heartbeat every 10 s (`Worker.update_heartbeat_interval`), so
#: 60 s is six missed heartbeats: a live worker whose event loop is busy is not mistaken for
#: a dead one.
STALLED_AFTER_SECONDS = 60
#: How often every worker process looks for stalled jobs: a killed worker's job is re-queued
#: at most STALLED_AFTER_SECONDS + STALL_CHECK_SECONDS (70 s) after its last heartbeat.
STALL_CHECK_SECONDS = 10.0

blueprint = procrastinate.Blueprint()


@dataclass
class WorkerRuntime:
    """What the tasks need, set by `run_worker` (tasks run only inside a worker)."""

    session_factory: async_sessionmaker[AsyncSession]
    embedder: Embedder
    app: procrastinate.App
    #: Words taste summaries (None: the template summary only).
    language_model: LanguageModel | None = None
    #: for jobs that talk to the chat (imports); None in a worker without a bot token
    bot: Bot | None = None
    #: TMDB (None: imports are matched against the catalog)
    movie_source: MovieSource | None = None
    i18n: I18n = field(default_factory=make_i18n)


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


@blueprint.task(name=EMBED_FILMS, queue=BULK_QUEUE, priority=PRIORITY_BULK, retry=RETRY)
async def embed_films(tmdb_ids: list[int]) -> int:
    """Embed up to JOB_BATCH catalog films (one embedder call)."""
    return int(await _in_session(lambda svc, _s: svc.embed_films(tmdb_ids)))


@blueprint.task(name=EMBED_REVIEWS, queue=USER_QUEUE, priority=PRIORITY_USER, retry=RETRY)
async def embed_reviews(review_ids: list[int]) -> int:
    """Embed reviews (one embedder call), then refresh their authors' taste vectors."""
    authors: set[int] = await _in_session(lambda svc, _s: svc.embed_reviews(review_ids))
    for user_id in sorted(authors):
        await defer_taste(_rt().app, user_id)
    return len(authors)


@blueprint.task(name=REFRESH_TASTE, queue=USER_QUEUE, priority=PRIORITY_USER, retry=RETRY)
async def refresh_taste(user_id: int) -> bool:
    """Recompute one user's taste vector."""
    return bool(await _in_session(lambda svc, _s: svc.refresh_taste(user_id)))


@blueprint.task(name=REFRESH_SUMMARY, queue=USER_QUEUE, priority=PRIORITY_USER, retry=RETRY)
async def refresh_summary(user_id: int) -> str | None:
    """Recompute one user's taste summary (domain.taste); returns its source, llm or template."""
    rt = _rt()
    async with rt.session_factory() as session:
        summary = await TasteSummaryService(session, rt.language_model).refresh(user_id)
        await session.commit()
    return summary.source if summary is not None else None


@blueprint.task(name=EMBED_TOPICS, queue=USER_QUEUE, priority=PRIORITY_USER, retry=RETRY)
async def embed_avoid_topics(topic_ids: list[int]) -> int:
    """Embed /avoid topics."""
    return int(await _in_session(lambda svc, _s: svc.embed_avoid_topics(topic_ids)))


@blueprint.task(name=RUN_IMPORT, queue=IMPORT_QUEUE, priority=PRIORITY_IMPORT, retry=RETRY, pass_context=True)
async def run_import(context: procrastinate.JobContext, import_id: int) -> str:
    """Import a Letterboxd export sent in the chat, editing its progress message.

    Resumable: every chunk is committed and every title decision cached, so a retry (after a
    TMDB outage, or a dead worker via `recover_stalled`) continues where the last run stopped.
    """
    rt = _rt()
    outbox = JobOutbox()
    async with rt.session_factory() as session:
        service = ImportService(session, rt.movie_source, outbox)
        pending = await service.pending(import_id)
        if pending is None:
            return "gone"
        notifier = _notifier(rt, pending)
        try:
            outcome = await service.run(import_id, notifier.progress if notifier else _ignore)
        except MovieSourceError:
            await session.rollback()
            attempt = (context.job.attempts if context.job else 0) + 1
            log.warning("import_tmdb_failed", import_id=import_id, attempt=attempt)
            if attempt <= MAX_RETRIES:
                if notifier:
                    await notifier.say(texts.import_tmdb_retrying)
                raise
            await service.fail(import_id)
            await session.commit()
            if notifier:
                await notifier.say(texts.import_tmdb_gave_up)
            return "failed"
    await outbox.flush(rt.app)
    if outcome is None:
        return "gone"
    if notifier:
        await notifier.finish(outcome)
    return outcome.status


async def _ignore(_progress: ImportProgress) -> None:
    return None


def _notifier(rt: WorkerRuntime, pending: PendingImport) -> ImportNotifier | None:
    if rt.bot is None:
        log.warning("import_without_bot", import_id=pending.import_id)
        return None
    return ImportNotifier(
        rt.bot,
        rt.i18n,
        chat_id=pending.chat_id,
        message_id=pending.message_id,
        locale=pending.locale,
        import_id=pending.import_id,
    )


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
    return await retry_stalled(_rt().app)


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
        return (await build_cf_model(session)).version

    return int(await _in_session(work))


@blueprint.periodic(cron="*/10 * * * *")
@blueprint.task(name=SWEEP, queue=BULK_QUEUE, priority=PRIORITY_BULK, queueing_lock=SWEEP, lock=SWEEP)
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


def make_job_app(database_url: str, *, periodic: bool = True) -> procrastinate.App:
    """A procrastinate App on the bot's database (psycopg 3 connection pool), with the tasks.
    Open it with `async with app.open_async():`. `periodic=False` leaves out the schedule
    (the sweep and the hourly CF rebuild), so a worker runs only what was queued (tests)."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=sync_url(database_url)),
        worker_defaults={"queues": QUEUES},
    )
    app.add_tasks_from(blueprint, namespace="")
    if not periodic:
        app.periodic_registry.periodic_tasks.clear()
    return app


@dataclass(frozen=True)
class WorkerLoop:
    """One procrastinate worker loop of a worker process: the queues it takes jobs from
    (highest priority first, then oldest, across those queues), how many jobs it runs at
    once (`concurrency`, ≥ 1; the tasks are async, so they share the event loop) and how
    often it looks for due jobs when no notification came (`poll_seconds`). New jobs wake it
    at once (LISTEN/NOTIFY), but re-queued ones (a stalled job, a retry after its backoff)
    notify nobody and wait for the next poll."""

    name: str
    queues: tuple[str, ...]
    concurrency: int = 1
    #: procrastinate's default (`worker.FETCH_JOB_POLLING_INTERVAL`).
    poll_seconds: float = 5.0


#: Imports and a user's own vectors and summary. Two jobs at once: a long import (minutes)
#: leaves room for the user jobs, and an import waits behind one short user job at most.
#: Polled every second, so a re-queued import resumes at once.
INTERACTIVE_LOOP = WorkerLoop("interactive", (IMPORT_QUEUE, USER_QUEUE), concurrency=2, poll_seconds=1.0)
#: Catalog embeddings, the sweep and the CF rebuild (and jobs left on the legacy queue).
BULK_LOOP = WorkerLoop("bulk", (BULK_QUEUE, LEGACY_QUEUE), concurrency=1)
#: Seconds before a worker loop that stopped on an error (database unreachable) starts again.
LOOP_RESTART_SECONDS = 5.0
#: What every worker process runs unless told otherwise: the in-process worker of
#: `python -m bot run` and `python -m bot worker`.
DEFAULT_LOOPS = (INTERACTIVE_LOOP, BULK_LOOP)


def worker_loops(
    *, concurrency: int | None = None, queues: Sequence[str] | None = None
) -> tuple[WorkerLoop, ...]:
    """The loops for `python -m bot worker [--concurrency N] [--queues Q ...]`.

    Without `queues`: DEFAULT_LOOPS, each running `concurrency` jobs at once when it is given.
    With `queues`: one loop on exactly those queues, `concurrency` (default 1) jobs at once.

    Raises:
        ValueError: an unknown queue name, or `concurrency` below 1.
    """
    if concurrency is not None and concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    if queues is None:
        if concurrency is None:
            return DEFAULT_LOOPS
        return tuple(replace(loop, concurrency=concurrency) for loop in DEFAULT_LOOPS)
    chosen = tuple(dict.fromkeys(queues))
    unknown = [q for q in chosen if q not in QUEUES]
    if unknown or not chosen:
        given = ", ".join(unknown) or "(none given)"
        raise ValueError(f"unknown queue(s) {given}; known: {', '.join(QUEUES)}")
    interactive = bool(set(chosen) & {IMPORT_QUEUE, USER_QUEUE})
    poll = INTERACTIVE_LOOP.poll_seconds if interactive else BULK_LOOP.poll_seconds
    return (WorkerLoop("+".join(chosen), chosen, concurrency or 1, poll_seconds=poll),)


async def run_workers(
    app: procrastinate.App,
    session_factory: async_sessionmaker[AsyncSession],
    embedder: Embedder,
    *,
    loops: Sequence[WorkerLoop] = DEFAULT_LOOPS,
    wait: bool = True,
    name: str = "worker",
    stall_check_seconds: float | None = STALL_CHECK_SECONDS,
    language_model: LanguageModel | None = None,
    bot: Bot | None = None,
    movie_source: MovieSource | None = None,
) -> None:
    """Run a worker process's loops on an opened `app` until cancelled: every `loops` entry
    as its own procrastinate worker (named "{name}:{loop name}"), plus `watch_stalled` every
    `stall_check_seconds` (None: no stall check). This is what production runs (the
    in-process worker, `python -m bot worker`); benchmarks call it to start the same workers.

    With `wait=False` every loop stops once its queues are empty (tests, benchmarks, CLI) and
    there is no stall check. `language_model` words taste summaries (None: the template);
    `bot` lets import jobs talk to the chat; `movie_source` is TMDB for matching imports
    (None: the catalog). One worker set per process: the tasks read it from a module global.
    """
    global _runtime
    _runtime = WorkerRuntime(
        session_factory, embedder, app, language_model=language_model, bot=bot, movie_source=movie_source
    )
    try:
        async with asyncio.TaskGroup() as group:
            for loop in loops:
                group.create_task(_run_loop(app, loop, wait=wait, name=name), name=f"job-worker-{loop.name}")
            if wait and stall_check_seconds is not None:
                group.create_task(watch_stalled(app, every=stall_check_seconds), name="stall-watch")
    finally:
        _runtime = None


async def _run_loop(app: procrastinate.App, loop: WorkerLoop, *, wait: bool, name: str) -> None:
    """One procrastinate worker for `loop`. With `wait`, a crash (procrastinate stops its
    worker when the database goes away) is logged and the loop starts again after
    LOOP_RESTART_SECONDS, so a database restart does not leave the process without a worker."""
    while True:
        try:
            await app.run_worker_async(
                queues=list(loop.queues),
                wait=wait,
                concurrency=loop.concurrency,
                fetch_job_polling_interval=loop.poll_seconds,
                name=f"{name}:{loop.name}",
                install_signal_handlers=False,
                listen_notify=wait,
            )
            return
        except Exception as exc:
            if not wait:
                raise
            log.warning("worker_loop_failed", loop=loop.name, error=repr(exc))
            await asyncio.sleep(LOOP_RESTART_SECONDS)


async def run_worker(
    app: procrastinate.App,
    session_factory: async_sessionmaker[AsyncSession],
    embedder: Embedder,
    *,
    wait: bool = True,
    concurrency: int | None = None,
    name: str | None = None,
    language_model: LanguageModel | None = None,
    bot: Bot | None = None,
    movie_source: MovieSource | None = None,
    queues: Sequence[str] | None = None,
) -> None:
    """Run the loops `worker_loops(concurrency=…, queues=…)` gives until cancelled (or, with
    wait=False, until their queues are empty): without `queues` the production layout
    (DEFAULT_LOOPS, what `python -m bot run` and `python -m bot worker` run), with `queues`
    one loop on them. See `run_workers` for the rest.

    Raises:
        ValueError: an unknown queue name, or `concurrency` below 1.
    """
    await run_workers(
        app,
        session_factory,
        embedder,
        loops=worker_loops(concurrency=concurrency, queues=queues),
        wait=wait,
        name=name or "worker",
        language_model=language_model,
        bot=bot,
        movie_source=movie_source,
    )


async def drain(
    app: procrastinate.App,
    session_factory: async_sessionmaker[AsyncSession],
    embedder: Embedder,
    *,
    language_model: LanguageModel | None = None,
    bot: Bot | None = None,
    movie_source: MovieSource | None = None,
    queues: Sequence[str] = QUEUES,
) -> None:
    """Run every queued job now, in this process, one at a time by priority (tests,
    benchmarks, CLI)."""
    await run_worker(
        app,
        session_factory,
        embedder,
        wait=False,
        language_model=language_model,
        bot=bot,
        movie_source=movie_source,
        queues=queues,
    )
