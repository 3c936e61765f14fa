"""The console chat: lines typed in a terminal become updates for the real dispatcher."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.enums import ParseMode
from aiogram.types import (
    Update,
)

if TYPE_CHECKING:
    from aiogram import Dispatcher


from bot.console.html import html_to_text
from bot.console.messages import inline_buttons, render_inline_keyboard
from bot.console.session import CONSOLE_TOKEN, LocalSession, OutputCallback
from bot.console.updates import ChatUser, GroupChat, UpdateFactory

# --------------------------------------------------------------------------------------------------
# The console chat
# --------------------------------------------------------------------------------------------------

logger = logging.getLogger(__name__)

_TAP = re.compile(r"^\[(?:(\d+)\.)?(\d+)\]$")
_QUIT = frozenset({"/quit", "exit"})
_FILE = re.compile(r"^:file\s+(.+)$")
_WAIT = re.compile(r"^:wait\s+(\d+(?:\.\d+)?)$")
_SPEAKER = re.compile(r"^@(\d+)(?:\s+(.*))?$")
_PRIVATE = re.compile(r"^:private\s+(.+)$")
_INLINE = re.compile(r"^:inline(?:\s+(.*))?$")
_CHOOSE = re.compile(r"^:choose\s+(\d+)$")
BANNER = (
    "WhatToWatch console chat (no Telegram): type a message or /command; "
    "[n] taps button n of the last keyboard ([m.n]: of the m-th latest); "
    ":file PATH sends a file (your Letterboxd export); "
    ":inline QUERY asks for films as @bot QUERY in any chat would (:inline alone: your latest picks), "
    ":choose N posts result N; "
    ":wait N lets background jobs run for N seconds; "
    "/quit or Ctrl-D leaves."
)
GROUP_BANNER = (
    "WhatToWatch console, group mode: {title} (chat {chat_id}). {members} "
    "Start each line with who says it: @101 /together sends it in the group as member 101; "
    "@102 [1] taps button 1 of the group's latest keyboard, @102 [2.1] button 1 of the one before; "
    "@101 :file PATH sends a file there; @101 :private LINE says LINE (text, [n], [m.n], :file PATH) "
    "in 101's private chat with the bot. The first speaker adds the bot to the group. "
    ":wait N lets background jobs run; /quit or Ctrl-D leaves."
)
GROUP_HINT = (
    "Group mode: start the line with who says it, e.g. @101 /together, @102 [1], @102 [2.1], "
    "@101 :file PATH, @101 :private /start (only :wait N needs no speaker)."
)
DEFAULT_MEMBER_NAMES = ("Anna", "Ben", "Chris", "Dana", "Eve", "Finn", "Gina", "Hugo")
"""First names of group members not named with ``members``, in order of first appearance."""


class ConsoleChat:
    """A terminal conversation with the real dispatcher, through a :class:`LocalSession`.

    Each typed line becomes an update for ``dispatcher.feed_update`` (handlers run to completion
    before the next prompt); the bot's replies reach ``out`` through the session's ``on_output``.

    With ``group``, the console plays every member of that group chat (see :data:`GROUP_BANNER`):
    each line starts with a speaker, ``@<user id>``; ``members`` names them (user id → first name;
    others get :data:`DEFAULT_MEMBER_NAMES`, language ``en``). A member is registered with the
    session (getChatMember: ``member``) when first heard, and just before the first speaker's
    first line the bot is added to the group by that speaker (a ``my_chat_member`` update,
    ``left`` → ``member``). The session labels every output with its chat.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        user: ChatUser | None = None,
        out: OutputCallback = print,
        *,
        group: GroupChat | None = None,
        members: dict[int, str] | None = None,
    ) -> None:
        if not isinstance(bot.session, LocalSession):
            raise TypeError("ConsoleChat needs a Bot whose session is a LocalSession (see console_bot())")
        if user is None and group is None:
            raise TypeError("ConsoleChat needs a user (a private chat) or a group")
        self.dispatcher = dispatcher
        self.bot = bot
        self.user = user
        self.out = out
        self.group = group
        self.session: LocalSession = bot.session
        if self.session.on_output is None:
            self.session.on_output = out
        self.updates = UpdateFactory(self.session)
        self.members: dict[int, ChatUser] = {}
        """The group members heard so far, by user id."""
        self._names = dict(members or {})
        self._bot_added = False
        if group is not None:
            self.session.label_chats = True
            self.session.chat_titles[group.chat_id] = group.title

    @property
    def banner(self) -> str:
        """What :meth:`run_interactive` prints first."""
        if self.group is None:
            return BANNER
        named = ", ".join(f"{user_id}={name}" for user_id, name in self._names.items())
        defaults = ", ".join(DEFAULT_MEMBER_NAMES[:3]) + "…"
        members = f"Members: {named}; others are" if named else "Members are"
        members += f" named {defaults} as they first speak."
        return GROUP_BANNER.format(title=self.group.title, chat_id=self.group.chat_id, members=members)

    async def send(self, line: str) -> None:
        """Handle one typed line: ``[n]`` taps a button (``[m.n]``: of the m-th latest keyboard),
        ``:file PATH`` sends that file as a document, ``:wait N`` pauses N seconds (scripts: let a
        background import finish), anything else is a text message. In group mode the line starts
        with ``@<user id>`` (else :data:`GROUP_HINT` is printed) and ``:private LINE`` after it
        sends LINE in that member's private chat instead of the group."""
        if wait := _WAIT.match(line.strip()):
            await asyncio.sleep(float(wait.group(1)))  # the in-process worker runs meanwhile
            return
        if self.group is None:
            assert self.user is not None
            await self._line(self.user, None, line)
            return
        speaker = _SPEAKER.match(line.strip())
        if speaker is None or not speaker.group(2):
            self.out(GROUP_HINT)
            return
        member = self.member(int(speaker.group(1)))
        await self._add_bot(member)
        said = speaker.group(2).strip()
        if private := _PRIVATE.match(said):
            await self._line(member, None, private.group(1).strip())
        else:
            await self._line(member, self.group, said)

    def member(self, user_id: int) -> ChatUser:
        """The group member ``user_id``: named, and registered as a member, when first heard."""
        if user_id not in self.members:
            assert self.group is not None
            taken = {*self._names.values(), *(user.first_name for user in self.members.values())}
            free = (name for name in DEFAULT_MEMBER_NAMES if name not in taken)
            name = self._names.get(user_id) or next(free, f"Member {user_id}")
            self.members[user_id] = ChatUser(telegram_id=user_id, first_name=name, language_code="en")
            self.session.set_chat_member(self.group.chat_id, user_id, "member", first_name=name)
        return self.members[user_id]

    async def send_file(self, path: Path) -> None:
        """Send a file from disk as a document, as the Telegram app would (the private chat)."""
        assert self.user is not None, "send_file() is the private chat's; in group mode send '@id :file PATH'"
        await self._send_file(self.user, None, path)

    async def tap(self, number: int, keyboard: int = 1) -> None:
        """Tap button ``number`` (as rendered, counted across rows) of the last inline keyboard in
        the private chat (``keyboard``: of the keyboard-th latest one)."""
        assert self.user is not None, "tap() is the private chat's; in group mode send '@id [n]'"
        await self._tap(self.user, None, keyboard, number)

    async def run_script(self, path: Path) -> None:
        """Play a script: each non-blank line not starting with '#' is echoed as ``> line`` and sent."""
        script = await asyncio.to_thread(path.read_text, encoding="utf-8")
        for raw in script.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            self.out(f"> {line}")
            if line in _QUIT:
                return
            await self.send(line)

    async def run_interactive(self) -> None:
        """Read lines from stdin (in a thread, so the event loop keeps running) until EOF or /quit."""
        self.out(self.banner)
        prompt = "you> " if self.group is None else "group> "
        while True:
            try:
                line = await asyncio.to_thread(input, prompt)
            except EOFError:
                self.out("")
                return
            line = line.strip()
            if not line:
                continue
            if line in _QUIT:
                return
            try:
                await self.send(line)
            except Exception as error:  # keep the chat alive; the traceback goes to the log
                logger.exception("console update failed")
                self.out(f"💥 {type(error).__name__}: {error}")

    async def _line(self, user: ChatUser, chat: GroupChat | None, line: str) -> None:
        """``user`` taps, sends a file or says ``line`` in ``chat`` (None: their private chat)."""
        if tap := _TAP.match(line.strip()):
            await self._tap(user, chat, int(tap.group(1) or 1), int(tap.group(2)))
        elif inline := _INLINE.match(line.strip()):
            await self._feed(self.updates.inline_query(user, inline.group(1) or ""))
        elif choose := _CHOOSE.match(line.strip()):
            self._choose(user, int(choose.group(1)))
        elif file := _FILE.match(line.strip()):
            await self._send_file(user, chat, Path(file.group(1)))
        else:
            await self._feed(self.updates.message(user, line, chat))

    def _choose(self, user: ChatUser, number: int) -> None:
        """Print the card that choosing result ``number`` of the latest inline answer posts
        (in whatever chat the user typed ``@bot``); its URL button is printed as a link."""
        answers = list(self.session.inline_answers.values())
        results = answers[-1].results if answers else []
        if not 1 <= number <= len(results):
            self.out(f"No inline result [{number}]: send :inline QUERY first.")
            return
        result = results[number - 1]
        content = getattr(result, "input_message_content", None)
        text = getattr(content, "message_text", None)
        if text is None:
            self.out(f"Inline result [{number}] posts nothing the console can show.")
            return
        markup = getattr(result, "reply_markup", None)
        urls = [f"↗ {button.url}" for button in inline_buttons(markup) if button.url]
        self.out(
            "\n".join(
                [
                    f"📤 {user.first_name} posts via @{self.session.bot_username}:",
                    html_to_text(text),
                    *render_inline_keyboard(markup),
                    *urls,
                ]
            )
        )

    async def _send_file(self, user: ChatUser, chat: GroupChat | None, path: Path) -> None:
        try:
            data = await asyncio.to_thread(lambda: path.expanduser().read_bytes())
        except OSError as error:
            self.out(f"Can't read {path}: {error.strerror}")
            return
        await self._feed(self.updates.document(user, path.name, data=data, chat=chat))

    async def _tap(self, user: ChatUser, chat: GroupChat | None, keyboard: int, number: int) -> None:
        """Tap button ``number`` of the ``keyboard``-th latest keyboard message in the chat."""
        messages = self.session.keyboard_messages(chat.chat_id if chat is not None else user.telegram_id)
        message = messages[keyboard - 1] if 1 <= keyboard <= len(messages) else None
        buttons = inline_buttons(message.reply_markup if message is not None else None)
        if message is None or not 1 <= number <= len(buttons):
            if keyboard == 1:
                self.out(f"No button [{number}] on the last keyboard.")
            else:
                self.out(f"No button [{keyboard}.{number}]: keyboard {keyboard} counts back from the latest.")
            return
        button = buttons[number - 1]
        if button.url is not None:
            self.out(f"🔗 {button.url}")
        elif button.callback_data is not None:
            await self._feed(self.updates.callback(user, message, button.callback_data))
        else:
            self.out(f"Button [{number}] ({button.text}) cannot be used in the console.")

    async def _add_bot(self, by: ChatUser) -> None:
        """Before the first group line: ``by`` adds the bot to the group (``my_chat_member``)."""
        if self._bot_added or self.group is None:
            return
        self._bot_added = True
        self.out(f"({by.first_name} adds {self.session.bot_first_name} to {self.group.title})")
        update = self.updates.my_chat_member(self.group, by, "left", "member")
        await self.dispatcher.feed_update(self.bot, update)

    async def _feed(self, update: Update) -> None:
        result = await self.dispatcher.feed_update(self.bot, update)
        if result is UNHANDLED:
            self.out("(no handler answered that)")


def clock_message_id() -> int:
    """A first message id that is larger than any an earlier console run gave: tenths of a
    second since 2026-01-01 (fits Telegram's 32-bit ids until 2032)."""
    return int((time.time() - 1_767_225_600) * 10)


def console_bot(on_output: OutputCallback | None = None, *, first_message_id: int = 1) -> Bot:
    """A Bot on a :class:`LocalSession` with the production defaults (HTML parse mode)."""
    return Bot(
        CONSOLE_TOKEN,
        session=LocalSession(on_output=on_output, first_message_id=first_message_id),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
