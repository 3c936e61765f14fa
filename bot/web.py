"""The HTTP side of `python -m bot run` in webhook mode: aiogram's aiohttp webhook handler,
`GET /healthz`, bot.observability's `GET /readyz` and `GET /metrics`, and the gate that closes
on shutdown.

- Telegram POSTs each update to `TELEGRAM_WEBHOOK_URL` + :func:`webhook_path`, a path
  derived from the secret (`/telegram/<first 32 hex digits of sha256(secret)>`): it names
  the route without revealing the secret, and a new secret moves the route.
- aiogram's `SimpleRequestHandler` (`aiogram.webhook.aiohttp_server`) compares the
  `X-Telegram-Bot-Api-Secret-Token` header with the secret (`secrets.compare_digest`) and
  answers 401 before it reads the body; only then is the update parsed and fed to the
  dispatcher.
- `handle_in_background=False`: Telegram gets its answer only after the update was handled
  (committed). A process that dies mid-update never answers, so Telegram delivers the update
  again (to another replica behind the same URL); handlers take a second delivery once
  (the review draft keeps message ids). aiogram still answers early, and goes on in the
  background, for an update that takes over 55 s (`Dispatcher.feed_webhook_update`).
- :class:`UpdateGate` counts the updates in flight; on shutdown it answers new ones 503 (so
  Telegram retries them, by then on a replica that is up), waits for those in flight and,
  past the deadline, cancels the rest and answers them 503 too. Their transactions roll
  back, so the redelivery finds nothing half done.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Final

import structlog
from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.observability import add_ops_routes

log = structlog.get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Every webhook path starts with this; the rest comes from the secret (`webhook_path`).
WEBHOOK_PATH_PREFIX: Final = "/telegram/"


def webhook_path(secret: str) -> str:
    """`/telegram/<32 hex digits>`: the first 128 bits of sha256(secret), as hex."""
    return WEBHOOK_PATH_PREFIX + hashlib.sha256(secret.encode()).hexdigest()[:32]


def webhook_url(public_url: str, secret: str) -> str:
    """The URL given to setWebhook: `public_url` (TELEGRAM_WEBHOOK_URL, trailing slashes
    dropped) + `webhook_path(secret)`. A reverse proxy must pass the path on unchanged."""
    return public_url.rstrip("/") + webhook_path(secret)


class UpdateGate:
    """The webhook route's door: counts the requests in flight, and on `close()` answers new
    ones 503 with `Retry-After: 1` (Telegram retries). Other routes pass untouched.

    Use :attr:`middleware` as an aiohttp middleware of the app (`build_web_app` does).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.closed = False
        self._running: dict[asyncio.Task[web.StreamResponse], float] = {}  # handling task → started
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def in_flight(self) -> int:
        """Webhook requests being handled now."""
        return len(self._running)

    def close(self) -> None:
        """Stop taking updates: every webhook request from now on is answered 503."""
        self.closed = True

    async def wait_idle(self, seconds: float) -> int:
        """Wait up to `seconds` for the requests in flight to end; returns how many are left."""
        if self._running:
            try:
                async with asyncio.timeout(max(seconds, 0.0)):
                    await self._idle.wait()
            except TimeoutError:
                pass
        return self.in_flight

    async def abandon(self, seconds: float = 2.0) -> int:
        """Cancel the requests still in flight (each answers 503: Telegram redelivers it) and
        wait up to `seconds` for them to wind down. Returns how many were cancelled."""
        tasks = list(self._running)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=seconds)
        return len(tasks)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != self.path:
            return await handler(request)
        if self.closed:
            log.info("webhook_refused", status=503, reason="shutting_down")
            return _unavailable()
        started = time.perf_counter()
        # the handling runs as a task of its own, so `abandon` can stop it and still answer
        task = asyncio.ensure_future(handler(request))
        self._running[task] = started
        self._idle.clear()
        try:
            response = await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():  # this request itself was cancelled
                raise
            log.warning(
                "webhook_update_abandoned", update_id=await _update_id(request), status=503, reason="shutdown"
            )
            return _unavailable()
        except Exception as exc:  # aiohttp answers 500: Telegram redelivers
            log.error("webhook_update_failed", update_id=await _update_id(request), error=repr(exc))
            raise
        finally:
            del self._running[task]
            if not self._running:
                self._idle.set()
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        if response.status == 401:  # aiogram refused the secret; the body was never read
            log.warning("webhook_unauthorized", status=401, remote=request.remote)
        else:
            log.info(
                "webhook_update_answered",
                update_id=await _update_id(request),
                status=response.status,
                elapsed_ms=elapsed_ms,
            )
        return response


def _unavailable() -> web.Response:
    return web.json_response(
        {"ok": False, "description": "shutting down, retry"}, status=503, headers={"Retry-After": "1"}
    )


async def _update_id(request: web.Request) -> int | None:
    """The update id of a request whose body aiogram has read already (aiohttp keeps it)."""
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return None
    value = body.get("update_id") if isinstance(body, dict) else None
    return value if isinstance(value, int) else None


#: The app's UpdateGate (for routes that report readiness: closed → not ready).
UPDATE_GATE: Final = web.AppKey("update_gate", UpdateGate)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: 200 `{"status": "ok"}` while the process serves HTTP (also while it drains)."""
    return web.json_response({"status": "ok"})


def build_web_app(
    dispatcher: Dispatcher, bot: Bot, *, webhook_secret: str, engine: AsyncEngine | None = None
) -> web.Application:
    """The aiohttp app of webhook mode: POST `webhook_path(webhook_secret)` (aiogram's
    `SimpleRequestHandler`, handling before answering) behind an :class:`UpdateGate`
    (`app[UPDATE_GATE]`), `GET /healthz`, and with `engine`, bot.observability's `GET /readyz`
    (also not ready once the gate is closed: the load balancer stops sending) and
    `GET /metrics`. `setup_application` ties the dispatcher's startup and shutdown to the
    app's; the handler closes `bot`'s session on shutdown.

    Raises:
        ValueError: `webhook_secret` is empty.
    """
    if not webhook_secret:
        raise ValueError("webhook mode needs a secret")
    path = webhook_path(webhook_secret)
    gate = UpdateGate(path)
    web_app = web.Application(middlewares=[gate.middleware])
    web_app[UPDATE_GATE] = gate
    web_app.router.add_get("/healthz", healthz)
    SimpleRequestHandler(dispatcher, bot, handle_in_background=False, secret_token=webhook_secret).register(
        web_app, path=path
    )
    setup_application(web_app, dispatcher, bot=bot)
    if engine is not None:
        add_ops_routes(
            web_app,
            engine=engine,
            extra_checks={"updates": lambda: "shutting down" if gate.closed else "ok"},
        )
    return web_app
