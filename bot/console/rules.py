"""What the local Bot API checks as Telegram does, and the chat member objects it answers.

Telegram's limits and rejections (text and caption length, HTML it cannot parse, callback data
size, text-only inline buttons, bot command shapes, photo dimensions, chats it does not know)
raise the same :class:`~aiogram.exceptions.TelegramBadRequest` a real Bot API call would;
:func:`chat_member` builds the ChatMember of a status for getChatMember and ``my_chat_member``
updates.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import SetMyCommands, TelegramMethod
from aiogram.types import (
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ResultChatMemberUnion,
    User,
)

from bot.console.html import HTMLParseError, html_to_text

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
#: sendPhoto limits (Bot API docs): 10 MB, width + height at most 10000, ratio at most 20.
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTO_SIDES = 10_000
MAX_PHOTO_RATIO = 20

MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "left", "kicked"})
"""The chat member statuses ``LocalSession.set_chat_member`` and :func:`chat_member` know."""


def chat_member(user: User, status: str) -> ResultChatMemberUnion:
    """The ChatMember of ``status`` (one of :data:`MEMBER_STATUSES`) for ``user``: the owner, an
    administrator (who may manage the chat, not promote), a member, one who left, one banned."""
    if status == "creator":
        return ChatMemberOwner(user=user, is_anonymous=False)
    if status == "administrator":
        return ChatMemberAdministrator(
            user=user,
            can_be_edited=False,
            is_anonymous=False,
            can_manage_chat=True,
            can_delete_messages=True,
            can_manage_video_chats=True,
            can_restrict_members=True,
            can_promote_members=False,
            can_change_info=True,
            can_invite_users=True,
            can_post_stories=False,
            can_edit_stories=False,
            can_delete_stories=False,
            can_send_welcome_messages=False,
            can_pin_messages=True,
        )
    if status == "member":
        return ChatMemberMember(user=user)
    if status == "left":
        return ChatMemberLeft(user=user)
    if status == "kicked":
        return ChatMemberBanned(user=user, until_date=datetime.fromtimestamp(0, UTC))  # 0: forever
    raise ValueError(f"unknown chat member status {status!r} (one of {sorted(MEMBER_STATUSES)})")


def checked_text(
    method: TelegramMethod[Any],
    text: str,
    parse_mode: Any,
    *,
    caption: bool = False,
) -> str:
    """Plain text as the user would see it; raise what Telegram raises for bad text or caption."""
    plain = text
    mode = parse_mode.value if isinstance(parse_mode, Enum) else parse_mode
    if isinstance(mode, str) and mode.upper() == "HTML":
        try:
            plain = html_to_text(text)
        except HTMLParseError as error:
            raise TelegramBadRequest(
                method=method, message=f"Bad Request: can't parse entities: {error}"
            ) from None
    if caption:
        if len(plain.strip()) > MAX_CAPTION_LENGTH:
            raise TelegramBadRequest(method=method, message="Bad Request: message caption is too long")
        return plain
    if not plain.strip():
        raise TelegramBadRequest(method=method, message="Bad Request: message text is empty")
    if len(plain.strip()) > MAX_TEXT_LENGTH:
        raise TelegramBadRequest(method=method, message="Bad Request: message is too long")
    return plain


def checked_chat_id(method: TelegramMethod[Any], chat_id: int | str) -> int:
    """A method's chat id as a number; a ``@username`` (no chat the local Bot API knows) is
    "chat not found"."""
    if isinstance(chat_id, int):
        return chat_id
    if chat_id.lstrip("-").isdigit():
        return int(chat_id)
    raise TelegramBadRequest(method=method, message="Bad Request: chat not found")


def check_markup(method: TelegramMethod[Any], markup: Any) -> None:
    """Reject oversized or empty callback data and inline buttons that do nothing."""
    if not isinstance(markup, InlineKeyboardMarkup):
        return
    for button in (button for row in markup.inline_keyboard for button in row):
        if button.callback_data is not None:
            if not 1 <= len(button.callback_data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
                raise TelegramBadRequest(method=method, message="Bad Request: BUTTON_DATA_INVALID")
        elif not _has_action(button):
            raise TelegramBadRequest(
                method=method,
                message="Bad Request: can't parse inline keyboard button: "
                "Text buttons are unallowed in the inline keyboard",
            )


def check_commands(method: SetMyCommands) -> None:
    """Reject command names and descriptions setMyCommands would."""
    for command in method.commands:
        if not re.fullmatch(r"[a-z0-9_]{1,32}", command.command):
            raise TelegramBadRequest(method=method, message="Bad Request: BOT_COMMAND_INVALID")
        if not 1 <= len(command.description) <= 256:
            raise TelegramBadRequest(method=method, message="Bad Request: command description is empty")


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG, read from its header; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data) and data[i] == 0xFF:
            marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start-of-frame
                return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
            i += 2 + length
    return None


def same_markup(old: InlineKeyboardMarkup | None, new: InlineKeyboardMarkup | None) -> bool:
    """Whether two keyboards are equal in content (an edit to the same one is "not modified")."""
    if old is None or new is None:
        return old is new
    return old.model_dump(exclude_none=True) == new.model_dump(exclude_none=True)


def _has_action(button: InlineKeyboardButton) -> bool:
    actions = (
        button.url,
        button.callback_data,
        button.web_app,
        button.login_url,
        button.switch_inline_query,
        button.switch_inline_query_current_chat,
        button.switch_inline_query_chosen_chat,
        button.copy_text,
        button.callback_game,
        button.pay,
    )
    return any(action is not None for action in actions)
