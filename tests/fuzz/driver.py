"""Runs fuzz scenarios (`tests.fuzz.strategies`) through the real dispatcher and checks them.

`FuzzBot` turns each abstract event into a real Telegram `Update`, feeds it to
`Dispatcher.feed_update` with a `LocalSession` bot, and checks, per update:

- **no unhandled error**: nothing logged at ERROR while the update is handled (the errors
  router logs `update_failed` for every exception a handler lets escape, with the exception),
  nothing raised out of `feed_update`, and no `error_reply_failed` warning;
- **answered**: a private message gets a sendMessage / editMessageText / sendDocument /
  sendPhoto accepted by the (Telegram-strict) session for that chat; a callback query gets
  its answerCallbackQuery;
- **no internal text**: no reply, alert or caption shows a traceback, an exception or
  library name, `None`, an unformatted placeholder… (`INTERNAL_TEXT`), unless the user typed
  that very text (a topic named "None" is echoed back, rightly);

and per scenario, **nothing of another user's changed**: the rows of every user table (the
`users` row and every table with a `user_id` column) and the conversation state of the
*bystanders* — users with reviews, topics, picks, an import and open questions who never act
— are the same after the scenario as before, although actors tap their buttons.

Findings are returned, not raised: the tests raise the first (so hypothesis shrinks it), the
benchmark counts them.
"""

from __future__ import annotations

import io
import itertools
import logging
import random
import re
import traceback
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageText,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import (
    CallbackQuery,
    Chat,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberUpdated,
    Contact,
    Dice,
    InaccessibleMessage,
    InlineQuery,
    Location,
    Message,
    MessageEntity,
    PhotoSize,
    Sticker,
    Update,
    User,
    VideoNote,
    Voice,
)
from aiogram.types import Document as TgDocument
from sqlalchemy import TextClause, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.console import LocalSession, inline_buttons
from db.models import Base
from db.models import User as UserRow
from tests.fuzz import strategies as s

PROJECT = Path(__file__).resolve().parents[2]
DEMO_ZIP = PROJECT / "tests" / "fixtures" / "letterboxd" / "demo.zip"

#: The anonymous group admin: Telegram sends its messages from this bot user, `sender_chat` set.
ANONYMOUS_ADMIN = User(id=1087968824, is_bot=True, first_name="Group", username="GroupAnonymousBot")

#: Text a user must never see. Matched case-sensitively; excused when the user typed it.
INTERNAL_TEXT = re.compile(
    r"Traceback|\bFile \"|\bException\b|\b[A-Z][A-Za-z]*(?:Error|Exception)\b|sqlalchemy|asyncpg|psycopg|"
    r"aiogram|pydantic|procrastinate|\bNone\b|\bNaN\b|\bnan\b|object at 0x|\bDecimal\(|"
    r"\{[a-z_]+\}|%\([a-z_]+\)s|\bSELECT\b|\bINSERT\b|\bUPDATE\b \w+ SET|\bnull\b"
)
#: Texts the bot sends only when something failed (the errors router): seen in a reply = a bug.
ANSWER_METHODS = (SendMessage, EditMessageText, SendDocument, SendPhoto)


# --- findings --------------------------------------------------------------------------------


@dataclass
class Finding:
    """One broken promise: `kind` is unhandled / raised / unanswered / internal_text /
    bystander_changed; `step` the index of the step (-1: the whole scenario)."""

    kind: str
    step: int
    event: str
    detail: str
    where: str = ""
    exception: BaseException | None = None

    @property
    def signature(self) -> tuple[str, str, str]:
        """What makes two findings the same bug: kind, exception type, the project line."""
        kind = type(self.exception).__name__ if self.exception is not None else self.detail[:60]
        return (self.kind, kind, self.where)

    def __str__(self) -> str:
        where = f" at {self.where}" if self.where else ""
        return f"[{self.kind}] step {self.step} {self.event}: {self.detail}{where}"


def project_frame(error: BaseException) -> str:
    """ "path:line in function" of the innermost traceback frame in the project's own code
    (bot/, domain/, db/, integrations/, recommender/), else the innermost frame."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [
        f
        for f in frames
        if f.filename.startswith(str(PROJECT))
        and "/.venv/" not in f.filename
        and "/tests/fuzz/" not in f.filename
    ]
    frame = (ours or frames or [None])[-1]
    if frame is None:
        return ""
    path = Path(frame.filename)
    shown = path.relative_to(PROJECT) if path.is_relative_to(PROJECT) else path.name
    return f"{shown}:{frame.lineno} in {frame.name}"


class ErrorLog(logging.Handler):
    """Collects log records at ERROR and above, and `error_reply_failed` warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or _event(record) == "error_reply_failed":
            self.records.append(record)


def _event(record: logging.LogRecord) -> str:
    return str(record.msg.get("event", "")) if isinstance(record.msg, dict) else record.getMessage()


def _exception(record: logging.LogRecord) -> BaseException | None:
    if isinstance(record.msg, dict):
        exc = record.msg.get("exc_info")
        if isinstance(exc, BaseException):
            return exc
        if isinstance(exc, tuple) and len(exc) == 3 and isinstance(exc[1], BaseException):
            return exc[1]
    if record.exc_info and isinstance(record.exc_info[1], BaseException):
        return record.exc_info[1]
    return None


class Recorder:
    """A Bot API request middleware: every method the session *accepted*, in order."""

    def __init__(self) -> None:
        self.accepted: list[TelegramMethod[Any]] = []

    async def __call__(self, make_request: Any, bot: Bot, method: TelegramMethod[Any]) -> Any:
        result = await make_request(bot, method)
        self.accepted.append(method)
        return result


# --- document bytes ------------------------------------------------------------------------

RATINGS_HEADER = "Date,Name,Year,Letterboxd URI,Rating\n"


def _zip(members: Sequence[tuple[str, bytes]], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data, compress_type=compression)
    return buffer.getvalue()


def _ratings(rng: random.Random, rows: int = 5) -> bytes:
    names = ["Alien", "Heat", "Dune", "Amélie", 'Nope, "quoted"', "", "x" * 300, "Ali\x00en"]
    years = ["1979", "1995", "", "abcd", "99999", "-1", "2021"]
    ratings = ["4.5", "5", "0.5", "", "7", "-1", "four", "½"]
    lines = [
        f'2024-01-0{rng.randint(1, 9)},"{rng.choice(names)}",{rng.choice(years)},'
        f"https://boxd.it/{rng.randint(1, 9999)},{rng.choice(ratings)}"
        for _ in range(rows)
    ]
    return (RATINGS_HEADER + "\n".join(lines) + "\n").encode("utf-8")


@cache
def _bomb(total: bool) -> bytes:
    """A member over 1 MB unpacking to > 100× its size; or members > 100 MB in all."""
    if not total:
        return _zip([("letterboxd-x/ratings.csv", RATINGS_HEADER.encode() + b" " * (3 * 1024 * 1024))])
    chunk = RATINGS_HEADER.encode() + b"\n" * (26 * 1024 * 1024)
    return _zip(
        [
            (f"letterboxd-x/{name}", chunk)
            for name in ("ratings.csv", "diary.csv", "watched.csv", "watchlist.csv")
        ]
    )


@cache
def _demo_zip() -> bytes:
    return DEMO_ZIP.read_bytes()


def document_bytes(payload: str, seed: int) -> bytes:
    """The bytes of a fuzzed document (`strategies.PAYLOADS`), deterministic in `seed`."""
    rng = random.Random(seed)
    if payload == "random":
        return rng.randbytes(rng.randint(1, 512))
    if payload == "empty":
        return b""
    if payload == "demo_zip":
        return _demo_zip()
    if payload == "ratings_csv":
        return _ratings(rng)
    if payload == "junk_csv":
        return b"\xef\xbb\xbf" + rng.randbytes(64) + b"\n" + _ratings(rng)
    if payload == "imdb_csv":
        return b"Const,Your Rating,Date Rated,Title,URL,Title Type\ntt0078748,9,2024-01-01,Alien,x,movie\n"
    if payload == "nul_csv":
        return _ratings(rng).replace(b"Alien", b"Ali\x00en") + b"\x00\x00"
    if payload == "zip_abs":
        return _zip([("/abs/ratings.csv", _ratings(rng))])
    if payload == "zip_traversal":
        return _zip([("../x.csv", _ratings(rng)), ("../../ratings.csv", _ratings(rng))])
    if payload == "zip_backslash":
        return _zip([("C:\\export\\ratings.csv", _ratings(rng)), ("ratings.csv/", b"")])
    if payload == "zip_unicode":
        return _zip([("lëttërböxd-ü/ratings.csv", _ratings(rng)), ("lëttërböxd-ü/😀.csv", b"a,b\n")])
    if payload == "zip_empty":
        return _zip([])
    if payload == "zip_nested":
        return _zip([("inner.zip", _zip([("ratings.csv", _ratings(rng))]))])
    if payload == "zip_encrypted_flag":
        data = bytearray(_zip([("ratings.csv", _ratings(rng))]))
        data[6] |= 0x1  # the local header's "encrypted" bit
        central = data.rfind(b"PK\x01\x02")
        if central >= 0:
            data[central + 8] |= 0x1
        return bytes(data)
    if payload == "zip_truncated":
        data = _demo_zip()
        return data[: rng.randint(10, len(data) - 1)]
    if payload == "zip_bomb":
        return _bomb(False)
    if payload == "zip_bomb_total":
        return _bomb(True)
    raise ValueError(payload)


# --- the driver ----------------------------------------------------------------------------


@dataclass
class Actor:
    telegram_id: int
    language: str | None
    first_name: str = "Fuzz"

    def user(self) -> User:
        return User(
            id=self.telegram_id, is_bot=False, first_name=self.first_name, language_code=self.language
        )

    def chat(self) -> Chat:
        return Chat(id=self.telegram_id, type="private", first_name=self.first_name)


@dataclass
class Outcome:
    """What one scenario did: updates fed, findings."""

    updates: int = 0
    findings: list[Finding] = field(default_factory=list)


_BYSTANDER_SCRIPTS: tuple[tuple[str, ...], ...] = (
    (
        "/review Alien 1979",
        "4.5 still the best creature feature",
        "[Done]",
        "/avoid gore",
        "/avoid slow romance",
        "/avoid",
        "/recommend",
        "/forget",
    ),
    (":demo", "/language", "/recommend", "/review Alien"),
)


class FuzzBot:
    """The bot as a fuzz target: one dispatcher and bot, fresh user ids per scenario.

    `overrides` is what the dispatcher's `feed_update` gets besides the update (settings,
    session factory, service factory: see tests/bot/conftest.py `make_harness`).
    """

    def __init__(
        self,
        dp: Dispatcher,
        bot: Bot,
        overrides: dict[str, Any],
        session_factory: async_sessionmaker[AsyncSession],
        *,
        id_base: int,
    ) -> None:
        assert isinstance(bot.session, LocalSession)
        self.dp = dp
        self.bot = bot
        self.session: LocalSession = bot.session
        self.overrides = overrides
        self.session_factory = session_factory
        self.recorder = Recorder()
        self.session.middleware(self.recorder)
        self.errors = ErrorLog()
        self._ids = itertools.count(id_base, 10)
        self._update_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self.bystanders: list[Actor] = []
        self.foreign: list[tuple[Message, str]] = []  # bystanders' buttons: (message, data)
        self.foreign_data: list[str] = []
        self._last_user_message: dict[int, Message] = {}
        self._last_tap: dict[int, tuple[Message, str]] = {}
        self._bystander_ids: list[int] | None = None
        self._level = logging.NOTSET
        self.baseline: dict[str, str] = {}

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> FuzzBot:
        """Collect errors from the root logger; below WARNING nothing is formatted (speed)."""
        root = logging.getLogger()
        self._level = root.level
        root.setLevel(logging.WARNING)
        root.addHandler(self.errors)
        return self

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self.errors)
        root.setLevel(self._level)

    async def setup_bystanders(self) -> list[Finding]:
        """Two users with reviews, topics, picks, an import and open questions, who then never
        act: the scenario must leave every row and state of theirs unchanged."""
        findings: list[Finding] = []
        for script in _BYSTANDER_SCRIPTS:
            actor = Actor(next(self._ids), "en", "Bystander")
            self.bystanders.append(actor)
            for line in script:
                if line == ":demo":
                    event: s.Event = s.Document("letterboxd.zip", "application/zip", "demo_zip", 0)
                elif line.startswith("[") and line.endswith("]"):
                    message = self.session.last_keyboard_message(actor.telegram_id)
                    buttons = inline_buttons(message.reply_markup if message else None)
                    found = [b for b in buttons if line[1:-1] in b.text and b.callback_data]
                    if message is None or not found:
                        continue
                    await self._feed(self._callback(actor, message, found[0].callback_data or ""))
                    continue
                else:
                    event = s.Text(line)
                outcome = Outcome()
                await self._step(actor, actor, event, 0, outcome, [line])
                findings += outcome.findings
            for message in self.session.messages.values():
                if message.chat.id == actor.telegram_id:
                    for button in inline_buttons(message.reply_markup):
                        if button.callback_data:
                            self.foreign.append((message, button.callback_data))
        async with self.session_factory() as session:
            from db.models import Import, RecommendationItem

            ids = await self._user_ids(session)
            for import_id in await session.scalars(select(Import.id).where(Import.user_id.in_(ids))):
                self.foreign_data.append(f"imp:{import_id}")
            for item_id in await session.scalars(
                select(RecommendationItem.id).where(RecommendationItem.user_id.in_(ids))
            ):
                self.foreign_data += [f"pick:s:{item_id}", f"pick:n:{item_id}", f"pick:w:{item_id}"]
        self.foreign_data += [data for _, data in self.foreign]
        self.session.clear()
        self.baseline = await self.snapshot()
        return findings

    # -- one scenario -------------------------------------------------------------------------

    async def run(self, scenario: s.Scenario) -> Outcome:
        """Feed every step of `scenario` as fresh users; return what broke."""
        self.session.clear()
        self.recorder.accepted.clear()
        self._last_user_message.clear()
        self._last_tap.clear()
        actors = [Actor(next(self._ids), lang) for lang in scenario.languages]
        inputs = _inputs(scenario)
        outcome = Outcome()
        before = self.baseline  # examples are rolled back (tests) or never touch bystanders (bench)
        for index, step in enumerate(scenario.steps):
            actor = actors[step.actor % len(actors)]
            owner = (
                actors[(step.actor + step.event.owner) % len(actors)]
                if isinstance(step.event, s.Tap)
                else actor
            )
            await self._step(actor, owner, step.event, index, outcome, inputs)
        after = await self.snapshot()
        if before != after:
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            outcome.findings.append(
                Finding("bystander_changed", -1, "scenario", f"changed: {', '.join(changed)[:300]}")
            )
        return outcome

    async def _step(
        self, actor: Actor, owner: Actor, event: s.Event, index: int, outcome: Outcome, inputs: Sequence[str]
    ) -> None:
        update = self._update(actor, owner, event)
        if update is None:
            return
        outcome.updates += 1
        calls_before = len(self.recorder.accepted)
        errors_before = len(self.errors.records)
        shown = _short(event)
        try:
            await self._feed(update)
        except Exception as error:  # nothing should escape feed_update
            outcome.findings.append(
                Finding("raised", index, shown, repr(error)[:300], project_frame(error), error)
            )
        for record in self.errors.records[errors_before:]:
            exc = _exception(record)
            detail = f"{_event(record)}: {exc!r}"[:300] if exc else _event(record)[:300]
            where = project_frame(exc) if exc else f"{record.name}"
            outcome.findings.append(Finding("unhandled", index, shown, detail, where, exc))
        calls = self.recorder.accepted[calls_before:]
        private = update.message is not None and update.message.chat.type == "private"
        if private and not any(
            isinstance(c, ANSWER_METHODS) and _chat(c) == actor.telegram_id for c in calls
        ):
            outcome.findings.append(Finding("unanswered", index, shown, "no reply to a private message"))
        if update.callback_query is not None:
            query_id = update.callback_query.id
            if not any(isinstance(c, AnswerCallbackQuery) and c.callback_query_id == query_id for c in calls):
                outcome.findings.append(Finding("unanswered", index, shown, "callback query not answered"))
        typed = "\n".join(inputs)
        for call in calls:
            for shown_text in _visible(call):
                for match in INTERNAL_TEXT.finditer(shown_text):
                    if match.group(0) not in typed:
                        outcome.findings.append(
                            Finding(
                                "internal_text",
                                index,
                                shown,
                                f"{type(call).__name__} shows {match.group(0)!r}: {shown_text[:200]!r}",
                            )
                        )
                        break

    async def _feed(self, update: Update) -> Any:
        return await self.dp.feed_update(self.bot, update, **self.overrides)

    # -- snapshot -----------------------------------------------------------------------------

    async def _user_ids(self, session: AsyncSession) -> list[int]:
        telegram_ids = [b.telegram_id for b in self.bystanders]
        return list(await session.scalars(select(UserRow.id).where(UserRow.telegram_id.in_(telegram_ids))))

    async def snapshot(self) -> dict[str, str]:
        """The bystanders' rows in every user table (a digest per table, one query) and their
        conversation state (in the digest when the storage is a table, else read from it)."""
        out: dict[str, str] = {}
        if not self.bystanders:
            return out
        telegram_ids = [b.telegram_id for b in self.bystanders]
        async with self.session_factory() as session:
            if self._bystander_ids is None:
                self._bystander_ids = await self._user_ids(session)
            params = {"ids": self._bystander_ids, "telegram_ids": telegram_ids}
            out.update((await session.execute(_snapshot_query(), params)).one()._asdict())
        if not hasattr(self.dp.storage, "session_factory"):  # e.g. MemoryStorage: not in a table
            for telegram_id in telegram_ids:
                key = StorageKey(bot_id=self.bot.id, chat_id=telegram_id, user_id=telegram_id)
                state = (await self.dp.storage.get_state(key), await self.dp.storage.get_data(key))
                out[f"state:{telegram_id}"] = repr(state)
        return out

    # -- updates ------------------------------------------------------------------------------

    def _update(self, actor: Actor, owner: Actor, event: s.Event) -> Update | None:
        now = datetime.now(UTC)
        match event:
            case s.Text(text):
                return self._message(actor, text=text, entities=_command_entity(text))
            case s.Tap(_, back, button):
                keyboards = [
                    m
                    for (chat, _), m in sorted(self.session.messages.items(), key=lambda kv: -kv[0][1])
                    if chat == owner.telegram_id
                    and any(b.callback_data for b in inline_buttons(m.reply_markup))
                ]
                if not keyboards:
                    return None
                message = keyboards[min(back, len(keyboards) - 1)]
                data = [b.callback_data for b in inline_buttons(message.reply_markup) if b.callback_data]
                return self._callback(actor, message, data[button % len(data)])
            case s.Repeat():
                previous = self._last_tap.get(actor.telegram_id)
                if previous is None:
                    return None
                message = self.session.messages.get(
                    (previous[0].chat.id, previous[0].message_id), previous[0]
                )
                return self._callback(actor, message, previous[1])
            case s.Forged(data, on):
                if on == "inline":
                    query = CallbackQuery(
                        id=f"fz-cbq-{next(self._callback_ids)}",
                        from_user=actor.user(),
                        chat_instance="fz-inline",
                        inline_message_id="fz-inline-message",
                        data=data,
                    )
                    return Update(update_id=next(self._update_ids), callback_query=query)
                if on == "inaccessible":
                    gone = InaccessibleMessage(chat=actor.chat(), message_id=1, date=0)
                    return self._callback(actor, gone, data)
                return self._callback(actor, self._own_message(actor), data)
            case s.Foreign(button):
                pool = self.foreign_data
                if not pool:
                    return None
                return self._callback(actor, self._own_message(actor), pool[button % len(pool)])
            case s.Document(name, mime, payload, seed, claimed, stored, caption):
                file_id = f"fz-file-{next(self._file_ids)}"
                data = document_bytes(payload, seed)
                if stored:
                    self.session.add_file(file_id, data, name or "file")
                document = TgDocument(
                    file_id=file_id,
                    file_unique_id=f"u-{file_id}",
                    file_name=name,
                    mime_type=mime,
                    file_size=len(data) if claimed is None else claimed,
                )
                return self._message(actor, document=document, caption=caption)
            case s.Media(kind, caption):
                return self._message(
                    actor, caption=caption if kind in ("photo", "voice") else None, **_media(kind)
                )
            case s.Edited(text):
                earlier = self._last_user_message.get(actor.telegram_id)
                message_id = (
                    earlier.message_id if earlier else self.session.next_message_id(actor.telegram_id)
                )
                edited = Message(
                    message_id=message_id,
                    date=now,
                    edit_date=int(now.timestamp()),
                    chat=actor.chat(),
                    from_user=actor.user(),
                    text=text,
                    entities=_command_entity(text),
                )
                return Update(update_id=next(self._update_ids), edited_message=edited)
            case s.Group(text, chat_type, anonymous):
                group = Chat(id=-(1_000_000_000_000 + actor.telegram_id), type=chat_type, title="Fuzz group")
                message = Message(
                    message_id=self.session.next_message_id(group.id),
                    date=now,
                    chat=group,
                    from_user=ANONYMOUS_ADMIN if anonymous else actor.user(),
                    sender_chat=group if anonymous else None,
                    text=text,
                    entities=_command_entity(text),
                )
                return Update(update_id=next(self._update_ids), message=message)
            case s.Channel(text, edited):
                channel = Chat(
                    id=-(2_000_000_000_000 + actor.telegram_id), type="channel", title="Fuzz channel"
                )
                post = Message(
                    message_id=self.session.next_message_id(channel.id),
                    date=now,
                    chat=channel,
                    sender_chat=channel,
                    text=text,
                    entities=_command_entity(text),
                    edit_date=int(now.timestamp()) if edited else None,
                )
                if edited:
                    return Update(update_id=next(self._update_ids), edited_channel_post=post)
                return Update(update_id=next(self._update_ids), channel_post=post)
            case s.Inline(query):
                inline = InlineQuery(
                    id=f"fz-iq-{next(self._callback_ids)}", from_user=actor.user(), query=query, offset=""
                )
                return Update(update_id=next(self._update_ids), inline_query=inline)
            case s.Member(which, status):
                return self._member(actor, which, status)
        raise TypeError(event)

    def _message(self, actor: Actor, **fields: Any) -> Update:
        message = Message(
            message_id=self.session.next_message_id(actor.telegram_id),
            date=datetime.now(UTC),
            chat=actor.chat(),
            from_user=actor.user(),
            **fields,
        )
        self._last_user_message[actor.telegram_id] = message
        return Update(update_id=next(self._update_ids), message=message)

    def _callback(self, actor: Actor, message: Message | InaccessibleMessage, data: str) -> Update:
        if isinstance(message, Message):
            self._last_tap[actor.telegram_id] = (message, data)
        query = CallbackQuery(
            id=f"fz-cbq-{next(self._callback_ids)}",
            from_user=actor.user(),
            chat_instance=f"fz-{message.chat.id}",
            message=message,
            data=data,
        )
        return Update(update_id=next(self._update_ids), callback_query=query)

    def _own_message(self, actor: Actor) -> Message:
        """The actor's newest bot message, or a bot message made up (as if sent long ago)."""
        found = self.session.last_message(actor.telegram_id)
        if found is not None and found.text is not None:
            return found
        message_id = self.session.next_message_id(actor.telegram_id)
        message = Message.model_validate(
            {
                "message_id": message_id,
                "date": int(datetime.now(UTC).timestamp()),
                "chat": actor.chat().model_dump(exclude_none=True),
                "from": {"id": self.bot.id, "is_bot": True, "first_name": "WhatToWatch"},
                "text": "An old message.",
            },
            context={"bot": self.bot},
        )
        self.session.messages[(actor.telegram_id, message_id)] = message
        return message

    def _member(self, actor: Actor, which: str, status: str) -> Update:
        now = datetime.now(UTC)
        if which == "my_chat_member":
            chat, subject = actor.chat(), User(id=self.bot.id, is_bot=True, first_name="WhatToWatch")
        else:
            chat = Chat(id=-(1_000_000_000_000 + actor.telegram_id), type="supergroup", title="Fuzz group")
            subject = actor.user()
        old = ChatMemberMember(user=subject)
        new: ChatMemberMember | ChatMemberLeft | ChatMemberBanned
        if status == "kicked":
            new = ChatMemberBanned(user=subject, until_date=0)
        elif status == "left":
            new = ChatMemberLeft(user=subject)
        else:
            new, old = ChatMemberMember(user=subject), ChatMemberLeft(user=subject)
        updated = ChatMemberUpdated(
            chat=chat, from_user=actor.user(), date=now, old_chat_member=old, new_chat_member=new
        )
        return Update(update_id=next(self._update_ids), **{which: updated})


# --- helpers ----


@cache
def _snapshot_query() -> TextClause:
    """One row: a digest of the rows of `users` and of every table with a `user_id`: a
    reference to `users.id` (`:ids`), else a Telegram id (`:telegram_ids`, e.g. `fsm_states`)."""
    parts = []
    for table in Base.metadata.sorted_tables:
        if table.name == "users":
            where = "t.id = ANY(:ids)"
        elif "user_id" in table.c:
            references_users = any(fk.column.table.name == "users" for fk in table.c.user_id.foreign_keys)
            where = "t.user_id = ANY(:ids)" if references_users else "t.user_id = ANY(:telegram_ids)"
        else:
            continue
        parts.append(
            f"(SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
            f'FROM "{table.name}" t WHERE {where}) AS "{table.name}"'
        )
    return text("SELECT " + ", ".join(parts))


_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


def _command_entity(text: str) -> list[MessageEntity] | None:
    """Telegram marks a leading /command (with @botname) as a bot_command entity."""
    if match := _COMMAND.match(text):
        return [
            MessageEntity(type="bot_command", offset=0, length=len(match.group(0).encode("utf-16-le")) // 2)
        ]
    return None


def _media(kind: str) -> dict[str, Any]:
    file = {"file_id": f"fz-{kind}", "file_unique_id": f"fz-u-{kind}"}
    match kind:
        case "photo":
            return {"photo": [PhotoSize(**file, width=90, height=90)]}
        case "sticker":
            return {
                "sticker": Sticker(
                    **file, type="regular", width=512, height=512, is_animated=False, is_video=False
                )
            }
        case "voice":
            return {"voice": Voice(**file, duration=3)}
        case "video_note":
            return {"video_note": VideoNote(**file, length=240, duration=3)}
        case "location":
            return {"location": Location(latitude=51.5, longitude=-0.12)}
        case "contact":
            return {"contact": Contact(phone_number="+10000000000", first_name="Nobody")}
        case "dice":
            return {"dice": Dice(emoji="🎲", value=6)}
    raise ValueError(kind)


def _chat(method: TelegramMethod[Any]) -> int | None:
    chat_id = getattr(method, "chat_id", None)
    if isinstance(chat_id, int):
        return chat_id
    if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
        return int(chat_id)
    return None


def _visible(method: TelegramMethod[Any]) -> list[str]:
    """What the user reads of a method: text, caption, alert, button labels."""
    out: list[str] = []
    for name in ("text", "caption"):
        value = getattr(method, name, None)
        if isinstance(value, str):
            out.append(value)
    markup = getattr(method, "reply_markup", None)
    if markup is not None and hasattr(markup, "inline_keyboard"):
        out += [b.text for b in inline_buttons(markup)]
    return out


def _inputs(scenario: s.Scenario) -> list[str]:
    """Everything the users typed or named (echoed text is not a leak)."""
    out: list[str] = []
    for step in scenario.steps:
        for name in ("text", "query", "data", "name", "caption"):
            value = getattr(step.event, name, None)
            if isinstance(value, str):
                out.append(value)
    return out


def _short(event: s.Event) -> str:
    text = repr(event)
    return text if len(text) <= 200 else text[:150] + f"…({len(text)} chars)"
