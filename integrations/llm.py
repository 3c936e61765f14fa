"""The chat model behind :class:`domain.ports.LanguageModel`: OpenAI chat completions with
structured output, or any OpenAI-compatible server (``OPENAI_BASE_URL``).

One call is ``POST {base_url}/chat/completions`` through the official SDK's
``client.chat.completions.parse(..., response_format=Schema)``: the SDK turns the pydantic
schema into a strict ``json_schema`` response format and parses the answer back into it
(guide: https://platform.openai.com/docs/guides/structured-outputs). The SDK's own retries
are off; tenacity retries 429 (except an exhausted quota), 5xx, timeouts and connection
errors with jittered exponential backoff, honouring ``Retry-After``. A rejected key (401), a
denied model (403/404), a bad request (400), a refusal, a cut or filtered answer and an
answer that does not fit the schema fail at once.

Errors: :class:`domain.ports.LanguageModelError`, whose message is for logs: it names the
HTTP status or the exception class, never the API key, the prompt or the answer. The caller
bounds the total time (``asyncio.timeout``): retries never outlive it.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING, Self

import structlog
from openai import (
    APIStatusError,
    AsyncOpenAI,
    AuthenticationError,
    BadRequestError,
    ContentFilterFinishReasonError,
    DefaultAsyncHttpxClient,
    LengthFinishReasonError,
    NotFoundError,
    OpenAIError,
    PermissionDeniedError,
    RateLimitError,
)
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from domain.ports import LanguageModel, LanguageModelError, SchemaT
from integrations.metrics import HTTP_METRICS, OPENAI_ROUTES, ExternalRequestMetrics
from integrations.openai_retry import describe, error_code, is_transient, wait_seconds

if TYPE_CHECKING:
    from bot.settings import OpenAISettings

log = structlog.get_logger(__name__)

BACKOFF_CAP_S = 8.0  # longest exponential backoff between two attempts
#: Errors worth another attempt (APITimeoutError is a subclass of APIConnectionError).


class OpenAIChatModel:
    """Structured chat completions (implements :class:`domain.ports.LanguageModel`).

    Args:
        api_key: sent as ``Authorization: Bearer …``; never logged or put in messages.
        model: the chat model name, e.g. "gpt-4o-mini" (``OPENAI_CHAT_MODEL``); it must
            support structured output (``response_format`` of type ``json_schema``).
        base_url: API root with the version, e.g. "https://api.openai.com/v1" or a compatible
            server's; None → the SDK's default (api.openai.com).
        timeout_seconds: timeout of each attempt.
        max_attempts: attempts per call, the first included.
        backoff_multiplier: base of the jittered exponential backoff in seconds (the wait
            before retry n is random in [0, multiplier · 2ⁿ], at most 8 s); a ``Retry-After``
            the server sends wins (at most 30 s). Tests set 0.
        metrics: where every HTTP attempt is counted by endpoint and status
            (`wtw_external_requests_total{service="openai"}`, integrations/metrics.py);
            default the process's.

    Use as ``async with OpenAIChatModel(...) as model:`` or call :meth:`aclose`.
    """

    def __init__(
        self,
        *,
        api_key: str,
        model: str = "gpt-4o-mini",
        base_url: str | None = None,
        timeout_seconds: float = 20.0,
        max_attempts: int = 3,
        backoff_multiplier: float = 0.5,
        metrics: ExternalRequestMetrics = HTTP_METRICS,
    ) -> None:
        if not api_key:
            raise LanguageModelError("the chat model needs an API key (OPENAI_API_KEY)")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.model: str = model
        self._api_key = api_key
        self._max_attempts = max_attempts
        self._backoff = wait_random_exponential(multiplier=backoff_multiplier, max=BACKOFF_CAP_S)
        self._client = AsyncOpenAI(
            api_key=api_key,
            base_url=base_url or None,
            timeout=timeout_seconds,
            max_retries=0,
            # every HTTP attempt counted by endpoint and status (integrations/metrics.py)
            http_client=DefaultAsyncHttpxClient(event_hooks=metrics.event_hooks("openai", OPENAI_ROUTES)),
        )

    async def structured(self, *, system: str, user: str, schema: type[SchemaT]) -> SchemaT:
        """One chat completion (a system and a user message) parsed into `schema`.

        Raises:
            LanguageModelError: the key is rejected (401), access is denied (403), the model is
                unknown (404), the request is refused (400, exhausted quota), the server keeps
                failing (429/5xx/timeouts/connection errors on every attempt), or the answer
                is a refusal, cut short, filtered, empty, or does not fit `schema`.
        """
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception(is_transient),
            before_sleep=self._log_retry,
        )
        started = time.perf_counter()
        try:
            async for attempt in retrying:
                with attempt:
                    completion = await self._client.chat.completions.parse(
                        model=self.model,
                        messages=[
                            {"role": "system", "content": system},
                            {"role": "user", "content": user},
                        ],
                        response_format=schema,
                    )
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise LanguageModelError(
                f"chat model {self.model}: gave up after {self._max_attempts} attempts "
                f"(last: {describe(last)})"
            ) from last
        except (LengthFinishReasonError, ContentFilterFinishReasonError) as exc:
            raise LanguageModelError(
                f"chat model {self.model}: answer cut or filtered ({type(exc).__name__})"
            ) from None
        except OpenAIError as exc:
            raise self._fatal(exc) from None  # the SDK's message may quote the (masked) key
        except ValueError as exc:  # pydantic's ValidationError: the answer does not fit the schema
            raise LanguageModelError(
                f"chat model {self.model}: answer does not fit {schema.__name__} ({type(exc).__name__})"
            ) from None
        if not completion.choices:
            raise LanguageModelError(f"chat model {self.model}: answer without choices")
        message = completion.choices[0].message
        if message.refusal:
            raise LanguageModelError(f"chat model {self.model}: refused to answer")
        if message.parsed is None:
            raise LanguageModelError(f"chat model {self.model}: empty answer")
        usage = completion.usage
        log.debug(
            "chat_completion",
            model=self.model,
            schema=schema.__name__,
            attempts=retrying.statistics.get("attempt_number", 1),
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return message.parsed

    async def aclose(self) -> None:
        """Close the HTTP client (idempotent)."""
        await self._client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _fatal(self, exc: OpenAIError) -> LanguageModelError:
        """An error that another attempt would not fix, as a LanguageModelError without secrets."""
        if isinstance(exc, AuthenticationError):
            return LanguageModelError("chat model: the API key was rejected (HTTP 401)")
        if isinstance(exc, PermissionDeniedError):
            return LanguageModelError(f"chat model: access to {self.model} denied (HTTP 403)")
        if isinstance(exc, RateLimitError):  # only a 429 that is not worth retrying gets here
            return LanguageModelError(
                f"chat model: request refused (HTTP 429, {error_code(exc) or 'no code'})"
            )
        if isinstance(exc, NotFoundError):
            return LanguageModelError(f"chat model: the server does not know {self.model!r} (HTTP 404)")
        if isinstance(exc, BadRequestError):
            return LanguageModelError(
                f"chat model {self.model}: request rejected (HTTP 400, {error_code(exc) or 'no code'})"
            )
        if isinstance(exc, APIStatusError):
            return LanguageModelError(f"chat model {self.model}: failed (HTTP {exc.status_code})")
        return LanguageModelError(f"chat model {self.model}: failed ({type(exc).__name__})")

    def _wait(self, retry_state: RetryCallState) -> float:
        """Seconds before the next attempt: the server's Retry-After if it sent one, else backoff."""
        return wait_seconds(retry_state, self._backoff)

    def _log_retry(self, retry_state: RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        # debug: the caller logs the failure once, retries are not failures yet
        log.debug(
            "chat_completion_retry",
            model=self.model,
            attempt=retry_state.attempt_number,
            error=describe(error),
            wait_s=round(retry_state.next_action.sleep, 3) if retry_state.next_action else None,
        )


def make_language_model(settings: OpenAISettings) -> LanguageModel | None:
    """The chat model `settings` describe: None without ``OPENAI_API_KEY`` (the bot then words
    everything with its templates), else an :class:`OpenAIChatModel` for ``OPENAI_CHAT_MODEL``
    at ``OPENAI_BASE_URL`` with ``OPENAI_TIMEOUT_SECONDS`` per attempt and
    ``OPENAI_MAX_ATTEMPTS`` attempts. It holds an HTTP client: close it with ``aclose()``."""
    if settings.api_key is None:
        return None
    return OpenAIChatModel(
        api_key=settings.api_key.get_secret_value(),
        model=settings.chat_model,
        base_url=settings.base_url,
        timeout_seconds=settings.timeout_seconds,
        max_attempts=settings.max_attempts,
    )
