"""The message methods of the local Bot API, and how a message shows in the terminal.

sendMessage, editMessageText, editMessageCaption, editMessageReplyMarkup, answerCallbackQuery and
answerInlineQuery, each a function taking the :class:`~bot.console.session.LocalSession` that
answers it: they check what Telegram checks (:mod:`bot.console.rules`), update the session's
messages and transcript, and show the effect through
:meth:`~bot.console.session.LocalSession.emit`. A message's inline keyboard shows as numbered
lines (:func:`render_inline_keyboard`), numbered as :func:`inline_buttons` lists the buttons
(``[n]`` in the console taps button *n*).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, cast

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import (
    AnswerCallbackQuery,
    AnswerInlineQuery,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    SendMessage,
    TelegramMethod,
)
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    ReplyKeyboardMarkup,
)

from bot.console.rules import check_markup, checked_chat_id, checked_text, same_markup

if TYPE_CHECKING:
    from bot.console.session import LocalSession


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


def resolve_default(bot: Bot, value: Any) -> Any:
    """A method field's value with ``Default(...)`` replaced by the bot's default (e.g. parse_mode)."""
    return bot.default[value.name] if isinstance(value, Default) else value


def send_message(session: LocalSession, bot: Bot, method: SendMessage) -> Message:
    """sendMessage: the new message, shown with its reply keyboard (``⌨️``) and inline keyboard."""
    parse_mode = resolve_default(bot, method.parse_mode)
    plain = checked_text(method, method.text, parse_mode)
    check_markup(method, method.reply_markup)
    chat_id = checked_chat_id(method, method.chat_id)
    inline = method.reply_markup if isinstance(method.reply_markup, InlineKeyboardMarkup) else None
    message = session.new_message(bot, chat_id, text=method.text, reply_markup=inline)
    session.record_text(chat_id, method.text, plain)
    lines = [plain]
    if isinstance(method.reply_markup, ReplyKeyboardMarkup):
        lines += ["⌨️ " + " | ".join(b.text for b in row) for row in method.reply_markup.keyboard]
    session.emit("\n".join(lines + render_inline_keyboard(inline)), chat_id)
    return message


def edit_message_text(session: LocalSession, bot: Bot, method: EditMessageText) -> Message | bool:
    """editMessageText: only a text message can be edited, and only into something different."""
    parse_mode = resolve_default(bot, method.parse_mode)
    plain = checked_text(method, method.text or "", parse_mode)
    text = cast(str, method.text)
    check_markup(method, method.reply_markup)
    if method.inline_message_id is not None:
        session.emit("\n".join(["✏️ " + plain, *render_inline_keyboard(method.reply_markup)]), None)
        return True
    key, old = _editable(session, method, method.chat_id, method.message_id)
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
    edited = session.replace_message(bot, key, old, text=text, reply_markup=method.reply_markup)
    session.record_text(key[0], text, plain)
    session.emit("\n".join(["✏️ " + plain, *render_inline_keyboard(method.reply_markup)]), key[0])
    return edited


def edit_message_caption(session: LocalSession, bot: Bot, method: EditMessageCaption) -> Message | bool:
    """editMessageCaption: only a message with media has a caption to edit (as in Telegram)."""
    parse_mode = resolve_default(bot, method.parse_mode)
    plain = checked_text(method, method.caption or "", parse_mode, caption=True)
    check_markup(method, method.reply_markup)
    if method.inline_message_id is not None:
        session.emit("\n".join(["✏️ " + plain, *render_inline_keyboard(method.reply_markup)]), None)
        return True
    key, old = _editable(session, method, method.chat_id, method.message_id)
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
    edited = session.replace_message(bot, key, old, caption=method.caption, reply_markup=method.reply_markup)
    session.emit("\n".join(["✏️ " + plain, *render_inline_keyboard(method.reply_markup)]), key[0])
    return edited


def edit_message_reply_markup(
    session: LocalSession, bot: Bot, method: EditMessageReplyMarkup
) -> Message | bool:
    """editMessageReplyMarkup: a new keyboard (or none), shown as ``✏️ (buttons updated)``."""
    check_markup(method, method.reply_markup)
    rows = render_inline_keyboard(method.reply_markup)
    summary = "✏️ (buttons updated)" if method.reply_markup is not None else "✏️ (buttons removed)"
    if method.inline_message_id is not None:
        session.emit("\n".join([summary, *rows]), None)
        return True
    key, old = _editable(session, method, method.chat_id, method.message_id)
    if same_markup(old.reply_markup, method.reply_markup):
        raise TelegramBadRequest(
            method=method,
            message="Bad Request: message is not modified: specified new message content and reply "
            "markup are exactly the same as a current content and reply markup of the message",
        )
    edited = session.replace_message(bot, key, old, reply_markup=method.reply_markup)
    session.emit("\n".join([summary, *rows]), key[0])
    return edited


def answer_callback_query(session: LocalSession, method: AnswerCallbackQuery) -> bool:
    """answerCallbackQuery: once per tap; its text (``💬``, an alert ``⚠️``) or URL shown to the tapper."""
    if method.callback_query_id in session.callback_answers:
        raise TelegramBadRequest(
            method=method,
            message="Bad Request: query is too old and response timeout expired or query ID is invalid",
        )
    session.callback_answers[method.callback_query_id] = method
    chat_id, user_id = session.callback_origins.get(method.callback_query_id, (None, None))
    if method.text:
        session.emit(("⚠️ " if method.show_alert else "💬 ") + method.text, chat_id, user_id)
    if method.url:
        session.emit(f"🔗 {method.url}", chat_id, user_id)
    return True


def answer_inline_query(session: LocalSession, bot: Bot, method: AnswerInlineQuery) -> bool:
    """Check what Telegram checks (answered once, at most 50 results with distinct ids of
    1–64 bytes, each card's text and buttons) and print the results, numbered for
    ``:choose N``. Only articles with a text card are taken (what this bot sends)."""
    if method.inline_query_id in session.inline_answers:
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
        checked_text(method, content.message_text, resolve_default(bot, content.parse_mode))
        check_markup(method, result.reply_markup)
        about = f" — {result.description}" if result.description else ""
        lines.append(f"[{number}] {result.title}{about}{' 🖼' if result.thumbnail_url else ''}")
    session.inline_answers[method.inline_query_id] = method
    query = session.inline_queries.get(method.inline_query_id, "")
    heading = f"🔎 inline “{query}”: {len(method.results)} result(s)"
    if method.button is not None:
        lines.append(f"[↗ {method.button.text}] (/start {method.button.start_parameter})")
    session.emit("\n".join([heading, *lines]), None)
    return True


def _editable(
    session: LocalSession, method: TelegramMethod[Any], chat_id: int | str | None, message_id: int | None
) -> tuple[tuple[int, int], Message]:
    if chat_id is None or message_id is None:
        raise TelegramBadRequest(method=method, message="Bad Request: message to edit not found")
    key = (checked_chat_id(method, chat_id), message_id)
    old = session.messages.get(key)
    if old is None:
        raise TelegramBadRequest(method=method, message="Bad Request: message to edit not found")
    return key, old
