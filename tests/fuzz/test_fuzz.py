"""Hostile and random Telegram updates through the real dispatcher on the real database.

Every example is a scenario of fresh users (see `tests.fuzz.strategies`), run inside a
savepoint that is rolled back afterwards; two bystanders with data and open questions sit
beside them. Per update: no unhandled error, every private message and button answered, no
internal text shown; per scenario: nothing of the bystanders changed (`tests.fuzz.driver`).

Examples: `WTW_FUZZ_EXAMPLES` in all (default 2,000), shared out by `SHARES`. Generation is
derandomized, so CI runs the same examples every time; a failure is shrunk to the smallest
scenario and reported as `Falsifying example: …`, with the bot's own exception re-raised so
hypothesis reports each distinct bug once.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hypothesis import HealthCheck, given, settings
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.fuzz import strategies as s
from tests.fuzz.driver import FuzzBot, Outcome

TOTAL_EXAMPLES = int(os.environ.get("WTW_FUZZ_EXAMPLES", "2000"))
#: Share of the examples per test: cheap single updates most, documents least.
SHARES = {"any": 0.45, "flows": 0.35, "documents": 0.08, "mixed": 0.12}


def fuzz_settings(test: str) -> settings:
    return settings(
        max_examples=max(1, round(TOTAL_EXAMPLES * SHARES[test])),
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


@asynccontextmanager
async def rolled_back(connection: AsyncConnection) -> AsyncIterator[None]:
    """One example's writes in a savepoint, undone afterwards: examples stay independent."""
    savepoint = await connection.begin_nested()
    try:
        yield
    finally:
        if savepoint.is_active:
            await savepoint.rollback()


def check(outcome: Outcome) -> None:
    """Raise the first finding: the bot's own exception when there is one (so hypothesis
    tells distinct bugs apart by where they were raised), else an AssertionError."""
    if not outcome.findings:
        return
    first = outcome.findings[0]
    report = "\n".join(str(f) for f in outcome.findings)
    if first.exception is not None:
        first.exception.add_note(f"fuzz findings:\n{report}")
        raise first.exception
    if first.kind == "unanswered":
        raise AssertionError(f"not answered:\n{report}")
    if first.kind == "internal_text":
        raise AssertionError(f"internal text shown:\n{report}")
    if first.kind == "bystander_changed":
        raise AssertionError(f"another user's data changed:\n{report}")
    raise AssertionError(report)


async def run_checked(scenario: s.Scenario, fuzz_bot: FuzzBot, connection: AsyncConnection) -> None:
    """Run one scenario in a rolled-back savepoint and fail on any finding."""
    async with rolled_back(connection):
        outcome = await fuzz_bot.run(scenario)
    check(outcome)


@fuzz_settings("any")
@given(scenario=s.scenarios(max_actors=2, max_steps=3, documents=False))
async def test_any_update_is_handled_and_answered(
    scenario: s.Scenario, fuzz_bot: FuzzBot, connection: AsyncConnection
) -> None:
    await run_checked(scenario, fuzz_bot, connection)


@fuzz_settings("flows")
@given(scenario=s.flows())
async def test_flows_survive_anything_mid_way(
    scenario: s.Scenario, fuzz_bot: FuzzBot, connection: AsyncConnection
) -> None:
    await run_checked(scenario, fuzz_bot, connection)


@fuzz_settings("documents")
@given(scenario=s.uploads())
async def test_documents_never_crash_the_import(
    scenario: s.Scenario, fuzz_bot: FuzzBot, connection: AsyncConnection
) -> None:
    await run_checked(scenario, fuzz_bot, connection)


@fuzz_settings("mixed")
@given(scenario=s.scenarios(max_actors=3, max_steps=8, documents=True))
async def test_many_users_mixed_traffic(
    scenario: s.Scenario, fuzz_bot: FuzzBot, connection: AsyncConnection
) -> None:
    await run_checked(scenario, fuzz_bot, connection)
