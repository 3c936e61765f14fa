"""The load bench's floor: a bare aiogram webhook bot (`python -m bench.bare_bot`).

One handler answers every message with one sendMessage, another every callback query with
answerCallbackQuery; no database, no middlewares of ours. `bench/load.py --global-rates bare`
runs two of these as its replicas, so the table shows what the harness (the fake Bot API, the
load balancer, aiohttp and aiogram's dispatcher) sustains on this machine without the bot's
own work. Settings come from the environment as for `python -m bot run`:
TELEGRAM_BOT_TOKEN, TELEGRAM_API_BASE_URL, TELEGRAM_WEBHOOK_URL, TELEGRAM_WEBHOOK_SECRET,
HTTP_HOST and HTTP_PORT. It serves GET /healthz and /readyz (always 200) and an empty /metrics.
"""

from __future__ import annotations

import os

import uvloop
from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.web import webhook_path, webhook_url

router = Router(name=__name__)


@router.message()
async def on_message(message: Message) -> None:
    await message.answer("ok")


@router.callback_query()
async def on_tap(query: CallbackQuery) -> None:
    await query.answer()


async def ok(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def no_metrics(_request: web.Request) -> web.Response:
    return web.Response(text="")


def main() -> None:
    secret = os.environ["TELEGRAM_WEBHOOK_SECRET"]
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_BASE_URL"]))
    bot = Bot(os.environ["TELEGRAM_BOT_TOKEN"], session=session)
    dispatcher = Dispatcher()
    dispatcher.include_router(router)

    async def set_webhook(bot: Bot) -> None:
        await bot.set_webhook(webhook_url(os.environ["TELEGRAM_WEBHOOK_URL"], secret), secret_token=secret)

    dispatcher.startup.register(set_webhook)
    app = web.Application()
    app.router.add_get("/healthz", ok)
    app.router.add_get("/readyz", ok)
    app.router.add_get("/metrics", no_metrics)
    SimpleRequestHandler(dispatcher, bot, handle_in_background=False, secret_token=secret).register(
        app, path=webhook_path(secret)
    )
    setup_application(app, dispatcher, bot=bot)
    web.run_app(  # on uvloop, as `python -m bot run` is (bot.cli)
        app,
        loop=uvloop.new_event_loop(),
        host=os.environ.get("HTTP_HOST", "127.0.0.1"),
        port=int(os.environ["HTTP_PORT"]),
        print=None,
    )


if __name__ == "__main__":
    main()
