"""Ports: what the domain needs from the outside world, as typing Protocols.

`integrations.tmdb.TMDBClient` implements :class:`MovieSource`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel

from domain.entities import FilmInfo, SearchPage

RelatedKind = Literal["recommendations", "similar"]
#: A streaming service as TMDB names it: (provider_id, provider_name), e.g. (8, "Netflix").
Provider = tuple[int, str]
#: How a film is offered in one country: "link" (TMDB's watch page, str or None) and the
#: providers of each kind ("flatrate", "rent", "buy", "free", "ads": lists of [id, name] in
#: TMDB's display order). JSON-shaped: it is cached as is (db.models.FilmProviders).
ProviderOffers = dict[str, Any]


class MovieSourceError(Exception):
    """The film source failed (outage, timeouts after retries, bad credentials).

    The message is for logs, never for users; the bot answers with a friendly text.
    """


class MovieSource(Protocol):
    """A read-only source of film metadata (TMDB)."""

    async def search(self, query: str, *, year: int | None = None, page: int = 1) -> SearchPage:
        """Films whose title matches `query`, TMDB relevance order. Raises MovieSourceError."""
        ...

    async def details(self, tmdb_ids: Sequence[int]) -> list[FilmInfo]:
        """Full records (with keywords) for these ids, fetched concurrently; ids TMDB does
        not know are left out. Raises MovieSourceError."""
        ...

    async def related(self, tmdb_id: int, kind: RelatedKind, *, page: int = 1) -> list[FilmInfo]:
        """`/movie/{id}/recommendations` or `/similar`; empty for an unknown id.
        Raises MovieSourceError."""
        ...

    async def popular(self, *, genres: Sequence[str] = (), page: int = 1) -> list[FilmInfo]:
        """`/discover/movie` sorted by popularity, optionally with any of these genre names
        (mapped to TMDB genre ids with `/genre/movie/list`). Raises MovieSourceError."""
        ...

    async def find_by_imdb(self, imdb_id: str) -> FilmInfo | None:
        """The film TMDB links to this IMDb title id ("tt0078748"; `/find/{id}` with
        `external_source=imdb_id`), as a list record; None when TMDB has no film with that id.
        Raises ValueError for a malformed id, MovieSourceError."""
        ...

    async def watch_providers(self, tmdb_id: int) -> dict[str, ProviderOffers]:
        """Where the film streams, rents and sells, per ISO 3166-1 country ("US"), from
        `/movie/{id}/watch/providers` (JustWatch data); empty for an unknown id or a film
        nowhere. Raises MovieSourceError."""
        ...

    async def region_providers(self, country: str) -> list[Provider]:
        """The streaming services TMDB knows in `country` (ISO 3166-1, "DE"), TMDB's display
        order (`/watch/providers/movie?watch_region=`). Raises MovieSourceError."""
        ...


#: Length of every stored vector: all-MiniLM-L6-v2's size; OpenAI embeddings are asked for it
#: with the `dimensions` parameter. The database columns are vector(384).
EMBEDDING_DIMENSIONS = 384


class EmbeddingError(Exception):
    """The embedder failed (dead API key, outage, broken model file).

    The message is for logs, never for users. Embedding runs in background jobs, so a
    failure delays vectors; it never loses the text they are made from.
    """


class Embedder(Protocol):
    """Turns texts into unit-length vectors of `dimensions` floats.

    `model` names the model and its settings (e.g. "all-MiniLM-L6-v2-int8" or
    "openai:text-embedding-3-small@384"); it is stored with every vector, and vectors with
    different `model` values are never compared.
    """

    model: str
    dimensions: int

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One L2-normalised vector per text, in order; batched internally (one model or API
        call per batch). An empty text gets a vector too. Raises EmbeddingError."""
        ...


class LanguageModelError(Exception):
    """The chat model failed: dead key, quota, outage, timeout, a refusal, or output that does
    not fit the schema. The message is for logs, never for users (it never holds the key)."""


SchemaT = TypeVar("SchemaT", bound=BaseModel)


class LanguageModel(Protocol):
    """A chat model that answers in a pydantic schema (OpenAI structured output).

    It only ever words what the domain decided (explanations of chosen films, a question the
    code chose to ask, a summary of computed taste); it never chooses films.
    """

    model: str

    async def structured(self, *, system: str, user: str, schema: type[SchemaT]) -> SchemaT:
        """One chat completion whose answer is parsed into `schema`.

        The caller bounds the time (``asyncio.timeout``). Raises LanguageModelError.
        """
        ...


class JobQueue(Protocol):
    """Background work the domain asks for (the PostgreSQL job queue in `bot.jobs`).

    Calls only record the wish; the jobs run in a worker after the update's transaction has
    committed. Losing a call loses nothing: the worker's periodic sweep finds every review,
    film and topic without a vector and every stale taste vector.
    """

    def embed_reviews(self, review_ids: Sequence[int]) -> None:
        """Embed these reviews (new or grown) and refresh their authors' taste vectors."""
        ...

    def embed_films(self, tmdb_ids: Sequence[int]) -> None:
        """Embed these catalog films (new, or their text changed)."""
        ...

    def refresh_taste(self, user_id: int) -> None:
        """Recompute the user's taste vector (after ratings, likes or feedback changed)."""
        ...

    def embed_avoid_topics(self, topic_ids: Sequence[int]) -> None:
        """Embed these /avoid topics."""
        ...

    def refresh_summary(self, user_id: int) -> None:
        """Recompute the user's taste summary (domain.taste; after a review or a /language
        change). At most one waits per user."""
        ...

    def run_import(self, import_id: int) -> None:
        """Run this queued Letterboxd import (see `domain.imports.ImportService.run`)."""
        ...

    def close_group_round(self, round_id: int, delay_seconds: float) -> None:
        """End this group round's vote in `delay_seconds` if it is still open then
        (`domain.groups.GroupService.close_due`)."""
        ...
