"""Ports: what the domain needs from the outside world, as typing Protocols.

`integrations.tmdb.TMDBClient` implements :class:`MovieSource`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from domain.entities import FilmInfo, SearchPage

RelatedKind = Literal["recommendations", "similar"]


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
