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


from bot.console.session import CONSOLE_TOKEN, LocalSession, OutputCallback, inline_buttons
from bot.console.updates import ChatUser, UpdateFactory

# --------------------------------------------------------------------------------------------------
# The console chat
# --------------------------------------------------------------------------------------------------

logger = logging.getLogger(__name__)

_TAP = re.compile(r"^\[(\d+)\]$")
_QUIT = frozenset({"/quit", "exit"})
_FILE = re.compile(r"^:file\s+(.+)$")
_WAIT = re.compile(r"^:wait\s+(\d+(?:\.\d+)?)$")
BANNER = (
    "WhatToWatch console chat (no Telegram): type a message or /command; "
    "[n] taps button n of the last keyboard; :file PATH sends a file (your Letterboxd export); "
    ":wait N lets background jobs run for N seconds; "
    "/quit or Ctrl-D leaves."
)


class ConsoleChat:
    """A terminal conversation with the real dispatcher, through a :class:`LocalSession`.

    Each typed line becomes an update for ``dispatcher.feed_update`` (handlers run to completion
    before the next prompt); the bot's replies reach ``out`` through the session's ``on_output``.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        user: ChatUser,
        out: OutputCallback = print,
    ) -> None:
        if not isinstance(bot.session, LocalSession):
            raise TypeError("ConsoleChat needs a Bot whose session is a LocalSession (see console_bot())")
        self.dispatcher = dispatcher
        self.bot = bot
        self.user = user
        self.out = out
        self.session: LocalSession = bot.session
        if self.session.on_output is None:
            self.session.on_output = out
        self.updates = UpdateFactory(self.session)

    async def send(self, line: str) -> None:
        """Handle one typed line: ``[n]`` taps a button, ``:file PATH`` sends that file as a
        document, ``:wait N`` pauses N seconds (scripts: let a background import finish),
        anything else is a text message."""
        if tap := _TAP.match(line.strip()):
            await self.tap(int(tap.group(1)))
            return
        if file := _FILE.match(line.strip()):
            await self.send_file(Path(file.group(1)))
            return
        if wait := _WAIT.match(line.strip()):
            await asyncio.sleep(float(wait.group(1)))  # the in-process worker runs meanwhile
            return
        await self._feed(self.updates.message(self.user, line))

    async def send_file(self, path: Path) -> None:
        """Send a file from disk as a document, as the Telegram app would."""
        try:
            data = await asyncio.to_thread(lambda: path.expanduser().read_bytes())
        except OSError as error:
            self.out(f"Can't read {path}: {error.strerror}")
            return
        await self._feed(self.updates.document(self.user, path.name, data=data))

    async def tap(self, number: int) -> None:
        """Tap button ``number`` (as rendered, counted across rows) of the last inline keyboard."""
        message = self.session.last_keyboard_message(self.user.telegram_id)
        buttons = inline_buttons(message.reply_markup if message is not None else None)
        if message is None or not 1 <= number <= len(buttons):
            self.out(f"No button [{number}] on the last keyboard.")
            return
        button = buttons[number - 1]
        if button.url is not None:
            self.out(f"🔗 {button.url}")
        elif button.callback_data is not None:
            await self._feed(self.updates.callback(self.user, message, button.callback_data))
        else:
            self.out(f"Button [{number}] ({button.text}) cannot be used in the console.")

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
        self.out(BANNER)
        while True:
            try:
                line = await asyncio.to_thread(input, "you> ")
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
