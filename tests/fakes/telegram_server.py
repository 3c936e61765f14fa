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

**Updates.** :meth:`FakeBot.message_update` and :meth:`FakeBot.callback_update` build the
Update JSON of a private-chat text message or of a tap on a button of a message the bot
sent; :meth:`FakeBot.deliver` sends any update (or a raw dict) the way Telegram would: with
a webhook set, POSTed as JSON to its URL with `X-Telegram-Bot-Api-Secret-Token`, retried
after a non-2xx answer or a connection error (:attr:`FakeBot.retry_delays`, bounded), at
most `max_connections` at once; an answer carrying a method (aiogram's reply-in-webhook) is
executed like a call. Without a webhook it waits for getUpdates. :attr:`FakeBot.upstreams`
plays a load balancer: each attempt goes to the next of these base URLs, with the
webhook's path.

**Faults.** :meth:`FakeBot.fail` answers the next N calls of a method (for one chat or any)
with 429 + `parameters.retry_after` or 403 "Forbidden: bot was blocked by the user";
:meth:`FakeBot.hold` keeps the next matching calls waiting (a slow Telegram, or a call
to catch a process in the middle of an update).

Every call is recorded (:attr:`FakeBot.calls`: method, params, time, answer) and every
webhook attempt (:class:`Delivery`). By hand (then set `TELEGRAM_API_BASE_URL`; lines
typed as `<user id> <text>` are delivered as messages to the last bot that called)::

    python -m tests.fakes.telegram_server --port 8081
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiohttp import web

from bot.console.html import HTMLParseError, html_to_text
from bot.console.rules import image_size
from tests.fakes.loopback import LoopbackServer

Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
#: getFile refuses files over 20 MB (Bot API: "download files of up to 20MB in size").
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
#: Uploads up to 50 MB (sendDocument).
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: Telegram's default for setWebhook `max_connections` (1–100).
DEFAULT_MAX_CONNECTIONS = 40
#: Longest long poll (seconds) the fake honours; Telegram documents no cap but clients use ≤ 50.
MAX_POLL_SECONDS = 50.0
#: Update types delivered when `allowed_updates` is empty (Bot API, getUpdates).
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
#: Parameters that are strings on the wire whatever they look like (others are JSON-decoded).
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "description",
        "short_description",
        "secret_token",
        "url",
        "callback_query_id",
        "language_code",
        "file_id",
        "parse_mode",
        "action",
        "ip_address",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "document",
        "photo",
    }
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_TOKEN = re.compile(r"(\d+):([A-Za-z0-9_-]{20,})")
#: Ports api.telegram.org posts webhooks to.
WEBHOOK_PORTS = frozenset({443, 80, 88, 8443})
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"


def make_token(bot_id: int | None = None) -> str:
    """A fresh, shape-valid bot token (`<id>:<35 random characters>`), made at run time."""
    number = bot_id if bot_id is not None else 1_000_000_000 + secrets.randbelow(8_999_999_999)
    return f"{number}:{secrets.token_urlsafe(27)[:35]}"


class BotApiError(Exception):
    """An error answer: HTTP `status` (= `error_code`) and Telegram's `description`."""

    def __init__(self, status: int, description: str, parameters: Json | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> Json:
        body: Json = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(text: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {text}")


@dataclass
class Call:
    """One Bot API request: `method` as sent (e.g. "sendMessage"), its decoded `params`
    (uploads as :class:`Upload`), `at` (time.time() when it arrived), and how it was answered:
    `status` (HTTP; None while held or when the client went away first), `result` or
    `error` (Telegram's description) and its `parameters`. `via_webhook`: returned in a webhook answer."""

    method: str
    params: Json
    at: float
    status: int | None = None
    result: Any = None
    error: str | None = None
    parameters: Json | None = None  # of an error: {"retry_after": N}
    via_webhook: bool = False
    ended: float | None = None  # time.time() when answered (None: never answered)

    @property
    def chat_id(self) -> int | str | None:
        return self.params.get("chat_id")


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    file_name: str
    content_type: str
    data: bytes


@dataclass
class StoredFile:
    """A file "on Telegram's servers": what getFile and the download URL serve."""

    file_id: str
    file_unique_id: str
    file_path: str
    file_name: str
    data: bytes


@dataclass
class Fault:
    """The next `times` calls of `method` (for `chat_id`, or any chat when None) are answered
    with `kind`: "retry_after" (429, `parameters.retry_after` = `retry_after` seconds) or
    "blocked" (403 "Forbidden: bot was blocked by the user")."""

    method: str
    kind: Literal["retry_after", "blocked"]
    chat_id: int | None = None
    times: int = 1
    retry_after: int = 1


@dataclass
class Hold:
    """The next `times` calls of `method` (for `chat_id`, or any chat) wait before they are
    answered: until `release()`, or `seconds` when given. `arrived` is set when one came;
    `held` lists them."""

    method: str
    chat_id: int | None = None
    times: int = 1
    seconds: float | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    held: list[Call] = field(default_factory=list)

    def release(self) -> None:
        self.released.set()

    async def wait_released(self) -> None:
        if self.seconds is None:
            await self.released.wait()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.released.wait(), self.seconds)


@dataclass
class Attempt:
    """One webhook POST: the URL it went to, the HTTP status (None: no answer — connection
    refused or reset, or timeout; `error` says which), start and end (time.time())."""

    url: str
    started: float
    status: int | None = None
    error: str | None = None
    ended: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Delivery:
    """One update on its way to the bot. With a webhook: `attempts`, until one is 2xx or the
    retries run out. Without: it waits in the getUpdates queue until an `offset` past it
    confirms it. `done` is set either way; `ok` says whether the bot got it."""

    update: Json
    attempts: list[Attempt] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    ok: bool = False
    filtered: bool = False  # not in allowed_updates: Telegram drops it

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])

    async def wait(self, within: float = 30.0) -> Delivery:
        """Wait until delivered or given up (TimeoutError after `within` seconds)."""
        await asyncio.wait_for(self.done.wait(), within)
        return self


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    allowed_updates: list[str]
    max_connections: int
    set_at: float
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class _Poll:
    """The getUpdates long poll waiting right now (a newer one ends it with 409)."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)
    superseded: bool = False


class FakeBot:
    """State of one bot token: its webhook or update queue, chats, messages, commands, files,
    the calls it made and the knobs that steer its answers."""

    def __init__(self, server: FakeTelegramServer, token: str) -> None:
        self.server = server
        self.token = token
        self.id = int(token.split(":", 1)[0])
        self.username = f"fake{self.id}_bot"
        self.first_name = "WhatToWatch"
        self.calls: list[Call] = []
        self.deliveries: list[Delivery] = []
        self.webhook: Webhook | None = None
        #: getUpdates' stored `allowed_updates` (the last non-empty list given)
        self.allowed_updates: list[str] = []
        #: a load balancer in front of the webhook: attempt i goes to upstreams[i % n] (base
        #: URLs like "http://127.0.0.1:8080"), keeping the webhook URL's path and query
        self.upstreams: list[str] = []
        #: seconds before each retry of a webhook delivery; the first attempt plus one per entry
        self.retry_delays: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
        #: seconds one webhook POST may take before it counts as failed (Telegram: about 60)
        self.webhook_timeout = 60.0
        self.faults: list[Fault] = []
        self.holds: list[Hold] = []
        self.commands: dict[tuple[str, str], list[Json]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.files: dict[str, StoredFile] = {}
        #: messages by (chat id, message id), in their current (edited) state
        self.messages: dict[tuple[int, int], Json] = {}
        self.users: dict[int, Json] = {}
        self._queue: list[Delivery] = []  # waiting for getUpdates
        self._poll: _Poll | None = None
        self._update_ids = itertools.count(secrets.randbelow(10**8) + 1)
        self._upstream_turn = itertools.count()
        self._message_ids: dict[int, int] = {}
        self._callbacks: dict[str, bool] = {}  # query id → answered
        #: answerInlineQuery calls by inline query id: {"results": [...], "cache_time": …}
        self.inline_answers: dict[str, Json] = {}
        self._sending: asyncio.Semaphore | None = None
        #: one HTTP session for every webhook POST: connections are kept alive, as Telegram
        #: keeps them to a webhook (made on the first POST, closed by `aclose`)
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Condition()

    # --- what tests read ------------------------------------------------------------------

    def calls_of(self, method: str, chat_id: int | None = None) -> list[Call]:
        """Calls of `method` (case-insensitive), to `chat_id` when given, in arrival order."""
        name = method.lower()
        return [
            c for c in self.calls if c.method.lower() == name and (chat_id is None or c.chat_id == chat_id)
        ]

    def texts_to(self, chat_id: int) -> list[str]:
        """Plain texts of the messages sent and edited into `chat_id` that Telegram accepted."""
        return [
            c.result["text"]
            for c in self.calls
            if c.chat_id == chat_id
            and c.status == 200
            and c.method.lower() in ("sendmessage", "editmessagetext")
            and isinstance(c.result, dict)
        ]

    def last_keyboard(self, chat_id: int) -> Json | None:
        """The newest message in `chat_id` that carries an inline keyboard."""
        for (chat, _), message in sorted(self.messages.items(), key=lambda item: -item[0][1]):
            if chat == chat_id and message.get("reply_markup"):
                return message
        return None

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        """Wait until `predicate()` holds, checked after every call and delivery attempt
        (TimeoutError after `within` seconds)."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    # --- knobs ----------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        kind: Literal["retry_after", "blocked"],
        *,
        chat_id: int | None = None,
        times: int = 1,
        retry_after: int = 1,
    ) -> Fault:
        """Answer the next `times` calls of `method` (to `chat_id`, or any chat) with 429 and
        `retry_after` seconds, or 403 "bot was blocked by the user"."""
        fault = Fault(method.lower(), kind, chat_id, times, retry_after)
        self.faults.append(fault)
        return fault

    def hold(
        self, method: str, *, chat_id: int | None = None, times: int = 1, seconds: float | None = None
    ) -> Hold:
        """Keep the next `times` calls of `method` waiting until `release()` (or `seconds`)."""
        hold = Hold(method.lower(), chat_id, times, seconds)
        self.holds.append(hold)
        return hold

    def balance(self, *upstreams: str) -> None:
        """Put a load balancer in front of the webhook: from now on, attempt 1 goes to
        `upstreams[0]`, attempt 2 to `upstreams[1]`, … round robin (none: no balancer)."""
        self.upstreams = list(upstreams)
        self._upstream_turn = itertools.count()

    def add_file(self, data: bytes, file_name: str = "file", *, kind: str = "documents") -> StoredFile:
        """Put a file on the "server": getFile(file_id) and its download URL serve it."""
        file_id = "BQAC" + secrets.token_urlsafe(24)
        stored = StoredFile(
            file_id=file_id,
            file_unique_id="AgAD" + secrets.token_urlsafe(8),
            file_path=f"{kind}/file_{len(self.files)}{_suffix(file_name)}",
            file_name=file_name,
            data=data,
        )
        self.files[file_id] = stored
        return stored

    # --- updates --------------------------------------------------------------------------

    def user(self, user_id: int, first_name: str = "User", language_code: str | None = "en") -> Json:
        """The Telegram user `user_id` (remembered: the bot may write to their private chat)."""
        known = self.users.get(user_id)
        if known is None:
            known = {"id": user_id, "is_bot": False, "first_name": first_name}
            if language_code:
                known["language_code"] = language_code
            self.users[user_id] = known
        return known

    def message_update(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str = "User",
        language_code: str | None = "en",
        document: StoredFile | None = None,
    ) -> Json:
        """The Update of a text message (or, with `document`, a file with `text` as caption)
        from `user_id` in their private chat with the bot."""
        user = self.user(user_id, first_name, language_code)
        message: Json = {
            "message_id": self._next_message_id(user_id),
            "from": user,
            "chat": self._chat(user_id),
            "date": int(time.time()),
        }
        if document is not None:
            message["document"] = _document_json(document)
            if text:
                message["caption"] = text
        else:
            message["text"] = text
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return {"update_id": next(self._update_ids), "message": message}

    def callback_update(self, user_id: int, message_id: int, data: str) -> Json:
        """The Update of `user_id` tapping a button with callback `data` on the bot's message
        `message_id` in their chat (as it is now)."""
        message = self.messages.get((user_id, message_id))
        if message is None:
            raise KeyError(f"the bot sent no message {message_id} to chat {user_id}")
        query_id = str(secrets.randbits(63))
        self._callbacks[query_id] = False
        return {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": query_id,
                "from": self.user(user_id),
                "message": message,
                "chat_instance": f"-{self.id}{user_id}",
                "data": data,
            },
        }

    def tap_update(self, user_id: int, label: str) -> Json:
        """The Update of `user_id` tapping the button whose text contains `label` on the
        newest message with a keyboard in their chat."""
        message = self.last_keyboard(user_id)
        if message is None:
            raise KeyError(f"no keyboard in chat {user_id}")
        rows = message["reply_markup"]["inline_keyboard"]
        for button in (b for row in rows for b in row):
            if label in button["text"] and "callback_data" in button:
                return self.callback_update(user_id, message["message_id"], button["callback_data"])
        raise KeyError(f"no button {label!r} in {rows}")

    def deliver(self, update: Json) -> Delivery:
        """Send `update` to the bot as Telegram would (see the module docstring). A dict
        without `update_id` gets the next one; its sender becomes a chat the bot may write to."""
        if "update_id" not in update:
            update = {"update_id": next(self._update_ids), **update}
        for event in update.values():  # a raw update's sender may be written to
            sender = event.get("from") if isinstance(event, dict) else None
            if isinstance(sender, dict) and isinstance(sender.get("id"), int) and not sender.get("is_bot"):
                self.users.setdefault(sender["id"], sender)
        delivery = Delivery(update)
        self.deliveries.append(delivery)
        kinds = set(update) - {"update_id"}
        allowed = set(self.webhook.allowed_updates if self.webhook else self.allowed_updates)
        if not (kinds & (allowed or DEFAULT_UPDATE_TYPES)):
            delivery.filtered = True
            delivery.done.set()
            return delivery
        if self.webhook is not None:
            self._spawn(self._post(delivery, self.webhook))
        else:
            self._queue.append(delivery)
            if self._poll is not None:
                self._poll.wake.set()
        return delivery

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._poll is not None:
            self._poll.wake.set()
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, delivery: Delivery, hook: Webhook) -> None:
        """POST the update until a 2xx answer, at most 1 + len(retry_delays) times."""
        if self._sending is None:
            self._sending = asyncio.Semaphore(hook.max_connections)
        body = json.dumps(delivery.update).encode()
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                connector=aiohttp.TCPConnector(limit=0),  # `_sending` caps the connections
            )
        http = self._http
        try:
            for delay in (0.0, *self.retry_delays):
                await asyncio.sleep(delay)
                url = self._upstream(hook.url)
                attempt = Attempt(url, time.time())
                delivery.attempts.append(attempt)
                async with self._sending:
                    try:
                        async with http.post(url, data=body, headers=headers) as response:
                            attempt.status = response.status
                            if attempt.ok:
                                await self._webhook_reply(response)
                            else:
                                attempt.error = (await response.text())[:200]
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        attempt.error = f"{type(exc).__name__}: {exc}"[:200]
                attempt.ended = time.time()
                if attempt.ok:
                    delivery.ok = True
                    return
                hook.last_error_date = int(attempt.ended)
                hook.last_error_message = (
                    f"Wrong response from the webhook: {attempt.status}"
                    if attempt.status is not None
                    else "Connection refused"
                )
                await self._notify()
        finally:
            delivery.done.set()
            await self._notify()

    def _upstream(self, url: str) -> str:
        if not self.upstreams:
            return url
        parts = urlsplit(url)
        base = urlsplit(self.upstreams[next(self._upstream_turn) % len(self.upstreams)])
        return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))

    async def _webhook_reply(self, response: aiohttp.ClientResponse) -> None:
        """Execute a method returned in the webhook answer (JSON or multipart with `method`)."""
        params: Json = {}
        if response.content_type == "application/json":
            with contextlib.suppress(ValueError):
                params = dict(await response.json())
        elif response.content_type.startswith("multipart/"):
            reader = aiohttp.MultipartReader(response.headers, response.content)
            params = await _read_multipart(reader)
        method = params.pop("method", None)
        if isinstance(method, str) and method:
            await self.server.call(self, method, params, via_webhook=True)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- state helpers ---------------------------------------------------------------------

    def _next_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _chat(self, chat_id: int) -> Json:
        user = self.users.get(chat_id)
        if user is None:
            raise bad_request("chat not found")
        return {"id": chat_id, "first_name": user["first_name"], "type": "private"}

    def me(self) -> Json:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }


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
        if not _TOKEN.fullmatch(token):
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
        if not _TOKEN.fullmatch(token):
            raise BotApiError(401, "Unauthorized")
        return self.bot(token)

    async def _api(self, request: web.Request) -> web.Response:
        fake = self._token_bot(request)
        params = await _read_params(request)
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
            await self._hold(fake, name, call)
            self._fault(fake, name, params)
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
            await fake._notify()
        return call

    async def _hold(self, fake: FakeBot, name: str, call: Call) -> None:
        for hold in fake.holds:
            if hold.times > 0 and hold.method == name and hold.chat_id in (None, call.chat_id):
                hold.times -= 1
                hold.held.append(call)
                hold.arrived.set()
                await hold.wait_released()
                return

    @staticmethod
    def _fault(fake: FakeBot, name: str, params: Json) -> None:
        for fault in fake.faults:
            if fault.times > 0 and fault.method == name and fault.chat_id in (None, params.get("chat_id")):
                fault.times -= 1
                if fault.kind == "retry_after":
                    raise BotApiError(
                        429,
                        f"Too Many Requests: retry after {fault.retry_after}",
                        {"retry_after": fault.retry_after},
                    )
                raise BotApiError(403, "Forbidden: bot was blocked by the user")

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
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        max_connections = int(params.get("max_connections") or DEFAULT_MAX_CONNECTIONS)
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        allowed = _allowed_updates(params, fake.webhook.allowed_updates if fake.webhook else [])
        if params.get("drop_pending_updates"):
            fake._queue.clear()
        fake.webhook = Webhook(url, secret, allowed, max_connections, time.time())
        fake._sending = asyncio.Semaphore(max_connections)
        if fake._poll is not None:
            fake._poll.superseded = True
            fake._poll.wake.set()
        for waiting in fake._queue:  # pending updates now go to the webhook
            fake._spawn(fake._post(waiting, fake.webhook))
        fake._queue.clear()
        return True

    async def _delete_webhook(self, fake: FakeBot, params: Json) -> Any:
        fake.webhook = None
        if params.get("drop_pending_updates"):
            fake._queue.clear()
        return True

    async def _get_webhook_info(self, fake: FakeBot, params: Json) -> Any:
        hook = fake.webhook
        if hook is None:
            return {"url": "", "has_custom_certificate": False, "pending_update_count": len(fake._queue)}
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
        fake.allowed_updates = _allowed_updates(params, fake.allowed_updates)
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = min(max(float(params.get("timeout") or 0), 0.0), MAX_POLL_SECONDS)
        if offset > 0:  # confirms every update before it
            for delivery in [d for d in fake._queue if d.update_id < offset]:
                fake._queue.remove(delivery)
                delivery.ok = True
                delivery.done.set()
        elif offset < 0:  # only the last -offset updates; the earlier ones are forgotten
            for forgotten in fake._queue[:offset]:
                fake._queue.remove(forgotten)
                forgotten.done.set()
        if fake._poll is not None:  # only one poller: the older request ends with 409
            fake._poll.superseded = True
            fake._poll.wake.set()
        poll = fake._poll = _Poll()
        try:
            if not fake._queue and timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poll.wake.wait(), timeout)
            if poll.superseded:
                raise BotApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
        finally:
            if fake._poll is poll:
                fake._poll = None
        return [d.update for d in fake._queue[:limit]]

    async def _send_message(self, fake: FakeBot, params: Json) -> Any:
        chat = fake._chat(_int_param(params, "chat_id"))
        text = _plain(params, "text", MAX_TEXT_LENGTH, "message text is empty", "message is too long")
        message = _new_message(fake, chat, params, text=text)
        return message

    async def _edit_message_text(self, fake: FakeBot, params: Json) -> Any:
        text = _plain(params, "text", MAX_TEXT_LENGTH, "message text is empty", "MESSAGE_TOO_LONG")
        markup = _inline_markup(params)
        if params.get("inline_message_id"):
            return True
        key, old = _editable(fake, params)
        if "text" not in old:
            raise bad_request("there is no text in the message to edit")
        if old["text"] == text and old.get("reply_markup") == markup:
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        return _replace(fake, key, old, text=text, reply_markup=markup)

    async def _edit_message_reply_markup(self, fake: FakeBot, params: Json) -> Any:
        markup = _inline_markup(params)
        if params.get("inline_message_id"):
            return True
        key, old = _editable(fake, params)
        if old.get("reply_markup") == markup:
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        return _replace(fake, key, old, reply_markup=markup)

    async def _edit_message_caption(self, fake: FakeBot, params: Json) -> Any:
        caption = _plain(params, "caption", MAX_CAPTION_LENGTH, None, "MESSAGE_CAPTION_TOO_LONG")
        markup = _inline_markup(params)
        if params.get("inline_message_id"):
            return True
        key, old = _editable(fake, params)
        if "document" not in old and "photo" not in old:
            raise bad_request("there is no caption in the message to edit")
        if old.get("caption", "") == caption and old.get("reply_markup") == markup:
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        return _replace(fake, key, old, caption=caption or None, reply_markup=markup)

    async def _delete_message(self, fake: FakeBot, params: Json) -> Any:
        key = (_int_param(params, "chat_id"), _int_param(params, "message_id"))
        if fake.messages.pop(key, None) is None:
            raise bad_request("message to delete not found")
        return True

    async def _answer_callback_query(self, fake: FakeBot, params: Json) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        if fake._callbacks.get(query_id, True):  # unknown, or answered already
            raise bad_request(QUERY_INVALID.removeprefix("Bad Request: "))
        if len(str(params.get("text") or "")) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        fake._callbacks[query_id] = True
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
        fake._chat(_int_param(params, "chat_id"))
        if params.get("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _send_document(self, fake: FakeBot, params: Json) -> Any:
        chat = fake._chat(_int_param(params, "chat_id"))
        stored = _file_param(fake, params, "document", "documents")
        caption = _plain(params, "caption", MAX_CAPTION_LENGTH, None, "message caption is too long")
        return _new_message(fake, chat, params, caption=caption, document=_document_json(stored))

    async def _send_photo(self, fake: FakeBot, params: Json) -> Any:
        chat = fake._chat(_int_param(params, "chat_id"))
        stored = _file_param(fake, params, "photo", "photos")
        caption = _plain(params, "caption", MAX_CAPTION_LENGTH, None, "message caption is too long")
        width, height = _image_size(stored.data)
        photo = [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.data),
                "width": width,
                "height": height,
            }
        ]
        return _new_message(fake, chat, params, caption=caption, photo=photo)

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
            if not isinstance(command, dict) or not _COMMAND.fullmatch(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        fake.commands[_commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _get_my_commands(self, fake: FakeBot, params: Json) -> Any:
        return fake.commands.get(_commands_key(params), [])

    async def _delete_my_commands(self, fake: FakeBot, params: Json) -> Any:
        fake.commands.pop(_commands_key(params), None)
        return True

    async def _set_my_description(self, fake: FakeBot, params: Json) -> Any:
        return _set_text(fake.descriptions, params, "description", 512)

    async def _get_my_description(self, fake: FakeBot, params: Json) -> Any:
        return {"description": fake.descriptions.get(str(params.get("language_code") or ""), "")}

    async def _set_my_short_description(self, fake: FakeBot, params: Json) -> Any:
        return _set_text(fake.short_descriptions, params, "short_description", 120)

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


# --- request decoding -------------------------------------------------------------------------


async def _read_params(request: web.Request) -> Json:
    """Query string, then the body: JSON, urlencoded or multipart (files as :class:`Upload`)."""
    raw: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON encoded request body") from None
            if not isinstance(body, dict):
                raise bad_request("can't parse JSON encoded request body")
            return {**raw, **body}
        if request.content_type.startswith("multipart/"):
            raw.update(await _read_multipart(await request.multipart()))
        else:
            raw.update(await request.post())
    params = {key: _decode(key, value) for key, value in raw.items() if not isinstance(value, Upload)}
    for key, value in raw.items():
        if isinstance(value, Upload):
            params[key] = value
    return params


async def _read_multipart(reader: aiohttp.MultipartReader) -> dict[str, Any]:
    """Fields of a multipart body (file parts as :class:`Upload`), at most MAX_UPLOAD_BYTES."""
    fields: dict[str, Any] = {}
    total = 0
    for _ in range(1000):  # bounded: Bot API requests carry a few dozen parts at most
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
            raise bad_request("can't parse multipart request")
        data = await part.read(decode=False)
        total += len(data)
        if total > MAX_UPLOAD_BYTES:
            raise BotApiError(413, "Request Entity Too Large")
        if part.filename is not None:
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            fields[part.name] = Upload(part.filename, content_type, bytes(data))
        else:
            fields[part.name] = bytes(data).decode("utf-8")
    return fields


def _decode(key: str, value: Any) -> Any:
    """A form value as the Bot API reads it: strings stay strings for text parameters,
    anything else is JSON when it parses as JSON ("123", "true", "[…]", "{…}")."""
    if not isinstance(value, str) or key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _int_param(params: Json, name: str) -> int:
    value = params.get(name)
    if value is None or value == "":
        raise bad_request(f"{name} is empty")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request("chat not found" if name == "chat_id" else f"invalid {name}") from None


def _plain(params: Json, name: str, limit: int, empty: str | None, too_long: str) -> str:
    """The text a user sees (HTML parse mode checked like Telegram)."""
    raw = str(params.get(name) or "")
    if params.get("parse_mode") == "HTML":
        try:
            raw = html_to_text(raw)
        except HTMLParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    if not raw.strip() and empty is not None:
        raise bad_request(empty)
    if len(raw) > limit:
        raise bad_request(too_long)
    return raw


def _inline_markup(params: Json) -> Json | None:
    markup = params.get("reply_markup")
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return None
    for row in markup["inline_keyboard"]:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise bad_request("BUTTON_DATA_INVALID")
    return markup


def _allowed_updates(params: Json, current: list[str]) -> list[str]:
    allowed = params.get("allowed_updates")
    if allowed is None:
        return current
    if not isinstance(allowed, list):
        raise bad_request("can't parse allowed updates")
    return [str(kind) for kind in allowed]


def _commands_key(params: Json) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")


def _set_text(store: dict[str, str], params: Json, name: str, limit: int) -> bool:
    text = str(params.get(name) or "")
    if len(text) > limit:
        raise bad_request(f"{name} is too long")
    language = str(params.get("language_code") or "")
    if text:
        store[language] = text
    else:
        store.pop(language, None)
    return True


def _file_param(fake: FakeBot, params: Json, name: str, kind: str) -> StoredFile:
    """An upload (`attach://<part>` or the part itself) becomes a stored file; a file_id
    must be known."""
    value = params.get(name)
    if isinstance(value, str) and value.startswith("attach://"):
        value = params.get(value.removeprefix("attach://"))
    if isinstance(value, Upload):
        if not value.data:
            raise bad_request("file must be non-empty")
        return fake.add_file(value.data, value.file_name, kind=kind)
    if isinstance(value, str) and value in fake.files:
        return fake.files[value]
    raise bad_request("wrong file identifier/HTTP URL specified")


def _document_json(stored: StoredFile) -> Json:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_name": stored.file_name,
        "mime_type": "text/csv" if stored.file_name.endswith(".csv") else "application/octet-stream",
        "file_size": len(stored.data),
    }


def _image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG or JPEG (the bot's charts, posters); (0, 0) for anything else."""
    return image_size(data) or (0, 0)


def _suffix(file_name: str) -> str:
    dot = file_name.rfind(".")
    return file_name[dot:] if 0 < dot < len(file_name) - 1 else ""


def _new_message(fake: FakeBot, chat: Json, params: Json, **content: Any) -> Json:
    message: Json = {
        "message_id": fake._next_message_id(chat["id"]),
        "from": {k: v for k, v in fake.me().items() if k in ("id", "is_bot", "first_name", "username")},
        "chat": chat,
        "date": int(time.time()),
    }
    message.update({key: value for key, value in content.items() if value not in (None, "")})
    markup = _inline_markup(params)
    if markup is not None:
        message["reply_markup"] = markup
    fake.messages[(chat["id"], message["message_id"])] = message
    return message


def _editable(fake: FakeBot, params: Json) -> tuple[tuple[int, int], Json]:
    key = (_int_param(params, "chat_id"), _int_param(params, "message_id"))
    old = fake.messages.get(key)
    if old is None:
        raise bad_request("message to edit not found")
    return key, old


def _replace(fake: FakeBot, key: tuple[int, int], old: Json, **changes: Any) -> Json:
    edited = {**old, **changes, "edit_date": int(time.time())}
    for name, value in changes.items():
        if value is None:
            edited.pop(name, None)
    fake.messages[key] = edited
    return edited


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
