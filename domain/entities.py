"""Domain entities: plain frozen dataclasses shared by services, integrations and the recommender."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Source(StrEnum):
    """Where a rating or review came from."""

    BOT = "bot"
    LETTERBOXD = "letterboxd"
    IMDB = "imdb"  # an IMDb ratings export
    MOVIELENS = "movielens"  # ratings loaded by bench/recommend_quality.py


class Slot(StrEnum):
    """The three kinds of pick /recommend shows, in display order."""

    SAFE = "safe"
    ADJACENT = "adjacent"
    WILDCARD = "wildcard"


class ItemStatus(StrEnum):
    """Lifecycle of one recommendation item."""

    SHOWN = "shown"
    WATCHED = "watched"
    SKIPPED = "skipped"
    NOT_INTERESTED = "not_interested"


@dataclass(frozen=True, slots=True)
class FilmInfo:
    """A film as TMDB describes it (or as the catalog has stored it).

    `genres` and `keywords` are names ("Science Fiction", "space travel"); `countries`
    are ISO 3166-1 codes; `runtime` is minutes; `popularity`, `vote_average` (0–10) and
    `vote_count` are TMDB's figures. `has_details` is False for search results, which
    lack runtime, keywords and countries.

    The card's data (empty offline: TMDB-format CSVs carry none): `poster_path` is TMDB's
    image path ("/abc.jpg", joined to an image base URL and a size); `directors` and
    `cast_names` (the first three billed actors) come from TMDB credits, `imdb_id`
    ("tt0078748") from its external ids, `trailer_key` (a YouTube video id) from its videos.
    Only details carry credits, ids and videos; list records may carry a poster.
    """

    tmdb_id: int
    title: str
    year: int | None = None
    original_title: str | None = None
    release_date: str | None = None  # ISO date "1979-05-25", as TMDB gives it
    genres: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    overview: str | None = None
    runtime: int | None = None
    original_language: str | None = None
    countries: tuple[str, ...] = ()
    popularity: float = 0.0
    vote_average: float = 0.0
    vote_count: int = 0
    has_details: bool = False
    poster_path: str | None = None
    directors: tuple[str, ...] = ()
    cast_names: tuple[str, ...] = ()
    imdb_id: str | None = None
    trailer_key: str | None = None

    @property
    def label(self) -> str:
        """ "Alien (1979)" — the way the bot names a film on buttons and in text."""
        return f"{self.title} ({self.year})" if self.year else self.title


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of a TMDB search: `results` in TMDB's relevance order."""

    results: tuple[FilmInfo, ...]
    page: int = 1
    total_pages: int = 1
    total_results: int = 0
