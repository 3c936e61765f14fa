"""Incoming updates as Telegram would send them: texts, commands, button taps, documents."""

from __future__ import annotations

import itertools
import mimetypes
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiogram.types import (
    CallbackQuery,
    Chat,
    Document,
    Message,
    MessageEntity,
    Update,
    User,
)

if TYPE_CHECKING:
    pass


from bot.console.session import LocalSession

# --------------------------------------------------------------------------------------------------
# Incoming updates
# --------------------------------------------------------------------------------------------------

_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


@dataclass(frozen=True)
class ChatUser:
    """The person on the other side of the chat (their private chat id equals ``telegram_id``)."""

    telegram_id: int
    first_name: str = "Console"
    language_code: str = "en"
    username: str | None = None

    def as_user(self) -> User:
        return User(
            id=self.telegram_id,
            is_bot=False,
            first_name=self.first_name,
            username=self.username,
            language_code=self.language_code,
        )

    def as_chat(self) -> Chat:
        return Chat(id=self.telegram_id, type="private", first_name=self.first_name, username=self.username)


class UpdateFactory:
    """Builds the updates Telegram would deliver: text messages, commands, button taps, documents.

    Pass the :class:`LocalSession` to share its per-chat message-id counter (in Telegram, user and
    bot messages in a private chat are numbered in one sequence) and to let :meth:`document` put
    the file's bytes where ``bot.download`` finds them.
    """

    def __init__(self, session: LocalSession | None = None) -> None:
        self.session = session
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._callback_ids = itertools.count(1)
        self._file_ids = itertools.count(1)

    def message(self, user: ChatUser, text: str) -> Update:
        """A text message; a leading ``/command`` (optionally ``@botname``) gets a bot_command entity."""
        entities = None
        if command := _COMMAND.match(text):
            length = len(command.group(0).encode("utf-16-le")) // 2
            entities = [MessageEntity(type="bot_command", offset=0, length=length)]
        return self._message_update(user, text=text, entities=entities)

    def callback(self, user: ChatUser, message: Message, data: str) -> Update:
        """A tap on an inline button with ``callback_data=data`` under the bot's ``message``."""
        query = CallbackQuery(
            id=f"cbq-{next(self._callback_ids)}",
            from_user=user.as_user(),
            chat_instance=f"chat-instance-{message.chat.id}",
            message=message,
            data=data,
        )
        return Update(update_id=next(self._update_ids), callback_query=query)

    def document(
        self,
        user: ChatUser,
        file_name: str,
        file_id: str | None = None,
        mime_type: str | None = None,
        file_size: int | None = None,
        *,
        caption: str | None = None,
        data: bytes | None = None,
    ) -> Update:
        """The user sends a file. With ``data`` (and a session), ``bot.download`` returns those bytes."""
        file_id = file_id or f"user-file-{next(self._file_ids)}"
        if data is not None:
            if self.session is None:
                raise ValueError("UpdateFactory needs the LocalSession to serve document data")
            self.session.add_file(file_id, data, file_name)
            file_size = len(data) if file_size is None else file_size
        document = Document(
            file_id=file_id,
            file_unique_id=f"unique-{file_id}",
            file_name=file_name,
            mime_type=mime_type or mimetypes.guess_type(file_name)[0],
            file_size=file_size,
        )
        return self._message_update(user, document=document, caption=caption)

    def _next_message_id(self, chat_id: int) -> int:
        if self.session is not None:
            return self.session.next_message_id(chat_id)
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _message_update(self, user: ChatUser, **fields: Any) -> Update:
        message = Message(
            message_id=self._next_message_id(user.telegram_id),
            date=datetime.now(UTC),
            chat=user.as_chat(),
            from_user=user.as_user(),
            **fields,
        )
        return Update(update_id=next(self._update_ids), message=message)
