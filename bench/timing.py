"""Timing /recommend through the dispatcher, for the benches that print its latency
(bench/recommend_quality.py, bench/latency.py, bench/scale.py): warm-up, the user's picks
forgotten every SESSION_ANSWERS answers, every timed answer checked to hold picks."""

from __future__ import annotations

import time

from sqlalchemy import text

from bot.app import prepare_for_traffic
from bot.console import ChatUser, UpdateFactory, console_bot
from bot.dispatcher import build_dispatcher

#: Untimed /recommend calls before the timed ones: the connection pool, prepared statements,
#: the CF model cache.
WARM_CALLS = 5


#: Answers after which a timing loop forgets the user's picks (untimed, `forget_picks`). The bot
#: never repeats a film, so a user asking hundreds of times in a row works down their ranking
#: until its top fits them poorly and the bot asks a clarifying question instead (a different
#: path). So every timed answer is among the first SESSION_ANSWERS a user gets in a row.
SESSION_ANSWERS = 20


async def recommend_timings(settings, session_factory, services, user: ChatUser, calls: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Milliseconds of `calls` /recommend updates from `user` through the dispatcher (Telegram
    faked at the Bot API boundary), sorted, after the bot's start-up preparation
    (`timed_recommends`: warm-up, picks forgotten every SESSION_ANSWERS, every answer checked)."""
    dp = build_dispatcher(settings, session_factory, services, isolate=True)  # chat locks, as in production
    updates = UpdateFactory()
    async with console_bot() as bot:
        await prepare_for_traffic(session_factory, services)  # what the bot does at start-up

        async def send() -> None:
            await dp.feed_update(bot, updates.message(user, "/recommend"))

        timed = await timed_recommends(session_factory, user.telegram_id, calls, send)
    return sorted(wall for wall, _cpu in timed)


async def timed_recommends(session_factory, telegram_id: int, calls: int, send) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    """`send()` (one /recommend of the user with this Telegram id) WARM_CALLS times untimed,
    then `calls` times timed: (wall ms, CPU ms of this process) per timed call. The user's picks
    are forgotten first and every SESSION_ANSWERS calls (untimed). Raises SystemExit unless
    every call stored an answer with picks (an error message or a clarifying question is a
    different, faster path: never timed as /recommend)."""
    await forget_picks(session_factory, telegram_id)
    for _ in range(WARM_CALLS):
        await send()
    stored = 0
    timed = []
    for i in range(calls):
        if i % SESSION_ANSWERS == 0:
            stored += await forget_picks(session_factory, telegram_id)
        c0, t0 = time.process_time(), time.perf_counter()
        await send()
        timed.append(((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000))
    stored += await forget_picks(session_factory, telegram_id)
    if stored < WARM_CALLS + calls:
        raise SystemExit(
            f"/recommend stored {stored} answers with picks of {WARM_CALLS + calls}: the others were "
            "an error or a clarifying question (run with LOG_LEVEL=INFO to see which)"
        )
    return timed


#: Deletes a user's stored answers and counts those that held picks: an answer without picks is
#: stored too (RecommendationService.store_picks) and must not pass for one with them. The
#: outer SELECT sees the items as they were before the statement (PostgreSQL: a data-modifying
#: WITH query and its main query share one snapshot).
_FORGET_SQL = """
WITH gone AS (
    DELETE FROM recommendations r USING users u WHERE u.id = r.user_id AND u.telegram_id = :t
    RETURNING r.id
)
SELECT count(*) FROM gone
WHERE EXISTS (SELECT 1 FROM recommendation_items i WHERE i.recommendation_id = gone.id)
"""


async def forget_picks(session_factory, telegram_id: int) -> int:  # type: ignore[no-untyped-def]
    """Delete the stored /recommend answers of the user with this Telegram id; how many of them
    held picks."""
    async with session_factory() as session:
        held = await session.scalar(text(_FORGET_SQL), {"t": telegram_id})
        await session.commit()
    return int(held or 0)


def percentile(sorted_ms: list[float], q: float) -> float:
    """The nearest-rank-below percentile of sorted timings: index int(q·(n−1))."""
    return sorted_ms[int(q * (len(sorted_ms) - 1))]
