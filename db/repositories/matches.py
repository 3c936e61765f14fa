"""The shared cache of Letterboxd (name, year) → TMDB id decisions (`title_matches`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ARRAY, Integer, Text, bindparam, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import TitleMatch


@dataclass(frozen=True, slots=True)
class MatchDecision:
    """`tmdb_id` None: no film fits. `method`: "catalog" or "tmdb" (where it was decided).
    `year` 0: the export gave none. `decided_at` is None for decisions not yet stored."""

    name_key: str
    year: int
    tmdb_id: int | None
    method: str
    decided_at: dt.datetime | None = None


class TitleMatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], MatchDecision]:
        """The stored decisions for these (name_key, year) keys, in one query."""
        if not keys:
            return {}
        wanted = (
            func.unnest(
                bindparam("names", [k for k, _ in keys], type_=ARRAY(Text)),
                bindparam("years", [y for _, y in keys], type_=ARRAY(Integer)),
            )
            .table_valued("n", "y")
            .render_derived(name="w")
        )
        stmt = select(TitleMatch).where(
            tuple_(TitleMatch.name_key, TitleMatch.year).in_(select(wanted.c.n, wanted.c.y))
        )
        rows = (await self.session.scalars(stmt)).all()
        return {
            (r.name_key, r.year): MatchDecision(r.name_key, r.year, r.tmdb_id, r.method, r.decided_at)
            for r in rows
        }

    async def put(self, decisions: Sequence[MatchDecision]) -> None:
        """Store decisions; a newer decision for the same key replaces the old one."""
        if not decisions:
            return
        stmt = insert(TitleMatch).values(
            [
                {"name_key": d.name_key, "year": d.year, "tmdb_id": d.tmdb_id, "method": d.method}
                for d in {(d.name_key, d.year): d for d in decisions}.values()
            ]
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[TitleMatch.name_key, TitleMatch.year],
                set_={
                    "tmdb_id": stmt.excluded.tmdb_id,
                    "method": stmt.excluded.method,
                    "decided_at": func.now(),
                },
            )
        )
