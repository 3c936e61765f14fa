"""Where to watch: the day-long caches of TMDB's watch providers (`film_providers` per film,
`region_providers` per country), the services each user pays for (`user_services`) and the
user's /country (`users.country`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import FilmProviders, RegionProviders, User, UserService


class ProvidersRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- caches

    async def films(self, tmdb_ids: Iterable[int]) -> dict[int, tuple[dt.datetime, dict[str, Any]]]:
        """Cached offers by film: {tmdb_id: (fetched_at, data)}; films never fetched are absent."""
        ids = list(dict.fromkeys(tmdb_ids))
        if not ids:
            return {}
        rows = await self.session.execute(select(FilmProviders).where(FilmProviders.tmdb_id.in_(ids)))
        return {row.tmdb_id: (row.fetched_at, row.data) for row in rows.scalars()}

    async def put_film(self, tmdb_id: int, data: dict[str, Any], now: dt.datetime) -> None:
        stmt = insert(FilmProviders).values(tmdb_id=tmdb_id, fetched_at=now, data=data)
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[FilmProviders.tmdb_id], set_={"fetched_at": now, "data": data}
            )
        )

    async def region(self, country: str) -> tuple[dt.datetime, list[Any]] | None:
        row = await self.session.get(RegionProviders, country)
        return (row.fetched_at, row.data) if row is not None else None

    async def put_region(self, country: str, data: list[Any], now: dt.datetime) -> None:
        stmt = insert(RegionProviders).values(country=country, fetched_at=now, data=data)
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[RegionProviders.country], set_={"fetched_at": now, "data": data}
            )
        )

    # --- per user

    async def services(self, user_id: int) -> dict[int, str]:
        """The user's services: {provider_id: name}, by name."""
        rows = await self.session.execute(
            select(UserService.provider_id, UserService.provider_name)
            .where(UserService.user_id == user_id)
            .order_by(UserService.provider_name)
        )
        return {int(pid): str(name) for pid, name in rows.all()}

    async def toggle_service(self, user_id: int, provider_id: int, name: str) -> bool:
        """Tick the service, or untick it when it was ticked; True when it is ticked now."""
        removed = await self.session.execute(
            delete(UserService)
            .where(UserService.user_id == user_id, UserService.provider_id == provider_id)
            .returning(UserService.provider_id)
        )
        if removed.first() is not None:
            return False
        await self.session.execute(
            insert(UserService)
            .values(user_id=user_id, provider_id=provider_id, provider_name=name)
            .on_conflict_do_nothing()
        )
        return True

    async def set_country(self, user_id: int, country: str | None) -> None:
        await self.session.execute(update(User).where(User.id == user_id).values(country=country))
