"""Incoming updates as Telegram would send them: texts, commands, button taps, documents, and
in groups the bot being added or removed, members leaving or joining, and migrations."""

from __future__ import annotations

import itertools
import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from aiogram.types import (
    CallbackQuery,
    Chat,
    ChatMemberUpdated,
    Document,
    InlineQuery,
    Message,
    MessageEntity,
    Update,
    User,
)

from bot.console.rules import chat_member
from bot.console.session import BOT_FIRST_NAME, BOT_ID, BOT_USERNAME, LocalSession

# --------------------------------------------------------------------------------------------------
# Incoming updates
# --------------------------------------------------------------------------------------------------

_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


@dataclass(frozen=True)
class ChatUser:
    """A person talking to the bot (their private chat id equals ``telegram_id``)."""

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


@dataclass(frozen=True)
class GroupChat:
    """A group the bot is in: a negative ``chat_id`` (supergroups' look like -100…), a title."""

    chat_id: int
    title: str = "Console group"
    type: Literal["group", "supergroup"] = "supergroup"

    def __post_init__(self) -> None:
        if self.chat_id >= 0:
            raise ValueError(f"a group chat id is negative, not {self.chat_id}")

    def as_chat(self) -> Chat:
        return Chat(id=self.chat_id, type=self.type, title=self.title)


class UpdateFactory:
    """Builds the updates Telegram would deliver: text messages, commands, button taps, documents,
    inline queries (:meth:`inline_query`), in a user's private chat or (``chat=``) from a member in
    a :class:`GroupChat`, and the group events: :meth:`my_chat_member`, :meth:`member_left`,
    :meth:`member_joined`, :meth:`migrated`, :meth:`migrated_from`.

    Pass the :class:`LocalSession` to share its per-chat message-id counter (in Telegram, user and
    bot messages in a chat are numbered in one sequence), to let :meth:`document` put the file's
    bytes where ``bot.download`` finds them, and to keep the session's picture of the chats true:
    user names and group titles (output labels, getChatMember), callback origins, and members
    (getChatMember) as the group events change them.
    """

    def __init__(self, session: LocalSession | None = None) -> None:
        self.session = session
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._callback_ids = itertools.count(1)
        self._file_ids = itertools.count(1)

    def message(self, user: ChatUser, text: str, chat: GroupChat | None = None) -> Update:
        """A text message (in ``chat``, else in the user's private chat); a leading ``/command``
        (optionally ``@botname``) gets a bot_command entity."""
        entities = None
        if command := _COMMAND.match(text):
            length = len(command.group(0).encode("utf-16-le")) // 2
            entities = [MessageEntity(type="bot_command", offset=0, length=length)]
        return self._message_update(user, chat, text=text, entities=entities)

    def callback(self, user: ChatUser, message: Message, data: str) -> Update:
        """A tap on an inline button with ``callback_data=data`` under the bot's ``message``."""
        query = CallbackQuery(
            id=f"cbq-{next(self._callback_ids)}",
            from_user=user.as_user(),
            chat_instance=f"chat-instance-{message.chat.id}",
            message=message,
            data=data,
        )
        if self.session is not None:
            self.session.user_names[user.telegram_id] = user.first_name
            self.session.callback_origins[query.id] = (message.chat.id, user.telegram_id)
        return Update(update_id=next(self._update_ids), callback_query=query)

    def inline_query(self, user: ChatUser, query: str) -> Update:
        """``user`` types ``@bot query`` in some chat: an inline query (no chat; Telegram cuts
        the text at 256 characters)."""
        inline = InlineQuery(
            id=f"iq-{next(self._callback_ids)}", from_user=user.as_user(), query=query[:256], offset=""
        )
        if self.session is not None:
            self.session.user_names[user.telegram_id] = user.first_name
            self.session.inline_queries[inline.id] = inline.query
        return Update(update_id=next(self._update_ids), inline_query=inline)

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
        chat: GroupChat | None = None,
    ) -> Update:
        """The user sends a file (into ``chat``, else privately). With ``data`` (and a session),
        ``bot.download`` returns those bytes."""
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
        return self._message_update(user, chat, document=document, caption=caption)

    def my_chat_member(self, chat: GroupChat, user: ChatUser, old_status: str, new_status: str) -> Update:
        """The bot's own membership in ``chat`` changed, by ``user``: ``"left"`` → ``"member"`` when
        added, ``"member"`` → ``"left"`` / ``"kicked"`` when removed (statuses as in
        :data:`~bot.console.rules.MEMBER_STATUSES`). The session then answers getChatMember so."""
        session = self.session
        bot_id, first_name, username = (
            (session.bot_id, session.bot_first_name, session.bot_username)
            if session is not None
            else (BOT_ID, BOT_FIRST_NAME, BOT_USERNAME)
        )
        bot_user = User(id=bot_id, is_bot=True, first_name=first_name, username=username)
        self._note(user, chat)
        changed = ChatMemberUpdated(
            chat=chat.as_chat(),
            from_user=user.as_user(),
            date=datetime.now(UTC),
            old_chat_member=chat_member(bot_user, old_status),
            new_chat_member=chat_member(bot_user, new_status),
        )
        self._set_member(chat.chat_id, bot_id, new_status)
        return Update(update_id=next(self._update_ids), my_chat_member=changed)

    def member_left(self, chat: GroupChat, user: ChatUser) -> Update:
        """The service message of ``user`` leaving ``chat`` (``left_chat_member``)."""
        self._set_member(chat.chat_id, user.telegram_id, "left")
        return self._message_update(user, chat, left_chat_member=user.as_user())

    def member_joined(
        self, chat: GroupChat, users: Sequence[ChatUser], *, by: ChatUser | None = None
    ) -> Update:
        """The service message of ``users`` joining ``chat`` (``new_chat_members``), sent by
        ``by`` who added them (default: the first of them, as when one joins by a link)."""
        for user in users:
            self._note(user, None)
            self._set_member(chat.chat_id, user.telegram_id, "member")
        return self._message_update(by or users[0], chat, new_chat_members=[u.as_user() for u in users])

    def migrated(self, old_chat: GroupChat, new_chat_id: int, user: ChatUser) -> Update:
        """What Telegram sends in a group that became the supergroup ``new_chat_id``: a message
        with ``migrate_to_chat_id``. The session's members and title move along."""
        if self.session is not None:
            members = self.session.chat_members.get(old_chat.chat_id, {})
            self.session.chat_members.setdefault(new_chat_id, {}).update(members)
            self.session.chat_titles.setdefault(new_chat_id, old_chat.title)
        return self._message_update(user, old_chat, migrate_to_chat_id=new_chat_id)

    def migrated_from(self, new_chat: GroupChat, old_chat_id: int, user: ChatUser) -> Update:
        """The first message in the new supergroup: ``migrate_from_chat_id`` is the old group."""
        return self._message_update(user, new_chat, migrate_from_chat_id=old_chat_id)

    def _set_member(self, chat_id: int, user_id: int, status: str) -> None:
        if self.session is not None:
            self.session.set_chat_member(chat_id, user_id, status)

    def _note(self, user: ChatUser, chat: GroupChat | None) -> None:
        """Tell the session the user's name and the group's title (output labels, getChatMember)."""
        if self.session is not None:
            self.session.user_names[user.telegram_id] = user.first_name
            if chat is not None:
                self.session.chat_titles[chat.chat_id] = chat.title

    def _next_message_id(self, chat_id: int) -> int:
        if self.session is not None:
            return self.session.next_message_id(chat_id)
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _message_update(self, user: ChatUser, chat: GroupChat | None, **fields: Any) -> Update:
        """A message from ``user`` in ``chat`` (None: their private chat) with ``fields``."""
        self._note(user, chat)
        where = chat.as_chat() if chat is not None else user.as_chat()
        message = Message(
            message_id=self._next_message_id(where.id),
            date=datetime.now(UTC),
            chat=where,
            from_user=user.as_user(),
            **fields,
        )
        return Update(update_id=next(self._update_ids), message=message)
