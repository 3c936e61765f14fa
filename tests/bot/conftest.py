"""A whole bot on the real PostgreSQL, Telegram faked at the Bot API boundary (LocalSession)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Message, Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import DEMO_CATALOG
from bot.console import ChatUser, GroupChat, LocalSession, UpdateFactory, console_bot
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
class GroupChatHarness:
    """A group chat with the bot: `members` (user id → ChatUser) speak, tap and leave in `group`.

    Every method feeds one update (two for `migrate`) through the dispatcher with the harness's
    overrides and returns the plain texts the bot sent or edited in the group meanwhile (taps:
    the callback answer texts first). Members are registered with the session (getChatMember:
    "member") when the harness is made.
    """

    dp: Dispatcher
    bot: Bot
    group: GroupChat
    members: dict[int, ChatUser]
    updates: UpdateFactory
    overrides: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for user in self.members.values():
            self.session.set_chat_member(self.chat_id, user.telegram_id, "member", first_name=user.first_name)
        self.session.chat_titles[self.chat_id] = self.group.title

    @property
    def session(self) -> LocalSession:
        assert isinstance(self.bot.session, LocalSession)
        return self.bot.session

    @property
    def chat_id(self) -> int:
        return self.group.chat_id

    def texts(self) -> list[str]:
        """Every plain text the bot sent or edited in the group so far."""
        return self.session.sent_texts(self.chat_id, plain=True)

    def keyboard_messages(self) -> list[Message]:
        """The group's messages that still carry an inline keyboard, newest first."""
        return self.session.keyboard_messages(self.chat_id)

    def private(self, member_id: int) -> Chat:
        """The member's private chat with the bot (the same user, first name and language)."""
        return Chat(self.dp, self.bot, self.members[member_id], self.updates, self.overrides)

    async def added(self, by: int) -> list[str]:
        """Member `by` adds the bot to the group (my_chat_member: left → member)."""
        return await self._feed(self.updates.my_chat_member(self.group, self.members[by], "left", "member"))

    async def removed(self, by: int, status: str | None = None) -> list[str]:
        """Member `by` removes the bot: member → `status` (default: "kicked" in a supergroup, where
        removing bans, "left" in a basic group)."""
        status = status or ("kicked" if self.group.type == "supergroup" else "left")
        return await self._feed(self.updates.my_chat_member(self.group, self.members[by], "member", status))

    async def say(self, member_id: int, text: str) -> list[str]:
        """The member sends `text` in the group."""
        return await self._feed(self.updates.message(self.members[member_id], text, self.group))

    async def tap(self, member_id: int, label: str, *, message: Message | None = None) -> list[str]:
        """The member taps the button whose text contains `label` on the group's latest keyboard
        (or `message`'s); returns the callback answer texts, then the new group texts."""
        message = message or self.session.last_keyboard_message(self.chat_id)
        assert message is not None and message.reply_markup is not None, "no keyboard to tap in the group"
        buttons = [b for row in message.reply_markup.inline_keyboard for b in row if label in b.text]
        assert buttons, f"no button {label!r} in {message.reply_markup.inline_keyboard}"
        return await self.tap_data(member_id, buttons[0].callback_data or "", message=message)

    async def tap_data(self, member_id: int, data: str, *, message: Message) -> list[str]:
        """The member sends a callback with arbitrary data under `message` (forged or stale buttons)."""
        before = len(self.session.callback_answers)
        sent = await self._feed(self.updates.callback(self.members[member_id], message, data))
        answers = [a.text or "" for a in list(self.session.callback_answers.values())[before:]]
        return answers + sent

    async def left(self, member_id: int) -> list[str]:
        """The member leaves the group (a left_chat_member service message; getChatMember: "left")."""
        return await self._feed(self.updates.member_left(self.group, self.members[member_id]))

    async def joined(self, member_id: int, first_name: str, *, by: int | None = None) -> list[str]:
        """A new member joins (added by member `by`, else by a link): new_chat_members."""
        self.members[member_id] = ChatUser(telegram_id=member_id, first_name=first_name)
        adder = self.members[by] if by is not None else None
        return await self._feed(self.updates.member_joined(self.group, [self.members[member_id]], by=adder))

    async def migrate(self, new_chat_id: int) -> list[str]:
        """The group becomes the supergroup `new_chat_id`: Telegram's message in the old group
        (migrate_to_chat_id), then the first one in the new (migrate_from_chat_id); from then on
        this harness speaks in the new chat. Returns the texts sent in either."""
        old = GroupChat(self.chat_id, self.group.title, "group")
        new = GroupChat(new_chat_id, self.group.title, "supergroup")
        by = next(iter(self.members.values()))
        old_before = len(self.texts())
        await self.dp.feed_update(self.bot, self.updates.migrated(old, new_chat_id, by), **self.overrides)
        in_old = self.texts()[old_before:]
        self.group = new
        return in_old + await self._feed(self.updates.migrated_from(new, old.chat_id, by))

    async def _feed(self, update: Update) -> list[str]:
        before = len(self.texts())
        await self.dp.feed_update(self.bot, update, **self.overrides)
        return self.texts()[before:]


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

    def group(
        self,
        chat_id: int = -100123,
        title: str = "Film club",
        *,
        members: dict[int, str],
        type: Literal["group", "supergroup"] = "supergroup",
    ) -> GroupChatHarness:
        """A group chat with these members (user id → first name, language "en"), registered
        with the session (getChatMember). Feed `.added(by=...)` first: the bot learns of a group
        from that my_chat_member update."""
        users = {user_id: ChatUser(telegram_id=user_id, first_name=name) for user_id, name in members.items()}
        group = GroupChat(chat_id, title, type)
        return GroupChatHarness(self.dp, self.bot, group, users, self.updates, self.overrides)


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
