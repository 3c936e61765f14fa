"""The command-line interface (argparse). Every command validates settings first and exits
with a one-line message naming a bad setting instead of a traceback."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog
from aiogram import Bot

from bot.app import (
    App,
    background_worker,
    ensure_offline_catalog,
    load_catalog_csv,
    make_bot,
    open_app,
    prepare_for_traffic,
    run_polling,
)
from bot.console import clock_message_id, console_bot
from bot.logging import setup_logging
from bot.settings import PROJECT_ROOT, Settings, SettingsError, load_settings

log = structlog.get_logger(__name__)
DEFAULT_CONSOLE_ID = 100_000_001
CONSOLE_LOG = PROJECT_ROOT / ".data" / "console.log"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="WhatToWatch film-recommendation bot")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser(
        "run", help="start the bot: long polling with TELEGRAM_BOT_TOKEN, else a console chat"
    )
    run.add_argument("--telegram-id", type=int, default=DEFAULT_CONSOLE_ID, help="console user id")
    console = sub.add_parser("console", help="chat with the bot in this terminal (no Telegram needed)")
    console.add_argument(
        "--telegram-id", type=int, default=DEFAULT_CONSOLE_ID, help="who you are in the chat"
    )
    console.add_argument("--script", type=Path, help="feed the lines of FILE one by one, print replies, exit")
    console.add_argument("--first-name", default="Console")
    console.add_argument("--language", default="en", help="language code of the console user")
    sub.add_parser("migrate", help="apply database migrations and exit")
    imp = sub.add_parser("import-letterboxd", help="import a Letterboxd export (.zip or folder) for a user")
    imp.add_argument("path", type=Path)
    imp.add_argument("--telegram-id", type=int, required=True)
    imp.add_argument("--unmatched-out", type=Path, help="CSV for unmatched films (default: beside PATH)")
    catalog = sub.add_parser("catalog", help="catalog maintenance")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True)
    load = catalog_sub.add_parser("load-csv", help="load a TMDB-format CSV (tmdb_5000_movies.csv layout)")
    load.add_argument("path", type=Path)
    worker = sub.add_parser(
        "worker", help="run a background job worker (imports, embeddings, taste vectors, CF model)"
    )
    worker.add_argument(
        "--concurrency",
        type=int,
        help="jobs run at once by each loop (default: 2 interactive, 1 bulk; 1 with --queues)",
    )
    worker.add_argument(
        "--queues",
        nargs="+",
        metavar="QUEUE",
        help="serve only these queues, in one loop (imports, user, bulk, recommender); "
        "default: an interactive loop (imports, user) and a bulk loop (bulk, recommender)",
    )
    embed = sub.add_parser("embed", help="embedding maintenance")
    embed_sub = embed.add_subparsers(dest="embed_command", required=True)
    backfill = embed_sub.add_parser(
        "backfill", help="queue embeddings for every film, review and topic lacking one for the current model"
    )
    backfill.add_argument("--now", action="store_true", help="also run the queued jobs here and wait")
    cf = sub.add_parser("cf", help="collaborative-filtering model")
    cf_sub = cf.add_subparsers(dest="cf_command", required=True)
    cf_sub.add_parser("rebuild", help="retrain the CF model from all users' histories now")
    jobs = sub.add_parser("jobs", help="background jobs (admins)")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)
    jobs_sub.add_parser("failed", help="list jobs that failed after all their retries")
    retry = jobs_sub.add_parser("retry", help="queue a failed job again")
    retry.add_argument("job_id", type=int)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    command = args.command or "run"
    console = command == "console" or (command == "run" and settings.telegram.bot_token is None)
    setup_logging(settings.bot.log_level, json=settings.bot.log_json, path=CONSOLE_LOG if console else None)
    try:
        return asyncio.run(_dispatch(command, args, settings))
    except KeyboardInterrupt:
        return 130


async def _dispatch(command: str, args: argparse.Namespace, settings: Settings) -> int:
    if command == "migrate":
        from bot.database import migrate, resolve_database_url

        await migrate(resolve_database_url(settings))
        print("Database is at the latest migration.")
        return 0
    async with open_app(settings) as app:
        if command == "import-letterboxd":
            return await _import(app, args)
        if command in ("worker", "embed", "cf", "jobs"):
            return await _admin(app, command, args)
        if command == "catalog":
            if not args.path.is_file():
                print(f"No such file: {args.path}", file=sys.stderr)
                return 1
            print(f"Loaded {await load_catalog_csv(app, args.path)} films into the catalog.")
            return 0
        notice = await ensure_offline_catalog(app)
        await prepare_for_traffic(app.session_factory, app.services)
        polling = command == "run" and settings.telegram.bot_token is not None
        # the console's message ids start from the clock: like Telegram's, they grow across restarts
        bot = (
            make_bot(settings)
            if polling
            else console_bot(on_output=print, first_message_id=clock_message_id())
        )
        async with background_worker(app, bot):
            if polling:
                print(notice)
                await run_polling(app, bot)
                return 0
            return await _console(app, args, notice, bot)


async def _admin(app: App, command: str, args: argparse.Namespace) -> int:
    from bot import jobs
    from domain.cf import build_cf_model

    if command == "worker":
        queues = [q for arg in args.queues for q in arg.split(",") if q] if args.queues else None
        try:
            loops = jobs.worker_loops(concurrency=args.concurrency, queues=queues)
        except ValueError as exc:
            print(f"worker: {exc}", file=sys.stderr)
            return 2
        described = "; ".join(f"{loop.name}: {', '.join(loop.queues)} ×{loop.concurrency}" for loop in loops)
        print(f"Worker started ({described}). Ctrl+C stops it.")
        token = app.settings.telegram.bot_token
        await jobs.run_workers(
            app.job_app,
            app.session_factory,
            app.embedder,
            loops=loops,
            bot=make_bot(app.settings) if token is not None else None,
            movie_source=app.tmdb,
            language_model=app.services.language_model,
        )
        return 0
    if command == "embed":
        counts = await jobs.queue_missing(app.job_app, app.session_factory, app.embedder)
        print(
            f"Queued for {app.embedder.model}: {counts['films']} films, {counts['reviews']} reviews, "
            f"{counts['topics']} avoid topics, {counts['users']} taste vectors."
        )
        if args.now:
            await jobs.drain(app.job_app, app.session_factory, app.embedder)
            print("Done.")
        return 0
    if command == "cf":
        async with app.session_factory() as session:
            report = await build_cf_model(session)
            await session.commit()
        print(
            f"CF model {report.version}: {report.users} users, {report.items} films, "
            f"{report.interactions} ratings, {report.edges} weights, {report.seconds:.1f} s."
        )
        return 0
    manager = app.job_app.job_manager
    if args.jobs_command == "failed":
        failed = list(await manager.list_jobs_async(status="failed"))
        for job in failed:
            print(f"{job.id}\t{job.task_name}\tattempts={job.attempts}\t{job.task_kwargs}")
        print(f"{len(failed)} failed job(s). Retry one with: python -m bot jobs retry ID")
        return 0
    found = next(iter(await manager.list_jobs_async(id=args.job_id)), None)
    if found is None or found.status != "failed":
        print(f"No failed job {args.job_id}.", file=sys.stderr)
        return 1
    await manager.retry_job_by_id_async(args.job_id, retry_at=dt.datetime.now(dt.UTC))
    print(f"Job {args.job_id} ({found.task_name}) queued again.")
    return 0


async def _console(app: App, args: argparse.Namespace, notice: str, bot: Bot) -> int:
    from bot.console import ChatUser, ConsoleChat

    user = ChatUser(
        telegram_id=args.telegram_id,
        first_name=getattr(args, "first_name", "Console"),
        language_code=getattr(args, "language", "en"),
    )
    chat = ConsoleChat(app.dispatcher, bot, user)
    async with bot:
        script: Path | None = getattr(args, "script", None)
        if script is not None:
            await chat.run_script(script)
        else:
            print("No TELEGRAM_BOT_TOKEN: console chat. " + notice)
            await chat.run_interactive()
    return 0


async def _import(app: App, args: argparse.Namespace) -> int:
    from bot.jobs import JobOutbox
    from db.repositories.users import UserRepository
    from domain.letterboxd import LetterboxdFormatError
    from domain.ports import MovieSourceError

    outbox = JobOutbox()
    async with app.session_factory() as session:
        user = await UserRepository(session).upsert(args.telegram_id, first_name=None, language_code=None)
        imports = app.services.bind(session, outbox)["imports"]
        try:
            report, unmatched_csv = await imports.import_letterboxd(
                user.id, args.path, unmatched_csv=args.unmatched_out
            )
        except LetterboxdFormatError as exc:
            print(f"Import failed: {exc}", file=sys.stderr)
            return 1
        except MovieSourceError:
            log.exception("import_tmdb_failed")
            print(
                "Import failed: TMDB is not answering. The films matched so far are saved; "
                "run the import again later to finish it.",
                file=sys.stderr,
            )
            return 1
        await session.commit()
    await outbox.flush(app.job_app)
    print(
        f"Films in export: {report.films}; matched: {report.matched}; unmatched: {report.unmatched}\n"
        f"Stored: {report.ratings} ratings, {report.watched} watched, {report.viewings} diary entries, "
        f"{report.reviews} reviews, {report.likes} likes, {report.watchlist} watchlist\n"
        f"Rows that could not be read: {report.skipped_rows}"
    )
    for problem in report.problems:
        print(f"  {problem}")
    if unmatched_csv:
        print(f"Unmatched films written to {unmatched_csv}")
    return 0
