"""bot.fsm: one update at a time per chat, across processes too (two `ChatLocks` play two
processes), in the update's own transaction; and the conversation state in PostgreSQL, read
once and written once per update. Real PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bot.fsm import ChatLocks, PostgresStorage, bind_session, flush_state, lock_id
from db.models import FsmState
from db.session import create_session_factory

# --- one update at a time, across processes ------------------------------------------------------


async def test_two_dispatchers_never_handle_one_chat_at_once(engine: AsyncEngine) -> None:
    """Two processes' locks, each update in a session of its own, take turns on one key, and
    different keys do not wait for each other."""
    key, other = StorageKey(1, 9, 9), StorageKey(1, 10, 10)
    sessions = create_session_factory(engine)
    first, second = (ChatLocks() for _ in range(2))
    inside: list[str] = []
    overlaps = 0

    async def hold(locks: ChatLocks, name: str, k: StorageKey) -> None:
        nonlocal overlaps
        async with sessions() as session, locks.hold(k, session):
            if k == key and any(n != "other" for n in inside):
                overlaps += 1
            inside.append(name if k == key else "other")
            await asyncio.sleep(0.05)
            inside.remove(name if k == key else "other")
            await session.commit()  # as DatabaseMiddleware does: the commit lets the chat go

    started = asyncio.get_running_loop().time()
    await asyncio.gather(
        *(hold(first if i % 2 else second, f"u{i}", key) for i in range(6)), hold(first, "o", other)
    )
    assert overlaps == 0
    assert asyncio.get_running_loop().time() - started >= 6 * 0.05  # they took turns
    assert lock_id(key) != lock_id(other)


async def test_a_lock_held_in_another_process_is_waited_for(engine: AsyncEngine) -> None:
    key = StorageKey(1, 11, 11)
    async with engine.connect() as other_process:
        await other_process.execute(select(func.pg_advisory_xact_lock(lock_id(key))))
        locks = ChatLocks()
        entered = asyncio.Event()

        async def handle() -> None:
            async with create_session_factory(engine)() as session, locks.hold(key, session):
                entered.set()

        task = asyncio.create_task(handle())
        await asyncio.sleep(0.2)
        assert not entered.is_set()  # still held by the other connection
        await other_process.rollback()
        await asyncio.wait_for(task, 5)
        assert entered.is_set()


async def test_a_chat_held_too_long_elsewhere_is_handled_anyway(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A stuck process must not silence a chat for good: after lock_timeout the update goes
    on in a new transaction of the same session, with a warning."""
    from bot import fsm

    monkeypatch.setattr(fsm, "LOCK_TIMEOUT_SECONDS", 0.3)
    key = StorageKey(1, 13, 13)
    async with engine.connect() as stuck:
        await stuck.execute(select(func.pg_advisory_xact_lock(lock_id(key))))
        started = asyncio.get_running_loop().time()
        with caplog.at_level(logging.WARNING):
            async with create_session_factory(engine)() as session, ChatLocks().hold(key, session):
                assert await session.scalar(select(1)) == 1  # the session still works
        assert 0.3 <= asyncio.get_running_loop().time() - started < 5
        assert any("chat_lock_timeout" in r.getMessage() for r in caplog.records)
        await stuck.rollback()


async def test_state_outlives_the_process(session_factory: async_sessionmaker[AsyncSession]) -> None:
    """What one storage object wrote, a new one (a restarted process) reads."""
    key = StorageKey(bot_id=1, chat_id=5, user_id=5)
    await PostgresStorage(session_factory).set_state(key, "ReviewFlow:more")
    await PostgresStorage(session_factory).set_data(key, {"draft": {"parts": {"3": "é\n"}}})
    restarted = PostgresStorage(session_factory)
    assert await restarted.get_state(key) == "ReviewFlow:more"
    assert await restarted.get_data(key) == {"draft": {"parts": {"3": "é\n"}}}
    await restarted.set_state(key, None)
    assert await restarted.get_state(key) is None
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(FsmState).filter_by(chat_id=5)) == 1
    await restarted.set_data(key, {})  # cleared: no row is left for that chat
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(FsmState).filter_by(chat_id=5)) == 0
    assert await restarted.get_data(key) == {} and await restarted.get_state(key) is None


async def test_an_update_reads_its_state_once_and_writes_it_once(
    connection: AsyncConnection, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """aiogram reads the state, the handler the data, then updates and clears it: one SELECT
    and, at the commit, one statement (here a DELETE: nothing is left to keep)."""
    key = StorageKey(bot_id=1, chat_id=14, user_id=14)
    storage = PostgresStorage(session_factory)
    await storage.set_state(key, "ReviewFlow:text")  # outside an update: written at once
    await storage.set_data(key, {"draft": {"tmdb_id": 348}})
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "fsm_states" in statement:
            statements.append(statement.split()[0])

    event.listen(connection.sync_connection, "before_cursor_execute", record)
    try:
        async with session_factory() as session:
            with bind_session(session):
                context = FSMContext(storage, key)
                assert await context.get_state() == "ReviewFlow:text"
                data = await context.get_data()
                assert data == {"draft": {"tmdb_id": 348}}
                data["draft"]["tmdb_id"] = 1  # a change to the copy is not the stored data
                assert await context.get_data() == {"draft": {"tmdb_id": 348}}
                await context.update_data(parts=["a"])
                await context.clear()
                assert await context.get_state() is None and await context.get_data() == {}
                assert statements == ["SELECT"]  # nothing written before the commit
                assert await flush_state() == 1
            await session.commit()
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", record)
    assert statements == ["SELECT", "DELETE"]
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(FsmState).filter_by(chat_id=14)) == 0


async def test_advisory_lock_sql_is_transaction_scoped(engine: AsyncEngine) -> None:
    """The lock is the update's transaction's: once it commits, nobody holds it, and the
    update's own statements ran on the lock's connection."""
    locks = ChatLocks()
    key = StorageKey(1, 12, 12)
    held_query = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()"
    )
    async with create_session_factory(engine)() as session, locks.hold(key, session):
        assert await session.scalar(held_query) == 1
        await session.commit()
    async with engine.connect() as conn:
        held = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
        assert held == 0
