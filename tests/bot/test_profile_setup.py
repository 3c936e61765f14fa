"""The bot's profile texts (bot.profile_setup): set for everyone and per translated language,
each within Telegram's limits, and set again only when they changed."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import (
    GetMyDescription,
    GetMyShortDescription,
    SetMyDescription,
    SetMyShortDescription,
    TelegramMethod,
)
from aiogram.types import BotDescription, BotShortDescription
from aiogram.utils.i18n import I18n

from bot import texts
from bot.console import CONSOLE_TOKEN, LocalSession
from bot.i18n import make_i18n
from bot.profile_setup import bot_profile, set_bot_profile
from tests.fakes.telegram_records import make_token
from tests.fakes.telegram_server import FakeTelegramServer

LANGUAGES = (None, "es", "pt", "ru")


class ProfileSession(LocalSession):
    """LocalSession (every call recorded in `calls`) that also keeps the bot's description and
    short description per `language_code` as Telegram does: get answers what was set for that
    language ("" when nothing), set replaces it, and a text over 512 / 120 characters is a 400."""

    def __init__(self) -> None:
        super().__init__()
        self.descriptions: dict[str | None, str] = {}
        self.short_descriptions: dict[str | None, str] = {}

    async def make_request(self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:  # noqa: ASYNC109
        if isinstance(method, GetMyDescription):
            self.calls.append(method)
            return BotDescription(description=self.descriptions.get(method.language_code, ""))
        if isinstance(method, GetMyShortDescription):
            self.calls.append(method)
            return BotShortDescription(
                short_description=self.short_descriptions.get(method.language_code, "")
            )
        if isinstance(method, SetMyDescription):
            self.calls.append(method)
            return self._set(method, self.descriptions, method.description, texts.MAX_DESCRIPTION_CHARS)
        if isinstance(method, SetMyShortDescription):
            self.calls.append(method)
            return self._set(
                method, self.short_descriptions, method.short_description, texts.MAX_SHORT_DESCRIPTION_CHARS
            )
        return await super().make_request(bot, method, timeout)

    @staticmethod
    def _set(method: Any, store: dict[str | None, str], value: str | None, limit: int) -> bool:
        if len(value or "") > limit:
            raise TelegramBadRequest(method=method, message="Bad Request: text is too long")
        store[method.language_code] = value or ""
        return True


@pytest.fixture
def i18n() -> I18n:
    return make_i18n()


async def test_both_texts_are_set_for_everyone_and_each_language(i18n: I18n) -> None:
    session = ProfileSession()
    async with Bot(CONSOLE_TOKEN, session=session) as bot:
        assert await set_bot_profile(bot, i18n) == 2 * len(LANGUAGES)
    set_descriptions = {
        c.language_code: c.description for c in session.calls if isinstance(c, SetMyDescription)
    }
    set_shorts = {
        c.language_code: c.short_description for c in session.calls if isinstance(c, SetMyShortDescription)
    }
    assert set(set_descriptions) == set(set_shorts) == set(LANGUAGES)
    for language in LANGUAGES:
        with i18n.context(), i18n.use_locale(language or "en"):
            assert set_descriptions[language] == texts.bot_description()
            assert set_shorts[language] == texts.bot_short_description()
    # translated, not the English fallback
    assert len(set(set_descriptions.values())) == len(set(set_shorts.values())) == len(LANGUAGES)
    assert (set_descriptions[None] or "").startswith("I recommend films, three at a time")
    assert (set_descriptions["ru"] or "").startswith("Я советую фильмы")


async def test_a_restart_with_the_same_texts_sets_nothing(i18n: I18n) -> None:
    session = ProfileSession()
    async with Bot(CONSOLE_TOKEN, session=session) as bot:
        await set_bot_profile(bot, i18n)
        session.calls.clear()
        session.descriptions["pt"] = "an older text"
        assert await set_bot_profile(bot, i18n) == 1
    sets = [c for c in session.calls if isinstance(c, SetMyDescription | SetMyShortDescription)]
    assert [(type(c).__name__, c.language_code) for c in sets] == [("SetMyDescription", "pt")]


@pytest.mark.parametrize("language", ["en", "es", "pt", "ru"])
def test_every_text_fits_telegrams_limits(i18n: I18n, language: str) -> None:
    profile = bot_profile(i18n, language)
    assert 0 < len(profile.description) <= 512
    assert 0 < len(profile.short_description) <= 120
    assert "<" not in profile.description + profile.short_description  # plain text: no parse mode


def test_a_text_over_the_limit_is_refused_before_telegram(
    i18n: I18n, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(texts, "bot_short_description", lambda: "x" * 121)
    with pytest.raises(ValueError, match="short description in 'ru'"):
        bot_profile(i18n, "ru")


async def test_over_the_wire_to_the_fake_bot_api(i18n: I18n) -> None:
    """The same calls through aiogram's real HTTP session, as Telegram would receive them."""
    token = make_token()
    async with FakeTelegramServer() as telegram:
        session = AiohttpSession(api=TelegramAPIServer.from_base(telegram.base_url))
        async with Bot(token, session=session) as bot:
            assert await set_bot_profile(bot, i18n) == 8
            assert await set_bot_profile(bot, i18n) == 0
        fake = telegram.bot(token)
        assert set(fake.descriptions) == set(fake.short_descriptions) == {"", "es", "pt", "ru"}
        with i18n.context(), i18n.use_locale("es"):
            assert fake.descriptions["es"] == texts.bot_description()
            assert fake.short_descriptions["es"] == texts.bot_short_description()
