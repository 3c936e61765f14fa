"""Users and ratings for domain tests on the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.library import LibraryRepository, LogRow
from db.repositories.users import UserRepository

#: Demo catalog films (bot/data, TMDB ids) of two taste clusters.
SCI_FI = [348, 679, 8077, 70981, 157336, 27205, 603, 78, 335984, 62, 329865, 1091, 438631]
ROMANCE = [194, 76, 843, 289, 239, 313369, 4348, 137]


async def new_user(session: AsyncSession, telegram_id: int) -> int:
    """The id of the user with this Telegram id (created if new)."""
    return (await UserRepository(session).upsert(telegram_id, first_name=None, language_code=None)).id


async def rate(session: AsyncSession, user_id: int, ratings: dict[int, str], *, start: int = 0) -> None:
    """Log `ratings` (TMDB id → stars as text, "4.5") as watched, rated one day apart from
    2024-01-01 + `start` days, in the given order."""
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    rows = [
        LogRow(
            tmdb_id=t,
            rating=Decimal(r),
            watched=True,
            watched_on=None,
            liked=False,
            on_watchlist=False,
            rated_at=base + dt.timedelta(days=start + i),
        )
        for i, (t, r) in enumerate(ratings.items())
    ]
    await LibraryRepository(session).merge_log(user_id, rows, source="bot")
