"""Users."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.elements import BindParameter

from db.models import User


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(
        self, telegram_id: int, *, first_name: str | None, language_code: str | None, private: bool = False
    ) -> User:
        """Create the user on first contact; refresh name and language afterwards. One statement
        (built once: every update runs it). `private`: the update came from their private chat
        with the bot (sets `private_since` the first time)."""
        params = {"telegram_id": telegram_id, "first_name": first_name, "language_code": language_code}
        stmt = _UPSERT_PRIVATE if private else _UPSERT_ELSEWHERE
        result = await self.session.execute(stmt, params, execution_options={"populate_existing": True})
        user: User = result.scalar_one()
        return user

    async def by_telegram_id(self, telegram_id: int) -> User | None:
        return await self.session.scalar(select(User).where(User.telegram_id == telegram_id))


def _upsert(*, private: bool) -> ReturningInsert[Any]:
    since = func.coalesce(User.private_since, func.now()) if private else User.private_since
    first_name: BindParameter[str] = bindparam("first_name")
    language_code: BindParameter[str] = bindparam("language_code")
    return (
        insert(User)
        .values(
            telegram_id=bindparam("telegram_id"),
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


_UPSERT_PRIVATE, _UPSERT_ELSEWHERE = _upsert(private=True), _upsert(private=False)
