"""TMDB v3 client: the project's :class:`domain.ports.MovieSource`.

This module holds :class:`TMDBClient` (its endpoints and the genre cache) and is what the
rest of the code imports, the errors included (:class:`TMDBError` and its subclasses, defined
with the HTTP machinery). The HTTP machinery (authentication, concurrency and rate limits,
retries, error mapping, metrics) is integrations/tmdb_http.py; the mapping of TMDB JSON to
the domain's types is integrations/tmdb_parse.py.

Endpoints used (reference: https://developer.themoviedb.org/reference/intro/getting-started):

- `GET /search/movie` — https://developer.themoviedb.org/reference/search-movie
- `GET /movie/{id}?append_to_response=keywords,credits,external_ids,videos` —
  https://developer.themoviedb.org/reference/movie-details,
  https://developer.themoviedb.org/docs/append-to-response,
  https://developer.themoviedb.org/reference/movie-credits,
  https://developer.themoviedb.org/reference/movie-external-ids and
  https://developer.themoviedb.org/reference/movie-videos
- `GET /movie/{id}/recommendations` — https://developer.themoviedb.org/reference/movie-recommendations
- `GET /movie/{id}/similar` — https://developer.themoviedb.org/reference/movie-similar
- `GET /discover/movie` — https://developer.themoviedb.org/reference/discover-movie
- `GET /genre/movie/list` — https://developer.themoviedb.org/reference/genre-movie-list
- `GET /find/{external_id}?external_source=imdb_id` — https://developer.themoviedb.org/reference/find-by-id
- `GET /movie/{id}/watch/providers` — https://developer.themoviedb.org/reference/movie-watch-providers
  (JustWatch data: TMDB asks apps to credit JustWatch wherever it is shown)
- `GET /watch/providers/movie?watch_region=XX` —
  https://developer.themoviedb.org/reference/watch-providers-movie-list

Authentication (https://developer.themoviedb.org/docs/authentication-application): a v3 API
key goes in the `api_key` query parameter, a v4 read access token in an
`Authorization: Bearer …` header.

Failures (https://developer.themoviedb.org/docs/errors): 429 (rate limiting,
https://developer.themoviedb.org/docs/rate-limiting), 5xx, timeouts and transport errors are
retried with jittered exponential backoff, or after the `Retry-After` the server asks for;
once attempts run out :class:`TMDBUnavailableError` is raised. 401 raises
:class:`TMDBAuthError` at once; 404 is "unknown film" (left out or empty); any other 4xx
raises :class:`TMDBError`.

Metrics: every HTTP attempt is counted by route template ("/movie/{id}") and status in
`wtw_external_requests_total{service="tmdb"}` (integrations/metrics.py, httpx event hooks).

Secrets: error messages and log events name the request *path* only, never the URL with
its query string, so neither the key nor the token can reach logs. (The `httpx` logger
itself logs full URLs at INFO; keep it at WARNING when using a v3 key.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType
from typing import Self

import httpx
import structlog

from domain.entities import FilmInfo, SearchPage
from domain.ports import Provider, ProviderOffers, RelatedKind
from integrations.metrics import HTTP_METRICS, ExternalRequestMetrics
from integrations.tmdb_http import (
    TMDBAuthError,
    TMDBError,
    TMDBHttp,
    TMDBNotFoundError,
    TMDBUnavailableError,
)
from integrations.tmdb_parse import (
    COUNTRY,
    IMDB_ID,
    Json,
    details_film,
    list_films,
    ranked_providers,
    watch_offers,
)

#: The client and the errors its calls raise (defined in integrations/tmdb_http.py).
__all__ = ["TMDBAuthError", "TMDBClient", "TMDBError", "TMDBNotFoundError", "TMDBUnavailableError"]

log = structlog.get_logger(__name__)

#: What `details` appends to each film (one request per film).
APPEND = "keywords,credits,external_ids,videos"


class TMDBClient:
    """Async TMDB v3 client (implements :class:`domain.ports.MovieSource`).

    Args:
        base_url: API root including the version, e.g. "https://api.themoviedb.org/3"
            (or a fake server's `base_url`).
        api_key: v3 API key, sent as the `api_key` query parameter.
        bearer_token: v4 read access token, sent as `Authorization: Bearer …`; used instead
            of `api_key` when both are given. With neither, TMDB answers 401 and every call
            raises :class:`TMDBAuthError`.
        language: ISO 639-1 + region (e.g. "en-US") for titles, overviews and genre names.
        timeout_seconds: httpx timeout for each attempt (connect, read, write and pool each).
        max_concurrency: most requests in flight at once (an asyncio.Semaphore).
        max_requests_per_second: requests started per second at most, retries included
            (aiolimiter's leaky bucket). TMDB allows "around 50 requests per second" per IP
            (https://developer.themoviedb.org/docs/rate-limiting).
        max_attempts: attempts per request, the first included, before giving up.
        backoff_multiplier: base of the jittered exponential backoff, in seconds (wait before
            retry n is random in [0, multiplier · 2ⁿ], at most 8 s); tests make it tiny.
        http: a shared `httpx.AsyncClient`; when omitted one is created, and :meth:`aclose`
            closes only a client created here.
        metrics: where every HTTP attempt is counted by route template and status
            (`wtw_external_requests_total{service="tmdb"}`, integrations/metrics.py);
            default the process's. Its event hooks are added to `http` too, so do not give
            one `http` client to two TMDBClients.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None = None,
        bearer_token: str | None = None,
        language: str = "en-US",
        timeout_seconds: float = 10.0,
        max_concurrency: int = 8,
        max_requests_per_second: float = 45.0,
        max_attempts: int = 4,
        backoff_multiplier: float = 0.5,
        http: httpx.AsyncClient | None = None,
        metrics: ExternalRequestMetrics = HTTP_METRICS,
    ) -> None:
        self._api = TMDBHttp(
            base_url=base_url,
            api_key=api_key,
            bearer_token=bearer_token,
            language=language,
            timeout_seconds=timeout_seconds,
            max_concurrency=max_concurrency,
            max_requests_per_second=max_requests_per_second,
            max_attempts=max_attempts,
            backoff_multiplier=backoff_multiplier,
            http=http,
            metrics=metrics,
        )
        self._genre_lock = asyncio.Lock()
        self._genre_names: dict[int, str] | None = None

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        await self._api.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # --- MovieSource

    async def search(self, query: str, *, year: int | None = None, page: int = 1) -> SearchPage:
        """Films whose title matches `query`, in TMDB's relevance order (20 a page).

        `year` filters on release year (TMDB's `year` parameter); `page` starts at 1 and
        TMDB accepts at most 500. Results are list records (`has_details=False`).
        See https://developer.themoviedb.org/reference/search-movie.

        Raises:
            TMDBUnavailableError, TMDBAuthError, TMDBError.
        """
        params: dict[str, str | int] = {"query": query, "page": page, "include_adult": "false"}
        if year is not None:
            params["year"] = year
        data = await self._api.get("/search/movie", params)
        films = await self._list_results(data)
        try:
            return SearchPage(
                results=tuple(films),
                page=int(data.get("page", page)),
                total_pages=int(data.get("total_pages", 1)),
                total_results=int(data.get("total_results", len(films))),
            )
        except (TypeError, ValueError) as exc:
            raise TMDBError(f"TMDB /search/movie: unexpected paging fields ({exc})") from None

    async def details(self, tmdb_ids: Sequence[int]) -> list[FilmInfo]:
        """Full records (`has_details=True`, with runtime, keywords, countries, directors, the
        first three billed actors, the IMDb id and the official YouTube trailer) for these ids.

        Fetched concurrently (at most `max_concurrency` at once), each id once; the result
        follows the order of first appearance in `tmdb_ids`, one film per distinct id, and
        leaves out ids TMDB does not know (404). If any fetch fails, the others are
        cancelled and the error propagates.
        See https://developer.themoviedb.org/reference/movie-details.

        Raises:
            TMDBUnavailableError, TMDBAuthError, TMDBError.
        """
        unique_ids = list(dict.fromkeys(int(tmdb_id) for tmdb_id in tmdb_ids))
        tasks = [asyncio.create_task(self._details_one(tmdb_id)) for tmdb_id in unique_ids]
        try:
            films = await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()  # no-op for finished tasks; stops the siblings of a failed one
        return [film for film in films if film is not None]

    async def related(self, tmdb_id: int, kind: RelatedKind, *, page: int = 1) -> list[FilmInfo]:
        """One page (up to 20) of TMDB's "recommendations" or "similar" films for `tmdb_id`.

        Empty for an id TMDB does not know. Results are list records (`has_details=False`).
        See https://developer.themoviedb.org/reference/movie-recommendations and
        https://developer.themoviedb.org/reference/movie-similar.

        Raises:
            ValueError: `kind` is neither "recommendations" nor "similar".
            TMDBUnavailableError, TMDBAuthError, TMDBError.
        """
        if kind not in ("recommendations", "similar"):
            raise ValueError(f"unknown related kind {kind!r}")
        try:
            data = await self._api.get(f"/movie/{int(tmdb_id)}/{kind}", {"page": page})
        except TMDBNotFoundError:
            return []
        return await self._list_results(data)

    async def popular(self, *, genres: Sequence[str] = (), page: int = 1) -> list[FilmInfo]:
        """One page (up to 20) of `/discover/movie` sorted by popularity, descending.

        `genres` are genre names in the client's language ("Science Fiction"), matched
        case-insensitively against `/genre/movie/list`; a film qualifies with *any* of them
        (joined with '|', TMDB's OR). Unknown names are ignored; if none is known, no genre
        filter applies. Results are list records (`has_details=False`).
        See https://developer.themoviedb.org/reference/discover-movie.

        Raises:
            TMDBUnavailableError, TMDBAuthError, TMDBError.
        """
        params: dict[str, str | int] = {"sort_by": "popularity.desc", "page": page, "include_adult": "false"}
        if genres:
            ids_by_name = {name.casefold(): genre_id for genre_id, name in (await self._genres()).items()}
            wanted = [ids_by_name[name.casefold()] for name in genres if name.casefold() in ids_by_name]
            unknown = [name for name in genres if name.casefold() not in ids_by_name]
            if unknown:
                log.debug("tmdb_unknown_genres", genres=unknown)
            if wanted:
                params["with_genres"] = "|".join(str(genre_id) for genre_id in dict.fromkeys(wanted))
        data = await self._api.get("/discover/movie", params)
        return await self._list_results(data)

    async def find_by_imdb(self, imdb_id: str) -> FilmInfo | None:
        """The film TMDB links to this IMDb title id ("tt0078748"), a list record
        (`has_details=False`); None when TMDB has no film with that id (TV results are ignored).
        See https://developer.themoviedb.org/reference/find-by-id.

        Raises:
            ValueError: `imdb_id` is not "tt" and 7 or more digits.
            TMDBUnavailableError, TMDBAuthError, TMDBError.
        """
        if not IMDB_ID.fullmatch(imdb_id):
            raise ValueError(f"not an IMDb title id: {imdb_id!r}")
        path = f"/find/{imdb_id}"
        try:
            data = await self._api.get(path, {"external_source": "imdb_id"})
        except TMDBNotFoundError:
            return None
        results = data.get("movie_results")
        if not isinstance(results, list):
            raise TMDBError(f"TMDB {path}: no movie_results list")
        if not results:
            return None
        [film] = await self._list_results({"results": results[:1]})
        return film

    async def watch_providers(self, tmdb_id: int) -> dict[str, ProviderOffers]:
        """Where the film is offered, per country: {"US": {"link": TMDB's watch page,
        "flatrate": [[8, "Netflix"], …], "rent": […], "buy": […], "free": […], "ads": […]}},
        each list in TMDB's `display_priority` order; empty for an id TMDB does not know.
        Malformed entries are skipped. See
        https://developer.themoviedb.org/reference/movie-watch-providers.

        Raises:
            TMDBUnavailableError, TMDBAuthError, TMDBError.
        """
        path = f"/movie/{int(tmdb_id)}/watch/providers"
        try:
            data = await self._api.get(path)
        except TMDBNotFoundError:
            return {}
        results = data.get("results")
        if not isinstance(results, dict):
            raise TMDBError(f"TMDB {path}: no results object")
        return watch_offers(results)

    async def region_providers(self, country: str) -> list[Provider]:
        """The services TMDB lists for movies in `country` ("DE"), by their display priority
        there. See https://developer.themoviedb.org/reference/watch-providers-movie-list.

        Raises:
            ValueError: `country` is not two letters.
            TMDBUnavailableError, TMDBAuthError, TMDBError.
        """
        country = country.upper()
        if not COUNTRY.fullmatch(country):
            raise ValueError(f"not an ISO 3166-1 alpha-2 code: {country!r}")
        data = await self._api.get("/watch/providers/movie", {"watch_region": country})
        entries = data.get("results")
        if not isinstance(entries, list):
            raise TMDBError("TMDB /watch/providers/movie: no results list")
        return ranked_providers(entries, country)

    # --- mapping

    async def _details_one(self, tmdb_id: int) -> FilmInfo | None:
        path = f"/movie/{tmdb_id}"
        try:
            data = await self._api.get(path, {"append_to_response": APPEND})
        except TMDBNotFoundError:
            log.debug("tmdb_unknown_id", tmdb_id=tmdb_id)
            return None
        try:
            return details_film(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TMDBError(f"TMDB {path}: unexpected response shape ({type(exc).__name__}: {exc})") from None

    async def _list_results(self, data: Json) -> list[FilmInfo]:
        """Map the `results` of a paginated list answer, genre ids → names via the cached list."""
        names = await self._genres()
        try:
            return list_films(data, names)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TMDBError(f"TMDB list results: unexpected shape ({type(exc).__name__}: {exc})") from None

    async def _genres(self) -> dict[int, str]:
        """TMDB's movie genres, id → name, fetched once per client (under a lock) and cached.
        See https://developer.themoviedb.org/reference/genre-movie-list."""
        if self._genre_names is not None:
            return self._genre_names
        async with self._genre_lock:
            if self._genre_names is None:
                data = await self._api.get("/genre/movie/list")
                try:
                    self._genre_names = {int(g["id"]): str(g["name"]) for g in data["genres"]}
                except (KeyError, TypeError, ValueError) as exc:
                    raise TMDBError(
                        f"TMDB /genre/movie/list: unexpected shape ({type(exc).__name__})"
                    ) from None
            return self._genre_names
