"""The local Bot API session: answers Bot API methods in-process and keeps a transcript.

:class:`LocalSession` holds the state (the messages the bot sent, the transcript, files, chat
members, names), answers ``make_request`` by handing each method to its handler — the message
methods in :mod:`bot.console.messages`, documents, photos and files in :mod:`bot.console.media`,
getMe, getChatMember, deleteMessage and the bot commands here — and keeps the message store the
handlers share (:meth:`~LocalSession.new_message`, :meth:`~LocalSession.emit`, …).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from aiogram import Bot
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
    Chat,
    InlineKeyboardMarkup,
    Message,
    ResultChatMemberUnion,
    TelegramObject,
    User,
)

from bot.console.html import html_to_text
from bot.console.media import SentDocument, SentPhoto, StoredFile, get_file, send_document, send_photo
from bot.console.messages import (
    answer_callback_query,
    answer_inline_query,
    edit_message_caption,
    edit_message_reply_markup,
    edit_message_text,
    send_message,
)
from bot.console.rules import MEMBER_STATUSES, chat_member, check_commands, checked_chat_id

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
        """Hand ``method`` to its handler: messages and query answers in :mod:`bot.console.messages`,
        documents, photos and files in :mod:`bot.console.media`, the rest here."""
        if isinstance(method, GetMe):
            return self._bot_user(bot)
        if isinstance(method, SendMessage):
            return send_message(self, bot, method)
        if isinstance(method, EditMessageText):
            return edit_message_text(self, bot, method)
        if isinstance(method, EditMessageCaption):
            return edit_message_caption(self, bot, method)
        if isinstance(method, EditMessageReplyMarkup):
            return edit_message_reply_markup(self, bot, method)
        if isinstance(method, DeleteMessage):
            return self._delete(method)
        if isinstance(method, AnswerCallbackQuery):
            return answer_callback_query(self, method)
        if isinstance(method, AnswerInlineQuery):
            return answer_inline_query(self, bot, method)
        if isinstance(method, SendDocument):
            return await send_document(self, bot, method)
        if isinstance(method, SendPhoto):
            return await send_photo(self, bot, method)
        if isinstance(method, GetFile):
            return get_file(self, method)
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
        chat_id, user_id = checked_chat_id(method, method.chat_id), method.user_id
        insiders = (bot.id,) if chat_id < 0 else (bot.id, chat_id)
        status = self.chat_members.get(chat_id, {}).get(user_id)
        if status is None and chat_id > 0 and user_id not in insiders:
            raise TelegramBadRequest(method=method, message="Bad Request: user not found")
        if user_id == bot.id:
            user = self._bot_user(bot)
        else:
            user = User(id=user_id, is_bot=False, first_name=self.user_names.get(user_id, str(user_id)))
        return _bound(bot, chat_member(user, status or ("member" if user_id in insiders else "left")))

    def _delete(self, method: DeleteMessage) -> bool:
        """deleteMessage: any message id the chat has had (not only the bot's), once."""
        key = (checked_chat_id(method, method.chat_id), method.message_id)
        known = method.message_id <= self._last_message_id.get(key[0], 0)
        if key in self._deleted or not known:
            raise TelegramBadRequest(method=method, message="Bad Request: message to delete not found")
        self._deleted.add(key)
        if self.messages.pop(key, None) is not None:
            self.emit("🗑 (message deleted)", key[0])
        return True

    # -- the message store (shared with bot.console.messages and bot.console.media) ----------

    def new_message(self, bot: Bot, chat_id: int, **fields: Any) -> Message:
        """Store a new message the bot sent to ``chat_id`` (the next id in the chat, from the bot,
        bound to ``bot``) and return it."""
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

    def replace_message(self, bot: Bot, key: tuple[int, int], old: Message, **changes: Any) -> Message:
        """Store ``old`` with ``changes`` (and an edit date) as the message at ``key``, and return it."""
        edit_date = int(datetime.now(UTC).timestamp())
        edited = _bound(bot, old.model_copy(update={**changes, "edit_date": edit_date}))
        self.messages[key] = edited
        return edited

    def record_text(self, chat_id: int, raw: str, plain: str) -> None:
        """Note a text that went out to ``chat_id`` (sendMessage, editMessageText) for :meth:`sent_texts`."""
        self._texts.append((chat_id, raw, plain))

    def emit(self, text: str, chat_id: int | None, to_user: int | None = None) -> None:
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
