"""/recommend latency for the heaviest user of an already loaded bench database. Prints figures.

    make bench-latency    # or: .venv/bin/python -m bench.latency [--calls 200] [--profile]

Against an existing bench database (default: `wtw_bench`, as `make bench` leaves it: MovieLens
users with their histories, the TMDB 5000 catalog, film vectors, taste vectors, a CF model);
nothing is reloaded (the migrations are applied). The user with the most `user_films` rows
sends `/recommend` through the dispatcher, chat locks included as in production (Telegram
faked at the Bot API boundary, `bench.timing`): warm caches (start-up warm-up and 5 untimed
calls), no LLM, TMDB not configured, cooldown 0.

Two series: answers reusing the user's ranking (domain.ranking_cache: nothing changed since
the last answer), and answers ranking from scratch (the first one after a rating). Prints, per
series, p50 / p95 / p99 of `--calls` calls (ms, wall clock), the median CPU time of the bot's
process per call (less sensitive to a busy machine), the SQL statements one /recommend sends
(counted with SQLAlchemy's `before_cursor_execute` event), with `--profile` the top 25
lines of a cProfile profile of further reusing calls, by cumulative and by own time, and with
`--statements` the SQL of one more reusing call, one line per statement.

The user's picks are forgotten every SESSION_ANSWERS answers (untimed; see
`bench.timing.SESSION_ANSWERS`) and at the end (the next run starts clean); a call
that stores no picks (an error, a clarifying question) stops the run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import statistics
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, text

from bench.recommend_quality import bench_settings, bench_url
from bench.timing import SESSION_ANSWERS, WARM_CALLS, forget_picks, percentile, timed_recommends
from bot.app import prepare_for_traffic
from bot.console import ChatUser, UpdateFactory, console_bot
from bot.database import migrate
from bot.dispatcher import build_dispatcher
from bot.logging import setup_logging
from bot.services import ServiceFactory
from db.session import create_engine, create_session_factory
from integrations.embeddings import LOCAL_MODEL

PROFILE_LINES = 25
STATEMENT_CHARS = 160  # printed of each statement with --statements


@dataclass
class Series:
    """One timed series of /recommend calls: wall ms (sorted), CPU ms, SQL statements."""

    label: str
    timings: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)

    def report(self) -> None:
        self.timings.sort()
        print(
            f"{self.label}: p50 {statistics.median(self.timings):.1f} ms, "
            f"p95 {percentile(self.timings, 0.95):.1f} ms, p99 {percentile(self.timings, 0.99):.1f} ms, "
            f"max {self.timings[-1]:.1f} ms; CPU of this process per call (the bot's Python, not "
            f"PostgreSQL's): median {statistics.median(self.cpu):.1f} ms; SQL statements per call: "
            f"median {statistics.median(self.statements):g} (min {min(self.statements)}, "
            f"max {max(self.statements)})"
        )


async def main(url: str, *, calls: int, profile: bool, profile_calls: int, show_statements: bool) -> None:
    setup_logging(os.environ.get("LOG_LEVEL", "WARNING"), json=False)
    await migrate(url)  # the schema the code expects; the data stays as loaded
    settings = bench_settings(recommend_cooldown_seconds=0)
    engine = create_engine(url, pool_size=4)
    session_factory = create_session_factory(engine)
    statements = 0
    recorded: list[str] | None = None  # the SQL of the calls made while this is a list
    one_call: list[str] = []  # what --statements prints

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        nonlocal statements
        statements += 1
        if recorded is not None:
            recorded.append(" ".join(statement.split()))

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
    updates = UpdateFactory()
    user = ChatUser(telegram_id=telegram_id, first_name=first_name or "bench", language_code="en")
    services = ServiceFactory(settings, None, embedding_model=LOCAL_MODEL)
    dp = build_dispatcher(settings, session_factory, services, isolate=True)  # chat locks, as in production
    # answers reusing a ranking (domain.ranking_cache: the user changed nothing since the last
    # answer), then answers ranking from scratch (the first answer after a rating)
    runs = Series("reused ranking"), Series("ranking from scratch")
    profiler = cProfile.Profile() if profile else None

    try:
        async with console_bot() as bot:

            async def one(*, reuse: bool) -> None:
                if not reuse:
                    services.rankings.clear()
                await dp.feed_update(bot, updates.message(user, "/recommend"))

            async def measure(series: Series, *, reuse: bool) -> None:
                async def send() -> None:
                    before = statements
                    await one(reuse=reuse)
                    series.statements.append(statements - before)

                timed = await timed_recommends(session_factory, telegram_id, calls, send)
                series.timings = [wall for wall, _cpu in timed]
                series.cpu = [cpu for _wall, cpu in timed]
                del series.statements[:WARM_CALLS]  # the warm-up calls'

            await prepare_for_traffic(session_factory, services)
            for series in runs:
                reuse = series is runs[0]
                await measure(series, reuse=reuse)
                if profiler is not None and reuse:
                    for i in range(profile_calls):
                        if i % SESSION_ANSWERS == 0:
                            await forget_picks(session_factory, telegram_id)
                        profiler.enable()
                        await one(reuse=reuse)
                        profiler.disable()
            if show_statements:
                await forget_picks(session_factory, telegram_id)
                await one(reuse=True)  # ranks once more after the from-scratch series
                recorded = one_call
                await one(reuse=True)
                recorded = None
    finally:
        await forget_picks(session_factory, telegram_id)
        await engine.dispose()

    print(
        f"/recommend through the dispatcher: user {first_name} (id {user_id}) with {n_films} user_films "
        f"rows, {calls} calls per series after {WARM_CALLS} warm-up calls (picks forgotten every "
        f"{SESSION_ANSWERS}), no LLM, no TMDB; load average "
        f"{os.getloadavg()[0]:.2f} (2 = both cores busy)"
    )
    for series in runs:
        series.report()
    if profiler is not None:
        for key in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(key).print_stats(PROFILE_LINES)
            print(f"\ncProfile of {profile_calls} calls (reused ranking), top {PROFILE_LINES} by {key}:")
            print(out.getvalue().split("\n", 4)[-1].strip("\n"))  # drop pstats' preamble
    if one_call:
        print(f"\nSQL of one /recommend reusing the ranking ({len(one_call)} statements):")
        for statement in one_call:
            print(f"  {statement[:STATEMENT_CHARS]}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="a loaded bench database (default: wtw_bench)")
    parser.add_argument("--calls", type=int, default=200, help="timed /recommend calls")
    parser.add_argument("--profile", action="store_true", help="also profile further calls with cProfile")
    parser.add_argument("--profile-calls", type=int, default=50, help="calls profiled with --profile")
    parser.add_argument("--statements", action="store_true", help="also print the SQL of one reused call")
    args = parser.parse_args()
    asyncio.run(
        main(
            args.database_url or bench_url(),
            calls=args.calls,
            profile=args.profile,
            profile_calls=args.profile_calls,
            show_statements=args.statements,
        )
    )


if __name__ == "__main__":
    cli()
