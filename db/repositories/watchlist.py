"""A user's watchlist: the `user_films` rows with `on_watchlist` (🔖 in the bot, or a Letterboxd
watchlist.csv).

A film is *on the watchlist* (`ON_WATCHLIST`) while the flag is set and the user has not rated,
watched or marked it 🚫: rating or watching takes it off for good (`LibraryRepository.rate`,
`merge_log`); 🚫 only hides it, so taking 🚫 back brings it back.

Rows saved here keep `rated_at` NULL: the watchlist is intent, not history, so these films come
last in the history order the recommender weights by recency (recommender.cf.W_WATCHLIST).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Film, UserFilm

#: A film the user saved and has not rated, watched or marked 🚫 since.
ON_WATCHLIST = and_(
    UserFilm.on_watchlist, UserFilm.rating.is_(None), ~UserFilm.watched, ~UserFilm.not_interested
)
#: Newest first: saving (or anything since) stamps `updated_at`; ties by id, newest TMDB id first.
NEWEST_FIRST = (UserFilm.updated_at.desc(), UserFilm.tmdb_id.desc())


class Added(enum.Enum):
    """What `WatchlistRepository.add` did."""

    ADDED = "added"
    ALREADY = "already"  # it was on the watchlist already
    SEEN = "seen"  # rated or watched: a seen film does not go on the watchlist


class WatchlistRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, user_id: int, tmdb_id: int, *, source: str) -> Added:
        """Put a catalog film on the user's watchlist (the film must exist: a foreign key).

        A film the user rated or watched is not added (SEEN); one marked 🚫 is added and the 🚫
        taken back (saving it says they want it, as a like does). One upsert, plus one read
        when nothing changed.
        """
        stmt = insert(UserFilm).values(user_id=user_id, tmdb_id=tmdb_id, on_watchlist=True, source=source)
        upsert = stmt.on_conflict_do_update(
            index_elements=[UserFilm.user_id, UserFilm.tmdb_id],
            set_={"on_watchlist": True, "not_interested": False, "updated_at": func.now()},
            where=and_(
                UserFilm.rating.is_(None),
                ~UserFilm.watched,
                ~and_(UserFilm.on_watchlist, ~UserFilm.not_interested),
            ),
        ).returning(UserFilm.tmdb_id)
        if (await self.session.execute(upsert)).first() is not None:
            return Added.ADDED
        seen = await self.session.scalar(
            select(UserFilm.tmdb_id).where(
                UserFilm.user_id == user_id,
                UserFilm.tmdb_id == tmdb_id,
                UserFilm.rating.is_not(None) | UserFilm.watched,
            )
        )
        return Added.SEEN if seen is not None else Added.ALREADY

    async def remove(self, user_id: int, tmdb_id: int) -> bool:
        """Take a film off the user's watchlist; False when it was not on it. A log row that
        then says nothing (it existed only for the watchlist) is deleted."""
        removed = await self.session.scalar(
            update(UserFilm)
            .where(UserFilm.user_id == user_id, UserFilm.tmdb_id == tmdb_id, ON_WATCHLIST)
            .values(on_watchlist=False, updated_at=func.now())
            .returning(UserFilm.tmdb_id)
        )
        if removed is None:
            return False
        await self.session.execute(
            delete(UserFilm).where(
                UserFilm.user_id == user_id,
                UserFilm.tmdb_id == tmdb_id,
                UserFilm.rating.is_(None),
                ~UserFilm.watched,
                ~UserFilm.liked,
                ~UserFilm.on_watchlist,
                ~UserFilm.not_interested,
            )
        )
        return True

    async def contains(self, user_id: int, tmdb_id: int) -> bool:
        stmt = select(UserFilm.tmdb_id).where(
            UserFilm.user_id == user_id, UserFilm.tmdb_id == tmdb_id, ON_WATCHLIST
        )
        return await self.session.scalar(stmt) is not None

    async def count(self, user_id: int) -> int:
        stmt = select(func.count()).where(UserFilm.user_id == user_id, ON_WATCHLIST)
        return int(await self.session.scalar(stmt) or 0)

    async def films(self, user_id: int, *, offset: int = 0, limit: int | None = None) -> Sequence[Film]:
        """The watchlist's films, newest first (`NEWEST_FIRST`), `limit` of them from `offset`."""
        stmt = (
            select(Film)
            .join(UserFilm, UserFilm.tmdb_id == Film.tmdb_id)
            .where(UserFilm.user_id == user_id, ON_WATCHLIST)
            .order_by(*NEWEST_FIRST)
            .offset(offset)
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))

    async def tmdb_ids(self, user_id: int) -> list[int]:
        """TMDB ids of the whole watchlist, newest first."""
        stmt = (
            select(UserFilm.tmdb_id).where(UserFilm.user_id == user_id, ON_WATCHLIST).order_by(*NEWEST_FIRST)
        )
        return list(await self.session.scalars(stmt))
