"""Import jobs (`imports`): one row per Letterboxd export sent in the chat."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ACTIVE_IMPORT, Import

ACTIVE = ("queued", "running")


class ImportInProgressError(Exception):
    """The user already has an import queued or running (one at a time)."""


class ImportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self, *, user_id: int, chat_id: int, file_name: str, payload: bytes, locale: str, films_total: int
    ) -> Import:
        """Queue an import. Raises ImportInProgressError when one is queued or running."""
        row = Import(
            user_id=user_id,
            chat_id=chat_id,
            file_name=file_name,
            payload=payload,
            locale=locale,
            films_total=films_total,
        )
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError as exc:
            if "uq_imports_user_id_active" in str(exc.orig):
                raise ImportInProgressError from None
            raise
        return row

    async def get(self, import_id: int) -> Import | None:
        return await self.session.get(Import, import_id, populate_existing=True)

    async def active(self, user_id: int) -> Import | None:
        return await self.session.scalar(
            select(Import).where(Import.user_id == user_id, Import.status.in_(ACTIVE))
        )

    async def owned(self, user_id: int, import_id: int) -> Import | None:
        """The import if it is this user's, else None."""
        return await self.session.scalar(
            select(Import).where(Import.id == import_id, Import.user_id == user_id)
        )

    async def status(self, import_id: int) -> str | None:
        return await self.session.scalar(select(Import.status).where(Import.id == import_id))

    async def set_message(self, import_id: int, message_id: int) -> None:
        await self.session.execute(update(Import).where(Import.id == import_id).values(message_id=message_id))

    async def progress(self, import_id: int, *, status: str, films_done: int) -> None:
        await self.session.execute(
            update(Import)
            .where(Import.id == import_id, Import.status.in_(ACTIVE))
            .values(status=status, films_done=films_done)
        )

    async def cancel(self, user_id: int) -> int | None:
        """Mark the user's queued or running import cancelled; its id, or None if there was none."""
        stmt = (
            update(Import)
            .where(Import.user_id == user_id, Import.status.in_(ACTIVE))
            .values(status="cancelled")
            .returning(Import.id)
        )
        return await self.session.scalar(stmt)

    async def finish(
        self, import_id: int, *, status: str, report: dict[str, Any], films_done: int | None = None
    ) -> None:
        """Record the outcome and drop the uploaded file (it is not kept once imported)."""
        values: dict[str, Any] = {
            "status": status,
            "report": report,
            "payload": None,
            "finished_at": func.now(),
        }
        if films_done is not None:
            values["films_done"] = films_done
        await self.session.execute(update(Import).where(Import.id == import_id).values(**values))


__all__ = ["ACTIVE", "ACTIVE_IMPORT", "ImportInProgressError", "ImportRepository"]
