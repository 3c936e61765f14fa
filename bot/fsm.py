"""Conversation state in PostgreSQL, and one update at a time per chat across processes.

- :class:`PostgresStorage` is aiogram's `BaseStorage` on the `fsm_states` table (one row per
  aiogram `StorageKey`; the FSM state as text, the data as JSONB). A restart, or another
  process, continues every flow where it was. While an update is handled, its reads and
  writes go through that update's own `AsyncSession` (bound with :func:`bind_session`), so
  a state change commits or rolls back together with what the handler stored: a draft and
  the state that points at it never disagree.
- :class:`ChatLocks` takes the place of aiogram's event isolation: `DatabaseMiddleware` holds
  `hold(key, session)` around the whole handling of an update. Within
  a process, updates of one key wait on an `asyncio.Lock` (first come, first served, so they
  are handled in arrival order); across processes, on a PostgreSQL transaction-level advisory
  lock (`pg_advisory_xact_lock`, PostgreSQL docs §9.28.10 "Advisory Lock Functions") keyed by
  a 64-bit hash of the key. The lock is the first statement of the update's own transaction,
  so the FSM read, the handler's work and the lock share one connection and one transaction,
  and the commit that stores the update's work releases the chat. A dead process's
  connection closes and its locks go with it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import structlog
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlalchemy import cast as sa_cast
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import FsmState

log = structlog.get_logger(__name__)
T = TypeVar("T")

#: The update being handled binds its session here (see `bind_session`).
_update_session: ContextVar[AsyncSession | None] = ContextVar("fsm_update_session", default=None)

#: How long an update waits for another process to finish with the same chat before it is
#: handled anyway (a warning is logged): a stuck process must not silence a chat for good.
LOCK_TIMEOUT_SECONDS: Final = 30
#: SQLSTATE of a lock wait that ran out of `lock_timeout` (PostgreSQL docs, Appendix A).
LOCK_NOT_AVAILABLE: Final = "55P03"


@contextmanager
def bind_session(session: AsyncSession) -> Iterator[None]:
    """Let the storage use `session` (the update's) while the block runs."""
    token = _update_session.set(session)
    try:
        yield
    finally:
        _update_session.reset(token)


def _columns(key: StorageKey) -> dict[str, Any]:
    return {
        "bot_id": key.bot_id,
        "chat_id": key.chat_id,
        "user_id": key.user_id,
        "thread_id": key.thread_id or 0,
        "business_connection_id": key.business_connection_id or "",
        "destiny": key.destiny,
    }


class PostgresStorage(BaseStorage):
    """aiogram FSM storage on the `fsm_states` table (see the module docstring).

    Data must be JSON: the handlers keep ids, strings and lists in it. Errors of the database
    propagate (the errors router answers the user).
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    async def _run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        session = _update_session.get()
        if session is not None:
            return await work(session)
        async with self.session_factory() as own:
            result = await work(own)
            await own.commit()
            return result

    async def _row(self, key: StorageKey) -> tuple[str | None, dict[str, Any]] | None:
        columns = _columns(key)

        async def read(session: AsyncSession) -> tuple[str | None, dict[str, Any]] | None:
            stmt = select(FsmState.state, FsmState.data).filter_by(**columns)
            row = (await session.execute(stmt)).one_or_none()
            return None if row is None else (row[0], dict(row[1] or {}))

        return await self._run(read)

    async def _upsert(self, key: StorageKey, values: dict[str, Any]) -> None:
        """Write `values`; a conversation left with no state and no data (`FSMContext.clear`,
        a finished flow, /forget) keeps no row: nothing of a chat is stored that says nothing."""
        columns = _columns(key)
        stmt = insert(FsmState).values(**columns, **values)
        upsert = stmt.on_conflict_do_update(
            index_elements=list(columns), set_={**values, "updated_at": func.now()}
        )
        empty = (
            delete(FsmState)
            .filter_by(**columns)
            .where(FsmState.state.is_(None), FsmState.data == sa_cast({}, JSONB))
        )

        async def write(session: AsyncSession) -> None:
            await session.execute(upsert)
            if values.get("state", "") is None or values.get("data") == {}:
                await session.execute(empty)

        await self._run(write)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._upsert(key, {"state": value})

    async def get_state(self, key: StorageKey) -> str | None:
        row = await self._row(key)
        return None if row is None else row[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._upsert(key, {"data": dict(data)})

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        row = await self._row(key)
        return {} if row is None else row[1]

    async def close(self) -> None:
        return None


def lock_id(key: StorageKey) -> int:
    """The advisory-lock id of a key: a signed 64-bit BLAKE2b hash of its fields (a collision
    only makes two chats take turns)."""
    raw = "\x1f".join(str(v) for v in _columns(key).values()).encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big", signed=True)


@dataclass
class _LocalLock:
    lock: asyncio.Lock
    users: int = 0


class ChatLocks:
    """One update at a time per `StorageKey`, in this process and across processes (see the
    module docstring). `DatabaseMiddleware` holds `hold(key, session)` around the whole
    handling of an update, in the update's own session.

    At most `max_concurrent` updates (of different chats) are handled at once; more wait before
    taking a connection. Keep it at most the sessions' pool size plus overflow, so nobody
    times out waiting for a connection. An update waiting for a chat that another process
    holds does hold its connection meanwhile (for at most LOCK_TIMEOUT_SECONDS).

    When PostgreSQL cannot be reached, taking the lock fails like any other statement of the
    update, which gets its "try again" answer.
    """

    def __init__(self, *, max_concurrent: int = 10) -> None:
        self._local: dict[StorageKey, _LocalLock] = {}
        self._slots = asyncio.Semaphore(max_concurrent)

    @asynccontextmanager
    async def hold(self, key: StorageKey, session: AsyncSession) -> AsyncGenerator[None, None]:
        """Hold `key` while the block runs: first in this process, then across processes with
        the advisory lock as the first statement of `session`'s transaction, which releases
        it when it ends (commit or rollback). The block must not commit before it is done."""
        local = self._local.get(key)
        if local is None:
            local = self._local[key] = _LocalLock(asyncio.Lock())
        local.users += 1
        try:
            async with local.lock, self._slots:
                await self._acquire(key, session)
                yield
        finally:
            local.users -= 1
            if local.users == 0 and self._local.get(key) is local:
                del self._local[key]

    async def _acquire(self, key: StorageKey, session: AsyncSession) -> None:
        """Take the key's advisory lock in `session`'s transaction. `lock_timeout` is set for
        the transaction first (the subquery in FROM runs before the lock), so a stuck process
        holds a chat for at most LOCK_TIMEOUT_SECONDS; after that the update is handled
        anyway, in a new transaction.

        Raises:
            sqlalchemy.exc.DBAPIError: PostgreSQL failed otherwise (unreachable: the errors
                router answers "try again" and `DatabaseHealth` logs the outage once).
        """
        timeout = select(func.set_config("lock_timeout", f"{LOCK_TIMEOUT_SECONDS}s", True)).subquery()
        try:
            await session.execute(select(func.pg_advisory_xact_lock(lock_id(key))).select_from(timeout))
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            log.warning("chat_lock_timeout", key=str(key), error=type(exc).__name__)
            await session.rollback()
