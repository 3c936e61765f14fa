"""Recommendations and their items (the picks shown to a user)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Film, Recommendation, RecommendationItem
from db.repositories.films import FILM_ROW_COLUMNS, FilmRow, film_row

_S = TypeVar("_S", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True, slots=True)
class NewItem:
    tmdb_id: int
    slot: str
    score: float
    reason: str


class RecommendationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, user_id: int, strategy: str, items: Sequence[NewItem]) -> list[RecommendationItem]:
        """Store one recommendation with its items (positions in the given order)."""
        rec = Recommendation(user_id=user_id, strategy=strategy)
        self.session.add(rec)
        await self.session.flush()
        rows = [
            RecommendationItem(
                recommendation_id=rec.id,
                user_id=user_id,
                tmdb_id=item.tmdb_id,
                position=position,
                slot=item.slot,
                score=item.score,
                reason=item.reason,
            )
            for position, item in enumerate(items)
        ]
        self.session.add_all(rows)
        await self.session.flush()
        return rows

    async def recent_tmdb_ids(self, user_id: int, since: dt.timedelta) -> set[int]:
        """Films shown to the user within `since` (whatever they did with them)."""
        stmt = select(RecommendationItem.tmdb_id).where(
            RecommendationItem.user_id == user_id, RecommendationItem.created_at >= func.now() - since
        )
        return set(await self.session.scalars(stmt))

    async def recent_films(self, user_id: int, limit: int) -> list[Film]:
        """Films of the user's `limit` most recently shown items, newest first."""
        return list(await self.session.scalars(_recently_shown(select(Film), user_id, limit)))

    async def recent_rows(self, user_id: int, limit: int) -> list[FilmRow]:
        """`recent_films` as light rows (FilmRow: the scoring columns, no ORM objects)."""
        stmt = _recently_shown(select(*FILM_ROW_COLUMNS), user_id, limit)
        return [film_row(row) for row in await self.session.execute(stmt)]

    async def get_for_user(self, item_id: int, user_id: int) -> RecommendationItem | None:
        """The item, only if it belongs to this user."""
        return await self.session.scalar(
            select(RecommendationItem).where(
                RecommendationItem.id == item_id, RecommendationItem.user_id == user_id
            )
        )

    async def set_status(self, item_id: int, user_id: int, status: str) -> int | None:
        """Move a shown item of this user to `status`; returns the item's tmdb id, or None if
        the item is not this user's or no longer shown."""
        stmt = (
            update(RecommendationItem)
            .where(
                RecommendationItem.id == item_id,
                RecommendationItem.user_id == user_id,
                RecommendationItem.status == "shown",
            )
            .values(status=status, status_at=func.now())
            .returning(RecommendationItem.tmdb_id)
        )
        return await self.session.scalar(stmt)

    async def reopen(self, item_id: int, user_id: int, status: str, status_at: dt.datetime) -> bool:
        """↩️ Undo: put this user's item back to `shown` (`status_at` NULL, as never answered),
        only if it still has the `status` and `status_at` the caller read (a concurrent tap
        or undo changed it otherwise). True when the item was reopened."""
        stmt = (
            update(RecommendationItem)
            .where(
                RecommendationItem.id == item_id,
                RecommendationItem.user_id == user_id,
                RecommendationItem.status == status,
                RecommendationItem.status_at == status_at,
            )
            .values(status="shown", status_at=None)
            .returning(RecommendationItem.id)
        )
        return await self.session.scalar(stmt) is not None

    async def answered_elsewhere(self, user_id: int, tmdb_id: int, status: str, *, besides: int) -> bool:
        """Whether another of the user's items of this film (not `besides`) has `status`."""
        stmt = select(RecommendationItem.id).where(
            RecommendationItem.user_id == user_id,
            RecommendationItem.tmdb_id == tmdb_id,
            RecommendationItem.status == status,
            RecommendationItem.id != besides,
        )
        return await self.session.scalar(stmt.limit(1)) is not None


def _recently_shown(stmt: _S, user_id: int, limit: int) -> _S:
    """`stmt` (selecting from films) over the films of the user's `limit` most recently shown
    items, newest first."""
    return (
        stmt.join(RecommendationItem, RecommendationItem.tmdb_id == Film.tmdb_id)
        .where(RecommendationItem.user_id == user_id)
        .order_by(RecommendationItem.created_at.desc(), RecommendationItem.id.desc())
        .limit(limit)
    )
