"""A user's rated films, one at a time (/ratings): list a page, change one rating, delete one
film from the log. The bulk writes (imports, reviews) are in `db/repositories/library.py`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Film, Review, UserFilm, Watch


class RatingsOrder(StrEnum):
    """The order of /ratings: newest rating first, or best rating first (then newest)."""

    DATE = "d"
    RATING = "r"


@dataclass(frozen=True, slots=True)
class RatedRow:
    """One rated film of a user: `rated_at` is when the rating was given (None: an imported
    rating without a date); `reviewed` whether a non-empty review text goes with it."""

    tmdb_id: int
    title: str
    year: int | None
    rating: Decimal
    rated_at: dt.datetime | None
    reviewed: bool


_ORDER: dict[RatingsOrder, tuple[Any, ...]] = {
    RatingsOrder.DATE: (UserFilm.rated_at.desc().nulls_last(), UserFilm.tmdb_id.desc()),
    RatingsOrder.RATING: (
        UserFilm.rating.desc(),
        UserFilm.rated_at.desc().nulls_last(),
        UserFilm.tmdb_id.desc(),
    ),
}

_RATED = UserFilm.rating.is_not(None)


class RatingsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count(self, user_id: int) -> int:
        """How many films the user has rated."""
        stmt = select(func.count()).where(UserFilm.user_id == user_id, _RATED)
        return int(await self.session.scalar(stmt) or 0)

    async def rated(
        self,
        user_id: int,
        *,
        order: RatingsOrder,
        offset: int = 0,
        limit: int | None = None,
        tmdb_id: int | None = None,
    ) -> list[RatedRow]:
        """The user's rated films in `order` (`offset`, `limit`: a page), or only `tmdb_id`."""
        stmt = (
            select(
                UserFilm.tmdb_id,
                Film.title,
                Film.year,
                UserFilm.rating,
                UserFilm.rated_at,
                func.coalesce(Review.text != "", False),
            )
            .join(Film, Film.tmdb_id == UserFilm.tmdb_id)
            .outerjoin(Review, and_(Review.user_id == UserFilm.user_id, Review.tmdb_id == UserFilm.tmdb_id))
            .where(UserFilm.user_id == user_id, _RATED)
            .order_by(*_ORDER[order])
            .offset(offset)
            .limit(limit)
        )
        if tmdb_id is not None:
            stmt = stmt.where(UserFilm.tmdb_id == tmdb_id)
        rows = (await self.session.execute(stmt)).all()
        return [
            RatedRow(t, title, year, Decimal(str(rating)), at, bool(reviewed))
            for t, title, year, rating, at, reviewed in rows
        ]

    async def change(self, user_id: int, tmdb_id: int, rating: Decimal, *, source: str) -> bool:
        """Give a film the user has rated a new rating, stamped `now()` with `source` (the
        newest rating: an older import will not overwrite it). False when the user has not
        rated that film (nothing changes). The review's rating is the caller's to sync."""
        stmt = (
            update(UserFilm)
            .where(UserFilm.user_id == user_id, UserFilm.tmdb_id == tmdb_id, _RATED)
            .values(rating=rating, rated_at=func.now(), source=source)
            .returning(UserFilm.tmdb_id)
        )
        return await self.session.scalar(stmt) is not None

    async def delete(self, user_id: int, tmdb_id: int) -> bool:
        """Take a rated film out of the user's log: its `user_films` row, its review (and the
        review's vectors, by cascade) and its diary viewings. False, deleting nothing, when the
        user has not rated that film."""
        deleted = await self.session.scalar(
            delete(UserFilm)
            .where(UserFilm.user_id == user_id, UserFilm.tmdb_id == tmdb_id, _RATED)
            .returning(UserFilm.tmdb_id)
        )
        if deleted is None:
            return False
        await self.session.execute(delete(Review).where(Review.user_id == user_id, Review.tmdb_id == tmdb_id))
        await self.session.execute(delete(Watch).where(Watch.user_id == user_id, Watch.tmdb_id == tmdb_id))
        return True
