"""The process's Prometheus registry, and the metrics of the HTTP requests the integrations
make (TMDB, OpenAI).

Why the registry lives here: it is the lowest layer that records metrics, so the TMDB and
OpenAI clients count into it without importing the bot; `bot.metrics` re-exports it and adds
the bot's own metrics to it. It is not prometheus_client's global default registry (see
`bot.metrics` for why).

Counting happens in httpx event hooks (https://www.python-httpx.org/advanced/event-hooks/;
the OpenAI SDK's httpx fork `httpx2` has the same hooks), so every HTTP attempt is counted at
the wire, retries included, whatever the client code around it does:

- `wtw_external_requests_total{service, endpoint, status}`: one per HTTP response. `service`
  is "tmdb" or "openai"; `endpoint` is the route template ("/movie/{id}", "/search/movie",
  "/chat/completions"), never the raw path, so the label's values are a short fixed list
  ("other" for anything unknown); `status` is the HTTP status code as text ("200", "429").
- `wtw_external_request_duration_seconds{service, endpoint}`: from the request being sent to
  the response headers arriving, in seconds.

Requests that get no response at all (timeouts, refused connections) are not seen by the
hooks; the TMDB client counts them itself with `status="error"` (`ExternalRequestMetrics.failed`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

#: The process's registry: everything `/metrics` serves (bot.observability), with
#: prometheus_client's standard process (CPU, memory, open files), GC and platform collectors.
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

#: Seconds; TMDB answers in ~0.1–0.5 s, a chat completion in 1–20 s.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)

#: Where a request's start time is kept between the request and response hooks.
_STARTED = "wtw_started"

Route = tuple[re.Pattern[str], str]


def routes(*templates: str) -> tuple[Route, ...]:
    """Route templates → patterns matching the END of a request path, so the API's prefix
    ("/3", "/v1") does not matter: "{id}" matches one run of digits (after an optional "tt",
    an IMDb id), the rest literally."""
    compiled = []
    for template in templates:
        pattern = re.escape(template).replace(re.escape("{id}"), r"(?:tt)?\d+")
        compiled.append((re.compile(f"{pattern}$"), template))
    return tuple(compiled)


#: TMDB v3 endpoints the client uses (integrations/tmdb.py).
TMDB_ROUTES = routes(
    "/search/movie",
    "/movie/{id}",
    "/movie/{id}/recommendations",
    "/movie/{id}/similar",
    "/discover/movie",
    "/genre/movie/list",
    "/find/{id}",
    "/movie/{id}/watch/providers",
    "/watch/providers/movie",
)
#: OpenAI endpoints the clients use (integrations/llm.py, integrations/embeddings.py).
OPENAI_ROUTES = routes("/chat/completions", "/embeddings")


def endpoint_of(path: str, known: Sequence[Route]) -> str:
    """The template of the first route whose pattern matches the end of `path`, else "other"."""
    for pattern, template in known:
        if pattern.search(path):
            return template
    return "other"


class ExternalRequestMetrics:
    """The two external-request metrics (module docstring), registered on `registry`.

    Raises:
        ValueError: `registry` already has metrics of these names (prometheus_client's
            DuplicateTimeseries): one instance per registry.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "wtw_external_requests_total",
            "HTTP requests to external APIs, by service, endpoint template and HTTP status "
            "('error': no response).",
            ["service", "endpoint", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "wtw_external_request_duration_seconds",
            "Seconds from sending an external API request to its response headers.",
            ["service", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def failed(self, service: str, endpoint: str) -> None:
        """Count a request that got no response (timeout, connection error)."""
        self.requests.labels(service, endpoint, "error").inc()

    def event_hooks(
        self, service: str, known: Sequence[Route]
    ) -> dict[str, list[Callable[[Any], Awaitable[None]]]]:
        """httpx `event_hooks` (for `httpx.AsyncClient(event_hooks=...)` or the OpenAI SDK's
        `DefaultAsyncHttpxClient`) counting every response of `service` by route template."""

        async def on_request(request: Any) -> None:
            request.extensions[_STARTED] = time.perf_counter()

        async def on_response(response: Any) -> None:
            request = response.request
            endpoint = endpoint_of(request.url.path, known)
            self.requests.labels(service, endpoint, str(response.status_code)).inc()
            started = request.extensions.get(_STARTED)
            if started is not None:
                self.duration.labels(service, endpoint).observe(time.perf_counter() - started)

        return {"request": [on_request], "response": [on_response]}


#: The process's instance, on REGISTRY: what the clients use unless given another.
HTTP_METRICS = ExternalRequestMetrics(REGISTRY)
