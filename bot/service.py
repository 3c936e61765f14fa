"""Running as a service: the start-up Bot API calls (one replica at a time), the webhook
server or long polling, and the graceful stop on SIGTERM / SIGINT.

`run_service` is what `python -m bot run` calls with a token. Webhook mode
(`TELEGRAM_WEBHOOK_URL`) serves bot.web's aiohttp app: the webhook route, `/healthz`, and
bot.observability's `/readyz` and `/metrics`; long polling serves the same three on
`HTTP_HOST`:`HTTP_PORT` when `HTTP_PORT` is set. Any number of replicas share PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import signal
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, Final

import structlog
from aiogram import Bot, Dispatcher
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.types import BotCommand, BotCommandScopeAllGroupChats
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import lazy_gettext as __
from aiohttp import web
from sqlalchemy import func, select, text
from yarl import URL

from bot.app import App, BackgroundWorker, background_worker
from bot.observability import serve_ops
from bot.profile_setup import set_bot_profile
from bot.web import UPDATE_GATE, WEBHOOK_PATH_PREFIX, build_web_app, webhook_url

log = structlog.get_logger(__name__)


#: The command menu: (command, description). Descriptions are gettext messages, so the menu is
#: set once per language (`set_bot_commands`).
BOT_COMMANDS = (
    ("recommend", __("Three films picked for you")),
    ("review", __("Rate and review a film")),
    ("similar", __("Films like one you name")),
    ("watchlist", __("Films you saved for later")),
    ("ratings", __("Your ratings: change or delete one")),
    ("settings", __("Filters every pick follows")),
    ("country", __("Your country, for where to watch")),
    ("services", __("The streaming services you pay for")),
    ("avoid", __("Topics to show less of")),
    ("import", __("Import your Letterboxd or IMDb export")),
    ("profile", __("Your taste in words and a picture")),
    ("export", __("All your data as a CSV file")),
    ("forget", __("Delete everything I know about you")),
    ("language", __("Choose my language")),
    ("myid", __("Your Telegram id")),
    ("cancel", __("Leave the current step")),
    ("help", __("What I can do")),
)


#: The menu in group chats (watch together; everything else is private: bot/handlers/group.py).
GROUP_COMMANDS = (
    ("together", __("Choose a film together")),
    ("join", __("Be in every round of this group")),
    ("leave", __("Stop being in this group's rounds")),
    ("help", __("What I can do here")),
)


def bot_commands(
    i18n: I18n, locale: str, commands: Sequence[tuple[str, Any]] = BOT_COMMANDS
) -> list[BotCommand]:
    """The command menu (`commands`: BOT_COMMANDS or GROUP_COMMANDS) in `locale`."""
    with i18n.context(), i18n.use_locale(locale):
        return [BotCommand(command=command, description=str(text)) for command, text in commands]


async def set_bot_commands(bot: Bot, i18n: I18n) -> None:
    """The menus in English for everyone, and in each translated language (es, pt, ru) for
    Telegram clients set to it (setMyCommands `language_code`): BOT_COMMANDS by default and
    GROUP_COMMANDS in group chats (scope all_group_chats)."""
    groups = BotCommandScopeAllGroupChats()
    for locale in (None, *sorted(i18n.available_locales)):
        menu_locale = locale or i18n.default_locale
        await bot.set_my_commands(bot_commands(i18n, menu_locale), language_code=locale)
        await bot.set_my_commands(
            bot_commands(i18n, menu_locale, GROUP_COMMANDS), scope=groups, language_code=locale
        )


# --- running as a service: long polling or webhook, one setup across replicas, graceful stop ---

#: Seconds a replica waits for another one to finish the start-up Bot API calls.
SETUP_LOCK_TIMEOUT_SECONDS: Final = 60


def setup_lock_id(bot_id: int) -> int:
    """The advisory-lock id that serialises the start-up Bot API calls of one bot across
    replicas: a signed 64-bit BLAKE2b hash of the bot id (apart from bot.fsm's chat locks)."""
    raw = f"whattowatch:telegram-setup:{bot_id}".encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big", signed=True)


@dataclass(frozen=True, slots=True)
class TelegramSetup:
    """What `configure_telegram` changed: `commands` menus set (of 1 + translated languages),
    `profile_texts` descriptions and short descriptions set (`bot.profile_setup`),
    whether it called setWebhook (`webhook_set`) or deleteWebhook (`webhook_deleted`)."""

    commands: int
    profile_texts: int
    webhook_set: bool
    webhook_deleted: bool


async def configure_telegram(app: App, bot: Bot, *, webhook: str | None) -> TelegramSetup:
    """The start-up Bot API calls, made by one replica at a time and only where Telegram's
    state differs: the command menu per language (setMyCommands where getMyCommands differs),
    the bot's description and short description per language (`set_bot_profile`), and
    either the webhook (`webhook`, the full URL: setWebhook with TELEGRAM_WEBHOOK_SECRET as
    `secret_token` and the dispatcher's update types as `allowed_updates`, unless
    getWebhookInfo shows both already) or, for long polling (`webhook` None), no webhook.

    Replicas serialise on a PostgreSQL transaction-level advisory lock (`setup_lock_id`,
    `pg_advisory_xact_lock` on a connection of the main pool, released when its transaction
    ends, or when a dead process's connection closes); the first one sets things up, the
    others find them set and change nothing. So with any number of replicas starting at once,
    setWebhook and setMyCommands are called once. getWebhookInfo never shows the secret, but
    the webhook's path is derived from it (bot.web.webhook_path): the same URL means the same
    secret, and a new secret means a new URL, which is set.

    Raises:
        sqlalchemy.exc.DBAPIError: the lock was not granted within SETUP_LOCK_TIMEOUT_SECONDS,
            or the database failed.
        aiogram.exceptions.TelegramAPIError: Telegram refused a call (a bad webhook URL).
    """
    i18n: I18n = app.dispatcher["i18n"]
    allowed = sorted(app.dispatcher.resolve_used_update_types())
    async with app.engine.connect() as conn, conn.begin():
        await conn.execute(text(f"SET LOCAL lock_timeout = '{SETUP_LOCK_TIMEOUT_SECONDS}s'"))
        await conn.execute(select(func.pg_advisory_xact_lock(setup_lock_id(bot.id))))
        commands = 0
        for locale in (None, *sorted(i18n.available_locales)):
            wanted = bot_commands(i18n, locale or i18n.default_locale)
            current = await bot.get_my_commands(language_code=locale)
            if [(c.command, c.description) for c in current] != [(c.command, c.description) for c in wanted]:
                await bot.set_my_commands(wanted, language_code=locale)
                commands += 1
        profile = await set_bot_profile(bot, i18n)
        info = await bot.get_webhook_info()
        webhook_set = webhook_deleted = False
        if webhook is not None and (info.url != webhook or sorted(info.allowed_updates or []) != allowed):
            secret = app.settings.telegram.webhook_secret
            assert secret is not None  # settings require it with TELEGRAM_WEBHOOK_URL
            await bot.set_webhook(webhook, secret_token=secret.get_secret_value(), allowed_updates=allowed)
            webhook_set = True
        elif webhook is None and info.url:
            await bot.delete_webhook(drop_pending_updates=False)
            webhook_deleted = True
    setup = TelegramSetup(commands, profile, webhook_set, webhook_deleted)
    log.info(
        "telegram_configured",
        mode="webhook" if webhook else "polling",
        commands_set=commands,
        profile_texts_set=profile,
        webhook_set=webhook_set,
        webhook_deleted=webhook_deleted,
        allowed_updates=allowed,
    )
    return setup


async def run_service(app: App, bot: Bot) -> None:
    """`python -m bot run` with a token: webhook mode with TELEGRAM_WEBHOOK_URL, else long
    polling; the in-process worker (WORKER_IN_PROCESS) beside it; until SIGTERM or SIGINT.

    Then, within SHUTDOWN_TIMEOUT_SECONDS: no new updates are taken (the webhook answers 503,
    polling stops fetching), the updates in flight finish, the worker's jobs finish or go
    back to the queue; updates still running at the deadline are cancelled (webhook: answered
    503, so Telegram redelivers them; polling: Telegram has them confirmed, they are logged
    as lost). Returns normally (the caller exits 0); the pools close after it (`open_app`).
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def requested(sig: signal.Signals) -> None:
        log.info("shutdown_requested", signal=sig.name, again=stop.is_set())
        stop.set()

    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, requested, sig)
    try:
        async with bot, background_worker(app, bot) as worker:
            if app.settings.telegram.webhook_url is not None:
                await run_webhook(app, bot, stop=stop, worker=worker)
            else:
                await run_polling(app, bot, stop=stop, worker=worker)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def run_webhook(app: App, bot: Bot, *, stop: asyncio.Event, worker: BackgroundWorker) -> None:
    """Serve bot.web's app on HTTP_HOST:HTTP_PORT, set the webhook (`configure_telegram`),
    wait for `stop`, then shut down gracefully (see `run_service`)."""
    cfg = app.settings.telegram
    assert cfg.webhook_url is not None and cfg.webhook_secret is not None
    secret = cfg.webhook_secret.get_secret_value()
    web_app = build_web_app(app.dispatcher, bot, webhook_secret=secret, engine=app.engine)
    gate = web_app[UPDATE_GATE]
    # the gate has drained (or abandoned) every update before cleanup: nothing is left to wait for
    runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, app.settings.http.host, app.settings.http.webhook_port)
        await site.start()  # listen before setWebhook: Telegram may post at once
        host, port = runner.addresses[0][:2]
        log.info("http_listening", host=host, port=port, webhook_path_prefix=WEBHOOK_PATH_PREFIX)
        await configure_telegram(app, bot, webhook=webhook_url(cfg.webhook_url, secret))
        await stop.wait()
        started = time.perf_counter()
        deadline = app.settings.bot.shutdown_timeout_seconds
        gate.close()
        log.info("shutdown_started", mode="webhook", updates_in_flight=gate.in_flight)
        left, _ = await asyncio.gather(gate.wait_idle(deadline), worker.stop())
        if left:
            await gate.abandon()
        log.info(
            "shutdown_drained",
            mode="webhook",
            updates_abandoned=left,
            seconds=round(time.perf_counter() - started, 2),
        )
    finally:
        await runner.cleanup()


async def run_polling(
    app: App, bot: Bot, *, stop: asyncio.Event | None = None, worker: BackgroundWorker | None = None
) -> None:
    """Long polling (`bot` from make_bot) until `stop` is set (never, without one), then a
    graceful stop (see `run_service`): aiogram's `stop_polling` ends the fetching, and the
    updates it started finish first — before the dispatcher's shutdown closes the FSM."""
    async with AsyncExitStack() as stack:
        if app.settings.http.port is not None:
            url = await stack.enter_async_context(
                serve_ops(app.settings.http.host, app.settings.http.port, engine=app.engine)
            )
            where = URL(url)
            log.info(
                "http_listening", host=where.host, port=where.port, routes=["/healthz", "/readyz", "/metrics"]
            )
        await _poll(app, bot, stop=stop, worker=worker)


async def _poll(app: App, bot: Bot, *, stop: asyncio.Event | None, worker: BackgroundWorker | None) -> None:
    dp = app.dispatcher
    await configure_telegram(app, bot, webhook=None)
    tasks = _polling_update_tasks(dp)
    deadline: list[float] = []  # set when the stop is requested

    async def drain_updates() -> None:
        """First shutdown handler (aiogram's FSM close comes after it): wait for the updates
        being handled, until the deadline; cancel what is left."""
        pending = set(tasks)
        log.info("shutdown_started", mode="polling", updates_in_flight=len(pending))
        left = deadline[0] - time.monotonic() if deadline else app.settings.bot.shutdown_timeout_seconds
        if pending:
            _, pending = await asyncio.wait(pending, timeout=max(left, 0.0))
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2.0)
            # getUpdates confirmed these when it fetched the next batch: Telegram will not resend them
            log.warning("updates_lost_at_shutdown", count=len(pending))

    drain = HandlerObject(callback=drain_updates)
    dp.shutdown.handlers.insert(0, drain)
    polling = asyncio.create_task(
        dp.start_polling(
            bot,
            allowed_updates=dp.resolve_used_update_types(),
            handle_signals=False,  # run_service owns SIGTERM / SIGINT
            close_bot_session=False,  # in-flight updates and the worker still need it
        ),
        name="polling",
    )
    stopping = asyncio.ensure_future(stop.wait() if stop is not None else asyncio.Future[None]())
    try:
        await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if polling.done():
            polling.result()  # polling never ends by itself: re-raise what ended it
            return
        started = time.perf_counter()
        deadline.append(time.monotonic() + app.settings.bot.shutdown_timeout_seconds)
        await asyncio.gather(_stop_polling(dp, polling), worker.stop() if worker else asyncio.sleep(0))
        log.info("shutdown_drained", mode="polling", seconds=round(time.perf_counter() - started, 2))
    finally:
        stopping.cancel()
        if not polling.done():
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
        dp.shutdown.handlers.remove(drain)


async def _stop_polling(dp: Dispatcher, polling: asyncio.Task[None]) -> None:
    try:
        await dp.stop_polling()
    except RuntimeError:  # the stop came before polling had started: nothing was fetched yet
        polling.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await polling


def _polling_update_tasks(dp: Dispatcher) -> set[asyncio.Task[Any]]:
    """The tasks aiogram's polling runs updates in (`handle_as_tasks`): aiogram 3.31 keeps them
    in `Dispatcher._handle_update_tasks` and offers no public way to wait for them. Checked
    here, so an aiogram that changes it fails at start, not at the first shutdown."""
    tasks = getattr(dp, "_handle_update_tasks", None)
    if not isinstance(tasks, set):
        raise RuntimeError("this aiogram keeps no _handle_update_tasks: graceful polling stop needs updating")
    return tasks
