"""CPU per kind of update, in-process through the real dispatcher. Prints one line per kind.

    .venv/bin/python -m bench.update_cpu [--users 20] [--rounds 2]

Against the database `bench.load` leaves (`wtw_bench_load` on `BENCH_DATABASE_URL`'s server:
the demo catalog, embedded, and its 1,000 users' history; run `make bench-load` first). The
dispatcher is built as `bot.app` builds it (chat locks on), Telegram is the in-process
`LocalSession` (bot.console), no TMDB, no LLM, cooldown 0. `--users` new users (Telegram ids
7,000,000 and up) each go `--rounds` times round the load bench's script: /start, /help,
`/review <one of the 200 most popular titles>` → tap the film when a list is offered → tap a
rating → a review text, /recommend → 🎬 when the onboarding grid comes → ⏭ on a pick,
/profile. Per kind: the number of updates, the median and mean CPU time of this process per
update (`time.process_time`, so threads such as the /profile picture's count too; PostgreSQL's
CPU does not), and the SQL statements per update (SQLAlchemy's `before_cursor_execute`).
This is what one update costs the bot's own Python, without HTTP; `bench.load` measures the
processes under load, HTTP included.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import uvloop
from aiogram.types import Message, Update
from sqlalchemy import event, text

from bench.load import DATABASE
from bench.recommend_quality import bench_settings, bench_url
from bot.app import max_concurrent_updates, prepare_for_traffic
from bot.console import ChatUser, LocalSession, UpdateFactory, console_bot
from bot.dispatcher import build_dispatcher
from bot.logging import setup_logging
from bot.services import ServiceFactory
from db.session import create_engine, create_session_factory
from integrations.embeddings import LOCAL_MODEL

WORDS = ["great", "slow", "moving", "acting", "score", "light", "colour", "ending", "twist", "quiet", "loud"]
FIRST_TELEGRAM_ID = 7_000_000


def find(
    session: LocalSession, chat_id: int, match: Callable[[str, str], bool]
) -> tuple[Message, str] | None:
    """The newest button of the chat whose (text, callback data) `match` says yes to."""
    for message in reversed(session.keyboard_messages(chat_id)):
        assert message.reply_markup is not None
        for row in message.reply_markup.inline_keyboard:
            for button in row:
                if button.callback_data and match(button.text, button.callback_data):
                    return message, button.callback_data
    return None


async def main(users: int, rounds: int) -> None:
    setup_logging(os.environ.get("LOG_LEVEL", "WARNING"), json=False)
    url = bench_url(DATABASE)
    settings = bench_settings(recommend_cooldown_seconds=0)
    engine = create_engine(url, pool_size=settings.database.db_pool_size)
    session_factory = create_session_factory(engine)
    statements: Counter[str] = Counter()
    kind_now = [""]

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def count(*_: Any) -> None:
        statements[kind_now[0]] += 1

    async with engine.connect() as conn:
        titles = [
            str(t)
            for t in (
                await conn.scalars(
                    text("SELECT title FROM films ORDER BY popularity DESC NULLS LAST LIMIT 200")
                )
            ).all()
        ]
    if not titles:
        raise SystemExit(f"{DATABASE} has no films: run `make bench-load` first")
    services = ServiceFactory(settings, None, embedding_model=LOCAL_MODEL)
    dp = build_dispatcher(
        settings,
        session_factory,
        services,
        isolate=True,
        max_concurrent_updates=max_concurrent_updates(settings),
    )
    cpu: defaultdict[str, list[float]] = defaultdict(list)
    rng = random.Random(3)
    try:
        async with console_bot() as bot:
            session = bot.session
            assert isinstance(session, LocalSession)
            updates = UpdateFactory(session)
            await prepare_for_traffic(session_factory, services)

            async def feed(kind: str, update: Update) -> None:
                kind_now[0] = kind
                started = time.process_time()
                await dp.feed_update(bot, update)
                cpu[kind].append((time.process_time() - started) * 1000)

            for _ in range(rounds):
                for i in range(users):
                    chat_id = FIRST_TELEGRAM_ID + i
                    user = ChatUser(telegram_id=chat_id, first_name=f"U{i}", language_code="en")
                    for command in ("/start", "/help"):
                        await feed(command, updates.message(user, command))
                    await feed("/review <title>", updates.message(user, f"/review {rng.choice(titles)}"))
                    if (film := find(session, chat_id, lambda _t, d: d.startswith("film:"))) is not None:
                        await feed("tap film", updates.callback(user, *film))
                    if (rate := find(session, chat_id, lambda _t, d: d.startswith("rate:"))) is not None:
                        await feed("tap rating", updates.callback(user, *rate))
                        words = " ".join(rng.choice(WORDS) for _ in range(12))
                        await feed("review text", updates.message(user, words))
                    await feed("/recommend", updates.message(user, "/recommend"))
                    for _ in range(2):  # the onboarding grid first, then the picks
                        if (
                            skip := find(session, chat_id, lambda _t, d: d.startswith("pick:s:"))
                        ) is not None:
                            await feed("tap ⏭", updates.callback(user, *skip))
                            break
                        if (more := find(session, chat_id, lambda t, _d: t.startswith("🎬"))) is None:
                            break
                        await feed("tap 🎬", updates.callback(user, *more))
                    await feed("/profile", updates.message(user, "/profile"))
    finally:
        await engine.dispose()
    print(f"CPU per update, in-process (chat locks on, no HTTP): {users} users × {rounds} rounds")
    print(f"{'update':16} {'n':>5} {'median ms':>10} {'mean ms':>8} {'statements':>11}")
    for kind, times in cpu.items():
        print(
            f"{kind:16} {len(times):5d} {statistics.median(times):10.1f} {statistics.fmean(times):8.1f} "
            f"{statements[kind] / len(times):11.1f}"
        )
    every = [t for times in cpu.values() for t in times]
    print(f"{'all':16} {len(every):5d} {statistics.median(every):10.1f} {statistics.fmean(every):8.1f}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    uvloop.run(main(args.users, args.rounds))  # the loop `python -m bot` runs on (bot.cli)


if __name__ == "__main__":
    cli()
