"""Knowing when PostgreSQL is unreachable, and saying so once.

A database outage is expected trouble, not a bug: users get "try again in a minute" (the
errors router), and the log gets one warning when the outage starts and one when it ends,
instead of an error with a traceback for every update.
"""

from __future__ import annotations

import time

import asyncpg
import structlog
from sqlalchemy import exc as sa_exc

log = structlog.get_logger(__name__)

#: asyncpg's errors that mean "no usable connection" (server down, restarting, shutting
#: down, connection lost, too many clients), as opposed to an error in a query.
_UNAVAILABLE = (
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # no connection free in the pool in time
    OSError,  # ConnectionRefusedError, a socket that vanished, …
    TimeoutError,
    asyncpg.PostgresConnectionError,  # class 08: connection exceptions
    asyncpg.CannotConnectNowError,  # 57P03: the server is starting up or recovering
    asyncpg.AdminShutdownError,  # 57P01
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.TooManyConnectionsError,  # 53300
    asyncpg.InterfaceError,  # the connection was closed under a query
)


def is_database_unavailable(error: BaseException) -> bool:
    """Whether `error` (or what caused it) says PostgreSQL cannot be reached right now."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, _UNAVAILABLE):
            return True
        current = current.__cause__ or current.__context__
    return False


class DatabaseHealth:
    """Whether the last database use failed for want of a server; logs the changes only.

    `failed` is called wherever an update meets an unreachable database, `ok` after an
    update's transaction commits. One instance per process (workflow data `db_health`).
    """

    def __init__(self) -> None:
        self.down_since: float | None = None
        self.failures = 0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("database_unavailable", error=type(error).__name__)

    def ok(self) -> None:
        if self.down_since is not None:
            seconds = round(time.monotonic() - self.down_since, 1)
            log.warning("database_recovered", down_seconds=seconds, failed_updates=self.failures)
            self.down_since = None
            self.failures = 0
