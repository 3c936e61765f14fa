"""Webhook mode's settings and its update gate (the processes themselves: test_service_e2e.py)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.settings import SettingsError, load_settings
from bot.web import UpdateGate, webhook_path, webhook_url

TOKEN_VARS = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_URL",
    "TELEGRAM_WEBHOOK_SECRET",
    "TELEGRAM_API_BASE_URL",
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> pytest.MonkeyPatch:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # no .env
    for name in TOKEN_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def fake_token() -> str:
    return f"{secrets.randbelow(10**9) + 10**9}:{secrets.token_urlsafe(30)}"


def test_webhook_mode_needs_a_long_secret(env: pytest.MonkeyPatch) -> None:
    env.setenv("TELEGRAM_BOT_TOKEN", fake_token())
    env.setenv("TELEGRAM_WEBHOOK_URL", "https://bot.example.test/")
    with pytest.raises(SettingsError, match=r"TELEGRAM_WEBHOOK_SECRET: .*required"):
        load_settings()
    short = secrets.token_urlsafe(16)
    env.setenv("TELEGRAM_WEBHOOK_SECRET", short)
    with pytest.raises(SettingsError, match=r"TELEGRAM_WEBHOOK_SECRET: .*32 to 256") as caught:
        load_settings()
    assert short not in str(caught.value)
    env.setenv("TELEGRAM_WEBHOOK_SECRET", "has spaces " + secrets.token_urlsafe(32))
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_SECRET"):
        load_settings()
    secret = secrets.token_urlsafe(32)
    env.setenv("TELEGRAM_WEBHOOK_SECRET", secret)
    settings = load_settings()
    assert settings.telegram.webhook_url == "https://bot.example.test"
    assert settings.telegram.webhook_secret is not None
    assert settings.telegram.webhook_secret.get_secret_value() == secret and secret not in repr(settings)


def test_webhook_mode_needs_a_token_and_urls_are_checked(env: pytest.MonkeyPatch) -> None:
    env.setenv("TELEGRAM_WEBHOOK_URL", "https://bot.example.test")
    env.setenv("TELEGRAM_WEBHOOK_SECRET", secrets.token_urlsafe(32))
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_URL needs TELEGRAM_BOT_TOKEN"):
        load_settings()
    env.setenv("TELEGRAM_BOT_TOKEN", fake_token())
    env.setenv("TELEGRAM_WEBHOOK_URL", "bot.example.test?x=1")
    env.setenv("TELEGRAM_API_BASE_URL", "ftp://api.example.test")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "TELEGRAM_WEBHOOK_URL" in str(caught.value) and "TELEGRAM_API_BASE_URL" in str(caught.value)


def test_defaults_are_polling_on_the_real_api(env: pytest.MonkeyPatch) -> None:
    env.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:8081/")
    settings = load_settings()
    assert settings.telegram.webhook_url is None and settings.telegram.webhook_secret is None
    assert settings.telegram.api_base_url == "http://127.0.0.1:8081"
    assert (settings.http.host, settings.http.port, settings.bot.shutdown_timeout_seconds) == (
        "0.0.0.0",
        None,  # polling serves no HTTP unless HTTP_PORT is set
        25,
    )
    assert settings.http.webhook_port == 8080
    env.delenv("TELEGRAM_API_BASE_URL")
    assert load_settings().telegram.api_base_url == "https://api.telegram.org"


def test_the_webhook_path_names_the_secret_without_showing_it() -> None:
    secret, other = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    path = webhook_path(secret)
    assert path.startswith("/telegram/") and len(path) == len("/telegram/") + 32
    assert secret not in path and path == webhook_path(secret) != webhook_path(other)
    assert webhook_url("https://bot.example.test/", secret) == "https://bot.example.test" + path


# --- the gate


@pytest.fixture
async def gated() -> AsyncIterator[tuple[UpdateGate, str, asyncio.Event, asyncio.Event]]:
    """A gate in front of a handler that sets `entered` and waits for `release` (an update
    being handled)."""
    entered, release = asyncio.Event(), asyncio.Event()
    gate = UpdateGate("/hook")

    async def slow(request: web.Request) -> web.Response:
        await request.read()
        entered.set()
        await release.wait()
        return web.json_response({})

    async def other(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(middlewares=[gate.middleware])
    app.router.add_post("/hook", slow)
    app.router.add_get("/healthz", other)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield gate, f"http://{host}:{port}", entered, release
    finally:
        release.set()
        await runner.cleanup()


async def test_a_closed_gate_answers_503_and_waits_for_the_updates_in_flight(
    gated: tuple[UpdateGate, str, asyncio.Event, asyncio.Event],
) -> None:
    gate, base, entered, release = gated
    async with aiohttp.ClientSession() as http:
        in_flight = asyncio.create_task(http.post(base + "/hook", json={"update_id": 1}))
        await asyncio.wait_for(entered.wait(), 5)
        assert gate.in_flight == 1
        gate.close()
        async with http.post(base + "/hook", json={"update_id": 2}) as refused:
            assert refused.status == 503 and refused.headers["Retry-After"] == "1"
        async with http.get(base + "/healthz") as health:  # other routes pass
            assert health.status == 200
        assert await gate.wait_idle(0.2) == 1  # still handling: the deadline passes
        release.set()
        assert await gate.wait_idle(5) == 0
        async with await in_flight as response:
            assert response.status == 200


async def test_abandoned_updates_are_answered_503(
    gated: tuple[UpdateGate, str, asyncio.Event, asyncio.Event],
) -> None:
    gate, base, entered, _ = gated
    async with aiohttp.ClientSession() as http:
        in_flight = asyncio.create_task(http.post(base + "/hook", json={"update_id": 3}))
        await asyncio.wait_for(entered.wait(), 5)
        assert gate.in_flight == 1
        gate.close()
        assert await gate.abandon() == 1
        async with await in_flight as response:
            assert response.status == 503  # Telegram will deliver it again
        assert gate.in_flight == 0
