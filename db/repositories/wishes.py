"""Catalog queries behind a wish typed after /recommend (`domain.wish_picks`): the films that
pass it, and the films sharing a genre with a reference film."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Film
from db.repositories.films import FILM_ROW_COLUMNS, FilmRow, film_row, not_among


class WishRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def matching_ids(
        self,
        *,
        any_genres: Sequence[str] = (),
        all_genres: Sequence[str] = (),
        without_genres: Sequence[str] = (),
        min_year: int | None = None,
        max_year: int | None = None,
        min_runtime: int | None = None,
        max_runtime: int | None = None,
        languages: Sequence[str] = (),
        countries: Sequence[str] = (),
        exclude: Iterable[int] = (),
        limit: int = 200,
    ) -> list[int]:
        """Catalog films with one of `any_genres`, all of `all_genres`, none of
        `without_genres`, year and runtime (minutes) within the inclusive bounds, an original
        language in `languages` and a country in `countries` (each only when given; an unknown
        value fails its bound), not in `exclude`: the most popular first (popularity × vote
        average, as `FilmRepository.popular`), up to `limit` tmdb ids."""
        conditions: list[ColumnElement[bool]] = []
        if any_genres:
            conditions.append(Film.genres.overlap(list(any_genres)))
        if all_genres:
            conditions.append(Film.genres.contains(list(all_genres)))
        if without_genres:
            conditions.append(~Film.genres.overlap(list(without_genres)))
        for column, low, high in ((Film.year, min_year, max_year), (Film.runtime, min_runtime, max_runtime)):
            if low is not None:
                conditions.append(column >= low)
            if high is not None:
                conditions.append(column <= high)
        if languages:
            conditions.append(Film.original_language.in_(list(languages)))
        if countries:
            conditions.append(Film.countries.overlap(list(countries)))
        excluded = list(set(exclude))
        if excluded:
            conditions.append(not_among(Film.tmdb_id, excluded))
        stmt = (
            select(Film.tmdb_id)
            .where(*conditions)
            .order_by((func.ln(1 + Film.popularity) * Film.vote_average).desc(), Film.tmdb_id)
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))

    async def sharing_genres(self, tmdb_id: int, *, limit: int = 300) -> list[FilmRow]:
        """Up to `limit` catalog films (the most popular first) sharing a genre with film
        `tmdb_id`, the film itself left out; empty when it is unknown or has no genre."""
        genres = select(Film.genres).where(Film.tmdb_id == tmdb_id).scalar_subquery()
        stmt: Any = (
            select(*FILM_ROW_COLUMNS)
            .where(Film.genres.overlap(genres), Film.tmdb_id != tmdb_id)
            .order_by((func.ln(1 + Film.popularity) * Film.vote_average).desc(), Film.tmdb_id)
            .limit(limit)
        )
        return [film_row(row) for row in await self.session.execute(stmt)]
