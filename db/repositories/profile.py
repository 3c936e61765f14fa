"""What /profile reads (rated films with their catalog columns, counts), the
stored taste summary, the /language choice, and /forget's delete."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Film, Review, TasteSummary, User, UserFilm


@dataclass(frozen=True, slots=True)
class RatedFilm:
    """One rated film of a user: the rating (0.5–5) and the film's catalog columns the taste
    summary groups by (TMDB genre names, ISO 3166-1 country codes, TMDB keywords)."""

    rating: float
    year: int | None
    genres: tuple[str, ...]
    countries: tuple[str, ...]
    keywords: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """A user's stored taste summary: `source` "llm" or "template"; `language` of `text`;
    `rated_at_rewrite` the number of rated films at the last rewording by the model (0: never)."""

    text: str
    source: str
    language: str
    rated_at_rewrite: int


class ProfileRepository:
    """Every query is filtered by `user_id`: a user only ever reads or changes their own rows."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rated_films(self, user_id: int) -> list[RatedFilm]:
        """Every film the user rated, in one query (no order)."""
        stmt = (
            select(UserFilm.rating, Film.year, Film.genres, Film.countries, Film.keywords)
            .join(Film, Film.tmdb_id == UserFilm.tmdb_id)
            .where(UserFilm.user_id == user_id, UserFilm.rating.is_not(None))
        )
        rows: Sequence[Any] = (await self.session.execute(stmt)).all()
        return [
            RatedFilm(float(r), year, tuple(genres or ()), tuple(countries or ()), tuple(keywords or ()))
            for r, year, genres, countries, keywords in rows
        ]

    async def review_count(self, user_id: int) -> int:
        """Reviews the user wrote (one per film; a rating saved without a text is not one: the
        bot offers "Save without a review" for it)."""
        written = select(func.count()).where(Review.user_id == user_id, Review.text != "")
        return int(await self.session.scalar(written) or 0)

    async def languages(self, user_id: int) -> tuple[str | None, str | None] | None:
        """(/language choice, Telegram language_code) of the user; None if there is no such user."""
        row = (
            await self.session.execute(select(User.language, User.language_code).where(User.id == user_id))
        ).one_or_none()
        return None if row is None else (row[0], row[1])

    async def set_language(self, user_id: int, language: str | None) -> None:
        await self.session.execute(update(User).where(User.id == user_id).values(language=language))

    async def summary(self, user_id: int) -> SummaryRow | None:
        row = await self.session.get(TasteSummary, user_id, populate_existing=True)
        if row is None:
            return None
        return SummaryRow(row.text, row.source, row.language, row.rated_at_rewrite)

    async def save_summary(self, user_id: int, summary: SummaryRow) -> None:
        """Create or replace the user's summary (one statement)."""
        values = {
            "text": summary.text,
            "source": summary.source,
            "language": summary.language,
            "rated_at_rewrite": summary.rated_at_rewrite,
            "updated_at": func.now(),
        }
        stmt = insert(TasteSummary).values(user_id=user_id, **values)
        await self.session.execute(
            stmt.on_conflict_do_update(index_elements=[TasteSummary.user_id], set_=values)
        )

    async def delete_summary(self, user_id: int) -> None:
        await self.session.execute(delete(TasteSummary).where(TasteSummary.user_id == user_id))

    async def delete_user(self, user_id: int) -> bool:
        """Delete the user row; every user-owned table references users ON DELETE CASCADE, so
        their ratings, reviews, recommendations, topics, vectors, imports, summary… go with it.
        Returns whether the row existed."""
        deleted = await self.session.scalar(delete(User).where(User.id == user_id).returning(User.id))
        return deleted is not None
