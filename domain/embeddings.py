"""Embedding work: film, review and avoid-topic vectors and users' taste vectors.

Runs in background jobs (`bot.jobs`), never inside an update handler. Every method is
idempotent: a vector whose text has not changed (same sha256) is not embedded again, so a
retried or duplicated job costs nothing but a query. The caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Film, UserFilm
from db.repositories.films import to_info
from db.repositories.library import HAS_SIGNAL, LibraryRepository
from db.repositories.vectors import VectorRepository, any_ids
from domain.picks import features, load_signals
from domain.ports import Embedder, EmbeddingError
from recommender.cf import history_weights
from recommender.content import film_text, taste_vector, text_hash

log = structlog.get_logger(__name__)

#: Films or reviews embedded per job (one embedder call; the local model batches inside it).
JOB_BATCH = 256


@dataclass(frozen=True, slots=True)
class TasteRefresh:
    """What one taste-vector refresh was built from.

    - `films`: the user's history films that carry a signal (rated, watched, liked or 🚫);
    - `missing`: those of them with no vector for the current model yet (tmdb ids, sorted);
    - `reviews`: the user's review vectors used;
    - `stored`: whether a taste vector was kept (False: none of the films, and no review,
      has a vector yet; any old vector was deleted).
    """

    films: int
    missing: tuple[int, ...]
    reviews: int
    stored: bool

    @property
    def complete(self) -> bool:
        """The stored vector includes every film of the history (none is still unembedded)."""
        return self.stored and not self.missing


class EmbeddingService:
    def __init__(self, session: AsyncSession, embedder: Embedder) -> None:
        self.session = session
        self.embedder = embedder
        self.vectors = VectorRepository(session)
        self.library = LibraryRepository(session)

    @property
    def model(self) -> str:
        return self.embedder.model

    async def films_to_embed(self) -> list[int]:
        """Catalog films with no vector for the current model, or whose text changed."""
        stored = await self.vectors.film_hashes(self.model)
        missing = [tmdb_id for tmdb_id, h in stored.items() if h is None]
        known = [tmdb_id for tmdb_id, h in stored.items() if h is not None]
        for start in range(0, len(known), 2000):
            chunk = known[start : start + 2000]
            films = await self.session.scalars(select(Film).where(Film.tmdb_id.in_(chunk)))
            missing += [f.tmdb_id for f in films if text_hash(_text(f)) != stored[f.tmdb_id]]
        return sorted(missing)

    async def embed_films(self, tmdb_ids: Sequence[int]) -> int:
        """Embed these films where their vector is missing or stale; returns how many were
        (re)embedded. Raises EmbeddingError (nothing is written then)."""
        stored = await self.vectors.film_hashes(self.model, tmdb_ids)
        films = list(await self.session.scalars(select(Film).where(Film.tmdb_id.in_(list(stored)))))
        todo = [(f.tmdb_id, text) for f in films if stored[f.tmdb_id] != text_hash(text := _text(f))]
        if not todo:
            return 0
        vectors = await self.embedder.embed([text for _, text in todo])
        written = await self.vectors.upsert_films(
            self.model,
            (
                (tmdb_id, vector, text_hash(text))
                for (tmdb_id, text), vector in zip(todo, vectors, strict=True)
            ),
        )
        log.info("films_embedded", model=self.model, films=written)
        return written

    async def reviews_to_embed(self) -> list[int]:
        """Non-empty reviews with no vector for the current model, or whose text changed."""
        rows = await self.vectors.reviews_to_embed(self.model)
        return [review_id for review_id, text, stored in rows if stored != text_hash(text)]

    async def embed_reviews(self, review_ids: Sequence[int]) -> set[int]:
        """Embed these reviews where needed, then refresh their authors' taste vectors (a
        review's rating counts in its author's taste even when its text did not change), so a
        saved review needs one job, not an embedding job and a taste job. Returns the authors.

        Raises:
            EmbeddingError: the embedder failed. The tastes are refreshed before it is raised
                (from the ratings, and the reviews embedded earlier): the caller commits them,
                and a retry embeds the texts.
        """
        authors = await self.vectors.review_authors(review_ids)
        try:
            await self._embed_reviews(review_ids)
        except EmbeddingError:
            await self._refresh_tastes(authors)
            raise
        await self._refresh_tastes(authors)
        return authors

    async def _embed_reviews(self, review_ids: Sequence[int]) -> None:
        rows = await self.vectors.reviews_to_embed(self.model, review_ids)
        todo = [(review_id, text) for review_id, text, stored in rows if stored != text_hash(text)]
        if not todo:
            return
        vectors = await self.embedder.embed([text for _, text in todo])
        await self.vectors.upsert_reviews(
            self.model,
            (
                (review_id, vector, text_hash(text))
                for (review_id, text), vector in zip(todo, vectors, strict=True)
            ),
        )
        log.info("reviews_embedded", model=self.model, reviews=len(todo))

    async def _refresh_tastes(self, user_ids: Iterable[int]) -> None:
        for user_id in sorted(user_ids):
            await self.refresh_taste(user_id)

    async def refresh_taste(self, user_id: int) -> bool:
        """Recompute the user's taste vector from their weighted history and reviews
        (`recommender.content.taste_vector`); False (and no vector kept) when none of their
        films has a vector yet."""
        return (await self.refresh_taste_report(user_id)).stored

    async def refresh_taste_report(self, user_id: int) -> TasteRefresh:
        """`refresh_taste`, saying what the vector was built from: how many history films,
        which of them still lack a vector (so the caller can tell "ready" from "partly")."""
        weights = history_weights(await load_signals(self.library, user_id))
        film_vectors = await self.vectors.film_vectors(self.model, weights)
        review_vectors = await self.vectors.user_review_vectors(self.model, user_id)
        missing = tuple(sorted(set(weights) - set(film_vectors)))
        vector = taste_vector(weights, film_vectors, review_vectors)
        if vector is None:
            await self.vectors.delete_taste(self.model, user_id)
            return TasteRefresh(len(weights), missing, len(review_vectors), stored=False)
        await self.vectors.upsert_taste(
            self.model, user_id, vector, n_films=len(film_vectors), n_reviews=len(review_vectors)
        )
        log.info(
            "taste_refreshed",
            user_id=user_id,
            films=len(film_vectors),
            unembedded=len(missing),
            reviews=len(review_vectors),
        )
        return TasteRefresh(len(weights), missing, len(review_vectors), stored=True)

    async def users_with_films(self, tmdb_ids: Sequence[int]) -> list[int]:
        """Ids of the users whose history (films with a signal: rated, watched, liked or 🚫)
        holds any of these films, ascending: the users whose taste vector a new film vector
        changes. One query."""
        if not tmdb_ids:
            return []
        stmt = (
            select(UserFilm.user_id)
            .where(UserFilm.tmdb_id == any_ids(tmdb_ids), HAS_SIGNAL)
            .distinct()
            .order_by(UserFilm.user_id)
        )
        return list(await self.session.scalars(stmt))

    async def stale_tastes(self, limit: int = 1000) -> list[int]:
        """Users whose history changed after their taste vector was computed."""
        return await self.vectors.users_with_stale_taste(self.model, limit=limit)

    async def embed_avoid_topics(self, topic_ids: Sequence[int] | None = None) -> int:
        """Embed these topics (or every topic without a vector for the current model)."""
        rows = await self.vectors.topics_to_embed(self.model, topic_ids)
        if not rows:
            return 0
        vectors = await self.embedder.embed([topic for _, topic in rows])
        await self.vectors.set_topic_vectors(
            self.model, ((topic_id, v) for (topic_id, _), v in zip(rows, vectors, strict=True))
        )
        return len(rows)


def _text(film: Film) -> str:
    return film_text(features(to_info(film)), film.overview)
