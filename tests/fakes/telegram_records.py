"""The records and the wire format of the fake Telegram Bot API (tests/fakes/telegram_server.py).

Records: a method call (:class:`Call`), an upload, a file on the server, the knobs
(:class:`Fault`, :class:`Hold`), a webhook and an update on its way (:class:`Delivery`, its
webhook POSTs :class:`Attempt`); :class:`BotApiError` and :func:`make_token`. The Bot API's
limits and error texts. The wire format: decoding a request (query string, JSON, urlencoded
or multipart body) and the rules the methods read parameters and build messages by.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from aiohttp import web

from bot.console.html import HTMLParseError, html_to_text
from bot.console.rules import image_size

if TYPE_CHECKING:
    from tests.fakes.telegram_bot import FakeBot

Json = dict[str, Any]

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
CHAT_ACTIONS = frozenset(
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
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
COMMAND = re.compile(r"[a-z0-9_]{1,32}")
TOKEN = re.compile(r"(\d+):([A-Za-z0-9_-]{20,})")
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


# --- request decoding -------------------------------------------------------------------------


async def read_params(request: web.Request) -> Json:
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
            raw.update(await read_multipart(await request.multipart()))
        else:
            raw.update(await request.post())
    params = {key: _decode(key, value) for key, value in raw.items() if not isinstance(value, Upload)}
    for key, value in raw.items():
        if isinstance(value, Upload):
            params[key] = value
    return params


async def read_multipart(reader: aiohttp.MultipartReader) -> dict[str, Any]:
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


# --- parameters and messages ------------------------------------------------------------------


def int_param(params: Json, name: str) -> int:
    value = params.get(name)
    if value is None or value == "":
        raise bad_request(f"{name} is empty")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request("chat not found" if name == "chat_id" else f"invalid {name}") from None


def plain_text(params: Json, name: str, limit: int, empty: str | None, too_long: str) -> str:
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


def inline_markup(params: Json) -> Json | None:
    markup = params.get("reply_markup")
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return None
    for row in markup["inline_keyboard"]:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise bad_request("BUTTON_DATA_INVALID")
    return markup


def allowed_updates(params: Json, current: list[str]) -> list[str]:
    allowed = params.get("allowed_updates")
    if allowed is None:
        return current
    if not isinstance(allowed, list):
        raise bad_request("can't parse allowed updates")
    return [str(kind) for kind in allowed]


def commands_key(params: Json) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")


def set_text(store: dict[str, str], params: Json, name: str, limit: int) -> bool:
    text = str(params.get(name) or "")
    if len(text) > limit:
        raise bad_request(f"{name} is too long")
    language = str(params.get("language_code") or "")
    if text:
        store[language] = text
    else:
        store.pop(language, None)
    return True


def file_param(fake: FakeBot, params: Json, name: str, kind: str) -> StoredFile:
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


def document_json(stored: StoredFile) -> Json:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_name": stored.file_name,
        "mime_type": "text/csv" if stored.file_name.endswith(".csv") else "application/octet-stream",
        "file_size": len(stored.data),
    }


def photo_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG or JPEG (the bot's charts, posters); (0, 0) for anything else."""
    return image_size(data) or (0, 0)


def suffix(file_name: str) -> str:
    dot = file_name.rfind(".")
    return file_name[dot:] if 0 < dot < len(file_name) - 1 else ""


def new_message(fake: FakeBot, chat: Json, params: Json, **content: Any) -> Json:
    message: Json = {
        "message_id": fake.next_message_id(chat["id"]),
        "from": {k: v for k, v in fake.me().items() if k in ("id", "is_bot", "first_name", "username")},
        "chat": chat,
        "date": int(time.time()),
    }
    message.update({key: value for key, value in content.items() if value not in (None, "")})
    markup = inline_markup(params)
    if markup is not None:
        message["reply_markup"] = markup
    fake.messages[(chat["id"], message["message_id"])] = message
    return message


def editable_message(fake: FakeBot, params: Json) -> tuple[tuple[int, int], Json]:
    key = (int_param(params, "chat_id"), int_param(params, "message_id"))
    old = fake.messages.get(key)
    if old is None:
        raise bad_request("message to edit not found")
    return key, old


def replace_message(fake: FakeBot, key: tuple[int, int], old: Json, **changes: Any) -> Json:
    edited = {**old, **changes, "edit_date": int(time.time())}
    for name, value in changes.items():
        if value is None:
            edited.pop(name, None)
    fake.messages[key] = edited
    return edited
