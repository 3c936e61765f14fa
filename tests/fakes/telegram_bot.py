"""One bot token's state in the fake Telegram Bot API (tests/fakes/telegram_server.py):
:class:`FakeBot`, with every call it made (:attr:`FakeBot.calls`: method, params, time,
answer) and every webhook attempt (:class:`Delivery`).

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
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from tests.fakes.telegram_records import (
    DEFAULT_UPDATE_TYPES,
    Attempt,
    BotApiError,
    Call,
    Delivery,
    Fault,
    Hold,
    Json,
    StoredFile,
    Webhook,
    bad_request,
    document_json,
    read_multipart,
    suffix,
)

if TYPE_CHECKING:
    from tests.fakes.telegram_server import FakeTelegramServer


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
        self.queue: list[Delivery] = []  # waiting for getUpdates
        self._poll: _Poll | None = None
        self._update_ids = itertools.count(secrets.randbelow(10**8) + 1)
        self._upstream_turn = itertools.count()
        self._message_ids: dict[int, int] = {}
        self.callbacks: dict[str, bool] = {}  # query id → answered
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

    async def wait_if_held(self, name: str, call: Call) -> None:
        """Keep `call` (of method `name`, lowercased) waiting when a hold matches it."""
        for hold in self.holds:
            if hold.times > 0 and hold.method == name and hold.chat_id in (None, call.chat_id):
                hold.times -= 1
                hold.held.append(call)
                hold.arrived.set()
                await hold.wait_released()
                return

    def raise_fault(self, name: str, params: Json) -> None:
        """Raise the error of the first fault that matches a call of `name` (lowercased)."""
        for fault in self.faults:
            if fault.times > 0 and fault.method == name and fault.chat_id in (None, params.get("chat_id")):
                fault.times -= 1
                if fault.kind == "retry_after":
                    raise BotApiError(
                        429,
                        f"Too Many Requests: retry after {fault.retry_after}",
                        {"retry_after": fault.retry_after},
                    )
                raise BotApiError(403, "Forbidden: bot was blocked by the user")

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
            file_path=f"{kind}/file_{len(self.files)}{suffix(file_name)}",
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
            "message_id": self.next_message_id(user_id),
            "from": user,
            "chat": self.chat(user_id),
            "date": int(time.time()),
        }
        if document is not None:
            message["document"] = document_json(document)
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
        self.callbacks[query_id] = False
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
            self.queue.append(delivery)
            if self._poll is not None:
                self._poll.wake.set()
        return delivery

    def set_webhook(self, hook: Webhook, *, drop_pending: bool) -> None:
        """Deliver to `hook` from now on (setWebhook): a waiting getUpdates ends with 409 and
        the pending updates, unless dropped, go to the webhook."""
        if drop_pending:
            self.queue.clear()
        self.webhook = hook
        self._sending = asyncio.Semaphore(hook.max_connections)
        if self._poll is not None:
            self._poll.superseded = True
            self._poll.wake.set()
        for waiting in self.queue:  # pending updates now go to the webhook
            self._spawn(self._post(waiting, hook))
        self.queue.clear()

    async def take_updates(self, offset: int, limit: int, seconds: float) -> list[Json]:
        """getUpdates on the queue: `offset` confirms or forgets earlier updates, then up to
        `limit` updates, waiting up to `seconds` for one (409 when a newer poll comes)."""
        if offset > 0:  # confirms every update before it
            for delivery in [d for d in self.queue if d.update_id < offset]:
                self.queue.remove(delivery)
                delivery.ok = True
                delivery.done.set()
        elif offset < 0:  # only the last -offset updates; the earlier ones are forgotten
            for forgotten in self.queue[:offset]:
                self.queue.remove(forgotten)
                forgotten.done.set()
        if self._poll is not None:  # only one poller: the older request ends with 409
            self._poll.superseded = True
            self._poll.wake.set()
        poll = self._poll = _Poll()
        try:
            if not self.queue and seconds > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poll.wake.wait(), seconds)
            if poll.superseded:
                raise BotApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
        finally:
            if self._poll is poll:
                self._poll = None
        return [d.update for d in self.queue[:limit]]

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
                await self.notify()
        finally:
            delivery.done.set()
            await self.notify()

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
            params = await read_multipart(reader)
        method = params.pop("method", None)
        if isinstance(method, str) and method:
            await self.server.call(self, method, params, via_webhook=True)

    async def notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- state helpers ---------------------------------------------------------------------

    def next_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def chat(self, chat_id: int) -> Json:
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
