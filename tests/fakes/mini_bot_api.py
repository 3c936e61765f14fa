"""A minimal fake Bot API on loopback, for flood-control and metrics tests: enough of
https://core.telegram.org/bots/api for a real aiogram Bot (`AiohttpSession` pointed at it with
`TelegramAPIServer.from_base(server.base_url)`) to send messages, get flood-controlled and be
blocked.

- Every method answers `ok` (sendMessage, editMessageText, sendDocument… with a Message;
  getMe with a User; anything else with `true`).
- `flood(n, retry_after)`: the next `n` sendMessage calls answer HTTP 429 with
  `parameters.retry_after` (https://core.telegram.org/bots/api#responseparameters).
- `blocked`: chat ids whose sends answer HTTP 403 "Forbidden: bot was blocked by the user".
- answerCallbackQuery answers once per query id; again, HTTP 400 "Bad Request: query is too
  old and response timeout expired or query ID is invalid" (as Telegram does).
- `calls`: (method, chat_id or None, time.monotonic()) of every request, in arrival order.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from tests.fakes.loopback import LoopbackServer

MESSAGE_METHODS = {"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendDocument", "sendPhoto"}


class MiniBotAPI(LoopbackServer):
    label = "mini Bot API"

    def __init__(self) -> None:
        super().__init__()
        self.blocked: set[int] = set()
        self.calls: list[tuple[str, int | None, float]] = []
        self._flood_left = 0
        self._retry_after = 1
        self._message_id = 0
        self._answered: set[str] = set()

    def flood(self, times: int, retry_after: int = 1) -> None:
        self._flood_left = times
        self._retry_after = retry_after

    def count(self, method: str) -> int:
        return sum(1 for name, _, _ in self.calls if name == method)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/bot{token}/{method}", self._method)]

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        return await handler(request)

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        form = await request.post()
        raw_chat = form.get("chat_id")
        chat_id = int(str(raw_chat)) if raw_chat is not None else None
        self.calls.append((method, chat_id, time.monotonic()))
        if chat_id is not None and chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        if method == "sendMessage" and self._flood_left > 0:
            self._flood_left -= 1
            return _error(
                429,
                f"Too Many Requests: retry after {self._retry_after}",
                parameters={"retry_after": self._retry_after},
            )
        if method == "answerCallbackQuery":
            query = str(form.get("callback_query_id"))
            if query in self._answered:
                return _error(
                    400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
                )
            self._answered.add(query)
        if method == "getMe":
            return _ok({"id": 1, "is_bot": True, "first_name": "Fake", "username": "fake_bot"})
        if method in MESSAGE_METHODS:
            self._message_id += 1
            return _ok(
                {
                    "message_id": self._message_id,
                    "date": int(time.time()),
                    "chat": {"id": chat_id or 0, "type": "private" if (chat_id or 0) > 0 else "group"},
                    "text": str(form.get("text", "")),
                }
            )
        return _ok(True)


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, **extra: Any) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": status, "description": description, **extra}, status=status
    )
