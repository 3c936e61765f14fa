"""TMDB v3 over HTTP: the errors a TMDB call raises and :class:`TMDBHttp`, which GETs one
path and returns its JSON object behind authentication, concurrency and rate limits,
retries with backoff, error mapping and metrics (the rules are in integrations/tmdb.py's
docstring; the endpoints and their mapping to the domain are integrations/tmdb.py and
integrations/tmdb_parse.py).

Error statuses: https://developer.themoviedb.org/docs/errors; rate limiting:
https://developer.themoviedb.org/docs/rate-limiting; authentication:
https://developer.themoviedb.org/docs/authentication-application.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from functools import partial

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

from domain.ports import MovieSourceError
from integrations.metrics import TMDB_ROUTES, ExternalRequestMetrics, endpoint_of
from integrations.tmdb_parse import Json

log = structlog.get_logger(__name__)

RETRY_AFTER_CAP_S = 30.0  # longest Retry-After honoured; longer asks are cut to this
BACKOFF_CAP_S = 8.0  # longest exponential backoff between two attempts

#: Query parameters of one request (name → value), besides `language` and the API key.
Params = Mapping[str, str | int]


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


class TMDBHttp:
    """GET requests to one TMDB v3 API root, as :class:`integrations.tmdb.TMDBClient` makes
    them: its arguments of the same names, and their defaults, are documented there
    (`base_url`, `api_key`, `bearer_token`, `language`, `timeout_seconds`, `max_concurrency`,
    `max_requests_per_second`, `max_attempts`, `backoff_multiplier`, `http`, `metrics`).
    Every request carries `language` and the credentials; :meth:`aclose` closes the
    `httpx.AsyncClient` only if this object created it.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        bearer_token: str | None,
        language: str,
        timeout_seconds: float,
        max_concurrency: int,
        max_requests_per_second: float,
        max_attempts: int,
        backoff_multiplier: float,
        http: httpx.AsyncClient | None,
        metrics: ExternalRequestMetrics,
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

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            await self._http.aclose()

    async def get(self, path: str, params: Params | None = None) -> Json:
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
