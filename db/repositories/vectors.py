"""pgvector storage and queries: film, review, taste and avoid-topic vectors.

Every query filters on `model`, so vectors of different embedding models are never compared.
Similarity is cosine similarity, 1 − (a <=> b), in −1…1. Nearest-neighbour queries run in
PostgreSQL on the HNSW index (`ORDER BY embedding <=> :v LIMIT k`); Python only ever sees
the vectors of one user's own films and reviews.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Integer, bindparam, delete, func, literal, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    AvoidTopic,
    Film,
    FilmEmbedding,
    Review,
    ReviewEmbedding,
    TasteVector,
    UserFilm,
)
from db.repositories.films import core_connection, not_among

#: HNSW candidate list size for one query (pgvector's `hnsw.ef_search`, default 40, at most
#: 1000). With `hnsw.iterative_scan = relaxed_order` (pgvector ≥ 0.8) the scan goes on past it
#: until the LIMIT is met after filtering out excluded films (pgvector README, "Iterative
#: index scans"); results may then be slightly out of order, which the scorer does not mind.
EF_SEARCH = 200


class VectorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- films --------------------------------------------------------------------------------
    async def film_hashes(self, model: str, tmdb_ids: Sequence[int] | None = None) -> dict[int, str | None]:
        """tmdb id → text hash of its vector for `model` (None: no vector yet), for the given
        films or the whole catalog."""
        stmt = select(Film.tmdb_id, FilmEmbedding.text_hash).outerjoin(
            FilmEmbedding, (FilmEmbedding.tmdb_id == Film.tmdb_id) & (FilmEmbedding.model == model)
        )
        if tmdb_ids is not None:
            stmt = stmt.where(Film.tmdb_id.in_(list(tmdb_ids)))
        return {row.tmdb_id: row.text_hash for row in await self.session.execute(stmt)}

    async def upsert_films(self, model: str, rows: Iterable[tuple[int, Sequence[float], str]]) -> int:
        """Store (tmdb id, vector, text hash) rows; returns how many were written."""
        return await self._upsert(FilmEmbedding, "tmdb_id", model, rows)

    async def film_vectors(self, model: str, tmdb_ids: Iterable[int]) -> dict[int, np.ndarray]:
        """Vectors of these films (those that have one)."""
        ids = list(set(tmdb_ids))
        if not ids:
            return {}
        rows = await self.session.execute(
            select(FilmEmbedding.tmdb_id, FilmEmbedding.embedding).where(
                FilmEmbedding.model == model, FilmEmbedding.tmdb_id == any_ids(ids)
            )
        )
        return {row.tmdb_id: np.asarray(row.embedding, dtype=np.float32) for row in rows}

    async def nearest_films(
        self,
        model: str,
        vector: Sequence[float] | np.ndarray,
        *,
        limit: int,
        exclude: Iterable[int] = (),
    ) -> list[tuple[int, float]]:
        """Up to `limit` catalog films closest to `vector`, leaving out `exclude` (HNSW,
        approximate, iterative scan; the planner scans exactly when that is cheaper, as on a
        catalog of a few thousand films): (tmdb id, cosine similarity)."""
        await self.session.execute(  # SET LOCAL of both in one round trip
            select(
                func.set_config("hnsw.ef_search", str(min(max(EF_SEARCH, limit), 1000)), True),
                func.set_config("hnsw.iterative_scan", "relaxed_order", True),
            )
        )
        distance = FilmEmbedding.embedding.cosine_distance(_vec(vector))
        stmt = select(FilmEmbedding.tmdb_id, distance.label("d")).where(FilmEmbedding.model == model)
        excluded = list(set(exclude))
        if excluded:
            stmt = stmt.where(not_among(FilmEmbedding.tmdb_id, excluded))
        rows = await self.session.execute(stmt.order_by(distance).limit(limit))
        return [(row.tmdb_id, 1.0 - float(row.d)) for row in rows]

    async def similarities(
        self, model: str, vector: Sequence[float] | np.ndarray, tmdb_ids: Iterable[int]
    ) -> dict[int, float]:
        """Cosine similarity of each given film's vector to `vector` (films without one are
        left out)."""
        ids = list(set(tmdb_ids))
        if not ids:
            return {}
        distance = FilmEmbedding.embedding.cosine_distance(_vec(vector))
        conn = await core_connection(self.session)
        rows = await conn.execute(
            select(FilmEmbedding.tmdb_id, distance.label("d")).where(
                FilmEmbedding.model == model, FilmEmbedding.tmdb_id == any_ids(ids)
            )
        )
        return {t: 1.0 - float(d) for t, d in rows.all()}

    async def nearest_among(
        self, model: str, targets: Sequence[int], pool: Sequence[int], *, per_target: int = 2
    ) -> dict[int, list[int]]:
        """For each target film, the `per_target` films of `pool` (e.g. the user's liked
        films) closest to it, closest first. One LATERAL query."""
        if not targets or not pool:
            return {}
        rows = await self.session.execute(
            _NEAREST_AMONG,
            {"model": model, "targets": list(targets), "pool": list(pool), "per_target": per_target},
        )
        found: dict[int, list[int]] = {}
        for row in rows:
            found.setdefault(row.target, []).append(row.near)
        return found

    # --- reviews ------------------------------------------------------------------------------
    async def reviews_to_embed(
        self, model: str, review_ids: Sequence[int] | None = None
    ) -> list[tuple[int, str, str | None]]:
        """(review id, text, stored hash or None) of non-empty reviews, the given ones or all
        of them; the caller compares hashes to skip unchanged texts."""
        stmt = (
            select(Review.id, Review.text, ReviewEmbedding.text_hash)
            .outerjoin(
                ReviewEmbedding, (ReviewEmbedding.review_id == Review.id) & (ReviewEmbedding.model == model)
            )
            .where(Review.text != "")
            .order_by(Review.id)
        )
        if review_ids is not None:
            stmt = stmt.where(Review.id.in_(list(review_ids)))
        return [(row.id, row.text, row.text_hash) for row in await self.session.execute(stmt)]

    async def upsert_reviews(self, model: str, rows: Iterable[tuple[int, Sequence[float], str]]) -> int:
        """Store (review id, vector, text hash) rows; returns how many were written."""
        return await self._upsert(ReviewEmbedding, "review_id", model, rows)

    async def _upsert(
        self,
        table: type[FilmEmbedding] | type[ReviewEmbedding],
        key: str,
        model: str,
        rows: Iterable[tuple[int, Sequence[float], str]],
    ) -> int:
        """Insert or replace (key, vector, text hash) rows of one vector table, 500 per statement."""
        values = [{key: k, "model": model, "embedding": list(v), "text_hash": h} for k, v, h in rows]
        for start in range(0, len(values), 500):
            stmt = insert(table).values(values[start : start + 500])
            await self.session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[key, "model"],
                    set_={
                        "embedding": stmt.excluded.embedding,
                        "text_hash": stmt.excluded.text_hash,
                        "created_at": func.now(),
                    },
                )
            )
        return len(values)

    async def review_authors(self, review_ids: Iterable[int]) -> set[int]:
        ids = list(set(review_ids))
        if not ids:
            return set()
        return set(await self.session.scalars(select(Review.user_id).where(Review.id.in_(ids)).distinct()))

    async def user_review_vectors(self, model: str, user_id: int) -> list[tuple[int, np.ndarray]]:
        """(tmdb id of the reviewed film, review vector) of the user's embedded reviews."""
        rows = await self.session.execute(
            select(Review.tmdb_id, ReviewEmbedding.embedding)
            .join(ReviewEmbedding, ReviewEmbedding.review_id == Review.id)
            .where(Review.user_id == user_id, ReviewEmbedding.model == model)
        )
        return [(row.tmdb_id, np.asarray(row.embedding, dtype=np.float32)) for row in rows]

    # --- taste --------------------------------------------------------------------------------
    async def taste(self, model: str, user_id: int) -> np.ndarray | None:
        value = await self.session.scalar(
            select(TasteVector.embedding).where(TasteVector.user_id == user_id, TasteVector.model == model)
        )
        return None if value is None else np.asarray(value, dtype=np.float32)

    async def upsert_taste(
        self, model: str, user_id: int, vector: Sequence[float] | np.ndarray, *, n_films: int, n_reviews: int
    ) -> None:
        stmt = insert(TasteVector).values(
            user_id=user_id, model=model, embedding=_vec(vector), n_films=n_films, n_reviews=n_reviews
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[TasteVector.user_id, TasteVector.model],
                set_={
                    "embedding": stmt.excluded.embedding,
                    "n_films": n_films,
                    "n_reviews": n_reviews,
                    "updated_at": func.now(),
                },
            )
        )

    async def delete_taste(self, model: str, user_id: int) -> None:
        await self.session.execute(
            delete(TasteVector).where(TasteVector.user_id == user_id, TasteVector.model == model)
        )

    async def users_with_stale_taste(self, model: str, *, limit: int = 1000) -> list[int]:
        """Users whose history changed after their taste vector was made (or who have none)."""
        last_change = (
            select(UserFilm.user_id, func.max(UserFilm.updated_at).label("changed"))
            .group_by(UserFilm.user_id)
            .subquery()
        )
        stmt = (
            select(last_change.c.user_id)
            .outerjoin(
                TasteVector, (TasteVector.user_id == last_change.c.user_id) & (TasteVector.model == model)
            )
            .where(or_(TasteVector.updated_at.is_(None), TasteVector.updated_at < last_change.c.changed))
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))

    # --- avoid topics -------------------------------------------------------------------------
    async def topics_to_embed(
        self, model: str, topic_ids: Sequence[int] | None = None
    ) -> list[tuple[int, str]]:
        stmt = select(AvoidTopic.id, AvoidTopic.topic).where(
            or_(AvoidTopic.model.is_(None), AvoidTopic.model != model)
        )
        if topic_ids is not None:
            stmt = stmt.where(AvoidTopic.id.in_(list(topic_ids)))
        return [(row.id, row.topic) for row in await self.session.execute(stmt)]

    async def set_topic_vectors(self, model: str, rows: Iterable[tuple[int, Sequence[float]]]) -> None:
        for topic_id, vector in rows:
            await self.session.execute(
                update(AvoidTopic)
                .where(AvoidTopic.id == topic_id)
                .values(model=model, embedding=_vec(vector))
            )

    async def user_topics(self, user_id: int) -> list[str]:
        return list(
            await self.session.scalars(
                select(AvoidTopic.topic).where(AvoidTopic.user_id == user_id).order_by(AvoidTopic.id)
            )
        )

    async def avoid_similarities(self, model: str, user_id: int, tmdb_ids: Iterable[int]) -> dict[int, float]:
        """tmdb id → highest cosine similarity of the film to one of the user's embedded
        avoid topics (films with no vector, or users without topics: left out)."""
        ids = list(set(tmdb_ids))
        if not ids:
            return {}
        similarity = func.max(1 - FilmEmbedding.embedding.cosine_distance(AvoidTopic.embedding))
        rows = await self.session.execute(
            select(FilmEmbedding.tmdb_id, similarity.label("s"))
            .join(AvoidTopic, AvoidTopic.model == FilmEmbedding.model)
            .where(
                AvoidTopic.user_id == user_id,
                AvoidTopic.embedding.is_not(None),
                FilmEmbedding.model == model,
                FilmEmbedding.tmdb_id == any_ids(ids),
            )
            .group_by(FilmEmbedding.tmdb_id)
        )
        return {row.tmdb_id: float(row.s) for row in rows}


def _nearest_among() -> Any:
    """`nearest_among`'s statement, built once (building it is most of a small query's cost)."""
    target = FilmEmbedding.__table__.alias("t")
    near = FilmEmbedding.__table__.alias("p")
    lateral = (
        select(near.c.tmdb_id)
        .where(
            near.c.model == bindparam("model"),
            near.c.tmdb_id == func.any(bindparam("pool", type_=ARRAY(Integer))),
            near.c.tmdb_id != target.c.tmdb_id,
        )
        .order_by(near.c.embedding.cosine_distance(target.c.embedding))
        .limit(bindparam("per_target", type_=Integer))
        .lateral("n")
    )
    return (
        select(target.c.tmdb_id.label("target"), lateral.c.tmdb_id.label("near"))
        .select_from(target.join(lateral, literal_column("true")))
        .where(
            target.c.model == bindparam("model"),
            target.c.tmdb_id == func.any(bindparam("targets", type_=ARRAY(Integer))),
        )
    )


_NEAREST_AMONG = _nearest_among()


def any_ids(ids: Iterable[int]) -> Any:
    """`= ANY(:ids)` with one int[] parameter: the statement text stays the same for any
    number of ids, so asyncpg reuses its prepared statement (an IN list would not)."""
    return func.any(literal(list(ids), ARRAY(Integer)))


def _vec(vector: Sequence[float] | np.ndarray) -> list[float]:
    return [float(x) for x in vector]
