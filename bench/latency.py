"""/recommend latency for the heaviest user of an already loaded bench database. Prints figures.

    make bench-latency    # or: .venv/bin/python -m bench.latency [--calls 200] [--profile]

Against an existing bench database (default: `wtw_bench`, as `make bench` leaves it: MovieLens
users with their histories, the TMDB 5000 catalog, film vectors, taste vectors, a CF model);
nothing is reloaded (the migrations are applied). The user with the most `user_films` rows
sends `/recommend` through the dispatcher (Telegram faked at the Bot API boundary, as
`bench.recommend_quality`'s
`measure_latency`): warm caches (start-up warm-up and 5 untimed calls), no LLM, TMDB not
configured, cooldown 0. Prints p50 / p95 / p99 of `--calls` calls (ms, wall clock), the
median CPU time of the bot's process per call (less sensitive to a busy machine), the SQL
statements one /recommend sends (counted with SQLAlchemy's `before_cursor_execute` event), and
with `--profile` the top 25 lines of a cProfile profile of further calls, by cumulative and
by own time. The picks it stores are deleted at the end (the next run starts clean).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import statistics
import time
from typing import Any

from sqlalchemy import event, text

from bench.recommend_quality import WARM_CALLS, bench_settings, bench_url, percentile
from bot.app import prepare_for_traffic
from bot.console import ChatUser, UpdateFactory, console_bot
from bot.database import migrate
from bot.dispatcher import build_dispatcher
from bot.logging import setup_logging
from bot.services import ServiceFactory
from db.session import create_engine, create_session_factory
from integrations.embeddings import LOCAL_MODEL

PROFILE_LINES = 25


async def main(url: str, *, calls: int, profile: bool, profile_calls: int) -> None:
    setup_logging("WARNING", json=False)
    await migrate(url)  # the schema the code expects; the data stays as loaded
    settings = bench_settings(recommend_cooldown_seconds=0)
    engine = create_engine(url, pool_size=4)
    session_factory = create_session_factory(engine)
    services = ServiceFactory(settings, None, embedding_model=LOCAL_MODEL)

    statements = 0

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT u.id, u.telegram_id, u.first_name, count(*) AS n FROM user_films f "
                    "JOIN users u ON u.id = f.user_id GROUP BY u.id ORDER BY n DESC, u.id LIMIT 1"
                )
            )
        ).one()
    user_id, telegram_id, first_name, n_films = row
    dp = build_dispatcher(settings, session_factory, services)
    bot = console_bot()
    updates = UpdateFactory()
    user = ChatUser(telegram_id=telegram_id, first_name=first_name or "bench", language_code="en")

    async def one() -> None:
        await dp.feed_update(bot, updates.message(user, "/recommend"))

    timings: list[float] = []
    cpu: list[float] = []
    per_call: list[int] = []
    try:
        async with bot:
            await prepare_for_traffic(session_factory, services)
            for _ in range(WARM_CALLS):
                await one()
            async with engine.connect() as conn:
                stored = await conn.scalar(
                    text("SELECT count(*) FROM recommendations WHERE user_id = :u"), {"u": user_id}
                )
            if stored < WARM_CALLS:  # an error answer is fast: never time one
                raise SystemExit(f"/recommend stored {stored} of {WARM_CALLS} answers: see the log above")
            for _ in range(calls):
                before = statements
                c0, t0 = time.process_time(), time.perf_counter()
                await one()
                timings.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
                per_call.append(statements - before)
            profiler = cProfile.Profile() if profile else None
            if profiler is not None:
                profiler.enable()
                for _ in range(profile_calls):
                    await one()
                profiler.disable()
    finally:
        async with session_factory() as session:
            await session.execute(text("DELETE FROM recommendations WHERE user_id = :u"), {"u": user_id})
            await session.commit()
        await engine.dispose()

    timings.sort()
    print(
        f"/recommend through the dispatcher: user {first_name} (id {user_id}) with {n_films} user_films "
        f"rows, {len(timings)} calls after {WARM_CALLS} warm-up calls, no LLM, no TMDB"
    )
    print(
        f"p50 {statistics.median(timings):.1f} ms, p95 {percentile(timings, 0.95):.1f} ms, "
        f"p99 {percentile(timings, 0.99):.1f} ms, max {timings[-1]:.1f} ms"
    )
    print(
        f"CPU time of this process per call (the bot's Python, not PostgreSQL's): "
        f"median {statistics.median(cpu):.1f} ms; load average while measuring: "
        f"{os.getloadavg()[0]:.2f} (2 = both cores busy)"
    )
    print(
        f"SQL statements per /recommend: median {statistics.median(per_call):g} "
        f"(min {min(per_call)}, max {max(per_call)})"
    )
    if profiler is not None:
        for key in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(key).print_stats(PROFILE_LINES)
            print(f"\ncProfile of {profile_calls} calls, top {PROFILE_LINES} by {key}:")
            print(out.getvalue().split("\n", 4)[-1].strip("\n"))  # drop pstats' preamble


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="a loaded bench database (default: wtw_bench)")
    parser.add_argument("--calls", type=int, default=200, help="timed /recommend calls")
    parser.add_argument("--profile", action="store_true", help="also profile further calls with cProfile")
    parser.add_argument("--profile-calls", type=int, default=50, help="calls profiled with --profile")
    args = parser.parse_args()
    asyncio.run(
        main(
            args.database_url or bench_url(),
            calls=args.calls,
            profile=args.profile,
            profile_calls=args.profile_calls,
        )
    )


if __name__ == "__main__":
    cli()
