"""A whole bot on the real PostgreSQL, Telegram faked at the Bot API boundary (LocalSession)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import DEMO_CATALOG
from bot.console import ChatUser, LocalSession, UpdateFactory, console_bot
from bot.fsm import PostgresStorage
from bot.services import ServiceFactory
from bot.settings import BotSettings, DatabaseSettings, Settings, TelegramSettings, TMDBSettings
from domain.catalog import CatalogService
from domain.ports import MovieSource
from integrations.tmdb_csv import read_tmdb_csv


def make_settings(**bot: object) -> Settings:
    """Settings independent of the developer's environment and .env file."""
    return Settings(
        telegram=TelegramSettings(_env_file=None, bot_token=None),
        database=DatabaseSettings(_env_file=None),
        tmdb=TMDBSettings(_env_file=None, api_key=None, read_access_token=None),
        bot=BotSettings(_env_file=None, **bot),
    )


@dataclass
class Chat:
    """One user talking to the bot; `sent` is everything the bot sent to that user."""

    dp: Dispatcher
    bot: Bot
    user: ChatUser
    updates: UpdateFactory
    overrides: dict[str, object]

    @property
    def session(self) -> LocalSession:
        assert isinstance(self.bot.session, LocalSession)
        return self.bot.session

    async def say(self, text: str) -> list[str]:
        """Send a text; return the plain texts the bot sent or edited in reply."""
        before = len(self.session.sent_texts(self.user.telegram_id))
        await self.dp.feed_update(self.bot, self.updates.message(self.user, text), **self.overrides)
        return self.session.sent_texts(self.user.telegram_id, plain=True)[before:]

    async def tap(self, label: str, *, message: Message | None = None) -> list[str]:
        """Tap the button whose text contains `label` on the last keyboard (or `message`'s)."""
        message = message or self.session.last_keyboard_message(self.user.telegram_id)
        assert message is not None and message.reply_markup is not None, "no keyboard to tap"
        buttons = [b for row in message.reply_markup.inline_keyboard for b in row if label in b.text]
        assert buttons, f"no button {label!r} in {message.reply_markup.inline_keyboard}"
        return await self.tap_data(buttons[0].callback_data or "", message=message)

    async def tap_data(self, data: str, *, message: Message) -> list[str]:
        """Send a callback with arbitrary data (forged or stale buttons)."""
        before = len(self.session.callback_answers)
        sent_before = len(self.session.sent_texts(self.user.telegram_id))
        await self.dp.feed_update(self.bot, self.updates.callback(self.user, message, data), **self.overrides)
        answers = [a.text or "" for a in list(self.session.callback_answers.values())[before:]]
        return answers + self.session.sent_texts(self.user.telegram_id, plain=True)[sent_before:]


@dataclass
class BotHarness:
    dp: Dispatcher
    bot: Bot
    session_factory: async_sessionmaker[AsyncSession]
    overrides: dict[str, object]
    updates: UpdateFactory

    def chat(self, telegram_id: int, first_name: str = "Ann", language_code: str = "en") -> Chat:
        assert isinstance(self.bot.session, LocalSession)
        user = ChatUser(telegram_id=telegram_id, first_name=first_name, language_code=language_code)
        return Chat(self.dp, self.bot, user, self.updates, self.overrides)


async def make_harness(
    dispatcher: Dispatcher,
    session_factory: async_sessionmaker[AsyncSession],
    source: MovieSource | None = None,
    *,
    load_demo: bool = True,
    **bot: object,
) -> AsyncIterator[BotHarness]:
    """The bot on the test transaction; `source` is TMDB (None: catalog mode with the demo films)."""
    settings = make_settings(**bot)
    if load_demo:
        async with session_factory() as session:
            await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(read_tmdb_csv(DEMO_CATALOG))
            await session.commit()
    dispatcher.fsm.storage = PostgresStorage(session_factory)  # conversation state in the test's transaction
    overrides: dict[str, object] = {
        "settings": settings,
        "session_factory": session_factory,
        "service_factory": ServiceFactory(settings, source),
    }
    bot_ = console_bot()
    async with bot_:
        assert isinstance(bot_.session, LocalSession)
        yield BotHarness(dispatcher, bot_, session_factory, overrides, UpdateFactory(bot_.session))


@pytest.fixture
async def harness(
    dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[BotHarness]:
    """The bot without TMDB, on the demo catalog."""
    async for h in make_harness(dispatcher, session_factory):
        yield h
