"""Users."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(
        self, telegram_id: int, *, first_name: str | None, language_code: str | None, private: bool = False
    ) -> User:
        """Create the user on first contact; refresh name and language afterwards. One statement.
        `private`: the update came from their private chat with the bot (sets `private_since`
        the first time)."""
        since = func.coalesce(User.private_since, func.now()) if private else User.private_since
        stmt = (
            insert(User)
            .values(
                telegram_id=telegram_id,
                first_name=first_name,
                language_code=language_code,
                private_since=func.now() if private else None,
            )
            .on_conflict_do_update(
                index_elements=[User.telegram_id],
                set_={"first_name": first_name, "language_code": language_code, "private_since": since},
            )
            .returning(User)
        )
        return (await self.session.scalars(stmt, execution_options={"populate_existing": True})).one()

    async def by_telegram_id(self, telegram_id: int) -> User | None:
        return await self.session.scalar(select(User).where(User.telegram_id == telegram_id))
