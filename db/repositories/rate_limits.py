"""Per-user command cooldowns, checked and recorded in one atomic statement."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import RateLimit


class RateLimitRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def try_acquire(self, user_id: int, key: str, cooldown: dt.timedelta) -> float:
        """Record a use of `key` unless the last one was less than `cooldown` ago.

        Returns 0.0 when the use is allowed (and recorded), else the seconds left to wait.
        Concurrent calls for the same user and key let exactly one through: the upsert's
        WHERE makes the row update conditional and the row lock serialises them.
        """
        stmt = (
            insert(RateLimit)
            .values(user_id=user_id, key=key, last_at=func.now())
            .on_conflict_do_update(
                index_elements=[RateLimit.user_id, RateLimit.key],
                set_={"last_at": func.now()},
                where=RateLimit.last_at <= func.now() - text(":cooldown").bindparams(cooldown=cooldown),
            )
            .returning(RateLimit.user_id)
        )
        if (await self.session.execute(stmt)).first() is not None:
            return 0.0
        last_at = await self.session.scalar(
            select(RateLimit.last_at).where(RateLimit.user_id == user_id, RateLimit.key == key)
        )
        now = await self.session.scalar(select(func.now()))
        assert last_at is not None and now is not None
        return max(0.0, float((last_at + cooldown - now).total_seconds()))

    async def release(self, user_id: int, key: str) -> None:
        """Forget the last use (when the command failed through no fault of the user)."""
        await self.session.execute(
            delete(RateLimit).where(RateLimit.user_id == user_id, RateLimit.key == key)
        )
