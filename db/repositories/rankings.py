"""What a user's ranking was computed from, as one comparable value (domain.ranking_cache)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

#: The tables a user's ranking reads rows of, and which rows are the user's.
_STAMPED = {
    "user_films": "user_id = :user_id",
    "avoid_topics": "user_id = :user_id",
    "user_settings": "user_id = :user_id",
    "taste_vectors": "user_id = :user_id AND model = :model",
}
#: Per table: how many rows, Σ xmin, Σ hash(ctid). Every INSERT or UPDATE writes a new row
#: version; its xmin is the id of the transaction that wrote it and its ctid where it lies
#: (PostgreSQL docs, "System Columns"). A write committed by another transaction changes the
#: count or Σ xmin; a second write in the same transaction moves the row to a new ctid. Sums,
#: unlike a max, survive transaction id wraparound. VACUUM FULL moves rows: a spurious change.
_STAMP = text(
    "SELECT "
    + ", ".join(
        f"(SELECT ARRAY[count(*), coalesce(sum(xmin::text::bigint), 0), coalesce(sum(hashtid(ctid)), 0)]"
        f" FROM {table} WHERE {rows})"
        for table, rows in _STAMPED.items()
    )
    + ", (SELECT coalesce(max(id), 0) FROM cf_models)"
)


@dataclass(frozen=True, slots=True)
class RankingStamp:
    """What a ranking was computed from: `rows` changes with any write to the user's rows a
    ranking reads (see `_STAMP`), `cf_version` is the newest CF model's id (0: none yet)."""

    rows: tuple[int, ...]
    cf_version: int


class RankingStampRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def stamp(self, user_id: int, embedding_model: str | None) -> RankingStamp:
        """The stamp of what a ranking reads for the user now: their log (`user_films`:
        ratings, likes, watched, 🚫, watchlist), avoided topics, /settings, taste vector (of
        `embedding_model`), and the newest CF model. One statement; equal stamps mean none of
        those changed in between."""
        params = {"user_id": user_id, "model": embedding_model or ""}
        *tables, cf_version = (await self.session.execute(_STAMP, params)).one()
        return RankingStamp(tuple(int(v) for values in tables for v in values), int(cf_version))
