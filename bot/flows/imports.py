"""What a running import says in the chat: its progress message, edited in place, and the report.

Used by the import job (bot.jobs.run_import), outside any update: it renders texts in the
locale stored with the import and talks to the Bot API directly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n

from bot import keyboards, texts
from domain.import_types import ImportOutcome, ImportProgress

log = structlog.get_logger(__name__)

#: Seconds between two edits of the progress message. Telegram allows about one message
#: per second in a chat and fewer edits of one message ("Bots FAQ: My bot is hitting limits").
MIN_EDIT_INTERVAL = 2.0


class ImportNotifier:
    """Edits one chat message with an import's progress, at most every `min_interval` s.

    Telegram errors (the user deleted the message, blocked the bot, flood control) are
    logged and never stop the import; a missing message is replaced by a new one.
    """

    def __init__(
        self,
        bot: Bot,
        i18n: I18n,
        *,
        chat_id: int,
        message_id: int | None,
        locale: str,
        import_id: int,
        min_interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot = bot
        self.i18n = i18n
        self.chat_id = chat_id
        self.message_id = message_id
        self.locale = locale
        self.import_id = import_id
        self.min_interval = MIN_EDIT_INTERVAL if min_interval is None else min_interval
        self.clock = clock
        self.last_edit = clock()  # the handler sent the message just now
        self.edits = 0

    async def progress(self, progress: ImportProgress) -> None:
        """Show how far the import is, unless the last edit was under `min_interval` s ago."""
        if self.clock() - self.last_edit < self.min_interval:
            return
        with self.i18n.context(), self.i18n.use_locale(self.locale):
            text = texts.import_progress(progress.done, progress.total, progress.matched)
        await self._show(text)

    async def say(self, render: Callable[[], str]) -> None:
        """Replace the message with `render()` (a texts function), waiting out the interval."""
        await self._wait_turn()
        with self.i18n.context(), self.i18n.use_locale(self.locale):
            text = render()
        await self._show(text)

    async def finish(self, outcome: ImportOutcome) -> None:
        """Replace the progress message with the report (and the unmatched-CSV button)."""
        await self._wait_turn()
        markup: InlineKeyboardMarkup | None = None
        with self.i18n.context(), self.i18n.use_locale(self.locale):
            if outcome.error is not None:
                text = texts.import_refused(outcome.error)
            else:
                assert outcome.report is not None
                text = texts.import_report(
                    outcome.report, cancelled=outcome.status == "cancelled", history=outcome.history
                )
                if outcome.report.unmatched:
                    markup = keyboards.import_report_keyboard(outcome.import_id)
        await self._show(text, markup)

    async def _wait_turn(self) -> None:
        wait = self.min_interval - (self.clock() - self.last_edit)
        if wait > 0:
            await asyncio.sleep(wait)

    async def _show(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        self.last_edit = self.clock()
        try:
            if self.message_id is not None:
                await self.bot.edit_message_text(
                    text=text, chat_id=self.chat_id, message_id=self.message_id, reply_markup=markup
                )
            else:
                sent = await self.bot.send_message(self.chat_id, text, reply_markup=markup)
                self.message_id = sent.message_id
            self.edits += 1
        except TelegramAPIError as exc:
            log.warning("import_message_failed", import_id=self.import_id, error=exc.message)
            if "message to edit not found" in exc.message and self.message_id is not None:
                self.message_id = None
                await self._show(text, markup)
