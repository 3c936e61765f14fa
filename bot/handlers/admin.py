"""/stats: the bot's figures, for the Telegram ids in `ADMIN_TELEGRAM_IDS`, in a private chat.

For anyone else (or in a group) the handler's filters do not match, so /stats falls through
to the catch-all and gets exactly the answer any unknown command gets; it is not in the
command menu either (bot.service.BOT_COMMANDS).
"""

from __future__ import annotations

import datetime as dt
import functools

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command
from aiogram.types import Message
from prometheus_client import ProcessCollector

from bot import texts
from bot.metrics import Metrics
from bot.settings import Settings
from db.models import User
from domain.stats import RequestCounts, StatsService

router = Router(name=__name__)

#: When this module was imported (start-up): the fallback for the process's start time.
_IMPORTED_AT = dt.datetime.now(dt.UTC)


def is_admin(message: Message, user: User, settings: Settings) -> bool:
    """The sender's Telegram id is one of `ADMIN_TELEGRAM_IDS`."""
    return user.telegram_id in settings.bot.admin_telegram_ids


@functools.cache
def process_started_at() -> dt.datetime:
    """When this process started (UTC): the OS's record (prometheus_client's ProcessCollector,
    Linux /proc); where there is none, when this module was imported, at start-up before any
    TMDB request."""
    for family in ProcessCollector(registry=None).collect():
        for sample in family.samples:
            if sample.name == "process_start_time_seconds":
                return dt.datetime.fromtimestamp(sample.value, dt.UTC)
    return _IMPORTED_AT


def tmdb_requests(metrics: Metrics) -> RequestCounts:
    """This process's TMDB requests since it started, from `wtw_external_requests_total
    {service="tmdb"}` (integrations.metrics): all attempts, and those whose `status` is not
    2xx ("error": no answer at all)."""
    total = errors = 0
    for family in metrics.external.requests.collect():
        for sample in family.samples:
            if sample.name != "wtw_external_requests_total" or sample.labels.get("service") != "tmdb":
                continue
            count = int(sample.value)
            total += count
            if not sample.labels.get("status", "").startswith("2"):
                errors += count
    return RequestCounts(total=total, errors=errors, since=process_started_at())


@router.message(Command("stats"), F.chat.type == ChatType.PRIVATE, is_admin)
async def stats(message: Message, stats: StatsService, metrics: Metrics) -> None:
    figures = await stats.collect(tmdb=tmdb_requests(metrics))
    await message.answer(texts.stats_text(figures))
