"""A FuzzBot on the test database: the run's dispatcher, the demo catalog, two bystanders."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
from aiogram import Dispatcher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.bot.conftest import make_harness
from tests.fuzz.driver import FuzzBot

#: Each test's users get ids of their own (conversation state outlives a test's transaction).
_ID_BASES = itertools.count(600_000_000, 10_000_000)


@pytest.fixture
async def fuzz_bot(
    dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[FuzzBot]:
    async for harness in make_harness(dispatcher, session_factory):
        with FuzzBot(
            harness.dp, harness.bot, harness.overrides, session_factory, id_base=next(_ID_BASES)
        ) as fuzz:
            setup = await fuzz.setup_bystanders()
            assert not setup, "the bystanders' own setup failed:\n" + "\n".join(map(str, setup))
            yield fuzz
