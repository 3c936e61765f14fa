"""Prometheus metrics of the bot: what it handles, what it asks Telegram, what users get.

**The registry.** Everything is registered on `REGISTRY`, a `CollectorRegistry` the app owns
(created in `integrations.metrics`, the lowest layer that records metrics, and re-exported
here), not on prometheus_client's global default registry: tests build a fresh `Metrics` on a
fresh `CollectorRegistry()` and assert exact values, and nothing a library registers on the
default registry ends up in `/metrics` unasked. `REGISTRY` also has prometheus_client's
standard process (CPU, memory, file descriptors), Python GC and platform collectors.
`/metrics` is served by `bot.observability`.

**Metrics** (all names start with `wtw_`; label values come from short fixed lists):

- `wtw_updates_total{update_type, handler, outcome}` — updates handled. `update_type` is
  aiogram's (`message`, `callback_query`, …), `handler` the handling function's `__name__`
  ("none" when nothing handled it), `outcome` is `ok`, `error` (the handler or a middleware
  raised; the errors router then answers) or `ignored` (no handler took it, or a middleware
  dropped it, e.g. an update without a user).
- `wtw_update_duration_seconds{update_type, handler}` — seconds from the update entering the
  bot's own middlewares (after aiogram's chat lock and FSM load) to its handler returning and
  the transaction committing: what the user waits for, minus Telegram's share.
- `wtw_bot_api_requests_total{method, result}` — Bot API calls by method ("sendMessage") and
  `result`: `ok`, `retry_after` (HTTP 429, flood control), `forbidden` (HTTP 403: blocked by
  the user, kicked from the group) or `error` (anything else, network errors included). Each
  attempt counts: a 429 retried by `bot.flood.FloodControlMiddleware` counts once as
  `retry_after` and once more as what the retry got.
- `wtw_bot_api_request_duration_seconds{method}` — seconds per Bot API call attempt.
- `wtw_external_requests_total{service, endpoint, status}` and
  `wtw_external_request_duration_seconds{service, endpoint}` — TMDB and OpenAI requests
  (`integrations.metrics`).
- `wtw_recommendations_served_total{slot}` — picks shown (`safe`, `adjacent`, `wildcard`).
- `wtw_pick_feedback_total{action, outcome}` — taps on ✅/⏭/🚫 (`watched`, `skip`,
  `not_interested`), by outcome (`updated`, `already_done`, `not_found`).
- `wtw_jobs{queue, status}` and `wtw_imports{status}` — gauges read from the database at
  scrape time (`QueueCollector`): jobs `queued`, `running` and `failed` per queue, Letterboxd
  imports `queued` and `running`. Absent from a scrape when the database did not answer.

**Where they are counted.** `UpdateMetricsMiddleware` (outer, on the dispatcher's update
observer) with `HandlerProbe` (inner, on every event observer: the only place that sees which
handler aiogram chose) — both registered by `bot.dispatcher.build_dispatcher`, which also puts
the `Metrics` in the workflow data as `metrics` for handlers to count what they serve;
`BotAPIMetricsMiddleware` on the Bot's session (`bot.flood.install_request_middlewares`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject, Update
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.picks import Feedback, ShownPick
from integrations.metrics import HTTP_METRICS, REGISTRY, ExternalRequestMetrics

__all__ = [
    "METRICS",
    "REGISTRY",
    "BotAPIMetricsMiddleware",
    "HandlerProbe",
    "Metrics",
    "QueueCollector",
    "UpdateMetricsMiddleware",
]

log = structlog.get_logger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

#: Seconds. A plain command answers in ~10–50 ms, /recommend in up to a few seconds (with
#: TMDB and the language model), an import's first reply in well under a second.
UPDATE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Seconds. The Bot API answers in ~50–300 ms; a file upload takes longer.
BOT_API_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

#: The ✅/⏭/🚫 buttons' actions as metric labels (bot.keyboards.PickAction values are letters).
FEEDBACK_ACTIONS = {"w": "watched", "s": "skip", "n": "not_interested"}


class Metrics:
    """The bot's metrics (module docstring), registered on `registry`.

    Args:
        registry: where they are registered; a fresh `CollectorRegistry()` in tests.
        external: the TMDB/OpenAI request metrics on the same registry; created here when
            omitted (the process's instance, `METRICS`, shares `integrations.metrics.HTTP_METRICS`).

    Raises:
        ValueError: `registry` already holds metrics of these names (one instance per registry).
    """

    def __init__(
        self, registry: CollectorRegistry, *, external: ExternalRequestMetrics | None = None
    ) -> None:
        self.registry = registry
        self.updates = Counter(
            "wtw_updates_total",
            "Telegram updates handled, by update type, handler and outcome (ok, error, ignored).",
            ["update_type", "handler", "outcome"],
            registry=registry,
        )
        self.update_duration = Histogram(
            "wtw_update_duration_seconds",
            "Seconds from an update entering the bot's middlewares to its handler returning.",
            ["update_type", "handler"],
            buckets=UPDATE_BUCKETS,
            registry=registry,
        )
        self.bot_api_requests = Counter(
            "wtw_bot_api_requests_total",
            "Bot API call attempts, by method and result (ok, retry_after, forbidden, error).",
            ["method", "result"],
            registry=registry,
        )
        self.bot_api_duration = Histogram(
            "wtw_bot_api_request_duration_seconds",
            "Seconds per Bot API call attempt, by method.",
            ["method"],
            buckets=BOT_API_BUCKETS,
            registry=registry,
        )
        self.recommendations_served = Counter(
            "wtw_recommendations_served_total",
            "Recommended films shown, by slot (safe, adjacent, wildcard).",
            ["slot"],
            registry=registry,
        )
        self.pick_feedback = Counter(
            "wtw_pick_feedback_total",
            "Taps on a pick's buttons, by action (watched, skip, not_interested) and outcome.",
            ["action", "outcome"],
            registry=registry,
        )
        self.external = external if external is not None else ExternalRequestMetrics(registry)

    def served(self, picks: Iterable[ShownPick]) -> None:
        """Count the picks just shown to a user, by slot."""
        for pick in picks:
            self.recommendations_served.labels(pick.slot.value).inc()

    def feedback(self, action: str, outcome: Feedback) -> None:
        """Count one ✅/⏭/🚫 tap: `action` is the button's `PickAction` value ("w", "s", "n")."""
        self.pick_feedback.labels(FEEDBACK_ACTIONS.get(action, "other"), outcome.value).inc()


#: The process's metrics, on REGISTRY: what the dispatcher and the Bot use unless given others.
METRICS = Metrics(REGISTRY, external=HTTP_METRICS)


# --- updates ---------------------------------------------------------------------------------


@dataclass
class _Probe:
    """Filled in by HandlerProbe deep inside aiogram's routing (where `data` is a copy), read by
    UpdateMetricsMiddleware outside it: the one object both see."""

    handler: str | None = None


class UpdateMetricsMiddleware(BaseMiddleware):
    """Counts every update and times it (outer middleware on `dp.update`; see the module
    docstring). Reads `metrics` from the workflow data, so a test can pass its own to
    `feed_update`. Never changes what happens to the update: exceptions pass through."""

    PROBE_KEY = "metrics_probe"

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        metrics: Metrics = data["metrics"]
        probe = data[self.PROBE_KEY] = _Probe()
        started = time.perf_counter()
        update_type = event.event_type
        outcome = "error"
        try:
            result = await handler(event, data)
            outcome = "ignored" if result is UNHANDLED or probe.handler is None else "ok"
            return result
        finally:
            name = probe.handler or "none"
            metrics.updates.labels(update_type, name, outcome).inc()
            if probe.handler is not None:
                metrics.update_duration.labels(update_type, name).observe(time.perf_counter() - started)


class HandlerProbe(BaseMiddleware):
    """Inner middleware for every event observer of the dispatcher: records the name of the
    handler aiogram chose (`data["handler"]`, an aiogram `HandlerObject`) for
    UpdateMetricsMiddleware."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        probe: _Probe | None = data.get(UpdateMetricsMiddleware.PROBE_KEY)
        chosen: HandlerObject | None = data.get("handler")
        if probe is not None and chosen is not None:
            probe.handler = getattr(chosen.callback, "__name__", type(chosen.callback).__name__)
        return await handler(event, data)


# --- Bot API ---------------------------------------------------------------------------------


class BotAPIMetricsMiddleware(BaseRequestMiddleware):
    """Counts and times every Bot API call attempt by method and result (a request middleware:
    `bot.session.middleware(BotAPIMetricsMiddleware(metrics))`). Register it after
    `bot.flood.FloodControlMiddleware`, so it sees each attempt, retries included."""

    def __init__(self, metrics: Metrics = METRICS) -> None:
        self.metrics = metrics

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        started = time.perf_counter()
        result = "error"
        try:
            response = await make_request(bot, method)
            result = "ok"
            return response
        except TelegramRetryAfter:
            result = "retry_after"
            raise
        except TelegramForbiddenError:
            result = "forbidden"
            raise
        finally:
            self.metrics.bot_api_requests.labels(name, result).inc()
            self.metrics.bot_api_duration.labels(name).observe(time.perf_counter() - started)


# --- the job queue, read at scrape time ------------------------------------------------------

#: procrastinate's job statuses reported, and their names as labels.
JOB_STATUSES = {"todo": "queued", "doing": "running", "failed": "failed"}
IMPORT_STATUSES = ("queued", "running")

_JOBS_SQL = text(
    "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs "
    "WHERE status IN ('todo', 'doing', 'failed') GROUP BY 1, 2"
)
_IMPORTS_SQL = text("SELECT status, count(*) FROM imports WHERE status IN ('queued', 'running') GROUP BY 1")


@dataclass
class _Snapshot:
    jobs: dict[tuple[str, str], int] = field(default_factory=dict)
    imports: dict[str, int] = field(default_factory=dict)


class QueueCollector(Collector):
    """`wtw_jobs{queue, status}` and `wtw_imports{status}`, read from PostgreSQL.

    prometheus_client calls `collect()` synchronously while rendering a scrape, and the
    database is async here: `refresh()` (awaited by the `/metrics` route just before rendering,
    see `bot.observability`) runs the two counting queries, at most `timeout` seconds in all,
    and `collect()` reports what it read. When the database did not answer, `refresh()` logs a
    warning (once per outage) and `collect()` reports nothing for these gauges, so the rest of
    the scrape still succeeds. A snapshot older than `max_age` seconds is not reported either
    (a registry scraped some other way, without `refresh`).

    `queues` are always reported (0 when empty), so a quiet queue's series do not vanish.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        queues: Sequence[str] = (),
        timeout: float = 1.0,
        max_age: float = 60.0,
    ) -> None:
        self.engine = engine
        self.queues = tuple(queues)
        self.timeout = timeout
        self.max_age = max_age
        self._snapshot: _Snapshot | None = None
        self._taken_at = 0.0
        self._failing = False

    async def refresh(self) -> bool:
        """Read the counts now; False (and nothing reported) when the database did not answer
        within `timeout` seconds. Never raises (cancellation aside)."""
        snapshot = _Snapshot()
        try:
            async with asyncio.timeout(self.timeout), self.engine.connect() as conn:
                for queue, status, count in await conn.execute(_JOBS_SQL):
                    snapshot.jobs[(queue, JOB_STATUSES[status])] = int(count)
                for status, count in await conn.execute(_IMPORTS_SQL):
                    snapshot.imports[status] = int(count)
        except Exception as exc:  # down, slow, or not migrated: the scrape goes on without them
            self._snapshot = None
            if not self._failing:
                log.warning("metrics_queue_read_failed", error=type(exc).__name__)
            self._failing = True
            return False
        if self._failing:
            log.info("metrics_queue_read_recovered")
        self._failing = False
        self._snapshot = snapshot
        self._taken_at = time.monotonic()
        return True

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The names only (so the registry detects clashes without querying anything)."""
        yield from self._families(_Snapshot())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snapshot = self._snapshot
        if snapshot is None or time.monotonic() - self._taken_at > self.max_age:
            return
        yield from self._families(snapshot)

    def _families(self, snapshot: _Snapshot) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily(
            "wtw_jobs",
            "Background jobs by queue and status (queued, running, failed).",
            labels=["queue", "status"],
        )
        counts = {(queue, status): 0 for queue in self.queues for status in JOB_STATUSES.values()}
        counts.update(snapshot.jobs)
        for (queue, status), count in sorted(counts.items()):
            jobs.add_metric([queue, status], count)
        yield jobs
        imports = GaugeMetricFamily("wtw_imports", "Letterboxd imports queued or running.", labels=["status"])
        for status in IMPORT_STATUSES:
            imports.add_metric([status], snapshot.imports.get(status, 0))
        yield imports
