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
import uvloop
from aiogram import Bot

from bot.app import (
    App,
    background_worker,
    ensure_offline_catalog,
    load_catalog_csv,
    make_bot,
    open_app,
    prepare_for_traffic,
)
from bot.console import clock_message_id, console_bot
from bot.logging import setup_logging
from bot.service import run_service
from bot.settings import PROJECT_ROOT, Settings, SettingsError, load_settings

log = structlog.get_logger(__name__)
DEFAULT_CONSOLE_ID = 100_000_001
CONSOLE_LOG = PROJECT_ROOT / ".data" / "console.log"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="WhatToWatch film-recommendation bot")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser(
        "run",
        help="start the bot: with TELEGRAM_BOT_TOKEN long polling (a webhook server with "
        "TELEGRAM_WEBHOOK_URL), else a console chat",
    )
    run.add_argument("--telegram-id", type=int, default=DEFAULT_CONSOLE_ID, help="console user id")
    console = sub.add_parser("console", help="chat with the bot in this terminal (no Telegram needed)")
    console.add_argument(
        "--telegram-id", type=int, default=DEFAULT_CONSOLE_ID, help="who you are in the chat"
    )
    console.add_argument("--script", type=Path, help="feed the lines of FILE one by one, print replies, exit")
    console.add_argument("--first-name", default="Console")
    console.add_argument("--language", default="en", help="language code of the console user")
    console.add_argument(
        "--group-id",
        type=_group_id,
        help="play a group chat with this negative id instead: each line starts with who says it, "
        "@<user id> (e.g. @101 /together); --telegram-id, --first-name and --language are not used",
    )
    console.add_argument("--group-title", default="Console group", help="the group's title (--group-id)")
    console.add_argument(
        "--member",
        type=_member,
        action="append",
        default=[],
        metavar="ID=NAME",
        help="name a group member, e.g. 101=Anna (repeatable; others are named Anna, Ben, … as they speak)",
    )
    sub.add_parser("migrate", help="apply database migrations and exit")
    imp = sub.add_parser("import-letterboxd", help="import a Letterboxd export (.zip or folder) for a user")
    imp.add_argument("path", type=Path)
    imp.add_argument("--telegram-id", type=int, required=True)
    imp.add_argument("--unmatched-out", type=Path, help="CSV for unmatched films (default: beside PATH)")
    catalog = sub.add_parser("catalog", help="catalog maintenance")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True)
    load = catalog_sub.add_parser(
        "load-csv", help="load a TMDB-format CSV (tmdb_5000_movies.csv layout) and embed its films here"
    )
    load.add_argument("path", type=Path)
    load.add_argument(
        "--no-embed",
        action="store_true",
        help="queue the embedding jobs at once for the workers instead of embedding here",
    )
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
    load_ratings = cf_sub.add_parser(
        "load-ratings",
        help="load a public ratings dataset (MovieLens folder) as CF prior users, then retrain",
    )
    load_ratings.add_argument("path", type=Path, help="folder with ratings.csv and links.csv")
    load_ratings.add_argument("--format", choices=["movielens"], default="movielens")
    load_ratings.add_argument("--name", help="name of the prior (default: the folder's name); replaces one")
    drop_prior = cf_sub.add_parser("drop-prior", help="remove a ratings prior (all without NAME), retrain")
    drop_prior.add_argument("name", nargs="?")
    cf_sub.add_parser("status", help="the loaded ratings priors and the newest CF model")
    jobs = sub.add_parser("jobs", help="background jobs (admins)")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)
    jobs_sub.add_parser("failed", help="list jobs that failed after all their retries")
    retry = jobs_sub.add_parser("retry", help="queue a failed job again")
    retry.add_argument("job_id", type=int)
    return parser


def _group_id(value: str) -> int:
    """``--group-id``: a negative integer, as Telegram's group and supergroup ids are."""
    try:
        group_id = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if group_id >= 0:
        raise argparse.ArgumentTypeError(f"a group id is negative (e.g. -100123), not {group_id}")
    return group_id


def _member(value: str) -> tuple[int, str]:
    """``--member 101=Anna``: (user id, first name)."""
    user_id, _, name = value.partition("=")
    if not user_id.strip().isdigit() or not name.strip():
        raise argparse.ArgumentTypeError(
            f"expected ID=NAME with a positive user id, e.g. 101=Anna, not {value!r}"
        )
    return int(user_id), name.strip()


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
        return uvloop.run(_dispatch(command, args, settings))
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
            return await _load_catalog(app, args)
        notice = await ensure_offline_catalog(app)
        await prepare_for_traffic(app.session_factory, app.services)
        if command == "run" and settings.telegram.bot_token is not None:
            # webhook (TELEGRAM_WEBHOOK_URL) or long polling, until SIGTERM / SIGINT: a graceful stop
            print(notice)
            await run_service(app, make_bot(settings, app.session_factory))
            return 0
        # the console's message ids start from the clock: like Telegram's, they grow across restarts
        bot = console_bot(on_output=print, first_message_id=clock_message_id())
        async with background_worker(app, bot):
            return await _console(app, args, notice, bot)


async def _admin(app: App, command: str, args: argparse.Namespace) -> int:
    from bot import jobs

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
            bot=make_bot(app.settings, app.session_factory) if token is not None else None,
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
        return await _cf(app, args)
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


async def _cf(app: App, args: argparse.Namespace) -> int:
    """`cf rebuild | load-ratings | drop-prior | status`: priors change in one transaction,
    then the model is rebuilt in another (a failed rebuild keeps the prior; the hourly job retries)."""
    from sqlalchemy import func, select

    from db.models import CFModelInfo, CFNeighbour
    from domain.cf import build_cf_model
    from domain.prior import PriorFormatError, drop_prior, list_priors, load_movielens

    weight = app.settings.cf.prior_weight
    if args.cf_command == "load-ratings":
        try:
            async with app.session_factory() as session:
                loaded = await load_movielens(session, args.path, name=args.name)
                await session.commit()
        except PriorFormatError as exc:
            print(f"load-ratings: {exc}", file=sys.stderr)
            return 1
        print(
            f"Prior {loaded.name} ({loaded.format}): {loaded.users:,} users, {loaded.films:,} films, "
            f"{loaded.ratings:,} ratings; skipped {loaded.unlinked:,} ratings of movies without a TMDB id, "
            f"merged {loaded.merged:,} (two movies of one TMDB id); {loaded.seconds:.1f} s."
        )
    elif args.cf_command == "drop-prior":
        async with app.session_factory() as session:
            dropped = await drop_prior(session, args.name)
            await session.commit()
        if not dropped:
            print(f"No prior named {args.name}." if args.name else "No prior loaded.", file=sys.stderr)
            return 1 if args.name else 0
        print(f"Dropped {args.name}." if args.name else f"Dropped {dropped} prior(s).")
    elif args.cf_command == "status":
        async with app.session_factory() as session:
            priors = await list_priors(session)
            model = await session.scalar(select(CFModelInfo).order_by(CFModelInfo.id.desc()).limit(1))
            edges = await session.scalar(select(func.count()).select_from(CFNeighbour))
        for p in priors:
            print(
                f"Prior {p.name} ({p.format}): {p.users:,} users, {p.films:,} films, {p.ratings:,} ratings, "
                f"{p.unlinked:,} without a TMDB id; loaded {p.loaded_at:%Y-%m-%d %H:%M %Z}."
            )
        if not priors:
            print("No ratings prior loaded (python -m bot cf load-ratings PATH).")
        if model is None:
            print("No CF model built yet (python -m bot cf rebuild).")
        else:
            print(
                f"CF model {model.id} ({model.method}), built {model.built_at:%Y-%m-%d %H:%M %Z}: "
                f"{model.n_users:,} bot users, {model.n_prior_users:,} prior users "
                f"(weight {model.prior_weight:g}), {model.n_items:,} films, {edges or 0:,} weights."
            )
        return 0
    async with app.session_factory() as session:
        report = await build_cf_model(session, prior_weight=weight)
        await session.commit()
    print(
        f"CF model {report.version} ({report.method}): {report.users:,} bot users, "
        f"{report.prior_users:,} prior users "
        f"(weight {report.prior_weight:g}), {report.items:,} films, {report.interactions:,} ratings, "
        f"{report.edges:,} weights, {report.seconds:.1f} s."
    )
    return 0


async def _console(app: App, args: argparse.Namespace, notice: str, bot: Bot) -> int:
    """The console chat as one user (``--telegram-id``), or with ``--group-id`` a group whose
    members speak in turn (``@101 /together``; see ``bot.console.GROUP_BANNER``)."""
    from bot.console import ChatUser, ConsoleChat, GroupChat

    group_id: int | None = getattr(args, "group_id", None)
    members: list[tuple[int, str]] = getattr(args, "member", [])
    if group_id is not None:
        group = GroupChat(group_id, title=getattr(args, "group_title", "Console group"))
        chat = ConsoleChat(app.dispatcher, bot, group=group, members=dict(members))
    elif members:
        print("console: --member names group members; it needs --group-id", file=sys.stderr)
        return 2
    else:
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


async def _load_catalog(app: App, args: argparse.Namespace) -> int:
    """`catalog load-csv PATH [--no-embed]`: load, embed (with a progress bar) and say how long
    it took; an interrupted run keeps what it stored and embedded."""
    from domain.ports import EmbeddingError
    from integrations.tmdb_csv import TMDBCsvError

    embed = not args.no_embed
    try:
        done = await load_catalog_csv(app, args.path, embed=embed, progress=embed)
    except TMDBCsvError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except (EmbeddingError, asyncio.CancelledError) as exc:
        print(
            f"Embedding stopped ({exc!r}): the films loaded and the batches embedded so far are "
            "kept; the workers' sweep (every 10 minutes) queues the rest.",
            file=sys.stderr,
        )
        if isinstance(exc, asyncio.CancelledError):
            raise
        return 1
    model = app.embedder.model
    if embed:
        current = done.films - done.embedded
        print(
            f"Loaded {done.films} films into the catalog and embedded {done.embedded} of them ({model})"
            + (f"; {current} already had a current vector" if current else "")
            + f". Took {done.seconds:.1f} s."
        )
    elif done.to_embed:
        print(
            f"Loaded {done.films} films into the catalog in {done.seconds:.1f} s and queued "
            f"{done.to_embed} films for embedding ({done.jobs} jobs, {model}): a running worker "
            "embeds them (python -m bot worker, or the one inside python -m bot run)."
        )
    else:
        print(
            f"Loaded {done.films} films into the catalog in {done.seconds:.1f} s; all of them "
            f"already had a current vector ({model})."
        )
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
