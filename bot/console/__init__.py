"""A local Bot API: the console chat, and the fake Telegram for handler tests.

Modules: `session` (the local Bot API session), `messages` (its message methods; keyboards as
terminal lines), `media` (its documents, photos and files), `updates` (the update factory), `chat`
(the chat loop), `rules` (what Telegram rejects; chat member objects), `html` (Telegram's HTML
parse mode).

Telegram is faked at the Bot API boundary only. :class:`LocalSession` is an aiogram
:class:`~aiogram.client.session.base.BaseSession` whose ``make_request`` answers Bot API methods
in-process instead of over HTTP: ``sendMessage`` returns a real :class:`~aiogram.types.Message`,
``editMessageText`` edits the stored one, and so on. Everything above the session — the
:class:`~aiogram.Bot`, the :class:`~aiogram.Dispatcher`, routers, filters, middlewares and handlers
— is the production code, unchanged. There is no second set of "console handlers".

The session keeps a transcript (``calls``, ``messages``, :meth:`LocalSession.sent_texts`,
:meth:`LocalSession.last_markup`), so handler tests assert on what the bot *sent*; it renders every
visible effect as plain text for a terminal (``on_output``); and it rejects the requests Telegram
would reject (empty or too long text, HTML that Telegram cannot parse, oversized callback data,
editing a missing or unchanged message), so those bugs fail in tests instead of in production.

:class:`UpdateFactory` builds the incoming updates (text, commands, button taps, documents) and
:class:`ConsoleChat` glues it together: a line typed in the terminal becomes an update fed to
``Dispatcher.feed_update``; ``[n]`` taps button *n* of the last inline keyboard, ``[m.n]`` of the
m-th latest.

Groups: a :class:`GroupChat` (negative id) takes messages from members (``chat=`` on
:meth:`UpdateFactory.message` and :meth:`UpdateFactory.document`), and the factory builds the
group events (the bot added or removed: ``my_chat_member``; members leaving or joining; a group
migrating to a supergroup). The session answers getChatMember from its member registry
(:meth:`LocalSession.set_chat_member`) and, with ``label_chats``, prefixes each output with its
chat: ``[group Film club]``, ``[private Anna]``. ``ConsoleChat(..., group=...)`` plays every
member of a group: each line starts with a speaker, ``@101 /together``, ``@102 [2.1]``,
``@101 :private /start`` (see :data:`GROUP_BANNER`).
"""

from bot.console.chat import (
    BANNER,
    DEFAULT_MEMBER_NAMES,
    GROUP_BANNER,
    GROUP_HINT,
    ConsoleChat,
    clock_message_id,
    console_bot,
)
from bot.console.html import HTMLParseError, html_to_text
from bot.console.media import SentDocument, SentPhoto, StoredFile
from bot.console.messages import inline_buttons, render_inline_keyboard
from bot.console.rules import MEMBER_STATUSES, chat_member
from bot.console.session import (
    BOT_FIRST_NAME,
    BOT_ID,
    BOT_USERNAME,
    CONSOLE_TOKEN,
    LocalSession,
    OutputCallback,
)
from bot.console.updates import ChatUser, GroupChat, UpdateFactory

__all__ = [
    "BANNER",
    "BOT_FIRST_NAME",
    "BOT_ID",
    "BOT_USERNAME",
    "CONSOLE_TOKEN",
    "DEFAULT_MEMBER_NAMES",
    "GROUP_BANNER",
    "GROUP_HINT",
    "MEMBER_STATUSES",
    "ChatUser",
    "ConsoleChat",
    "GroupChat",
    "HTMLParseError",
    "LocalSession",
    "OutputCallback",
    "SentDocument",
    "SentPhoto",
    "StoredFile",
    "UpdateFactory",
    "chat_member",
    "clock_message_id",
    "console_bot",
    "html_to_text",
    "inline_buttons",
    "render_inline_keyboard",
]
