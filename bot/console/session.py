"""The local Bot API session: answers Bot API methods in-process and keeps a transcript."""

from __future__ import annotations

import itertools
import mimetypes
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import (
    AnswerCallbackQuery,
    AnswerInlineQuery,
    Close,
    DeleteMessage,
    DeleteMyCommands,
    DeleteWebhook,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    GetChatMember,
    GetFile,
    GetMe,
    GetMyCommands,
    GetUpdates,
    LogOut,
    SendChatAction,
    SendDocument,
    SendMessage,
    SendPhoto,
    SetMyCommands,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    Chat,
    Document,
    File,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputFile,
    InputTextMessageContent,
    Message,
    PhotoSize,
    ReplyKeyboardMarkup,
    ResultChatMemberUnion,
    TelegramObject,
    URLInputFile,
    User,
)

from bot.console.html import html_to_text
from bot.console.rules import (
    MAX_PHOTO_BYTES,
    MAX_PHOTO_RATIO,
    MAX_PHOTO_SIDES,
    MEMBER_STATUSES,
    chat_member,
    check_commands,
    check_markup,
    checked_text,
    image_size,
    same_markup,
)

CONSOLE_TOKEN = "1234567890:CONSOLE-local-session-no-network-aaaa"
"""A shape-valid fake token: ``Bot`` accepts it, the bot id is 1234567890, nothing reaches Telegram."""
BOT_ID = int(CONSOLE_TOKEN.split(":", 1)[0])

BOT_USERNAME = "WhatToWatchBot"
BOT_FIRST_NAME = "WhatToWatch"

OutputCallback = Callable[[str], None]
_Object = TypeVar("_Object", bound=TelegramObject)

# --------------------------------------------------------------------------------------------------
# The session
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentDocument:
    """A document the bot sent: the file name, its bytes when they were uploaded, the caption."""

    chat_id: int
    file_name: str
    data: bytes | None
    caption: str | None
    message: Message


@dataclass(frozen=True)
class SentPhoto:
    """A photo the bot sent: its bytes when uploaded, the image size in pixels, the caption."""

    chat_id: int
    file_name: str
    data: bytes | None
    width: int
    height: int
    caption: str | None
    message: Message


@dataclass(frozen=True)
class StoredFile:
    """A file "on Telegram's servers" that ``bot.download(file_id)`` can fetch (see ``add_file``)."""

    file_id: str
    file_path: str
    data: bytes


def inline_buttons(markup: InlineKeyboardMarkup | None) -> list[InlineKeyboardButton]:
    """The buttons of a keyboard in the order they are numbered: row by row, left to right."""
    if markup is None:
        return []
    return [button for row in markup.inline_keyboard for button in row]


def render_inline_keyboard(markup: InlineKeyboardMarkup | None) -> list[str]:
    """One line per keyboard row: ``[1] ✅ Watched  [2] ⏭ Skip``; URL buttons get a ``↗``."""
    if markup is None:
        return []
    lines: list[str] = []
    number = itertools.count(1)
    for row in markup.inline_keyboard:
        cells = [f"[{next(number)}] {button.text}{' ↗' if button.url else ''}" for button in row]
        if cells:
            lines.append("  ".join(cells))
    return lines


class LocalSession(BaseSession):
    """An aiogram session that *is* the Bot API: answers methods in-process, never opens a socket.

    Used two ways:

    * the console chat (no ``TELEGRAM_BOT_TOKEN``): ``on_output`` prints every visible effect;
    * handler tests: ``calls``/``messages``/``sent_texts``/``last_markup`` are the transcript to
      assert on, and Telegram-like validation turns "would be a 400 in production" into an error.

    Answered: getMe, sendMessage, editMessageText, editMessageCaption, editMessageReplyMarkup,
    deleteMessage, answerCallbackQuery, answerInlineQuery (``inline_answers``), sendChatAction, setMyCommands,
    getMyCommands, deleteMyCommands, deleteWebhook, close, logOut, sendDocument, sendPhoto
    (``photos``), getFile (files registered with :meth:`add_file`), getChatMember (from
    ``chat_members``, see :meth:`set_chat_member`) and getUpdates (always ``[]``: nothing polls).
    Any other method raises ``NotImplementedError`` naming it, so a handler that needs a new
    method fails loudly in tests.

    Groups (negative chat ids): the bot's messages there are in a ``supergroup`` chat titled from
    ``chat_titles``. With ``label_chats`` every output line starts with the chat it went to,
    ``[group Film club]`` or ``[private Anna]`` (names from ``user_names``, else the id), and a
    callback answer names who saw it: ``[group Film club → Ben]``.
    """

    def __init__(
        self,
        on_output: OutputCallback | None = None,
        *,
        bot_username: str = BOT_USERNAME,
        bot_first_name: str = BOT_FIRST_NAME,
        bot_id: int = BOT_ID,
        first_message_id: int = 1,
        label_chats: bool = False,
    ) -> None:
        super().__init__()
        self.on_output = on_output
        self.label_chats = label_chats
        """Prefix every output with its chat (the console's group mode); off for one private chat."""
        #: Message ids start here in every chat. Telegram's ids only grow, across restarts
        #: too, and the bot relies on it (review parts are ordered by message id), so the
        #: console chat starts from the clock (`clock_message_id`); tests start from 1.
        self.first_message_id = first_message_id
        self.bot_id = bot_id
        """The bot's user id (the token's prefix): whose membership ``my_chat_member`` updates change."""
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.calls: list[TelegramMethod[Any]] = []
        """Every method object the bot called, in order (including ones that were rejected)."""
        self.messages: dict[tuple[int, int], Message] = {}
        """Messages the bot sent, keyed by (chat_id, message_id), in their current (edited) state."""
        self.documents: list[SentDocument] = []
        self.photos: list[SentPhoto] = []
        self.callback_answers: dict[str, AnswerCallbackQuery] = {}
        """answerCallbackQuery calls by callback_query_id (so tests can check every tap was answered)."""
        self.commands: list[BotCommand] = []
        self.files: dict[str, StoredFile] = {}
        self.chat_members: dict[int, dict[int, str]] = {}
        """chat id → user id → status (:data:`MEMBER_STATUSES`), what getChatMember answers."""
        self.chat_titles: dict[int, str] = {}
        """Group chat id → title (the bot's messages there, output labels)."""
        self.user_names: dict[int, str] = {}
        """User id → first name (getChatMember's users, output labels); UpdateFactory fills it."""
        self.callback_origins: dict[str, tuple[int, int]] = {}
        """Callback query id → (chat id, user id) of the tap, so its answer is labelled."""
        self.inline_answers: dict[str, AnswerInlineQuery] = {}
        """answerInlineQuery calls by inline_query_id, in order (each query is answered once)."""
        self.inline_queries: dict[str, str] = {}
        """Inline query id → its text (UpdateFactory fills it), so its answer is labelled."""
        self._texts: list[tuple[int, str, str]] = []  # (chat_id, raw text, plain text) that went out
        self._last_message_id: dict[int, int] = {}
        self._deleted: set[tuple[int, int]] = set()

    # -- transcript helpers ---------------------------------------------------------------------

    def sent_texts(self, chat_id: int | None = None, *, plain: bool = False) -> list[str]:
        """Texts of accepted sendMessage and editMessageText calls, in order (raw HTML, or ``plain``)."""
        return [
            plain_text if plain else raw
            for chat, raw, plain_text in self._texts
            if chat_id is None or chat == chat_id
        ]

    def sent_captions(self, chat_id: int | None = None, *, plain: bool = False) -> list[str]:
        """Captions of accepted sendPhoto calls (e.g. poster cards), in order (raw HTML, or
        ``plain`` as the HTML parse mode shows it)."""
        return [
            html_to_text(photo.caption) if plain else photo.caption
            for photo in self.photos
            if photo.caption and (chat_id is None or photo.chat_id == chat_id)
        ]

    def last_message(self, chat_id: int) -> Message | None:
        """The newest message the bot sent to ``chat_id`` that still exists."""
        ids = [message_id for chat, message_id in self.messages if chat == chat_id]
        return self.messages[(chat_id, max(ids))] if ids else None

    def last_keyboard_message(self, chat_id: int) -> Message | None:
        """The newest message in ``chat_id`` that still carries an inline keyboard."""
        for (chat, _), message in sorted(self.messages.items(), key=lambda item: -item[0][1]):
            if chat == chat_id and message.reply_markup is not None:
                return message
        return None

    def keyboard_messages(self, chat_id: int) -> list[Message]:
        """The messages in ``chat_id`` that still carry an inline keyboard, newest first
        (``[m.n]`` in the console taps button n of the m-th of them)."""
        return [
            message
            for (chat, _), message in sorted(self.messages.items(), key=lambda item: -item[0][1])
            if chat == chat_id and message.reply_markup is not None
        ]

    def last_markup(self, chat_id: int) -> InlineKeyboardMarkup | None:
        """The inline keyboard of the newest message in ``chat_id`` that still has one."""
        message = self.last_keyboard_message(chat_id)
        return message.reply_markup if message is not None else None

    def next_message_id(self, chat_id: int) -> int:
        """Allocate the next message id in a chat (shared with :class:`UpdateFactory`, as in Telegram)."""
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, self.first_message_id - 1) + 1
        return self._last_message_id[chat_id]

    def set_chat_member(
        self, chat_id: int, user_id: int, status: str = "member", *, first_name: str | None = None
    ) -> None:
        """Make getChatMember(chat_id, user_id) answer ``status`` (see :data:`MEMBER_STATUSES`)."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown chat member status {status!r} (one of {sorted(MEMBER_STATUSES)})")
        self.chat_members.setdefault(chat_id, {})[user_id] = status
        if first_name is not None:
            self.user_names[user_id] = first_name

    def chat_label(self, chat_id: int) -> str:
        """``[group <title>]`` for a group, ``[private <first name>]`` for a user (ids when unknown)."""
        if chat_id < 0:
            return f"[group {self.chat_titles.get(chat_id, chat_id)}]"
        return f"[private {self.user_names.get(chat_id, chat_id)}]"

    def add_file(self, file_id: str, data: bytes, file_name: str | None = None) -> StoredFile:
        """Put a file "on the server" so ``bot.get_file``/``bot.download(file_id)`` can fetch it."""
        stored = StoredFile(
            file_id=file_id, file_path=f"documents/{file_id}/{file_name or 'file'}", data=data
        )
        self.files[file_id] = stored
        return stored

    def clear(self) -> None:
        """Forget the transcript (calls, messages, texts, documents, photos, answers); keep files, ids,
        chat members, titles and names."""
        self.calls.clear()
        self.messages.clear()
        self.documents.clear()
        self.photos.clear()
        self.callback_answers.clear()
        self.callback_origins.clear()
        self.inline_answers.clear()
        self.inline_queries.clear()
        self._texts.clear()
        self._deleted.clear()

    # -- BaseSession -------------------------------------------------------------------------------

    async def close(self) -> None:
        """Nothing to close: there is no connection."""

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109 - BaseSession's signature
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        """Serve files registered with :meth:`add_file` (what ``bot.download`` reads); nothing else."""
        for stored in self.files.values():
            if url.endswith("/" + stored.file_path):
                for start in range(0, len(stored.data), chunk_size):
                    yield stored.data[start : start + chunk_size]
                return
        raise NotImplementedError("LocalSession does not download files it was not given via add_file()")

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - BaseSession's signature
    ) -> TelegramType:
        """Answer ``method`` locally and return what Telegram would (a bound Message, True, …)."""
        self.calls.append(method)
        return cast(TelegramType, await self._answer(bot, method))

    # -- the methods ---------------------------------------------------------------------------

    async def _answer(self, bot: Bot, method: TelegramMethod[Any]) -> Any:
        if isinstance(method, GetMe):
            return self._bot_user(bot)
        if isinstance(method, SendMessage):
            return self._send_message(bot, method)
        if isinstance(method, EditMessageText):
            return self._edit_text(bot, method)
        if isinstance(method, EditMessageCaption):
            return self._edit_caption(bot, method)
        if isinstance(method, EditMessageReplyMarkup):
            return self._edit_markup(bot, method)
        if isinstance(method, DeleteMessage):
            return self._delete(method)
        if isinstance(method, AnswerCallbackQuery):
            return self._answer_callback(method)
        if isinstance(method, AnswerInlineQuery):
            return self._answer_inline(bot, method)
        if isinstance(method, SendDocument):
            return await self._send_document(bot, method)
        if isinstance(method, SendPhoto):
            return await self._send_photo(bot, method)
        if isinstance(method, GetFile):
            return self._get_file(method)
        if isinstance(method, GetChatMember):
            return self._get_chat_member(bot, method)
        if isinstance(method, SetMyCommands):
            check_commands(method)
            self.commands = list(method.commands)
            return True
        if isinstance(method, GetMyCommands):
            return list(self.commands)
        if isinstance(method, DeleteMyCommands):
            self.commands = []
            return True
        if isinstance(method, SendChatAction | DeleteWebhook | Close | LogOut):
            return True
        if isinstance(method, GetUpdates):
            return []
        raise NotImplementedError(f"LocalSession does not answer {type(method).__name__}")

    def _bot_user(self, bot: Bot) -> User:
        return User(
            id=bot.id,
            is_bot=True,
            first_name=self.bot_first_name,
            username=self.bot_username,
            can_join_groups=False,
            can_read_all_group_messages=False,
            supports_inline_queries=True,
        ).as_(bot)

    def _get_chat_member(self, bot: Bot, method: GetChatMember) -> ResultChatMemberUnion:
        """A group answers from ``chat_members``: the bot is a member unless registered otherwise,
        unknown users have left. A private chat has its user and the bot; anyone else is not found."""
        chat_id, user_id = _chat_id(method, method.chat_id), method.user_id
        insiders = (bot.id,) if chat_id < 0 else (bot.id, chat_id)
        status = self.chat_members.get(chat_id, {}).get(user_id)
        if status is None and chat_id > 0 and user_id not in insiders:
            raise TelegramBadRequest(method=method, message="Bad Request: user not found")
        if user_id == bot.id:
            user = self._bot_user(bot)
        else:
            user = User(id=user_id, is_bot=False, first_name=self.user_names.get(user_id, str(user_id)))
        return _bound(bot, chat_member(user, status or ("member" if user_id in insiders else "left")))

    def _send_message(self, bot: Bot, method: SendMessage) -> Message:
        parse_mode = _resolve(bot, method.parse_mode)
        plain = checked_text(method, method.text, parse_mode)
        check_markup(method, method.reply_markup)
        chat_id = _chat_id(method, method.chat_id)
        inline = method.reply_markup if isinstance(method.reply_markup, InlineKeyboardMarkup) else None
        message = self._new_message(bot, chat_id, text=method.text, reply_markup=inline)
        self._texts.append((chat_id, method.text, plain))
        lines = [plain]
        if isinstance(method.reply_markup, ReplyKeyboardMarkup):
            lines += ["⌨️ " + " | ".join(b.text for b in row) for row in method.reply_markup.keyboard]
        self._emit("\n".join(lines + render_inline_keyboard(inline)), chat_id)
        return message

    def _edit_text(self, bot: Bot, method: EditMessageText) -> Message | bool:
        parse_mode = _resolve(bot, method.parse_mode)
        plain = checked_text(method, method.text or "", parse_mode)
        text = cast(str, method.text)
        check_markup(method, method.reply_markup)
        if method.inline_message_id is not None:
            self._emit("\n".join(["✏️ " + plain, *render_inline_keyboard(method.reply_markup)]), None)
            return True
        key, old = self._editable(method, method.chat_id, method.message_id)
        if old.text is None:
            raise TelegramBadRequest(
                method=method, message="Bad Request: there is no text in the message to edit"
            )
        if old.text == text and same_markup(old.reply_markup, method.reply_markup):
            raise TelegramBadRequest(
                method=method,
                message="Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        edited = self._replace(bot, key, old, text=text, reply_markup=method.reply_markup)
        self._texts.append((key[0], text, plain))
        self._emit("\n".join(["✏️ " + plain, *render_inline_keyboard(method.reply_markup)]), key[0])
        return edited

    def _edit_caption(self, bot: Bot, method: EditMessageCaption) -> Message | bool:
        """editMessageCaption: only a message with media has a caption to edit (as in Telegram)."""
        parse_mode = _resolve(bot, method.parse_mode)
        plain = checked_text(method, method.caption or "", parse_mode, caption=True)
        check_markup(method, method.reply_markup)
        if method.inline_message_id is not None:
            self._emit("\n".join(["✏️ " + plain, *render_inline_keyboard(method.reply_markup)]), None)
            return True
        key, old = self._editable(method, method.chat_id, method.message_id)
        if old.photo is None and old.document is None:
            raise TelegramBadRequest(
                method=method, message="Bad Request: there is no caption in the message to edit"
            )
        unchanged = (old.caption or "") == (method.caption or "")
        if unchanged and same_markup(old.reply_markup, method.reply_markup):
            raise TelegramBadRequest(
                method=method,
                message="Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        edited = self._replace(bot, key, old, caption=method.caption, reply_markup=method.reply_markup)
        self._emit("\n".join(["✏️ " + plain, *render_inline_keyboard(method.reply_markup)]), key[0])
        return edited

    def _edit_markup(self, bot: Bot, method: EditMessageReplyMarkup) -> Message | bool:
        check_markup(method, method.reply_markup)
        rows = render_inline_keyboard(method.reply_markup)
        summary = "✏️ (buttons updated)" if method.reply_markup is not None else "✏️ (buttons removed)"
        if method.inline_message_id is not None:
            self._emit("\n".join([summary, *rows]), None)
            return True
        key, old = self._editable(method, method.chat_id, method.message_id)
        if same_markup(old.reply_markup, method.reply_markup):
            raise TelegramBadRequest(
                method=method,
                message="Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        edited = self._replace(bot, key, old, reply_markup=method.reply_markup)
        self._emit("\n".join([summary, *rows]), key[0])
        return edited

    def _delete(self, method: DeleteMessage) -> bool:
        key = (_chat_id(method, method.chat_id), method.message_id)
        known = method.message_id <= self._last_message_id.get(key[0], 0)
        if key in self._deleted or not known:
            raise TelegramBadRequest(method=method, message="Bad Request: message to delete not found")
        self._deleted.add(key)
        if self.messages.pop(key, None) is not None:
            self._emit("🗑 (message deleted)", key[0])
        return True

    def _answer_callback(self, method: AnswerCallbackQuery) -> bool:
        if method.callback_query_id in self.callback_answers:
            raise TelegramBadRequest(
                method=method,
                message="Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self.callback_answers[method.callback_query_id] = method
        chat_id, user_id = self.callback_origins.get(method.callback_query_id, (None, None))
        if method.text:
            self._emit(("⚠️ " if method.show_alert else "💬 ") + method.text, chat_id, user_id)
        if method.url:
            self._emit(f"🔗 {method.url}", chat_id, user_id)
        return True

    def _answer_inline(self, bot: Bot, method: AnswerInlineQuery) -> bool:
        """Check what Telegram checks (answered once, at most 50 results with distinct ids of
        1–64 bytes, each card's text and buttons) and print the results, numbered for
        ``:choose N``. Only articles with a text card are taken (what this bot sends)."""
        if method.inline_query_id in self.inline_answers:
            raise TelegramBadRequest(
                method=method,
                message="Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        if len(method.results) > 50:
            raise TelegramBadRequest(method=method, message="Bad Request: RESULTS_TOO_MUCH")
        ids = [result.id for result in method.results]
        if len(set(ids)) != len(ids) or not all(1 <= len(i.encode()) <= 64 for i in ids):
            raise TelegramBadRequest(method=method, message="Bad Request: RESULT_ID_INVALID")
        lines = []
        for number, result in enumerate(method.results, 1):
            if not isinstance(result, InlineQueryResultArticle) or not isinstance(
                result.input_message_content, InputTextMessageContent
            ):
                raise NotImplementedError(f"LocalSession answers article results only, not {type(result)}")
            content = result.input_message_content
            checked_text(method, content.message_text, _resolve(bot, content.parse_mode))
            check_markup(method, result.reply_markup)
            about = f" — {result.description}" if result.description else ""
            lines.append(f"[{number}] {result.title}{about}{' 🖼' if result.thumbnail_url else ''}")
        self.inline_answers[method.inline_query_id] = method
        query = self.inline_queries.get(method.inline_query_id, "")
        heading = f"🔎 inline “{query}”: {len(method.results)} result(s)"
        if method.button is not None:
            lines.append(f"[↗ {method.button.text}] (/start {method.button.start_parameter})")
        self._emit("\n".join([heading, *lines]), None)
        return True

    async def _upload(self, bot: Bot, file: InputFile | str, default_name: str) -> tuple[str, bytes | None]:
        """(file name, bytes) of what a send method carries: an upload (bytes read), a file id
        this session knows (its bytes), or a URL / unknown id (no bytes)."""
        if isinstance(file, InputFile):
            if isinstance(file, BufferedInputFile):
                return file.filename or default_name, file.data
            if isinstance(file, URLInputFile):
                return file.filename or default_name, None
            return file.filename or default_name, b"".join([chunk async for chunk in file.read(bot)])
        if file in self.files:
            stored = self.files[file]
            return stored.file_path.rsplit("/", 1)[-1], stored.data
        return file.rsplit("/", 1)[-1] or file, None

    async def _send_document(self, bot: Bot, method: SendDocument) -> Message:
        parse_mode = _resolve(bot, method.parse_mode)
        caption_plain = None
        if method.caption is not None:
            caption_plain = checked_text(method, method.caption, parse_mode, caption=True)
        check_markup(method, method.reply_markup)
        chat_id = _chat_id(method, method.chat_id)
        file_name, data = await self._upload(bot, method.document, "file")
        document_number = len(self.documents) + 1
        document = Document(
            file_id=f"local-document-{document_number}",
            file_unique_id=f"local-unique-{document_number}",
            file_name=file_name,
            mime_type=mimetypes.guess_type(file_name)[0],
            file_size=len(data) if data is not None else None,
        )
        inline = method.reply_markup if isinstance(method.reply_markup, InlineKeyboardMarkup) else None
        message = self._new_message(
            bot, chat_id, document=document, caption=method.caption, reply_markup=inline
        )
        self.documents.append(SentDocument(chat_id, file_name, data, method.caption, message))
        if data is not None:
            self.add_file(document.file_id, data, file_name)
        lines = [f"📎 {file_name}"] + ([caption_plain] if caption_plain else [])
        self._emit("\n".join(lines + render_inline_keyboard(inline)), chat_id)
        return message

    async def _send_photo(self, bot: Bot, method: SendPhoto) -> Message:
        """Uploaded photos must be a PNG or JPEG within Telegram's limits (10 MB, width + height
        ≤ 10000, sides at most 20:1), as the real Bot API checks; URLs and file ids are taken
        (not fetched): a URL is printed as is ("🖼 https://…"), then the caption and buttons."""
        parse_mode = _resolve(bot, method.parse_mode)
        caption_plain = None
        if method.caption is not None:
            caption_plain = checked_text(method, method.caption, parse_mode, caption=True)
        check_markup(method, method.reply_markup)
        chat_id = _chat_id(method, method.chat_id)
        file_name, data = await self._upload(bot, method.photo, "photo")
        width = height = 0
        if data is not None:
            size = image_size(data)
            if size is None:
                raise TelegramBadRequest(method=method, message="Bad Request: IMAGE_PROCESS_FAILED")
            width, height = size
            if len(data) > MAX_PHOTO_BYTES:
                raise TelegramBadRequest(method=method, message="Bad Request: PHOTO_SAVE_FILE_INVALID")
            if width + height > MAX_PHOTO_SIDES or max(width, height) > MAX_PHOTO_RATIO * min(width, height):
                raise TelegramBadRequest(method=method, message="Bad Request: PHOTO_INVALID_DIMENSIONS")
        photo_number = len(self.photos) + 1
        photo = PhotoSize(
            file_id=f"local-photo-{photo_number}",
            file_unique_id=f"local-photo-unique-{photo_number}",
            width=width,
            height=height,
            file_size=len(data) if data is not None else None,
        )
        inline = method.reply_markup if isinstance(method.reply_markup, InlineKeyboardMarkup) else None
        message = self._new_message(bot, chat_id, photo=[photo], caption=method.caption, reply_markup=inline)
        self.photos.append(SentPhoto(chat_id, file_name, data, width, height, method.caption, message))
        if data is not None:
            self.add_file(photo.file_id, data, file_name)
        size_note = f" ({width}×{height})" if data is not None else ""
        shown = method.photo if isinstance(method.photo, str) and "://" in method.photo else file_name
        lines = [f"🖼 {shown}{size_note}"] + ([caption_plain] if caption_plain else [])
        self._emit("\n".join(lines + render_inline_keyboard(inline)), chat_id)
        return message

    def _get_file(self, method: GetFile) -> File:
        stored = self.files.get(method.file_id)
        if stored is None:
            raise TelegramBadRequest(
                method=method, message="Bad Request: wrong file_id or the file is temporarily unavailable"
            )
        return File(
            file_id=stored.file_id,
            file_unique_id=f"unique-{stored.file_id}",
            file_size=len(stored.data),
            file_path=stored.file_path,
        )

    # -- validation and bookkeeping ------------------------------------------------------------

    def _editable(
        self, method: TelegramMethod[Any], chat_id: int | str | None, message_id: int | None
    ) -> tuple[tuple[int, int], Message]:
        if chat_id is None or message_id is None:
            raise TelegramBadRequest(method=method, message="Bad Request: message to edit not found")
        key = (_chat_id(method, chat_id), message_id)
        old = self.messages.get(key)
        if old is None:
            raise TelegramBadRequest(method=method, message="Bad Request: message to edit not found")
        return key, old

    def _new_message(self, bot: Bot, chat_id: int, **fields: Any) -> Message:
        draft = Message(
            message_id=self.next_message_id(chat_id),
            date=datetime.now(UTC),
            chat=(
                Chat(id=chat_id, type="private")
                if chat_id > 0
                else Chat(id=chat_id, type="supergroup", title=self.chat_titles.get(chat_id))
            ),
            from_user=self._bot_user(bot),
            **fields,
        )
        message = _bound(bot, draft)
        self.messages[(chat_id, message.message_id)] = message
        return message

    def _replace(self, bot: Bot, key: tuple[int, int], old: Message, **changes: Any) -> Message:
        edit_date = int(datetime.now(UTC).timestamp())
        edited = _bound(bot, old.model_copy(update={**changes, "edit_date": edit_date}))
        self.messages[key] = edited
        return edited

    def _emit(self, text: str, chat_id: int | None, to_user: int | None = None) -> None:
        """Show ``text``; with ``label_chats``, after the label of ``chat_id`` when known, naming
        ``to_user`` if only they see it in a group (a callback answer): ``[group Film club → Ben]``."""
        if self.on_output is None:
            return
        if self.label_chats and chat_id is not None:
            label = self.chat_label(chat_id)
            if to_user is not None and to_user != chat_id:
                label = f"{label[:-1]} → {self.user_names.get(to_user, to_user)}]"
            text = f"{label} {text}"
        self.on_output(text)


def _bound(bot: Bot, obj: _Object) -> _Object:
    """Round-trip ``obj`` like a real API response, so it and every nested object are bound to ``bot``."""
    return type(obj).model_validate(obj.model_dump(exclude_none=True, warnings=False), context={"bot": bot})


def _resolve(bot: Bot, value: Any) -> Any:
    """A method field's value with ``Default(...)`` replaced by the bot's default (e.g. parse_mode)."""
    return bot.default[value.name] if isinstance(value, Default) else value


def _chat_id(method: TelegramMethod[Any], chat_id: int | str) -> int:
    if isinstance(chat_id, int):
        return chat_id
    if chat_id.lstrip("-").isdigit():
        return int(chat_id)
    raise TelegramBadRequest(method=method, message="Bad Request: chat not found")
