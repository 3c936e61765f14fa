"""A local Bot API: the console chat, and the fake Telegram for handler tests.

Modules: `session` (the local Bot API session), `updates` (the update factory), `chat` (the
chat loop), `html` (Telegram's HTML parse mode).

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
``Dispatcher.feed_update``; ``[n]`` taps button *n* of the last inline keyboard.
"""

from bot.console.chat import BANNER, ConsoleChat, clock_message_id, console_bot
from bot.console.html import HTMLParseError, html_to_text
from bot.console.session import (
    BOT_FIRST_NAME,
    BOT_USERNAME,
    CONSOLE_TOKEN,
    LocalSession,
    OutputCallback,
    SentDocument,
    SentPhoto,
    StoredFile,
    inline_buttons,
    render_inline_keyboard,
)
from bot.console.updates import ChatUser, UpdateFactory

__all__ = [
    "BANNER",
    "BOT_FIRST_NAME",
    "BOT_USERNAME",
    "CONSOLE_TOKEN",
    "ChatUser",
    "ConsoleChat",
    "HTMLParseError",
    "LocalSession",
    "OutputCallback",
    "SentDocument",
    "SentPhoto",
    "StoredFile",
    "UpdateFactory",
    "clock_message_id",
    "console_bot",
    "html_to_text",
    "inline_buttons",
    "render_inline_keyboard",
]
