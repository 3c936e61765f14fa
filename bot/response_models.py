"""Keeping aiogram's parsed-answer models alive between Bot API calls.

aiogram parses every Bot API answer with `Response[method.__returning__]`
(`aiogram.client.session.base.BaseSession.check_response`): a pydantic generic model
parametrized at run time. pydantic caches parametrized generic models only weakly
(`pydantic._internal._generics`: a `WeakValueDictionary`), and nothing else holds them, so a
garbage collection drops the model and the next call builds it again: about 11 ms of CPU for
`Response[Message]` on this machine, per call, once collections run as often as they do in a
busy replica (a py-spy profile of a loaded replica had 11–12 % of its samples there).
`ResponseModelsMiddleware` holds one reference per Bot API method type the bot has called, so
every call after the first finds its model in pydantic's cache.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType


class ResponseModelsMiddleware(BaseRequestMiddleware):
    """A request middleware (`bot.session.middleware(...)`, see
    `bot.flood.install_request_middlewares`) that holds `Response[T]` of each method type it
    sees, for the process's life (one small class per method type the bot uses)."""

    def __init__(self) -> None:
        self._held: dict[type, type] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        kind = type(method)
        if kind not in self._held:
            self._held[kind] = Response[method.__returning__]  # type: ignore[name-defined]
        return await make_request(bot, method)
