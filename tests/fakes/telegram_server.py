"""A fake Telegram Bot API on loopback (aiohttp), answering the methods this bot uses.

It speaks the wire format of https://core.telegram.org/bots/api: requests to
`/bot<token>/<method>` (method names case-insensitive) with a query string, a JSON body, a
urlencoded or a multipart form (what aiogram's `AiohttpSession` sends: strings as they are,
other values JSON-encoded, uploads as `attach://<name>` parts); answers
`{"ok": true, "result": …}` or `{"ok": false, "error_code", "description"[, "parameters"]}`.
Pointing `TELEGRAM_API_BASE_URL` (aiogram's `TelegramAPIServer.from_base`) at
:attr:`FakeTelegramServer.base_url` is the only difference for the bot. Any token shaped
`<digits>:<secret>` is a bot of its own (its id is the digits); each has its own state
(:class:`FakeBot`). Methods:

- getMe; setWebhook (`url`, `secret_token`, `allowed_updates`, `max_connections`,
  `drop_pending_updates`), deleteWebhook, getWebhookInfo (with `last_error_*` from failed
  deliveries); getUpdates (`offset` confirms every earlier update, `limit`, long polling
  `timeout` in seconds, `allowed_updates`; 409 while a webhook is set, and a newer
  getUpdates ends an older one with 409, as Telegram does to a second poller);
- sendMessage, editMessageText, editMessageReplyMarkup, editMessageCaption, deleteMessage,
  answerCallbackQuery (once per query), answerInlineQuery (`inline_answers`), sendChatAction,
  sendDocument, sendPhoto, getFile and file downloads at `/file/bot<token>/<file_path>`;
  setMyCommands / getMyCommands / deleteMyCommands (per scope and `language_code`),
  setMyDescription / getMyDescription, setMyShortDescription / getMyShortDescription.

Results are Bot API objects: messages carry `message_id` (one counter per chat, shared with
the user's messages as in Telegram), `from` (the bot), `chat`, `date`, the plain `text`
(HTML parse mode checked and rendered with `bot.console.html`, so bad HTML is the same
400 as in production) and the inline `reply_markup`. Errors are Telegram's texts ("Bad
Request: message is not modified: …", "Bad Request: chat not found", …).

This module holds :class:`FakeTelegramServer` (routing, recording and answering calls, the
method handlers, downloads) and the CLI; :mod:`tests.fakes.telegram_bot` one token's state
(:class:`FakeBot`: updates, webhook delivery, faults and holds); :mod:`tests.fakes.telegram_records`
the records, limits and wire format. By hand (then set `TELEGRAM_API_BASE_URL`; lines
typed as `<user id> <text>` are delivered as messages to the last bot that called)::

    python -m tests.fakes.telegram_server --port 8081
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from tests.fakes.loopback import LoopbackServer
from tests.fakes.telegram_bot import FakeBot
from tests.fakes.telegram_records import (
    CHAT_ACTIONS,
    COMMAND,
    DEFAULT_MAX_CONNECTIONS,
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_CAPTION_LENGTH,
    MAX_DOWNLOAD_BYTES,
    MAX_POLL_SECONDS,
    MAX_TEXT_LENGTH,
    NOT_MODIFIED,
    QUERY_INVALID,
    SECRET_TOKEN,
    TOKEN,
    WEBHOOK_PORTS,
    BotApiError,
    Call,
    Json,
    Webhook,
    allowed_updates,
    bad_request,
    commands_key,
    document_json,
    editable_message,
    file_param,
    inline_markup,
    int_param,
    new_message,
    photo_size,
    plain_text,
    read_params,
    replace_message,
    set_text,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeTelegramServer(LoopbackServer):
    """The fake Bot API (see the module docstring). `base_url` is what
    `TELEGRAM_API_BASE_URL` should be. `allow_http`: accept http:// webhooks on any port,
    as a self-hosted Bot API server does (api.telegram.org wants https on 443, 80, 88 or
    8443)."""

    label = "fake Telegram Bot API"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, allow_http: bool = False) -> None:
        super().__init__(host=host, port=port)
        self.allow_http = allow_http
        self.bots: dict[str, FakeBot] = {}
        self.on_call: Callable[[FakeBot, Call], None] | None = None

    def bot(self, token: str) -> FakeBot:
        """The state of bot `token` (created on first use)."""
        if not TOKEN.fullmatch(token):
            raise ValueError("not a bot token (digits:secret)")
        if token not in self.bots:
            self.bots[token] = FakeBot(self, token)
        return self.bots[token]

    async def stop(self) -> None:
        for fake in self.bots.values():
            await fake.aclose()
        await super().stop()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", "/bot{token}/{method}", self._api),
            web.get("/file/bot{token}/{path:.+}", self._download),
        ]

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except BotApiError as error:
            return web.json_response(error.body(), status=error.status)
        except web.HTTPNotFound:
            return web.json_response(BotApiError(404, "Not Found").body(), status=404)

    def _token_bot(self, request: web.Request) -> FakeBot:
        token = request.match_info["token"]
        if not TOKEN.fullmatch(token):
            raise BotApiError(401, "Unauthorized")
        return self.bot(token)

    async def _api(self, request: web.Request) -> web.Response:
        fake = self._token_bot(request)
        params = await read_params(request)
        call = await self.call(fake, request.match_info["method"], params)
        if call.error is not None:
            assert call.status is not None
            raise BotApiError(call.status, call.error, call.parameters)
        return web.json_response({"ok": True, "result": call.result})

    async def _download(self, request: web.Request) -> web.Response:
        fake = self._token_bot(request)
        path = request.match_info["path"]
        for stored in fake.files.values():
            if stored.file_path == path:
                return web.Response(body=stored.data, content_type="application/octet-stream")
        raise BotApiError(404, "Not Found")

    async def call(self, fake: FakeBot, method: str, params: Json, *, via_webhook: bool = False) -> Call:
        """Record and answer one method call (also those returned in webhook answers)."""
        call = Call(method, params, time.time(), via_webhook=via_webhook)
        fake.calls.append(call)
        if self.on_call is not None:
            self.on_call(fake, call)
        name = method.lower()
        try:
            await fake.wait_if_held(name, call)
            fake.raise_fault(name, params)
            answer = _METHODS.get(name)
            if answer is None:
                raise BotApiError(404, "Not Found")
            call.result = await answer(self, fake, params)
            call.status = 200
        except BotApiError as error:
            call.status, call.error, call.parameters = error.status, error.description, error.parameters
        finally:
            if call.status is not None:
                call.ended = time.time()
            await fake.notify()
        return call

    # --- methods ----------------------------------------------------------------------------

    async def _get_me(self, fake: FakeBot, params: Json) -> Any:
        return fake.me()

    async def _set_webhook(self, fake: FakeBot, params: Json) -> Any:
        url = str(params.get("url") or "")
        if not url:
            fake.webhook = None
            return True
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise bad_request("bad webhook: Failed to resolve host: Name or service not known")
        if not self.allow_http:
            if parts.scheme != "https":
                raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
            if (parts.port or 443) not in WEBHOOK_PORTS:
                raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.get("secret_token")
        if secret is not None and not SECRET_TOKEN.fullmatch(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        max_connections = int(params.get("max_connections") or DEFAULT_MAX_CONNECTIONS)
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        allowed = allowed_updates(params, fake.webhook.allowed_updates if fake.webhook else [])
        hook = Webhook(url, secret, allowed, max_connections, time.time())
        fake.set_webhook(hook, drop_pending=bool(params.get("drop_pending_updates")))
        return True

    async def _delete_webhook(self, fake: FakeBot, params: Json) -> Any:
        fake.webhook = None
        if params.get("drop_pending_updates"):
            fake.queue.clear()
        return True

    async def _get_webhook_info(self, fake: FakeBot, params: Json) -> Any:
        hook = fake.webhook
        if hook is None:
            return {"url": "", "has_custom_certificate": False, "pending_update_count": len(fake.queue)}
        pending = sum(1 for d in fake.deliveries if not d.done.is_set() and not d.filtered)
        info: Json = {
            "url": hook.url,
            "has_custom_certificate": False,
            "pending_update_count": pending,
            "max_connections": hook.max_connections,
            "ip_address": "127.0.0.1",
        }
        if hook.allowed_updates:
            info["allowed_updates"] = hook.allowed_updates
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
        return info

    async def _get_updates(self, fake: FakeBot, params: Json) -> Any:
        if fake.webhook is not None:
            raise BotApiError(
                409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook first"
            )
        fake.allowed_updates = allowed_updates(params, fake.allowed_updates)
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = min(max(float(params.get("timeout") or 0), 0.0), MAX_POLL_SECONDS)
        return await fake.take_updates(offset, limit, timeout)

    async def _send_message(self, fake: FakeBot, params: Json) -> Any:
        chat = fake.chat(int_param(params, "chat_id"))
        text = plain_text(params, "text", MAX_TEXT_LENGTH, "message text is empty", "message is too long")
        message = new_message(fake, chat, params, text=text)
        return message

    async def _edit_message_text(self, fake: FakeBot, params: Json) -> Any:
        text = plain_text(params, "text", MAX_TEXT_LENGTH, "message text is empty", "MESSAGE_TOO_LONG")
        markup = inline_markup(params)
        if params.get("inline_message_id"):
            return True
        key, old = editable_message(fake, params)
        if "text" not in old:
            raise bad_request("there is no text in the message to edit")
        if old["text"] == text and old.get("reply_markup") == markup:
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        return replace_message(fake, key, old, text=text, reply_markup=markup)

    async def _edit_message_reply_markup(self, fake: FakeBot, params: Json) -> Any:
        markup = inline_markup(params)
        if params.get("inline_message_id"):
            return True
        key, old = editable_message(fake, params)
        if old.get("reply_markup") == markup:
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        return replace_message(fake, key, old, reply_markup=markup)

    async def _edit_message_caption(self, fake: FakeBot, params: Json) -> Any:
        caption = plain_text(params, "caption", MAX_CAPTION_LENGTH, None, "MESSAGE_CAPTION_TOO_LONG")
        markup = inline_markup(params)
        if params.get("inline_message_id"):
            return True
        key, old = editable_message(fake, params)
        if "document" not in old and "photo" not in old:
            raise bad_request("there is no caption in the message to edit")
        if old.get("caption", "") == caption and old.get("reply_markup") == markup:
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        return replace_message(fake, key, old, caption=caption or None, reply_markup=markup)

    async def _delete_message(self, fake: FakeBot, params: Json) -> Any:
        key = (int_param(params, "chat_id"), int_param(params, "message_id"))
        if fake.messages.pop(key, None) is None:
            raise bad_request("message to delete not found")
        return True

    async def _answer_callback_query(self, fake: FakeBot, params: Json) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        if fake.callbacks.get(query_id, True):  # unknown, or answered already
            raise bad_request(QUERY_INVALID.removeprefix("Bad Request: "))
        if len(str(params.get("text") or "")) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        fake.callbacks[query_id] = True
        return True

    async def _answer_inline_query(self, fake: FakeBot, params: Json) -> Any:
        query_id = str(params.get("inline_query_id") or "")
        results = params.get("results")
        if not query_id or query_id in fake.inline_answers:
            raise bad_request(QUERY_INVALID.removeprefix("Bad Request: "))
        if not isinstance(results, list) or len(results) > 50:
            raise bad_request("RESULTS_TOO_MUCH")
        fake.inline_answers[query_id] = params
        return True

    async def _send_chat_action(self, fake: FakeBot, params: Json) -> Any:
        fake.chat(int_param(params, "chat_id"))
        if params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _send_document(self, fake: FakeBot, params: Json) -> Any:
        chat = fake.chat(int_param(params, "chat_id"))
        stored = file_param(fake, params, "document", "documents")
        caption = plain_text(params, "caption", MAX_CAPTION_LENGTH, None, "message caption is too long")
        return new_message(fake, chat, params, caption=caption, document=document_json(stored))

    async def _send_photo(self, fake: FakeBot, params: Json) -> Any:
        chat = fake.chat(int_param(params, "chat_id"))
        stored = file_param(fake, params, "photo", "photos")
        caption = plain_text(params, "caption", MAX_CAPTION_LENGTH, None, "message caption is too long")
        width, height = photo_size(stored.data)
        photo = [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.data),
                "width": width,
                "height": height,
            }
        ]
        return new_message(fake, chat, params, caption=caption, photo=photo)

    async def _get_file(self, fake: FakeBot, params: Json) -> Any:
        stored = fake.files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    async def _set_my_commands(self, fake: FakeBot, params: Json) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be a list of at most 100 commands")
        for command in commands:
            if not isinstance(command, dict) or not COMMAND.fullmatch(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        fake.commands[commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _get_my_commands(self, fake: FakeBot, params: Json) -> Any:
        return fake.commands.get(commands_key(params), [])

    async def _delete_my_commands(self, fake: FakeBot, params: Json) -> Any:
        fake.commands.pop(commands_key(params), None)
        return True

    async def _set_my_description(self, fake: FakeBot, params: Json) -> Any:
        return set_text(fake.descriptions, params, "description", 512)

    async def _get_my_description(self, fake: FakeBot, params: Json) -> Any:
        return {"description": fake.descriptions.get(str(params.get("language_code") or ""), "")}

    async def _set_my_short_description(self, fake: FakeBot, params: Json) -> Any:
        return set_text(fake.short_descriptions, params, "short_description", 120)

    async def _get_my_short_description(self, fake: FakeBot, params: Json) -> Any:
        language = str(params.get("language_code") or "")
        return {"short_description": fake.short_descriptions.get(language, "")}

    async def _true(self, fake: FakeBot, params: Json) -> Any:
        return True


Method = Callable[[FakeTelegramServer, FakeBot, Json], Awaitable[Any]]
_METHODS: dict[str, Method] = {
    "getme": FakeTelegramServer._get_me,
    "setwebhook": FakeTelegramServer._set_webhook,
    "deletewebhook": FakeTelegramServer._delete_webhook,
    "getwebhookinfo": FakeTelegramServer._get_webhook_info,
    "getupdates": FakeTelegramServer._get_updates,
    "sendmessage": FakeTelegramServer._send_message,
    "editmessagetext": FakeTelegramServer._edit_message_text,
    "editmessagereplymarkup": FakeTelegramServer._edit_message_reply_markup,
    "editmessagecaption": FakeTelegramServer._edit_message_caption,
    "deletemessage": FakeTelegramServer._delete_message,
    "answercallbackquery": FakeTelegramServer._answer_callback_query,
    "answerinlinequery": FakeTelegramServer._answer_inline_query,
    "sendchataction": FakeTelegramServer._send_chat_action,
    "senddocument": FakeTelegramServer._send_document,
    "sendphoto": FakeTelegramServer._send_photo,
    "getfile": FakeTelegramServer._get_file,
    "setmycommands": FakeTelegramServer._set_my_commands,
    "getmycommands": FakeTelegramServer._get_my_commands,
    "deletemycommands": FakeTelegramServer._delete_my_commands,
    "setmydescription": FakeTelegramServer._set_my_description,
    "getmydescription": FakeTelegramServer._get_my_description,
    "setmyshortdescription": FakeTelegramServer._set_my_short_description,
    "getmyshortdescription": FakeTelegramServer._get_my_short_description,
    "close": FakeTelegramServer._true,
    "logout": FakeTelegramServer._true,
}


# --- by hand ------------------------------------------------------------------------------------


class _ByHand:
    """Prints what the bots send and remembers the last bot that called (by-hand mode)."""

    def __init__(self) -> None:
        self.last: FakeBot | None = None

    def __call__(self, fake: FakeBot, call: Call) -> None:
        self.last = fake
        name = call.method.lower()
        if name in ("sendmessage", "editmessagetext") and call.chat_id is not None:
            print(f"[bot {fake.id} → {call.chat_id}] {call.method}: {call.params.get('text')}", flush=True)
        elif name not in ("getupdates", "sendchataction"):
            print(f"[bot {fake.id}] {call.method}", flush=True)


async def _serve(args: argparse.Namespace) -> None:
    async with FakeTelegramServer(host=args.host, port=args.port, allow_http=args.allow_http) as server:
        by_hand = server.on_call = _ByHand()
        print(
            f"fake Telegram Bot API at {server.base_url}: set TELEGRAM_API_BASE_URL={server.base_url} and "
            "any TELEGRAM_BOT_TOKEN; type '<user id> <text>' to send a message (Ctrl-D to stop)",
            flush=True,
        )
        loop = asyncio.get_running_loop()
        for _ in range(1_000_000):  # bounded: one line typed per turn, until EOF
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            user, _, text = line.strip().partition(" ")
            if by_hand.last is None or not user.isdigit() or not text:
                print("type '<user id> <text>' once the bot has called the API", flush=True)
                continue
            by_hand.last.deliver(by_hand.last.message_update(int(user), text))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Telegram Bot API on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--allow-http",
        action="store_true",
        help="accept http:// webhook URLs on any port (as a self-hosted Bot API server does)",
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
