"""The user-facing tasks (film, review and topic embeddings, taste vectors and summaries,
imports, the end of a group vote) and what every task shares: the queues, priorities and
retry strategy, the blueprint, the worker runtime, and the procrastinate App (see the package
docstring). The maintenance tasks and the stall watch are in `bot.jobs.maintenance`."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import procrastinate
import structlog
from aiogram import Bot
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts, together
from bot.flows.imports import ImportNotifier
from bot.i18n import make_i18n
from bot.jobs.outbox import (
    CLOSE_GROUP_ROUND,
    EMBED_FILMS,
    EMBED_REVIEWS,
    EMBED_TOPICS,
    REFRESH_SUMMARY,
    REFRESH_TASTE,
    RUN_IMPORT,
    JobOutbox,
    batches,
    defer_cf_rebuild,
    defer_films,
    defer_tastes,
)
from db.session import sync_url
from domain.catalog import CatalogService
from domain.embeddings import JOB_BATCH, EmbeddingService, TasteRefresh
from domain.groups import GroupService
from domain.import_types import HistoryUse, ImportProgress, PendingImport
from domain.imports import ImportService
from domain.ports import Embedder, EmbeddingError, LanguageModel, MovieSource, MovieSourceError
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
#: Films of a user who just imported that still lack a vector: on the bulk queue, ahead of
#: the CF rebuild and of a catalog backlog, so that user's taste vector is complete soon.
PRIORITY_USER_FILMS = 15
#: The hourly CF rebuild goes ahead of a film-embedding backlog (one job an hour).
PRIORITY_CF = 10
#: Film embeddings and the sweep: oldest first. The sweep deliberately waits behind queued
#: embeddings, so it does not queue again the films they are about to embed.
PRIORITY_BULK = 0

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


@contextlib.contextmanager
def use_runtime(runtime: WorkerRuntime) -> Iterator[None]:
    """Give the tasks of this process `runtime` while the block runs (one worker set per
    process: the tasks read it from this module)."""
    global _runtime
    _runtime = runtime
    try:
        yield
    finally:
        _runtime = None


def current_runtime() -> WorkerRuntime:
    """The runtime `use_runtime` gave this worker process.

    Raises:
        RuntimeError: a task ran outside `bot.jobs.run_worker`.
    """
    if _runtime is None:  # pragma: no cover - a task outside run_worker is a programming error
        raise RuntimeError("job ran outside bot.jobs.run_worker")
    return _runtime


async def in_worker_session(work: Callable[[EmbeddingService, AsyncSession], Awaitable[Any]]) -> Any:
    """Run `work` with an EmbeddingService on a new session of the worker, commit, and return
    what it returned (an exception rolls back and propagates)."""
    rt = current_runtime()
    async with rt.session_factory() as session:
        result = await work(EmbeddingService(session, rt.embedder), session)
        await session.commit()
        return result


@blueprint.task(name=EMBED_FILMS, queue=BULK_QUEUE, priority=PRIORITY_BULK, retry=RETRY)
async def embed_films(tmdb_ids: list[int]) -> int:
    """Embed up to JOB_BATCH catalog films (one embedder call), then queue a taste refresh
    for every user with any of them in their history (their taste vector now misses them)."""
    rt = current_runtime()
    return await _embed_batch(rt.app, rt.session_factory, rt.embedder, tmdb_ids)


async def embed_films_here(
    app: procrastinate.App,
    session_factory: async_sessionmaker[AsyncSession],
    embedder: Embedder,
    tmdb_ids: Sequence[int],
    *,
    on_batch: Callable[[int], object] | None = None,
) -> int:
    """Embed these films in this process, as `embed_films` jobs would (`catalog load-csv`):
    JOB_BATCH films per embedder call and transaction, each committed, so an interrupted run
    keeps what it embedded (the sweep queues the rest); after each batch, a taste refresh is
    queued for the users with any of its films in their history. `on_batch(n)` is called
    after each batch of n films (a progress bar). Returns how many vectors were written.

    Raises:
        domain.ports.EmbeddingError: the embedder failed (the batches before are kept).
    """
    written = 0
    for chunk in batches(tmdb_ids, JOB_BATCH):
        written += await _embed_batch(app, session_factory, embedder, chunk)
        if on_batch is not None:
            on_batch(len(chunk))
    return written


async def _embed_batch(
    app: procrastinate.App,
    session_factory: async_sessionmaker[AsyncSession],
    embedder: Embedder,
    tmdb_ids: Sequence[int],
) -> int:
    """One embedder call and one transaction; then one taste job per affected user."""
    async with session_factory() as session:
        svc = EmbeddingService(session, embedder)
        written = await svc.embed_films(tmdb_ids)
        users = await svc.users_with_films(tmdb_ids) if written else []
        await session.commit()
    await defer_tastes(app, users)
    return written


@blueprint.task(name=EMBED_REVIEWS, queue=USER_QUEUE, priority=PRIORITY_USER, retry=RETRY)
async def embed_reviews(review_ids: list[int]) -> int:
    """Embed reviews (one embedder call), then refresh their authors' taste vectors in the same
    job (`EmbeddingService.embed_reviews`); returns the number of authors. When the embedder
    fails, the refreshed tastes are committed and the job raises, to be retried."""
    rt = current_runtime()
    async with rt.session_factory() as session:
        try:
            authors = await EmbeddingService(session, rt.embedder).embed_reviews(review_ids)
        except EmbeddingError:
            await session.commit()
            raise
        await session.commit()
    return len(authors)


@blueprint.task(name=REFRESH_TASTE, queue=USER_QUEUE, priority=PRIORITY_USER, retry=RETRY)
async def refresh_taste(user_id: int) -> bool:
    """Recompute one user's taste vector."""
    return bool(await in_worker_session(lambda svc, _s: svc.refresh_taste(user_id)))


@blueprint.task(name=REFRESH_SUMMARY, queue=USER_QUEUE, priority=PRIORITY_USER, retry=RETRY)
async def refresh_summary(user_id: int) -> str | None:
    """Recompute one user's taste summary (domain.taste); returns its source, llm or template."""
    rt = current_runtime()
    async with rt.session_factory() as session:
        summary = await TasteSummaryService(session, rt.language_model).refresh(user_id)
        await session.commit()
    return summary.source if summary is not None else None


@blueprint.task(name=EMBED_TOPICS, queue=USER_QUEUE, priority=PRIORITY_USER, retry=RETRY)
async def embed_avoid_topics(topic_ids: list[int]) -> int:
    """Embed /avoid topics."""
    return int(await in_worker_session(lambda svc, _s: svc.embed_avoid_topics(topic_ids)))


@blueprint.task(name=RUN_IMPORT, queue=IMPORT_QUEUE, priority=PRIORITY_IMPORT, retry=RETRY, pass_context=True)
async def run_import(context: procrastinate.JobContext, import_id: int) -> str:
    """Import a Letterboxd export sent in the chat, editing its progress message.

    Resumable: every chunk is committed and every title decision cached, so a retry (after a
    TMDB outage, or a dead worker via `recover_stalled`) continues where the last run stopped.
    Before the report, the user's taste vector is recomputed here (`_refresh_taste`), so the
    report can say truthfully whether /recommend already uses the history; films still
    without a vector are queued ahead of the bulk backlog, and a CF rebuild is queued
    (`defer_cf_rebuild`, CF_REBUILD_DELAY_S later).
    """
    rt = current_runtime()
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
        imported = outcome is not None and outcome.report is not None
        taste = await _refresh_taste(session, rt.embedder, pending.user_id) if imported else None
    if taste is not None and taste.complete:
        outbox.user_ids.discard(pending.user_id)  # the taste job the import asked for is done
    await outbox.flush(rt.app)
    if outcome is None:
        return "gone"
    if (report := outcome.report) is not None:
        outcome = replace(outcome, history=_history_use(taste))
        await _after_import(rt.app, taste, stored=report.matched > 0)
    if notifier:
        await notifier.finish(outcome)
    return outcome.status


@blueprint.task(name=CLOSE_GROUP_ROUND, queue=USER_QUEUE, priority=PRIORITY_USER, retry=RETRY)
async def close_group_round(round_id: int) -> str:
    """A group round's vote ran out of time: decide it (if no tap has already) and announce
    the winner in the group, in the language of who asked for the picks."""
    rt = current_runtime()
    async with rt.session_factory() as session:
        groups = GroupService(
            session,
            CatalogService(session, None, ttl=dt.timedelta(days=1)),  # the picks' films are stored
            JobOutbox(),
            recommendations=None,
            vote_timeout=dt.timedelta(0),
            repeat_window=dt.timedelta(0),
        )
        due = await groups.close_due(round_id)
        await session.commit()
    if due is None:
        return "nothing to close"
    if rt.bot is None:
        log.warning("group_round_closed_without_bot", round_id=round_id)
        return "decided"
    with rt.i18n.context(), rt.i18n.use_locale(due.locale or rt.i18n.default_locale):
        await together.announce(rt.bot, due.chat_id, due.decision)
    return "decided"


async def _refresh_taste(session: AsyncSession, embedder: Embedder, user_id: int) -> TasteRefresh | None:
    """Recompute the user's taste vector in the import job (committed); None when that
    failed (logged): the taste job the import queued then does it."""
    try:
        taste = await EmbeddingService(session, embedder).refresh_taste_report(user_id)
        await session.commit()
    except Exception:
        await session.rollback()
        log.exception("import_taste_failed", user_id=user_id)
        return None
    return taste


def _history_use(taste: TasteRefresh | None) -> HistoryUse:
    if taste is None:
        return HistoryUse.PENDING
    if taste.films == 0:
        return HistoryUse.EMPTY
    return HistoryUse.READY if taste.complete else HistoryUse.PENDING


async def _after_import(app: procrastinate.App, taste: TasteRefresh | None, *, stored: bool) -> None:
    """Queue what makes an imported history count everywhere: the user's films that have no
    vector yet (ahead of the bulk backlog; each batch then refreshes the taste vector) and,
    when films were stored, one CF rebuild. A failure is logged: the sweep and the hourly
    rebuild catch up."""
    try:
        if taste is not None and taste.missing:
            jobs = await defer_films(app, taste.missing, priority=PRIORITY_USER_FILMS)
            log.info("import_films_queued", films=len(taste.missing), jobs=jobs)
        if stored:
            await defer_cf_rebuild(app)
    except Exception:
        log.exception("import_follow_up_failed")


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


def make_job_app(database_url: str, *, periodic: bool = True) -> procrastinate.App:
    """A procrastinate App on the bot's database (psycopg 3 connection pool), with the tasks.
    Open it with `async with app.open_async():`. `periodic=False` leaves out the schedule
    (the sweep and the hourly CF rebuild), so a worker runs only what was queued (tests).

    The tasks are those of this module and of `bot.jobs.maintenance`, on one blueprint;
    importing maintenance here registers its tasks before the blueprint is copied (at the top
    of this module the import would be circular: maintenance builds on this module)."""
    import bot.jobs.maintenance  # noqa: F401

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=sync_url(database_url)),
        worker_defaults={"queues": QUEUES},
    )
    app.add_tasks_from(blueprint, namespace="")
    if not periodic:
        app.periodic_registry.periodic_tasks.clear()
    return app
