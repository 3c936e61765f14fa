"""The command-line interface (argparse). Every command validates settings first and exits
with a one-line message naming a bad setting instead of a traceback."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog

from bot.app import App, ensure_offline_catalog, load_catalog_csv, open_app, run_polling
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
        if command == "catalog":
            if not args.path.is_file():
                print(f"No such file: {args.path}", file=sys.stderr)
                return 1
            print(f"Loaded {await load_catalog_csv(app, args.path)} films into the catalog.")
            return 0
        notice = await ensure_offline_catalog(app)
        if command == "run" and settings.telegram.bot_token is not None:
            print(notice)
            await run_polling(app)
            return 0
        return await _console(app, args, notice)


async def _console(app: App, args: argparse.Namespace, notice: str) -> int:
    from bot.console import ChatUser, ConsoleChat, console_bot

    bot = console_bot(on_output=print)
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
    from db.repositories.users import UserRepository
    from domain.letterboxd import LetterboxdFormatError
    from domain.ports import MovieSourceError

    async with app.session_factory() as session:
        user = await UserRepository(session).upsert(args.telegram_id, first_name=None, language_code=None)
        imports = app.services.bind(session)["imports"]
        try:
            report = await imports.import_letterboxd(user.id, args.path, unmatched_csv=args.unmatched_out)
        except LetterboxdFormatError as exc:
            print(f"Import failed: {exc}", file=sys.stderr)
            return 1
        except MovieSourceError:
            log.exception("import_tmdb_failed")
            print(
                "Import failed: TMDB is not answering. Nothing was stored; try again later.", file=sys.stderr
            )
            return 1
        await session.commit()
    print(
        f"Films in export: {report.films_in_export}; "
        f"matched: {report.matched}; unmatched: {report.unmatched}\n"
        f"Stored: {report.ratings} ratings, {report.watched} watched, {report.reviews} reviews, "
        f"{report.likes} likes, {report.watchlist} watchlist"
    )
    if report.unmatched_csv:
        print(f"Unmatched films written to {report.unmatched_csv}")
    return 0
