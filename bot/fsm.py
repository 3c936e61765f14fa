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
import copy
import hashlib
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final

import structlog
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import FsmState

log = structlog.get_logger(__name__)

#: How long an update waits for another process to finish with the same chat before it is
#: handled anyway (a warning is logged): a stuck process must not silence a chat for good.
LOCK_TIMEOUT_SECONDS: Final = 30
#: SQLSTATE of a lock wait that ran out of `lock_timeout` (PostgreSQL docs, Appendix A).
LOCK_NOT_AVAILABLE: Final = "55P03"


@dataclass
class _Row:
    """A key's FSM row as the update sees it; `dirty` until `flush_state` writes it."""

    state: str | None
    data: dict[str, Any]
    dirty: bool = False

    @classmethod
    def of(cls, found: Sequence[Any] | None) -> _Row:
        """The row as read, (state, data) (None: no row, so no state and no data)."""
        if found is None:
            return cls(None, {})
        state, data = found
        return cls(state, dict(data or {}))


@dataclass
class _UpdateScope:
    """The update being handled: its session, and the FSM rows it read or wrote."""

    session: AsyncSession
    rows: dict[StorageKey, _Row] = field(default_factory=dict)


#: The update being handled binds its scope here (see `bind_session`).
_update_scope: ContextVar[_UpdateScope | None] = ContextVar("fsm_update_scope", default=None)


@contextmanager
def bind_session(session: AsyncSession) -> Iterator[None]:
    """Let the storage use `session` (the update's) while the block runs. Each key's row is
    read once and kept; writes wait for `flush_state` (call it before the commit)."""
    token = _update_scope.set(_UpdateScope(session))
    try:
        yield
    finally:
        _update_scope.reset(token)


async def flush_state() -> int:
    """Write the FSM rows the bound update changed, one statement per key: an upsert of its
    state and data, or, when both are empty, a delete (no row says nothing). Returns how many
    keys were written; 0 outside an update."""
    scope = _update_scope.get()
    if scope is None:
        return 0
    written = 0
    for key, row in scope.rows.items():
        if not row.dirty:
            continue
        if row.state is None and not row.data:
            await scope.session.execute(_DELETE, _key_params(key))
        else:
            await scope.session.execute(_UPSERT, {**_key_params(key), "state": row.state, "data": row.data})
        row.dirty = False
        written += 1
    return written


#: The columns of a StorageKey in `fsm_states`, in the unique key's order.
_KEY_COLUMNS: Final = ("bot_id", "chat_id", "user_id", "thread_id", "business_connection_id", "destiny")


def _key_params(key: StorageKey) -> dict[str, Any]:
    """The bind parameters `k_<column>` of a key, in `_KEY_COLUMNS` order."""
    values = (
        key.bot_id,
        key.chat_id,
        key.user_id,
        key.thread_id or 0,
        key.business_connection_id or "",
        key.destiny,
    )
    return {f"k_{column}": value for column, value in zip(_KEY_COLUMNS, values, strict=True)}


# Every update runs these: built once, with bind parameters, so SQLAlchemy neither builds the
# statement nor computes its cache key again (about a millisecond of CPU per update).
_IS_KEY = [getattr(FsmState, c) == bindparam(f"k_{c}") for c in _KEY_COLUMNS]
_READ: Final = select(FsmState.state, FsmState.data).where(*_IS_KEY)
_DELETE: Final = delete(FsmState).where(*_IS_KEY)
_INSERT = insert(FsmState).values(
    **{c: bindparam(f"k_{c}") for c in _KEY_COLUMNS},
    state=bindparam("state"),
    data=bindparam("data", type_=FsmState.data.type),
)
_UPSERT: Final = _INSERT.on_conflict_do_update(
    index_elements=list(_KEY_COLUMNS),
    set_={"state": _INSERT.excluded.state, "data": _INSERT.excluded.data, "updated_at": func.now()},
)


class PostgresStorage(BaseStorage):
    """aiogram FSM storage on the `fsm_states` table (see the module docstring).

    Within an update (`bind_session`), a key's row is read once, and the changes are written
    by `flush_state` in one statement: aiogram reads the state before the handler, which
    reads the data again, and `FSMContext.clear()` is a state write and a data write.
    Outside one (a job, the error handler after the update's session closed), every call
    reads or writes in a transaction of its own.

    Data must be JSON: the handlers keep ids, strings and lists in it. Errors of the database
    propagate (the errors router answers the user).
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    async def _row(self, key: StorageKey) -> _Row:
        scope = _update_scope.get()
        if scope is None:
            async with self.session_factory() as own:
                return _Row.of((await own.execute(_READ, _key_params(key))).one_or_none())
        if (row := scope.rows.get(key)) is None:
            found = (await scope.session.execute(_READ, _key_params(key))).one_or_none()
            row = scope.rows[key] = _Row.of(found)
        return row

    async def _change(self, key: StorageKey, change: Callable[[_Row], None]) -> None:
        scope = _update_scope.get()
        if scope is None:  # no update: write now, in a transaction of its own
            async with self.session_factory() as own:
                with bind_session(own):
                    await self._change(key, change)
                    await flush_state()
                await own.commit()
            return
        row = await self._row(key)
        change(row)
        row.dirty = True

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state

        def change(row: _Row) -> None:
            row.state = value

        await self._change(key, change)

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._row(key)).state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        value = copy.deepcopy(dict(data))  # what the caller changes later is not stored

        def change(row: _Row) -> None:
            row.data = value

        await self._change(key, change)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        """A copy of the data, nested values included: changing it changes nothing stored."""
        return copy.deepcopy((await self._row(key)).data)

    async def close(self) -> None:
        return None


#: The chat lock, `lock_timeout` set for the transaction first (see `ChatLocks._acquire`).
_LOCK: Final = select(func.pg_advisory_xact_lock(bindparam("lock_id"))).select_from(
    select(func.set_config("lock_timeout", bindparam("timeout"), True)).subquery()
)


def lock_id(key: StorageKey) -> int:
    """The advisory-lock id of a key: a signed 64-bit BLAKE2b hash of its fields (a collision
    only makes two chats take turns)."""
    raw = "\x1f".join(str(v) for v in _key_params(key).values()).encode()
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
        try:
            await session.execute(_LOCK, {"timeout": f"{LOCK_TIMEOUT_SECONDS}s", "lock_id": lock_id(key)})
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            log.warning("chat_lock_timeout", key=str(key), error=type(exc).__name__)
            await session.rollback()
