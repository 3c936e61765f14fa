"""TMDB v3 client: the project's :class:`domain.ports.MovieSource`.

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
import re
import time
from collections.abc import Mapping, Sequence
from functools import partial
from types import TracebackType
from typing import Any, Self

import httpx
import structlog
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from domain.entities import FilmInfo, SearchPage
from domain.ports import MovieSourceError, Provider, ProviderOffers, RelatedKind
from integrations.metrics import HTTP_METRICS, TMDB_ROUTES, ExternalRequestMetrics, endpoint_of

log = structlog.get_logger(__name__)

RETRY_AFTER_CAP_S = 30.0  # longest Retry-After honoured; longer asks are cut to this
BACKOFF_CAP_S = 8.0  # longest exponential backoff between two attempts

Json = dict[str, Any]
Params = Mapping[str, str | int]
#: An IMDb title id as `find_by_imdb` accepts it: "tt" and 7 or more digits.
IMDB_ID = re.compile(r"tt\d{7,12}")
#: What `details` appends to each film (one request per film).
APPEND = "keywords,credits,external_ids,videos"
#: Leading actors kept per film (TMDB's billing order).
CAST_LIMIT = 3
#: An ISO 3166-1 alpha-2 country code as TMDB keys watch providers ("US").
COUNTRY = re.compile(r"[A-Z]{2}")
#: The kinds of offers `/movie/{id}/watch/providers` lists per country.
OFFER_KINDS = ("flatrate", "rent", "buy", "free", "ads")
#: A YouTube video id as TMDB gives it in `videos` (11 characters today; room to spare).
VIDEO_KEY = re.compile(r"[A-Za-z0-9_-]{1,32}")


class TMDBError(MovieSourceError):
    """TMDB answered something unexpected: a 4xx other than 401/404, or a body that is not
    the JSON object the endpoint documents. Not retried."""


class TMDBUnavailableError(TMDBError):
    """TMDB could not be used: 429, 5xx, timeouts or connection errors on every attempt."""


class TMDBAuthError(TMDBError):
    """TMDB rejected the credentials (HTTP 401: missing, invalid or suspended key). Not retried."""


class TMDBNotFoundError(TMDBError):
    """HTTP 404: TMDB does not know the resource (e.g. a movie id). `details` and `related`
    turn it into "left out" and "empty"; other calls let it propagate."""


class _RetryableStatus(Exception):
    """A 429 or 5xx answer, raised inside the retry loop so that tenacity retries it."""

    def __init__(self, status: int, retry_after_s: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after_s = retry_after_s


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
        self._base_url = base_url.rstrip("/")
        self._language = language
        self._timeout = httpx.Timeout(timeout_seconds)
        self._max_attempts = max_attempts
        self._backoff = wait_random_exponential(multiplier=backoff_multiplier, max=BACKOFF_CAP_S)
        self._headers = {"Accept": "application/json"}
        self._auth_params: dict[str, str] = {}
        if bearer_token:
            self._headers["Authorization"] = f"Bearer {bearer_token}"
        elif api_key:
            self._auth_params["api_key"] = api_key
        self._secrets = tuple(secret for secret in (api_key, bearer_token) if secret)
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=self._timeout)
        self._metrics = metrics
        hooks = metrics.event_hooks("tmdb", TMDB_ROUTES)
        self._http.event_hooks = {
            kind: [*self._http.event_hooks.get(kind, []), *hooks[kind]] for kind in ("request", "response")
        }
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._limiter = AsyncLimiter(max_requests_per_second, time_period=1.0)
        self._genre_lock = asyncio.Lock()
        self._genre_names: dict[int, str] | None = None

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            await self._http.aclose()

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
        data = await self._get("/search/movie", params)
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
            data = await self._get(f"/movie/{int(tmdb_id)}/{kind}", {"page": page})
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
        data = await self._get("/discover/movie", params)
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
            data = await self._get(path, {"external_source": "imdb_id"})
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
            data = await self._get(path)
        except TMDBNotFoundError:
            return {}
        results = data.get("results")
        if not isinstance(results, dict):
            raise TMDBError(f"TMDB {path}: no results object")
        offers: dict[str, ProviderOffers] = {}
        for country, entry in results.items():
            if not (isinstance(country, str) and COUNTRY.fullmatch(country) and isinstance(entry, dict)):
                continue
            link = entry.get("link")
            offer: ProviderOffers = {
                "link": link if isinstance(link, str) and link.startswith("http") else None
            }
            for kind in OFFER_KINDS:
                offer[kind] = [list(p) for p in _providers(entry.get(kind))]
            offers[country] = offer
        return offers

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
        data = await self._get("/watch/providers/movie", {"watch_region": country})
        entries = data.get("results")
        if not isinstance(entries, list):
            raise TMDBError("TMDB /watch/providers/movie: no results list")
        priority = [
            (entry.get("display_priorities") or {}).get(country, entry.get("display_priority"))
            if isinstance(entry, dict)
            else None
            for entry in entries
        ]
        ordered = [e for _, e in sorted(zip(priority, entries, strict=True), key=_by_priority)]
        return _providers(ordered, sort=False)

    # --- mapping

    async def _details_one(self, tmdb_id: int) -> FilmInfo | None:
        path = f"/movie/{tmdb_id}"
        try:
            data = await self._get(path, {"append_to_response": APPEND})
        except TMDBNotFoundError:
            log.debug("tmdb_unknown_id", tmdb_id=tmdb_id)
            return None
        try:
            return _film(
                data,
                genres=tuple(str(genre["name"]) for genre in data.get("genres") or ()),
                keywords=tuple(str(kw["name"]) for kw in (data.get("keywords") or {}).get("keywords") or ()),
                countries=tuple(str(c["iso_3166_1"]) for c in data.get("production_countries") or ()),
                runtime=int(data["runtime"]) if data.get("runtime") else None,
                has_details=True,
                **_card(data),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TMDBError(f"TMDB {path}: unexpected response shape ({type(exc).__name__}: {exc})") from None

    async def _list_results(self, data: Json) -> list[FilmInfo]:
        """Map the `results` of a paginated list answer, genre ids → names via the cached list."""
        names = await self._genres()
        try:
            return [
                _film(item, genres=tuple(names[gid] for gid in item.get("genre_ids") or () if gid in names))
                for item in data["results"]
            ]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TMDBError(f"TMDB list results: unexpected shape ({type(exc).__name__}: {exc})") from None

    async def _genres(self) -> dict[int, str]:
        """TMDB's movie genres, id → name, fetched once per client (under a lock) and cached.
        See https://developer.themoviedb.org/reference/genre-movie-list."""
        if self._genre_names is not None:
            return self._genre_names
        async with self._genre_lock:
            if self._genre_names is None:
                data = await self._get("/genre/movie/list")
                try:
                    self._genre_names = {int(g["id"]): str(g["name"]) for g in data["genres"]}
                except (KeyError, TypeError, ValueError) as exc:
                    raise TMDBError(
                        f"TMDB /genre/movie/list: unexpected shape ({type(exc).__name__})"
                    ) from None
            return self._genre_names

    # --- HTTP

    async def _get(self, path: str, params: Params | None = None) -> Json:
        """GET `path` (relative to the base URL, e.g. "/movie/348") and return the JSON object.

        Raises:
            TMDBNotFoundError (404), TMDBAuthError (401), TMDBError (other 4xx, non-JSON body),
            TMDBUnavailableError (429/5xx/timeouts/transport errors on all attempts).
        """
        query = {"language": self._language, **(params or {}), **self._auth_params}
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type((_RetryableStatus, httpx.TransportError)),  # timeouts included
            before_sleep=partial(_log_retry, path),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._send(path, query, attempt.retry_state.attempt_number)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise TMDBUnavailableError(
                f"TMDB {path}: gave up after {self._max_attempts} attempts (last: {_describe(last)})"
            ) from last
        try:
            data = response.json()
        except ValueError:
            raise TMDBError(f"TMDB {path}: response body is not JSON") from None
        if not isinstance(data, dict):
            raise TMDBError(f"TMDB {path}: expected a JSON object, got {type(data).__name__}")
        return data

    async def _send(self, path: str, query: Params, attempt: int) -> httpx.Response:
        """One attempt: the request under the semaphore, logged, with its status classified."""
        async with self._semaphore, self._limiter:
            started = time.perf_counter()
            try:
                response = await self._http.get(
                    self._base_url + path, params=query, headers=self._headers, timeout=self._timeout
                )
            except httpx.TransportError as exc:
                self._metrics.failed("tmdb", endpoint_of(path, TMDB_ROUTES))
                log.debug(
                    "tmdb_request",
                    path=path,
                    status=None,
                    attempt=attempt,
                    elapsed_ms=_ms(started),
                    error=_describe(exc),
                )
                raise
        status = response.status_code
        log.debug("tmdb_request", path=path, status=status, attempt=attempt, elapsed_ms=_ms(started))
        if status == 429 or status >= 500:
            raise _RetryableStatus(status, _retry_after_s(response))
        if status == 401:
            raise TMDBAuthError(
                f"TMDB {path}: credentials rejected (HTTP 401: {self._status_message(response)})"
            )
        if status == 404:
            raise TMDBNotFoundError(f"TMDB {path}: not found (HTTP 404)")
        if status >= 400:
            raise TMDBError(f"TMDB {path}: HTTP {status}: {self._status_message(response)}")
        return response

    def _wait(self, retry_state: RetryCallState) -> float:
        """Seconds before the next attempt: the server's Retry-After if it sent one, else backoff."""
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, _RetryableStatus) and error.retry_after_s is not None:
            return error.retry_after_s
        return float(self._backoff(retry_state))

    def _status_message(self, response: httpx.Response) -> str:
        """TMDB's `status_message` from an error body (secrets masked, at most 200 chars)."""
        try:
            body = response.json()
        except ValueError:
            return "no TMDB status message"
        message = str(body.get("status_message", "")) if isinstance(body, dict) else ""
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return message[:200] or "no TMDB status message"


def _film(
    data: Json,
    *,
    genres: tuple[str, ...],
    keywords: tuple[str, ...] = (),
    countries: tuple[str, ...] = (),
    runtime: int | None = None,
    has_details: bool = False,
    **card: Any,
) -> FilmInfo:
    """A TMDB movie object (list record or details) → FilmInfo; the caller maps genres and
    anything that only details carry (`card`: the fields of :func:`_card`)."""
    release_date = data.get("release_date") or None
    year = int(release_date[:4]) if release_date and release_date[:4].isdigit() else None
    return FilmInfo(
        tmdb_id=int(data["id"]),
        title=str(data["title"]),
        year=year,
        original_title=data.get("original_title") or None,
        release_date=release_date,
        genres=genres,
        keywords=keywords,
        overview=data.get("overview") or None,
        runtime=runtime,
        original_language=data.get("original_language") or None,
        countries=countries,
        popularity=float(data.get("popularity") or 0.0),
        vote_average=float(data.get("vote_average") or 0.0),
        vote_count=int(data.get("vote_count") or 0),
        has_details=has_details,
        poster_path=_poster_path(data.get("poster_path")),
        **card,
    )


def _by_priority(pair: tuple[object, object]) -> int:
    priority = pair[0]
    return priority if isinstance(priority, int) else 10**6


def _providers(entries: object, *, sort: bool = True) -> list[Provider]:
    """`[{provider_id, provider_name, display_priority, …}, …]` → [(id, name), …], by
    `display_priority` (unless `sort` is False), each id once; malformed entries skipped."""
    if not isinstance(entries, list):
        return []
    valid = [
        e
        for e in entries
        if isinstance(e, dict)
        and isinstance(e.get("provider_id"), int)
        and e["provider_id"] > 0
        and isinstance(e.get("provider_name"), str)
        and e["provider_name"].strip()
    ]
    if sort:
        valid.sort(key=lambda e: _by_priority((e.get("display_priority"), e)))
    found: dict[int, str] = {}
    for e in valid:
        found.setdefault(int(e["provider_id"]), str(e["provider_name"]).strip()[:100])
    return list(found.items())


def _poster_path(value: object) -> str | None:
    """TMDB's `poster_path` ("/abc.jpg") when it is one; None when absent or malformed."""
    if isinstance(value, str) and value.startswith("/") and " " not in value and len(value) < 200:
        return value
    return None


def _card(data: Json) -> dict[str, Any]:
    """The card's fields of a details answer with credits, external_ids and videos appended:
    `directors` (crew with job "Director", in TMDB's order, each once), `cast_names` (the
    first CAST_LIMIT by `order`), `imdb_id` (when it looks like one) and `trailer_key`
    (:func:`trailer_key`). A part that is missing leaves its fields empty."""
    credits = data.get("credits") or {}
    directors = [
        str(p["name"]) for p in credits.get("crew") or () if p.get("job") == "Director" and p.get("name")
    ]
    cast = sorted(
        (p for p in credits.get("cast") or () if p.get("name")),
        key=lambda p: int(p.get("order") if p.get("order") is not None else 10**6),
    )
    imdb_id = (data.get("external_ids") or {}).get("imdb_id") or data.get("imdb_id")
    return {
        "directors": tuple(dict.fromkeys(directors)),
        "cast_names": tuple(str(p["name"]) for p in cast[:CAST_LIMIT]),
        "imdb_id": imdb_id if isinstance(imdb_id, str) and IMDB_ID.fullmatch(imdb_id) else None,
        "trailer_key": trailer_key((data.get("videos") or {}).get("results") or ()),
    }


def trailer_key(videos: Sequence[Json]) -> str | None:
    """The YouTube key of the film's trailer among TMDB `videos` results: type "Trailer" on
    site "YouTube" only; an `official` one first, then the earliest `published_at` (TMDB
    lists newest first; the first trailer is usually the theatrical one), then list order.
    None when there is no such video."""
    trailers = [
        (index, video)
        for index, video in enumerate(videos)
        if isinstance(video, dict)
        and video.get("type") == "Trailer"
        and video.get("site") == "YouTube"
        and isinstance(video.get("key"), str)
        and VIDEO_KEY.fullmatch(video["key"])
    ]
    if not trailers:
        return None
    _, best = min(
        trailers,
        key=lambda pair: (
            not pair[1].get("official", False),
            str(pair[1].get("published_at") or "~"),
            pair[0],
        ),
    )
    return str(best["key"])


def _retry_after_s(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds, capped at RETRY_AFTER_CAP_S; None when absent or not a number
    (the HTTP-date form is not used by TMDB and falls back to the exponential backoff)."""
    try:
        seconds = float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_S)


def _log_retry(path: str, retry_state: RetryCallState) -> None:
    error = retry_state.outcome.exception() if retry_state.outcome else None
    log.warning(
        "tmdb_retry",
        path=path,
        attempt=retry_state.attempt_number,
        status=error.status if isinstance(error, _RetryableStatus) else None,
        error=None if isinstance(error, _RetryableStatus) else _describe(error),
        wait_s=round(retry_state.next_action.sleep, 3) if retry_state.next_action else None,
    )


def _describe(error: BaseException | None) -> str:
    """ "HTTP 503" for a retryable status, else the exception class ("ReadTimeout")."""
    if isinstance(error, _RetryableStatus):
        return str(error)
    return type(error).__name__


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
