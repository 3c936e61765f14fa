"""Prometheus metrics (bot/metrics.py, integrations/metrics.py): each on a fresh registry,
through the real dispatcher, a real aiogram Bot against a fake Bot API, the real TMDB and
OpenAI clients against their fakes, and the real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import procrastinate
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import DEMO_CATALOG
from bot.flood import install_request_middlewares
from bot.jobs import IMPORT_QUEUE, QUEUES, USER_QUEUE
from bot.metrics import Metrics, QueueCollector
from db.session import create_engine
from integrations.llm import OpenAIChatModel
from integrations.metrics import ExternalRequestMetrics
from integrations.tmdb import TMDBClient
from tests.bot.conftest import BotHarness
from tests.conftest import execute_sql
from tests.fakes.mini_bot_api import MiniBotAPI
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.tmdb_server import FakeTMDBServer


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


# --- updates ---------------------------------------------------------------------------------


async def test_an_update_is_counted_by_type_handler_and_outcome_and_timed(
    harness: BotHarness, metrics: Metrics
) -> None:
    harness.overrides["metrics"] = metrics
    chat = harness.chat(8001)
    await chat.say("/help")
    await chat.say("/help")
    assert value(metrics, "wtw_updates_total", update_type="message", handler="help_", outcome="ok") == 2
    count = value(metrics, "wtw_update_duration_seconds_count", update_type="message", handler="help_")
    total = value(metrics, "wtw_update_duration_seconds_sum", update_type="message", handler="help_")
    assert count == 2 and total > 0


async def test_picks_served_and_taps_are_counted(harness: BotHarness, metrics: Metrics) -> None:
    harness.overrides["metrics"] = metrics
    chat = harness.chat(8002)
    await chat.say("/recommend")
    await chat.tap("Show picks")  # a new user: onboarding, then three picks
    for slot in ("safe", "adjacent", "wildcard"):
        assert value(metrics, "wtw_recommendations_served_total", slot=slot) == 1
    assert (
        value(metrics, "wtw_updates_total", update_type="callback_query", handler="show_picks", outcome="ok")
        == 1
    )

    wildcard = next(
        m for m in chat.session.messages.values() if "Wildcard" in (m.text or "") and m.reply_markup
    )
    assert wildcard.reply_markup is not None
    [skip] = [b for row in wildcard.reply_markup.inline_keyboard for b in row if "Skip" in b.text]
    await chat.tap_data(skip.callback_data or "", message=wildcard)
    await chat.tap_data(skip.callback_data or "", message=wildcard)  # a second tap on a stale card
    assert value(metrics, "wtw_pick_feedback_total", action="skip", outcome="updated") == 1
    assert value(metrics, "wtw_pick_feedback_total", action="skip", outcome="already_done") == 1


async def test_an_update_nobody_handles_is_ignored(harness: BotHarness, metrics: Metrics) -> None:
    harness.overrides["metrics"] = metrics
    chat = harness.chat(8003)
    update = chat.updates.message(chat.user, "/help").model_copy(update={"update_id": 99_000})
    # an edited message: no handler is registered for edits
    edited = update.model_copy(update={"message": None, "edited_message": update.message})
    await harness.dp.feed_update(harness.bot, edited, **harness.overrides)
    assert (
        value(metrics, "wtw_updates_total", update_type="edited_message", handler="none", outcome="ignored")
        == 1
    )


# --- the Bot API -----------------------------------------------------------------------------


@pytest.fixture
async def api() -> AsyncIterator[MiniBotAPI]:
    async with MiniBotAPI() as server:
        yield server


@pytest.fixture
async def bot(api: MiniBotAPI, metrics: Metrics) -> AsyncIterator[Bot]:
    bot = Bot("42:TEST", session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))
    install_request_middlewares(bot, session_factory=None, metrics=metrics)
    yield bot
    await bot.session.close()


async def test_bot_api_calls_are_counted_by_method_and_result(
    api: MiniBotAPI, bot: Bot, metrics: Metrics
) -> None:
    api.flood(1, retry_after=1)
    await bot.send_message(8101, "hello")  # 429, waited, then sent
    await bot.get_me()
    assert value(metrics, "wtw_bot_api_requests_total", method="sendMessage", result="retry_after") == 1
    assert value(metrics, "wtw_bot_api_requests_total", method="sendMessage", result="ok") == 1
    assert value(metrics, "wtw_bot_api_requests_total", method="getMe", result="ok") == 1
    assert value(metrics, "wtw_bot_api_request_duration_seconds_count", method="sendMessage") == 2

    api.blocked.add(8102)
    with pytest.raises(Exception, match="blocked"):
        await bot.send_message(8102, "hello")
    assert value(metrics, "wtw_bot_api_requests_total", method="sendMessage", result="forbidden") == 1


async def test_a_refused_reply_counts_the_update_as_an_error(
    api: MiniBotAPI, bot: Bot, harness: BotHarness, metrics: Metrics
) -> None:
    harness.overrides["metrics"] = metrics
    chat = harness.chat(8103)
    api.blocked.add(8103)
    await harness.dp.feed_update(bot, chat.updates.message(chat.user, "/help"), **harness.overrides)
    assert value(metrics, "wtw_updates_total", update_type="message", handler="help_", outcome="error") == 1
    assert value(metrics, "wtw_bot_api_requests_total", method="sendMessage", result="forbidden") == 1


# --- TMDB and OpenAI -------------------------------------------------------------------------


async def test_tmdb_requests_are_counted_by_route_template_and_status() -> None:
    registry = CollectorRegistry()
    external = ExternalRequestMetrics(registry)
    async with (
        FakeTMDBServer(DEMO_CATALOG) as server,
        TMDBClient(base_url=server.base_url, api_key="k", max_attempts=1, metrics=external) as tmdb,
    ):
        await tmdb.search("Alien", year=1979)
        await tmdb.details([348, 9_999_999])  # the second is unknown: 404
        await tmdb.related(348, "similar")

    def count(endpoint: str, status: str) -> float | None:
        labels = {"service": "tmdb", "endpoint": endpoint, "status": status}
        return registry.get_sample_value("wtw_external_requests_total", labels)

    assert count("/search/movie", "200") == 1
    assert count("/genre/movie/list", "200") == 1
    assert count("/movie/{id}", "200") == 1
    assert count("/movie/{id}", "404") == 1
    assert count("/movie/{id}/similar", "200") == 1
    latency = {"service": "tmdb", "endpoint": "/movie/{id}"}
    assert registry.get_sample_value("wtw_external_request_duration_seconds_count", latency) == 2
    text = generate_latest(registry).decode()
    assert "/movie/348" not in text and "9999999" not in text  # templates only, never raw paths


async def test_tmdb_requests_without_an_answer_are_counted_as_errors(unused_tcp_port: int) -> None:
    registry = CollectorRegistry()
    external = ExternalRequestMetrics(registry)
    async with TMDBClient(
        base_url=f"http://127.0.0.1:{unused_tcp_port}/3",
        api_key="k",
        max_attempts=2,
        backoff_multiplier=0.001,
        metrics=external,
    ) as tmdb:
        with pytest.raises(Exception, match="gave up"):
            await tmdb.search("Alien")
    labels = {"service": "tmdb", "endpoint": "/search/movie", "status": "error"}
    assert registry.get_sample_value("wtw_external_requests_total", labels) == 2


class Answer(BaseModel):
    text: str


async def test_openai_requests_are_counted_by_endpoint_and_status() -> None:
    registry = CollectorRegistry()
    external = ExternalRequestMetrics(registry)
    async with (
        FakeOpenAIServer(api_key="sk-test") as server,
        OpenAIChatModel(
            api_key="sk-test", base_url=server.base_url, backoff_multiplier=0, metrics=external
        ) as model,
    ):
        await model.structured(system="Be brief.", user="Say hi.", schema=Answer)
    labels = {"service": "openai", "endpoint": "/chat/completions", "status": "200"}
    assert registry.get_sample_value("wtw_external_requests_total", labels) == 1
    latency = {"service": "openai", "endpoint": "/chat/completions"}
    assert registry.get_sample_value("wtw_external_request_duration_seconds_count", latency) == 1


# --- the job queue ---------------------------------------------------------------------------


async def test_queue_gauges_are_read_from_the_database(
    engine: AsyncEngine, job_app: procrastinate.App, database_url: str
) -> None:
    await execute_sql(
        database_url,
        "INSERT INTO procrastinate_jobs (queue_name, task_name, status) VALUES "
        "($1, 't', 'todo'), ($1, 't', 'todo'), ($2, 't', 'doing'), ($2, 't', 'failed')",
        USER_QUEUE,
        IMPORT_QUEUE,
    )
    registry = CollectorRegistry()
    collector = QueueCollector(engine, queues=QUEUES)
    registry.register(collector)
    assert await collector.refresh()

    def gauge(queue: str, status: str) -> float | None:
        return registry.get_sample_value("wtw_jobs", {"queue": queue, "status": status})

    assert gauge(USER_QUEUE, "queued") == 2
    assert gauge(IMPORT_QUEUE, "running") == 1 and gauge(IMPORT_QUEUE, "failed") == 1
    assert gauge("bulk", "queued") == 0  # known queues are always there
    assert registry.get_sample_value("wtw_imports", {"status": "running"}) is not None


async def test_queue_gauges_are_left_out_when_the_database_is_down(unused_tcp_port: int) -> None:
    dead = create_engine(f"postgresql://postgres@127.0.0.1:{unused_tcp_port}/nothing", pool_size=1)
    try:
        registry = CollectorRegistry()
        collector = QueueCollector(dead, queues=QUEUES, timeout=1.0)
        registry.register(collector)
        assert not await collector.refresh()
        text = generate_latest(registry).decode()  # the scrape itself succeeds
        assert "wtw_jobs{" not in text and "wtw_imports{" not in text
    finally:
        await dead.dispose()
