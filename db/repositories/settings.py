"""Standing filters per user (`user_settings`, /settings; rules in domain/settings.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, delete, func, literal, not_, or_, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Film, UserFilm, UserSettings
from db.repositories.films import not_among

if TYPE_CHECKING:
    from domain.settings import StandingFilters

#: The columns `save` writes (every setting; `user_id` is the key).
SETTING_COLUMNS = (
    "excluded_genres",
    "min_year",
    "max_year",
    "max_runtime",
    "languages_include",
    "languages_exclude",
    "from_watchlist",
)


class SettingsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: int) -> UserSettings | None:
        """The user's row; None when they never changed a setting."""
        return await self.session.get(UserSettings, user_id)

    async def save(self, user_id: int, values: dict[str, Any]) -> None:
        """Insert or replace the user's settings (`values`: every key of SETTING_COLUMNS). One statement."""
        row = {column: values[column] for column in SETTING_COLUMNS}
        stmt = insert(UserSettings).values(user_id=user_id, **row)
        stmt = stmt.on_conflict_do_update(
            index_elements=[UserSettings.user_id], set_={**row, "updated_at": func.now()}
        )
        await self.session.execute(stmt)
        self.session.expire_all()  # a `get` in the same session reads the new row

    async def delete(self, user_id: int) -> None:
        """Remove the user's row (back to the defaults)."""
        await self.session.execute(delete(UserSettings).where(UserSettings.user_id == user_id))
        self.session.expire_all()

    async def watchlisted(self, user_id: int, tmdb_ids: Iterable[int]) -> set[int]:
        """Those of `tmdb_ids` on the user's watchlist (`user_films.on_watchlist`)."""
        ids = list(set(tmdb_ids))
        if not ids:
            return set()
        stmt = select(UserFilm.tmdb_id).where(
            UserFilm.user_id == user_id,
            UserFilm.on_watchlist,
            UserFilm.tmdb_id == func.any(literal(ids, ARRAY(Integer))),
        )
        return set(await self.session.scalars(stmt))

    async def popular_ids(
        self, filters: StandingFilters, *, exclude: Iterable[int] = (), limit: int = 100
    ) -> list[int]:
        """Well-rated popular catalog films (at least 50 votes, by popularity × vote average,
        as `FilmRepository.popular`) that pass `filters` (`StandingFilters.admits`, the same
        rules in SQL: an unknown year or runtime fails a bound on it, an unknown language fails
        an include list and passes an exclude list), not in `exclude`."""
        stmt = select(Film.tmdb_id).where(Film.vote_count >= 50)
        excluded = list(set(exclude))
        if excluded:
            stmt = stmt.where(not_among(Film.tmdb_id, excluded))
        if filters.excluded_genres:
            stmt = stmt.where(
                not_(func.coalesce(Film.genres.overlap(sorted(filters.excluded_genres)), False))
            )
        if filters.min_year is not None:
            stmt = stmt.where(Film.year >= filters.min_year)
        if filters.max_year is not None:
            stmt = stmt.where(Film.year <= filters.max_year)
        if filters.max_runtime is not None:
            stmt = stmt.where(Film.runtime <= filters.max_runtime)
        if filters.languages_include:
            stmt = stmt.where(Film.original_language.in_(sorted(filters.languages_include)))
        if filters.languages_exclude:
            stmt = stmt.where(
                or_(
                    Film.original_language.is_(None),
                    Film.original_language.not_in(sorted(filters.languages_exclude)),
                )
            )
        order = (func.ln(1 + Film.popularity) * Film.vote_average).desc()
        return list(await self.session.scalars(stmt.order_by(order, Film.tmdb_id).limit(limit)))
