"""Start-up and shutdown: settings → database (+ migrations) → TMDB client → dispatcher.

`open_app` is shared by every entry point (long polling, console, CLI commands), so they
all run the same code against the same database.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import procrastinate
import structlog
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.types import BotCommand
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from tqdm import tqdm

from bot.database import migrate, resolve_database_url
from bot.dispatcher import build_dispatcher
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
    # chat locks hold a connection each while an update is handled: a pool of their own, so
    # updates waiting for a lock never take the connections that lock holders need to finish
    lock_engine = create_engine(url, pool_size=settings.database.db_pool_size)
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
                    engine=lock_engine,
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
        await lock_engine.dispose()
        await engine.dispose()


def max_concurrent_updates(settings: Settings) -> int:
    """Updates handled at once (`PostgresEventIsolation`): one per connection of the chat-lock
    pool, and of the sessions' pool (`DB_POOL_SIZE` plus as many overflow connections each,
    see db.session.create_engine)."""
    return 2 * settings.database.db_pool_size


def make_bot(settings: Settings) -> Bot:
    """The real Bot API client (needs TELEGRAM_BOT_TOKEN), HTML parse mode by default."""
    assert settings.telegram.bot_token is not None
    return Bot(
        settings.telegram.bot_token.get_secret_value(),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


@asynccontextmanager
async def background_worker(app: App, bot: Bot | None) -> AsyncIterator[None]:
    """Run a job worker in this process while the block runs (`WORKER_IN_PROCESS`): the same
    loops as `python -m bot worker` (bot.jobs.DEFAULT_LOOPS: interactive and bulk, plus the
    stall watch). `bot` is how its import jobs talk to the chat."""
    if not app.settings.bot.worker_in_process:
        yield
        return
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
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


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


#: The command menu: (command, description). Descriptions are gettext messages, so the menu is
#: set once per language (`set_bot_commands`).
BOT_COMMANDS = (
    ("recommend", __("Three films picked for you")),
    ("review", __("Rate and review a film")),
    ("avoid", __("Topics to show less of")),
    ("import", __("Import your Letterboxd export")),
    ("profile", __("Your taste in words and a picture")),
    ("export", __("All your data as a CSV file")),
    ("forget", __("Delete everything I know about you")),
    ("language", __("Choose my language")),
    ("myid", __("Your Telegram id")),
    ("cancel", __("Leave the current step")),
    ("help", __("What I can do")),
)


def bot_commands(i18n: I18n, locale: str) -> list[BotCommand]:
    """The command menu in `locale`."""
    with i18n.context(), i18n.use_locale(locale):
        return [BotCommand(command=command, description=str(text)) for command, text in BOT_COMMANDS]


async def set_bot_commands(bot: Bot, i18n: I18n) -> None:
    """The menu in English for everyone, and in each translated language (es, pt, ru) for
    Telegram clients set to it (setMyCommands `language_code`)."""
    await bot.set_my_commands(bot_commands(i18n, i18n.default_locale))
    for locale in sorted(i18n.available_locales):
        await bot.set_my_commands(bot_commands(i18n, locale), language_code=locale)


async def run_polling(app: App, bot: Bot) -> None:
    """Long polling with the real Bot API (`bot` from make_bot)."""
    async with bot:
        await set_bot_commands(bot, app.dispatcher["i18n"])
        await bot.delete_webhook(drop_pending_updates=False)
        await app.dispatcher.start_polling(bot, allowed_updates=app.dispatcher.resolve_used_update_types())
