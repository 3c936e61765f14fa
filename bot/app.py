"""Start-up and shutdown: settings → database (+ migrations) → TMDB client → dispatcher.

`open_app` is shared by every entry point (long polling, console, CLI commands), so they
all run the same code against the same database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import procrastinate
import structlog
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from tqdm import tqdm

from bot.database import migrate, resolve_database_url
from bot.dispatcher import build_dispatcher
from bot.flood import install_request_middlewares
from bot.jobs import defer_films, embed_films_here, make_job_app, run_worker
from bot.services import ServiceFactory
from bot.settings import Settings
from db.session import create_engine, create_session_factory
from domain.catalog import CatalogService
from domain.embeddings import EmbeddingService
from domain.ports import Embedder
from integrations.embeddings import OpenAIEmbedder, make_embedder
from integrations.llm import OpenAIChatModel, make_language_model
from integrations.tmdb import TMDBClient
from integrations.tmdb_csv import read_tmdb_csv

log = structlog.get_logger(__name__)
DEMO_CATALOG = Path(__file__).parent / "data" / "demo_films.csv"


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    tmdb: TMDBClient | None
    services: ServiceFactory
    dispatcher: Dispatcher
    job_app: procrastinate.App
    embedder: Embedder


def make_tmdb_client(settings: Settings) -> TMDBClient | None:
    cfg = settings.tmdb
    if not cfg.configured:
        return None
    return TMDBClient(
        base_url=cfg.base_url,
        api_key=cfg.api_key.get_secret_value() if cfg.api_key else None,
        bearer_token=cfg.read_access_token.get_secret_value() if cfg.read_access_token else None,
        language=cfg.language,
        timeout_seconds=cfg.timeout_seconds,
        max_concurrency=cfg.max_concurrency,
        max_requests_per_second=cfg.max_requests_per_second,
        max_attempts=cfg.max_attempts,
    )


@asynccontextmanager
async def open_app(settings: Settings, *, run_migrations: bool = True) -> AsyncIterator[App]:
    """Everything the bot needs, opened in order and closed in reverse."""
    url = resolve_database_url(settings)
    if run_migrations:
        await migrate(url)
    engine = create_engine(url, pool_size=settings.database.db_pool_size)
    tmdb = make_tmdb_client(settings)
    embedder = make_embedder(settings.openai, settings.embedding)
    language_model = make_language_model(settings.openai)  # None without OPENAI_API_KEY: templates
    services = ServiceFactory(settings, tmdb, embedding_model=embedder.model, language_model=language_model)
    session_factory = create_session_factory(engine)
    job_app = make_job_app(url)
    try:
        async with job_app.open_async():
            yield App(
                settings,
                engine,
                session_factory,
                tmdb,
                services,
                build_dispatcher(
                    settings,
                    session_factory,
                    services,
                    isolate=True,
                    max_concurrent_updates=max_concurrent_updates(settings),
                    job_app=job_app,
                ),
                job_app,
                embedder,
            )
    finally:
        if tmdb is not None:
            await tmdb.aclose()
        if isinstance(embedder, OpenAIEmbedder):
            await embedder.aclose()
        if isinstance(language_model, OpenAIChatModel):
            await language_model.aclose()
        await engine.dispose()


def max_concurrent_updates(settings: Settings) -> int:
    """Updates handled at once (`bot.fsm.ChatLocks`): one per connection of the sessions' pool
    (`DB_POOL_SIZE` plus as many overflow connections, see db.session.create_engine); each
    update's chat lock, FSM state and work share its one connection."""
    return 2 * settings.database.db_pool_size


def make_bot(settings: Settings, session_factory: async_sessionmaker[AsyncSession] | None = None) -> Bot:
    """The real Bot API client (needs TELEGRAM_BOT_TOKEN), HTML parse mode by default, talking
    to `TELEGRAM_API_BASE_URL` (api.telegram.org, a self-hosted Bot API server, or a fake),
    with bot.flood's request middlewares: flood control (429 retry_after, pacing per chat and
    overall; a 403 marks the user blocked in `session_factory`'s database) and Bot API metrics."""
    assert settings.telegram.bot_token is not None
    bot = Bot(
        settings.telegram.bot_token.get_secret_value(),
        session=AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram.api_base_url)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
    install_request_middlewares(bot, session_factory=session_factory)
    return bot


#: Seconds of the shutdown timeout kept for aborting the jobs still running, recording their
#: status and unregistering the worker (procrastinate's grace is the rest, at least half).
WORKER_STOP_SLACK_SECONDS: Final = 3.0


def job_grace_seconds(shutdown_seconds: float) -> float:
    """How long running jobs may go on after the stop (procrastinate's
    `shutdown_graceful_timeout`): the shutdown timeout less WORKER_STOP_SLACK_SECONDS, at
    least half of it."""
    return max(shutdown_seconds - WORKER_STOP_SLACK_SECONDS, shutdown_seconds / 2)


@dataclass
class BackgroundWorker:
    """The in-process job worker of `background_worker` (`task` None when
    WORKER_IN_PROCESS=false). `stop()` lets running jobs finish for
    `job_grace_seconds(timeout_seconds)`; procrastinate then aborts the rest, which go back to
    the queue for a retry (every task has a retry strategy), and the worker unregisters."""

    task: asyncio.Task[None] | None
    timeout_seconds: float

    async def stop(self) -> None:
        """Stop the worker and wait for it, at most `timeout_seconds` (then it is left to be
        cancelled with the event loop, and a warning is logged). Calling it again does nothing."""
        task = self.task
        if task is None or task.done():
            return
        started = time.perf_counter()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=self.timeout_seconds)
        seconds = round(time.perf_counter() - started, 2)
        if not done:
            log.warning("worker_stop_timeout", seconds=seconds)
        elif not task.cancelled() and task.exception() is not None:
            log.error("worker_failed", error=repr(task.exception()), seconds=seconds)
        else:
            log.info("worker_stopped", seconds=seconds)


@asynccontextmanager
async def background_worker(app: App, bot: Bot | None) -> AsyncIterator[BackgroundWorker]:
    """Run a job worker in this process while the block runs (`WORKER_IN_PROCESS`): the same
    loops as `python -m bot worker` (bot.jobs.DEFAULT_LOOPS: interactive and bulk, plus the
    stall watch). `bot` is how its import jobs talk to the chat. Leaving the block stops it
    (`BackgroundWorker.stop`) within `SHUTDOWN_TIMEOUT_SECONDS`."""
    timeout = app.settings.bot.shutdown_timeout_seconds
    if not app.settings.bot.worker_in_process:
        yield BackgroundWorker(None, timeout)
        return
    # procrastinate waits this long for running jobs when the worker is cancelled, then
    # aborts them (AbortReason.SHUTDOWN: retried); without it, it would wait for ever
    grace = job_grace_seconds(timeout)
    app.job_app.worker_defaults = {**app.job_app.worker_defaults, "shutdown_graceful_timeout": grace}
    task = asyncio.create_task(
        run_worker(
            app.job_app,
            app.session_factory,
            app.embedder,
            name="in-process",
            bot=bot,
            movie_source=app.tmdb,
            language_model=app.services.language_model,
        ),
        name="job-worker",
    )
    worker = BackgroundWorker(task, timeout)
    try:
        yield worker
    finally:
        await worker.stop()


async def prepare_for_traffic(
    session_factory: async_sessionmaker[AsyncSession], services: ServiceFactory
) -> None:
    """Warm the CF model cache, then freeze the start-up heap out of the garbage collector.

    Everything alive now lives as long as the process; `gc.freeze()` moves it to a permanent
    generation, so full collections no longer walk it. Without it, a full collection in the
    middle of a /recommend cost ~120 ms on this machine (Python docs, `gc.freeze`).
    """
    async with session_factory() as session:
        await services.cf_cache.get(session)
    gc.collect()
    gc.freeze()


@dataclass(frozen=True, slots=True)
class CatalogLoad:
    """What `load_catalog_csv` did: `films` written to the catalog; of those, `to_embed` had
    no current vector, `embedded` were embedded here and `jobs` embedding jobs were queued
    instead; `seconds` of wall-clock time for all of it."""

    films: int
    to_embed: int
    embedded: int
    jobs: int
    seconds: float


async def load_catalog_csv(
    app: App, path: Path, *, embed: bool = True, progress: bool = False
) -> CatalogLoad:
    """Load a TMDB-format CSV into the catalog, then embed the loaded films that have no
    current vector: here (`embed`, with a tqdm bar on stderr when `progress`; see
    `bot.jobs.embed_films_here`: batches are committed one by one and the users with those
    films in their history get a taste refresh queued), or by queueing `embed_films` jobs at
    once for a worker (`embed=False`).

    Raises:
        integrations.tmdb_csv.TMDBCsvError: not a TMDB-format CSV (nothing is written).
        OSError: the file cannot be read.
        domain.ports.EmbeddingError: the embedder failed (films and the batches embedded
            before stay; the sweep queues the rest).
    """
    started = time.perf_counter()
    films = list(read_tmdb_csv(path))
    async with app.session_factory() as session:
        catalog = CatalogService(session, None, ttl=dt.timedelta(days=app.settings.tmdb.cache_ttl_days))
        written = await catalog.store(films)
        await session.commit()
        loaded = {film.tmdb_id for film in films}
        todo = [i for i in await EmbeddingService(session, app.embedder).films_to_embed() if i in loaded]
    log.info("catalog_loaded", path=str(path), films=written, to_embed=len(todo))
    embedded = jobs = 0
    if not embed:
        jobs = await defer_films(app.job_app, todo)
    elif todo:
        bar = tqdm(total=len(todo), unit="film", desc="Embedding", file=sys.stderr, disable=not progress)
        with bar:
            embedded = await embed_films_here(
                app.job_app, app.session_factory, app.embedder, todo, on_batch=bar.update
            )
    seconds = time.perf_counter() - started
    log.info("catalog_embedded", films=len(todo), embedded=embedded, jobs=jobs, seconds=round(seconds, 1))
    return CatalogLoad(written, len(todo), embedded, jobs, seconds)


async def ensure_offline_catalog(app: App) -> str:
    """Without TMDB, make sure the catalog is not empty (load the demo films). Returns a
    one-line notice for the person starting the bot."""
    if app.tmdb is not None:
        return f"TMDB: {app.settings.tmdb.base_url}"
    async with app.session_factory() as session:
        size = await CatalogService(session, None, ttl=dt.timedelta(days=1)).size()
    if size == 0:  # the workers embed the demo films at once (queued, not waiting for the sweep)
        size = (await load_catalog_csv(app, DEMO_CATALOG, embed=False)).films
        return (
            f"TMDB is not configured (set TMDB_API_KEY): using the demo catalog ({size} films). "
            "Load more with: python -m bot catalog load-csv PATH"
        )
    return f"TMDB is not configured (set TMDB_API_KEY): using the local catalog ({size} films)."
