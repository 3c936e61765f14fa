"""What the OpenAI clients (embeddings, chat) share about failures: which errors are worth a
retry, how long to wait, and how to name an error in a log line without leaking anything."""

from __future__ import annotations

import math
from collections.abc import Callable

from openai import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InternalServerError,
    RateLimitError,
)
from tenacity import RetryCallState

#: Longest Retry-After honoured, in seconds; longer asks are cut to this.
RETRY_AFTER_CAP_S = 30.0
TRANSIENT = (RateLimitError, APITimeoutError, APIConnectionError, InternalServerError)


def is_transient(error: BaseException) -> bool:
    """429 (except an exhausted quota), 5xx, timeouts and connection errors; never 401/400."""
    if isinstance(error, RateLimitError) and error_code(error) == "insufficient_quota":
        return False
    return isinstance(error, TRANSIENT)


def error_code(exc: APIStatusError) -> str | None:
    """The API's error code ("insufficient_quota"), at most 60 characters, or None."""
    code = exc.code if isinstance(exc.code, str) else None
    return code[:60] if code else None


def retry_after_s(exc: APIStatusError) -> float | None:
    """``retry-after-ms`` or ``retry-after`` (seconds) of an error response, capped at
    RETRY_AFTER_CAP_S; None when absent or not a number."""
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            seconds = float(headers[name]) * scale
        except (KeyError, ValueError):
            continue
        if math.isfinite(seconds):
            return min(max(seconds, 0.0), RETRY_AFTER_CAP_S)
    return None


def wait_seconds(retry_state: RetryCallState, backoff: Callable[[RetryCallState], float]) -> float:
    """Seconds before the next attempt: the server's Retry-After if it sent one, else `backoff`."""
    error = retry_state.outcome.exception() if retry_state.outcome else None
    if isinstance(error, APIStatusError):
        retry_after = retry_after_s(error)
        if retry_after is not None:
            return retry_after
    return float(backoff(retry_state))


def describe(error: BaseException | None) -> str:
    """ "HTTP 429" for a status error, else the exception class ("APITimeoutError")."""
    if isinstance(error, APIStatusError):
        return f"HTTP {error.status_code}"
    return type(error).__name__
