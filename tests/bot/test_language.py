"""Languages end to end: the Telegram language_code picks the locale (English fallback), /language
overrides it per user, and the command menu is set in every language."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from aiogram.methods import SetMyCommands
from aiogram.types import Update
from aiogram.types import User as TelegramUser
from aiogram.utils.i18n import I18n

from bot import texts
from bot.console import LocalSession, console_bot
from bot.i18n import make_i18n
from bot.middlewares import UserLocaleMiddleware
from bot.service import BOT_COMMANDS, set_bot_commands
from db.models import User
from db.repositories.library import LibraryRepository
from db.repositories.users import UserRepository
from domain.entities import Source
from domain.profile import ProfileService
from tests.bot.conftest import BotHarness

I18N = make_i18n()


def ru(message: str) -> str:
    """`message` as the Russian catalog has it (the test fails if it is missing)."""
    with I18N.context(), I18N.use_locale("ru"):
        translated = I18N.gettext(message)
    assert translated != message, f"no Russian for {message!r}"
    return translated


async def rate(harness: BotHarness, telegram_id: int, language_code: str) -> None:
    async with harness.session_factory() as session:
        user = await UserRepository(session).upsert(
            telegram_id, first_name="Аня", language_code=language_code
        )
        library = LibraryRepository(session)
        for tmdb_id, rating in [
            (348, "4.5"),
            (679, "4"),
            (78, "5"),
            (329865, "4.5"),
            (194, "2"),
            (239, "1.5"),
        ]:
            await library.rate(user.id, tmdb_id, Decimal(rating), source=Source.BOT)
        await session.commit()


async def stored_language(harness: BotHarness, telegram_id: int) -> str | None:
    async with harness.session_factory() as session:
        user = await UserRepository(session).by_telegram_id(telegram_id)
        assert user is not None
        return user.language


async def test_a_russian_user_gets_russian_start_profile_and_recommend(harness: BotHarness) -> None:
    chat = harness.chat(7101, first_name="Аня", language_code="ru")
    [hello] = await chat.say("/start")
    assert hello.startswith("Привет, Аня!") and "/profile" in hello and "/language" in hello
    [empty] = await chat.say("/profile")
    assert ru("Avoid topics: none yet (/avoid adds one).") in empty

    await rate(harness, 7101, "ru")
    [profile] = await chat.say("/profile")
    assert profile.startswith(ru("Your taste in films"))
    assert ru("Favourite genres:") + " " + ru("Science Fiction") + " (4,5★)" in profile  # decimal comma
    assert "Великобритания" in profile  # country names from CLDR, in Russian
    assert "Favourite" not in profile and "films rated" not in profile
    [photo] = chat.session.photos
    assert photo.caption == ru("Your ratings in half stars, and your main genres by average rating.")

    cards = await chat.say("/recommend")
    slots = {ru("🎯 Safe pick"), ru("🧭 Something adjacent"), ru("🎲 Wildcard")}
    assert len([card for card in cards if card.split("\n")[0] in slots]) == 3
    assert all(re.search("[а-я]{4}", card) for card in cards)  # every message in Russian
    genres = ("Drama", "Thriller", "Horror", "Science Fiction", "Crime", "Comedy", "Adventure")
    text = "".join(cards)  # genre names in Russian, never in English (titles stay as they are)
    assert any(ru(g) in text for g in genres) and not any(g in text for g in genres), text
    buttons = [b.text for row in chat.session.last_markup(7101).inline_keyboard for b in row]  # type: ignore[union-attr]
    assert ru("⏭ Skip") in buttons


async def test_language_overrides_telegram_and_sticks(harness: BotHarness) -> None:
    chat = harness.chat(7102, first_name="Аня", language_code="ru")
    [prompt] = await chat.say("/language")
    assert prompt == ru("Choose the language I speak with you:")
    labels = [b.text for row in chat.session.last_markup(7102).inline_keyboard for b in row]  # type: ignore[union-attr]
    assert labels == ["English", "✓ Русский", "Español", "Português"]

    replies = await chat.tap("English")
    assert replies[-1] == "Done: I'll speak this language from now on. /help lists what I can do."
    assert await stored_language(harness, 7102) == "en"
    [hello] = await chat.say("/start")  # Telegram still says "ru": the choice wins
    assert hello.startswith("Hi, Аня!")
    assert await chat.tap("English") == [""]  # tapped again: nothing to change, no error

    await chat.say("/language")
    await chat.tap("Español")
    [hello] = await chat.say("/start")
    assert hello.startswith("¡Hola, Аня!")
    assert await stored_language(harness, 7102) == "es"


async def test_unknown_telegram_language_falls_back_to_english(harness: BotHarness) -> None:
    [hello] = await harness.chat(7103, first_name="Jo", language_code="de").say("/start")
    assert hello.startswith("Hi, Jo!")


async def test_a_forged_language_button_changes_nothing(harness: BotHarness) -> None:
    chat = harness.chat(7104, language_code="en")
    await chat.say("/language")
    message = chat.session.last_keyboard_message(7104)
    assert message is not None
    assert await chat.tap_data("lang:xx", message=message) == ["This button is no longer valid."]
    assert await stored_language(harness, 7104) is None


async def test_the_command_menu_is_set_in_every_language() -> None:
    i18n: I18n = make_i18n()
    bot = console_bot()
    async with bot:
        await set_bot_commands(bot, i18n)
        assert isinstance(bot.session, LocalSession)
        calls = [call for call in bot.session.calls if isinstance(call, SetMyCommands)]
        menus = {call.language_code: call.commands for call in calls if call.scope is None}
        group_menus = {call.language_code: call.commands for call in calls if call.scope is not None}
    assert set(menus) == set(group_menus) == {None, "es", "pt", "ru"}
    assert all(c.scope.type == "all_group_chats" for c in calls if c.scope is not None)  # type: ignore[union-attr]
    assert [c.command for c in group_menus["ru"]] == ["together", "join", "leave", "help"]
    assert group_menus["ru"][0].description == ru("Choose a film together")
    names = [command for command, _ in BOT_COMMANDS]
    assert {"profile", "export", "forget", "language"} <= set(names)
    for commands in menus.values():
        assert [c.command for c in commands] == names
    english = {c.command: c.description for c in menus[None]}
    assert english["forget"] == "Delete everything I know about you"
    for lang in ("es", "pt", "ru"):
        translated = {c.command: c.description for c in menus[lang]}
        assert all(translated[name] != english[name] for name in names), lang
    assert {c.command: c.description for c in menus["ru"]}["forget"] == ru(
        "Delete everything I know about you"
    )


async def test_the_locale_is_the_stored_choice_then_telegrams_then_english() -> None:
    middleware = UserLocaleMiddleware(make_i18n())
    telegram = TelegramUser(id=1, is_bot=False, first_name="Ann", language_code="pt-br")

    async def locale(choice: str | None, telegram_user: TelegramUser | None = telegram) -> str:
        data = {"event_from_user": telegram_user, "user": User(telegram_id=1, language=choice)}
        return await middleware.get_locale(Update(update_id=1), data)

    assert await locale("ru") == "ru"
    assert await locale("en") == "en"  # English is the source: no catalog, still a choice
    assert await locale(None) == "pt"
    assert await locale("xx") == "pt"  # not a language we have: Telegram's
    assert await locale(None, None) == "en"


async def test_an_unexpected_error_is_answered_in_the_chosen_language(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error handler runs after the update's session has closed; it still speaks the
    user's /language choice (kept in the update's data), not Telegram's language."""
    chat = harness.chat(7105, language_code="en")
    await chat.say("/language")
    await chat.tap("Español")

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database exploded")

    monkeypatch.setattr(ProfileService, "profile", broken)
    [reply] = await chat.say("/profile")
    with I18N.context(), I18N.use_locale("es"):
        assert (
            reply
            == texts.something_failed()
            != "Sorry, something went wrong on my side. Please try again in a minute."
        )
    assert "exploded" not in reply


def test_decades_in_reasons_are_localised() -> None:
    from bot import texts
    from bot.i18n import make_i18n
    from recommender import Reason, ReasonKind

    i18n = make_i18n()
    reason = Reason(ReasonKind.NEW_DECADE, ("1990s",))
    with i18n.context(), i18n.use_locale("ru"):
        assert "1990-е" in texts.reason_text(reason)
    with i18n.context(), i18n.use_locale("en"):
        assert texts.reason_text(reason) == "From a decade you rarely watch: the 1990s."
