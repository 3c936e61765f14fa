"""/settings: the user's standing filters (genres to exclude, decades, longest runtime,
original languages, picks from the watchlist), shown as one message whose buttons edit it in
place. Rules and storage: domain/settings.py; texts and buttons: bot/user_settings_ui.py.

Every tap changes the tapping user's own settings, and only on a message of their own private
chat with the bot; callback data carries the setting and value only. A value outside the ones
offered does not unpack (the catch-all answers "no longer valid"), and a genre that is not
offered changes nothing. No conversation state: an older settings message still works and
shows the current settings.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot import texts
from bot import user_settings_ui as ui
from bot.filters import with_message
from bot.user_settings_ui import (
    AnyLanguage,
    ChooseDecade,
    ChooseLanguageMode,
    ChooseRuntime,
    ChooseWatchlist,
    DecadeEnd,
    OpenScreen,
    ResetSettings,
    Screen,
    ToggleGenre,
    ToggleLanguage,
)
from db.models import User
from domain.settings import LanguageMode, StandingFilters, UserSettingsService

router = Router(name=__name__)


def own_private_chat(callback: CallbackQuery) -> bool:
    """The tap is on a message in the tapper's own private chat with the bot."""
    chat = callback.message.chat if callback.message is not None else None
    return chat is not None and chat.type == ChatType.PRIVATE and chat.id == callback.from_user.id


router.callback_query.filter(own_private_chat)


@router.message(Command("settings"))
async def settings_command(message: Message, user: User, user_settings: UserSettingsService) -> None:
    filters = await user_settings.get(user.id)
    await message.answer(ui.settings_text(filters), reply_markup=ui.main_keyboard(filters))


@router.callback_query(OpenScreen.filter(), with_message)
async def open_screen(
    callback: CallbackQuery,
    callback_data: OpenScreen,
    message: Message,
    user: User,
    user_settings: UserSettingsService,
) -> None:
    filters = await user_settings.get(user.id)
    await _show(callback, message, user_settings, filters, callback_data.screen)


@router.callback_query(ToggleGenre.filter(), with_message)
async def genre_tapped(
    callback: CallbackQuery,
    callback_data: ToggleGenre,
    message: Message,
    user: User,
    user_settings: UserSettingsService,
) -> None:
    filters = await user_settings.toggle_genre(user.id, callback_data.genre)
    if filters is None:  # a genre the grid never offered
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    await _show(callback, message, user_settings, filters, Screen.GENRES)


@router.callback_query(ChooseDecade.filter(), with_message)
async def decade_chosen(
    callback: CallbackQuery,
    callback_data: ChooseDecade,
    message: Message,
    user: User,
    user_settings: UserSettingsService,
) -> None:
    decade = ui.decade_value(callback_data.decade)
    if callback_data.end is DecadeEnd.FROM:
        filters = await user_settings.update(user.id, lambda f: f.with_from_decade(decade))
    else:
        filters = await user_settings.update(user.id, lambda f: f.with_to_decade(decade))
    await _show(callback, message, user_settings, filters, Screen.MAIN)


@router.callback_query(ChooseRuntime.filter(), with_message)
async def runtime_chosen(
    callback: CallbackQuery,
    callback_data: ChooseRuntime,
    message: Message,
    user: User,
    user_settings: UserSettingsService,
) -> None:
    minutes = ui.runtime_value(callback_data.minutes)
    filters = await user_settings.update(user.id, lambda f: f.with_max_runtime(minutes))
    await _show(callback, message, user_settings, filters, Screen.MAIN)


@router.callback_query(ToggleLanguage.filter(), with_message)
async def language_tapped(
    callback: CallbackQuery,
    callback_data: ToggleLanguage,
    message: Message,
    user: User,
    user_settings: UserSettingsService,
) -> None:
    mode, code = callback_data.mode, callback_data.code
    filters = await user_settings.update(user.id, lambda f: f.toggle_language(code, mode))
    await _show(callback, message, user_settings, filters, Screen.LANGUAGES, mode)


@router.callback_query(ChooseLanguageMode.filter(), with_message)
async def language_mode_chosen(
    callback: CallbackQuery,
    callback_data: ChooseLanguageMode,
    message: Message,
    user: User,
    user_settings: UserSettingsService,
) -> None:
    mode = callback_data.mode
    filters = await user_settings.update(user.id, lambda f: f.with_language_mode(mode))
    await _show(callback, message, user_settings, filters, Screen.LANGUAGES, mode)


@router.callback_query(AnyLanguage.filter(), with_message)
async def any_language(
    callback: CallbackQuery, message: Message, user: User, user_settings: UserSettingsService
) -> None:
    filters = await user_settings.update(user.id, StandingFilters.any_language)
    await _show(callback, message, user_settings, filters, Screen.LANGUAGES)


@router.callback_query(ChooseWatchlist.filter(), with_message)
async def watchlist_chosen(
    callback: CallbackQuery,
    callback_data: ChooseWatchlist,
    message: Message,
    user: User,
    user_settings: UserSettingsService,
) -> None:
    allowed = callback_data.allowed
    filters = await user_settings.update(user.id, lambda f: f.with_from_watchlist(allowed))
    await _show(callback, message, user_settings, filters, Screen.MAIN)


@router.callback_query(ResetSettings.filter(), with_message)
async def reset(
    callback: CallbackQuery, message: Message, user: User, user_settings: UserSettingsService
) -> None:
    filters = await user_settings.reset(user.id)
    await _show(callback, message, user_settings, filters, Screen.MAIN, answer=ui.settings_reset())


async def _show(
    callback: CallbackQuery,
    message: Message,
    user_settings: UserSettingsService,
    filters: StandingFilters,
    screen: Screen,
    mode: LanguageMode | None = None,
    *,
    answer: str | None = None,
) -> None:
    """Answer the tap and edit the settings message into `screen` for `filters` (`mode`: the
    languages screen's mode, default the one the settings use)."""
    match screen:
        case Screen.MAIN:
            markup = ui.main_keyboard(filters)
        case Screen.GENRES:
            markup = ui.genres_keyboard(filters, await user_settings.genre_options(filters))
        case Screen.FROM | Screen.TO:
            end = DecadeEnd.FROM if screen is Screen.FROM else DecadeEnd.TO
            markup = ui.decades_keyboard(filters, end)
        case Screen.LANGUAGES:
            markup = ui.languages_keyboard(filters, mode or filters.language_mode)
    await callback.answer(answer)
    try:
        await message.edit_text(ui.settings_text(filters, screen), reply_markup=markup)
    except TelegramBadRequest as exc:  # the same screen again (a double tap): nothing to change
        if "message is not modified" not in exc.message:
            raise
