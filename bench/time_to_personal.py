"""Time to a personal /recommend on a new install (issue 11, "Ready at once"). Prints two figures.

    make bench-ready      # or: .venv/bin/python -m bench.time_to_personal

Protocol:
1. A fresh database (`wtw_bench_ready`, dropped and re-created, migrated) on the server of
   `BENCH_DATABASE_URL` (else `DATABASE_URL` / the embedded one), opened with
   `bot.app.open_app` as the bot opens it; no TMDB, no OpenAI, the local ONNX embedder.
2. The TMDB 5000 catalog (`WTW_DATASETS/tmdb_5000/tmdb_5000_movies.csv`, 4,803 films) loaded
   by `bot.app.load_catalog_csv`, the code of `python -m bot catalog load-csv`: stored and
   embedded in this process. Figure 1: seconds for load + embed.
3. The production worker starts in this process (`bot.app.background_worker`: the
   interactive and bulk loops of `python -m bot run`). A user sends the largest Letterboxd
   export of `WTW_DATASETS/letterboxd/` (most films) as a zip through the dispatcher (Telegram
   faked at the Bot API boundary), and the worker's `run_import` job imports it, matching
   against the catalog.
4. From the end of the import (`imports.finished_at`, written when the films are all stored),
   `/recommend` through the dispatcher once a second until the answer is personal: picks
   without the cold-start hint ("I don't know your taste yet" / "not enough to go on yet"); a
   clarifying question (asked only when something personal reached the ranking) is answered
   with 🎬 Just recommend. Figure 2: seconds from the end of the import to that answer
   (database clock). Goal: ≤ 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import make_url

PROJECT = Path(__file__).resolve().parents[1]
BENCH_DATABASE = "wtw_bench_ready"
TELEGRAM_ID = 7_100_000_001
#: Seconds between two /recommend of the poll, and the most the poll waits.
POLL_S = 1.0
POLL_LIMIT_S = 600.0
#: Seconds the import may take.
IMPORT_LIMIT_S = 1200.0
GOAL_S = 60.0
#: What the English cold-start answers say (bot.texts.cold_start_hint, early_taste_hint).
COLD_HINTS = ("I don't know your taste yet", "not enough to go on yet")


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def settings_for(url: str) -> Any:
    from bot.settings import (
        BotSettings,
        DatabaseSettings,
        EmbeddingSettings,
        OpenAISettings,
        Settings,
        TelegramSettings,
        TMDBSettings,
    )

    return Settings(
        telegram=TelegramSettings(_env_file=None, bot_token=None),
        database=DatabaseSettings(_env_file=None, database_url=url),
        tmdb=TMDBSettings(_env_file=None, api_key=None, read_access_token=None),
        openai=OpenAISettings(_env_file=None, api_key=None),
        embedding=EmbeddingSettings(_env_file=None, provider="local"),
        bot=BotSettings(_env_file=None, recommend_cooldown_seconds=0, worker_in_process=True),
    )


async def fresh_database() -> str:
    from bot.database import recreate_database, resolve_database_url

    base = os.environ.get("BENCH_DATABASE_URL") or resolve_database_url(settings_for(""))
    url = make_url(base).set(database=BENCH_DATABASE).render_as_string(hide_password=False)
    await recreate_database(url, migrated=True)
    return url


def largest_export(datasets: Path) -> tuple[Path, int]:
    """The Letterboxd export folder with the most films, and that count."""
    from domain.letterboxd import read_export

    folders = [f for f in (datasets / "letterboxd").iterdir() if f.is_dir()]
    sizes = {folder: len(read_export(folder).films) for folder in folders}
    folder = max(sizes, key=lambda f: sizes[f])
    return folder, sizes[folder]


async def main(datasets: Path) -> dict[str, Any]:
    from bench.reliability import zip_export
    from bot.app import background_worker, load_catalog_csv, open_app
    from bot.console import ChatUser, UpdateFactory, console_bot
    from bot.logging import setup_logging
    from db.models import Import

    setup_logging("WARNING", json=False)
    url = await fresh_database()
    say(f"fresh database {BENCH_DATABASE}")
    async with open_app(settings_for(url), run_migrations=False) as app:
        load = await load_catalog_csv(app, datasets / "tmdb_5000" / "tmdb_5000_movies.csv", progress=True)
        say(f"catalog: {load.films} films stored, {load.embedded} embedded in {load.seconds:.1f} s")

        folder, films = largest_export(datasets)
        user = ChatUser(telegram_id=TELEGRAM_ID, first_name="Bench", language_code="en")
        bot = console_bot()
        updates = UpdateFactory(bot.session)  # type: ignore[arg-type]
        session = bot.session
        async with bot, background_worker(app, bot):
            sent = time.perf_counter()
            upload = updates.document(user, f"{folder.name}.zip", data=zip_export(folder))
            await app.dispatcher.feed_update(bot, upload)
            say(f"export {folder.name} ({films} films) sent; the worker imports it")

            import_id = await _wait_for_import(app.session_factory, sent)
            done = time.perf_counter()
            import_s = done - sent
            watcher = asyncio.create_task(_wait_for_report(session, done))
            say(f"import {import_id} finished in {import_s:.1f} s; polling /recommend every {POLL_S:.0f} s")

            polls, answer = 0, "none"
            deadline = time.perf_counter() + POLL_LIMIT_S
            while time.perf_counter() < deadline:
                polls += 1
                started = time.perf_counter()
                answer = await _recommend(app.dispatcher, bot, updates, user)
                if answer in ("picks", "question→picks"):
                    break
                await asyncio.sleep(max(0.0, POLL_S - (time.perf_counter() - started)))
            async with app.session_factory() as db:
                waited = await db.scalar(
                    text(
                        "SELECT extract(epoch FROM clock_timestamp() - finished_at) "
                        "FROM imports WHERE id = :i"
                    ),
                    {"i": import_id},
                )
                taste = await db.scalar(
                    text(
                        "SELECT n_films FROM taste_vectors t JOIN imports i USING (user_id) WHERE i.id = :i"
                    ),
                    {"i": import_id},
                )
                matched = await db.scalar(select(Import.report["matched"]).where(Import.id == import_id))
                history = await db.scalar(
                    text(
                        "SELECT count(*) FROM user_films f JOIN imports i USING (user_id) WHERE i.id = :i "
                        "AND (f.rating IS NOT NULL OR f.watched OR f.liked OR f.not_interested)"
                    ),
                    {"i": import_id},
                )
            report, report_s = await watcher
    line = "none"
    if report is not None:
        line = "ready" if "already use this history" in report else "still reading"
    result = {
        "catalog_films": load.films,
        "embedded": load.embedded,
        "load_embed_s": load.seconds,
        "export": folder.name,
        "export_films": films,
        "matched": matched,
        "import_s": import_s,
        "report_line": line,
        "report_after_s": report_s,
        "taste_films": taste,
        "history_films": history,
        "polls": polls,
        "answer": answer,
        "personal_after_s": float(waited or 0.0) if answer != "cold" else None,
    }
    print_table(result)
    return result


async def _wait_for_import(session_factory: Any, sent: float) -> int:
    """The import's id once it is done (polled every 0.2 s)."""
    from db.models import Import

    while time.perf_counter() - sent < IMPORT_LIMIT_S:
        async with session_factory() as db:
            row = (await db.execute(select(Import.id, Import.status, Import.finished_at))).first()
        if row is not None and row.status not in ("queued", "running"):
            if row.status != "done":
                raise RuntimeError(f"the import ended {row.status}")
            return int(row.id)
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the import did not finish within {IMPORT_LIMIT_S:.0f} s")


async def _wait_for_report(session: Any, done: float, limit_s: float = 60.0) -> tuple[str | None, float]:
    """The import's report (the progress message's last edit) and the seconds from `done`
    (when the import was seen finished) until it was there."""
    while True:
        reports = [t for t in session.sent_texts(TELEGRAM_ID, plain=True) if "Import finished" in t]
        if reports or time.perf_counter() - done > limit_s:
            return (reports[-1] if reports else None), time.perf_counter() - done
        await asyncio.sleep(0.05)


async def _recommend(dp: Any, bot: Any, updates: Any, user: Any) -> str:
    """One /recommend through the dispatcher: "picks" (personal), "question→picks" (a
    clarifying question, answered with 🎬 Just recommend, then personal picks), or "cold"."""
    session = bot.session
    before = len(session.sent_texts(user.telegram_id))
    await dp.feed_update(bot, updates.message(user, "/recommend"))
    replies = session.sent_texts(user.telegram_id, plain=True)[before:]
    asked = not any("🎯" in r or "🧭" in r or "🎲" in r for r in replies)
    if asked:
        message = session.last_keyboard_message(user.telegram_id)
        buttons = [b for row in message.reply_markup.inline_keyboard for b in row] if message else []
        skip = [b for b in buttons if "Just recommend" in b.text]
        if not skip:
            return "cold"
        before = len(session.sent_texts(user.telegram_id))
        await dp.feed_update(bot, updates.callback(user, message, skip[0].callback_data or ""))
        replies = session.sent_texts(user.telegram_id, plain=True)[before:]
    cold = any(hint in r for r in replies for hint in COLD_HINTS) or not any("🎯" in r for r in replies)
    if cold:
        return "cold"
    return "question→picks" if asked else "picks"


def print_table(r: dict[str, Any]) -> None:
    print()
    print("Time to a personal /recommend on a new install (no TMDB, local embedder)")
    print(
        f"catalog load + embed (python -m bot catalog load-csv code): {r['catalog_films']} films, "
        f"{r['embedded']} embedded, {r['load_embed_s']:.1f} s"
    )
    print(
        f"import of {r['export']} ({r['export_films']} films, {r['matched']} matched) in the chat, "
        f"production worker: {r['import_s']:.1f} s; report {r['report_after_s']:.1f} s after its end, "
        f"saying: {r['report_line']}"
    )
    if r["personal_after_s"] is None:
        print(
            f"no personal /recommend within {POLL_LIMIT_S:.0f} s of the end of the import "
            f"({r['polls']} polls)"
        )
        return
    verdict = "meets" if r["personal_after_s"] <= GOAL_S else "misses"
    print(
        f"seconds from the end of the import to a personal /recommend: {r['personal_after_s']:.1f} s "
        f"({r['polls']} poll(s), answer: {r['answer']}; taste vector of {r['taste_films']} of "
        f"{r['history_films']} history films; "
        f"{verdict} the {GOAL_S:.0f} s goal)"
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=os.environ.get("WTW_DATASETS", "../shared/datasets"))
    args = parser.parse_args()
    if not (args.datasets / "tmdb_5000" / "tmdb_5000_movies.csv").is_file():
        sys.exit(f"No datasets at {args.datasets}: set WTW_DATASETS or pass --datasets")
    asyncio.run(main(args.datasets))


if __name__ == "__main__":
    cli()
