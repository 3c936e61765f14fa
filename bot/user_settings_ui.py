"""What /settings says and shows: the settings message (a summary of the user's standing
filters), its screens and buttons, their typed callback data, and the "loosen this setting"
hint shown with too few picks. Used by bot/handlers/user_settings.py and bot/flows/onboarding.py.

The settings message has one main screen and four pickers (genres to exclude, the first and
the last decade, original languages); every tap edits that message in place. Callback data
carries only the setting and the value, each field constrained to the values offered (a
forged value does not unpack, so no handler matches); the handlers act on the tapping user's
own settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Literal

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.text_decorations import html_decoration as hd
from babel import Locale, UnknownLocaleError
from pydantic import Field

from bot.keyboard_builder import InlineKeyboard
from bot.keyboards import CHECK
from bot.texts import decade_name, genre_name
from domain.settings import DECADES, LANGUAGES, RUNTIMES, LanguageMode, Setting, StandingFilters

#: A genre name in callback data: TMDB's names are letters, spaces and hyphens (the handler
#: also checks it is one the grid offers).
GenreName = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z][A-Za-z &-]*$")]
#: A decade button: its first year (domain.settings.DECADES), or "any".
DecadeValue = Literal[
    "any", "1920", "1930", "1940", "1950", "1960", "1970", "1980", "1990", "2000", "2010", "2020"
]
#: A runtime button: minutes (domain.settings.RUNTIMES), or "any".
RuntimeValue = Literal["any", "90", "120", "150"]
#: A language button: ISO 639-1 (domain.settings.LANGUAGES).
LanguageCode = Literal["en", "fr", "es", "ja", "ko", "it", "de", "ru", "hi", "zh", "pt"]
ANY = "any"


class Screen(StrEnum):
    MAIN = "main"
    GENRES = "genres"
    FROM = "from"  # the first decade
    TO = "to"  # the last decade
    LANGUAGES = "languages"


class DecadeEnd(StrEnum):
    FROM = "from"
    TO = "to"


class OpenScreen(CallbackData, prefix="set_scr"):
    """A button that shows another screen of the settings message (◀ Back: the main one)."""

    screen: Screen


class ToggleGenre(CallbackData, prefix="set_gen"):
    """Exclude a genre, or allow it again."""

    genre: GenreName


class ChooseDecade(CallbackData, prefix="set_dec"):
    """The first (`from`) or last (`to`) decade allowed, or any."""

    end: DecadeEnd
    decade: DecadeValue


class ChooseRuntime(CallbackData, prefix="set_run"):
    """The longest runtime allowed (minutes), or any."""

    minutes: RuntimeValue


class ToggleLanguage(CallbackData, prefix="set_lang"):
    """Add a language to (or remove it from) the list of `mode` ("only these" / "all but these")."""

    mode: LanguageMode
    code: LanguageCode


class ChooseLanguageMode(CallbackData, prefix="set_lmode"):
    """Use the chosen languages as "only these" or "all but these"."""

    mode: LanguageMode


class AnyLanguage(CallbackData, prefix="set_lany"):
    """Clear the language list."""


class ChooseWatchlist(CallbackData, prefix="set_wl"):
    """Whether picks may come from the user's watchlist."""

    allowed: bool


class ResetSettings(CallbackData, prefix="set_reset"):
    """Everything back to the defaults."""


def decade_value(value: DecadeValue) -> int | None:
    """A decade button's value as the decade's first year (None: any)."""
    return None if value == ANY else int(value)


def runtime_value(value: RuntimeValue) -> int | None:
    """A runtime button's value in minutes (None: any)."""
    return None if value == ANY else int(value)


# --- texts ------------------------------------------------------------------------------------
def _locale() -> Locale:
    try:
        return Locale.parse(get_i18n().current_locale)
    except (LookupError, ValueError, UnknownLocaleError):  # outside an i18n context
        return Locale("en")


def language_name(code: str) -> str:
    """An ISO 639-1 code ("ja") as the language's name in the user's language (CLDR, via
    Babel), capitalised ("Japanese", Russian "Японский"); unknown codes as they are."""
    name = str(_locale().languages.get(code, code))
    return name[:1].upper() + name[1:]


def _genres(filters: StandingFilters) -> str:
    if not filters.excluded_genres:
        return _("none")
    return hd.quote(", ".join(sorted(genre_name(g) for g in filters.excluded_genres)))


def _decades(filters: StandingFilters) -> str:
    start, end = filters.from_decade, filters.to_decade
    if start is None and end is None:
        return _("any")
    if end is None:
        return _("from the {decade}").format(decade=decade_name(str(start)))
    if start is None:
        return _("up to the {decade}").format(decade=decade_name(str(end)))
    if start == end:
        return decade_name(str(start))
    return f"{decade_name(str(start))} – {decade_name(str(end))}"


def _runtime(filters: StandingFilters) -> str:
    if filters.max_runtime is None:
        return _("any")
    return _("{minutes} min").format(minutes=filters.max_runtime)


def _languages(filters: StandingFilters) -> str:
    if not filters.languages:
        return _("any")
    names = ", ".join(sorted(language_name(c) for c in filters.languages))
    if filters.language_mode is LanguageMode.INCLUDE:
        return _("only {languages}").format(languages=names)
    return _("all but {languages}").format(languages=names)


def settings_text(filters: StandingFilters, screen: Screen = Screen.MAIN) -> str:
    """The settings message: every setting's current value, then what to do on `screen`."""
    lines = [
        _("⚙️ <b>Your settings</b>: every recommendation follows them."),
        "",
        _("🎭 Genres to exclude: {value}").format(value=_genres(filters)),
        _("📅 Decades: {value}").format(value=_decades(filters)),
        _("⏱ Longest runtime: {value}").format(value=_runtime(filters)),
        _("🌍 Original languages: {value}").format(value=_languages(filters)),
        _("🔖 Picks from my watchlist: {value}").format(
            value=_("on") if filters.from_watchlist else _("off")
        ),
    ]
    hint = {
        Screen.MAIN: _("Tap a button to change a setting."),
        Screen.GENRES: _("Tap the genres you never want picked (✓ = excluded); tap again to allow one."),
        Screen.FROM: _("Films from which decade on?"),
        Screen.TO: _("Films up to which decade?"),
        Screen.LANGUAGES: _(
            "Choose original languages: “Only these” keeps films in them, “All but these” leaves them out."
        ),
    }[screen]
    return "\n".join([*lines, "", hint])


def settings_reset() -> str:
    return _("Settings reset: every film can be picked again.")


def loosen_hint(setting: Setting) -> str:
    """Said with fewer than three picks when the user's settings removed candidates."""
    advice = {
        Setting.GENRES: _("try excluding fewer genres"),
        Setting.DECADES: _("try allowing more decades"),
        Setting.RUNTIME: _("try allowing longer films"),
        Setting.LANGUAGES: _("try allowing more original languages"),
        Setting.WATCHLIST: _("try allowing picks from your watchlist"),
    }[setting]
    return _("Your settings leave too few films: {advice} (/settings).").format(advice=advice)


# --- keyboards ---------------------------------------------------------------------------------
def _mark(selected: bool, text: str) -> str:
    return f"{CHECK}{text}" if selected else text


def _back(kb: InlineKeyboard) -> None:
    kb.button(text=_("◀ Back"), callback_data=OpenScreen(screen=Screen.MAIN))


def main_keyboard(filters: StandingFilters) -> InlineKeyboardMarkup:
    """Genres · From / To · the runtimes · Languages · Watchlist on/off · Reset."""
    kb = InlineKeyboard()
    kb.button(text=_("🎭 Genres to exclude"), callback_data=OpenScreen(screen=Screen.GENRES))
    start, end = filters.from_decade, filters.to_decade
    kb.button(
        text=_("📅 From: {decade}").format(decade=decade_name(str(start)) if start else _("any")),
        callback_data=OpenScreen(screen=Screen.FROM),
    )
    kb.button(
        text=_("📅 To: {decade}").format(decade=decade_name(str(end)) if end else _("any")),
        callback_data=OpenScreen(screen=Screen.TO),
    )
    for minutes in RUNTIMES:
        kb.button(
            text=_mark(filters.max_runtime == minutes, _("⏱ {minutes} min").format(minutes=minutes)),
            callback_data=ChooseRuntime(minutes=str(minutes)),
        )
    kb.button(
        text=_mark(filters.max_runtime is None, _("Any length")), callback_data=ChooseRuntime(minutes="any")
    )
    kb.button(text=_("🌍 Original languages"), callback_data=OpenScreen(screen=Screen.LANGUAGES))
    kb.button(
        text=_("🔖 Picks from my watchlist: on")
        if filters.from_watchlist
        else _("🔖 Picks from my watchlist: off"),
        callback_data=ChooseWatchlist(allowed=not filters.from_watchlist),
    )
    kb.button(text=_("↩️ Reset"), callback_data=ResetSettings())
    kb.adjust(1, 2, 4, 1, 1, 1)
    return kb.as_markup()


def genres_keyboard(filters: StandingFilters, genres: Sequence[str]) -> InlineKeyboardMarkup:
    """The genres (three per row, "✓ " = excluded), then ◀ Back."""
    kb = InlineKeyboard()
    for genre in genres:
        kb.button(
            text=_mark(genre in filters.excluded_genres, genre_name(genre))[:60],
            callback_data=ToggleGenre(genre=genre),
        )
    _back(kb)
    kb.adjust(*[3] * (len(genres) // 3), *([len(genres) % 3] if len(genres) % 3 else []), 1)
    return kb.as_markup()


def decades_keyboard(filters: StandingFilters, end: DecadeEnd) -> InlineKeyboardMarkup:
    """1920s … 2020s (four per row) and Any, "✓ " on the current one, then ◀ Back."""
    current = filters.from_decade if end is DecadeEnd.FROM else filters.to_decade
    kb = InlineKeyboard()
    for decade in DECADES:
        kb.button(
            text=_mark(current == decade, decade_name(str(decade))),
            callback_data=ChooseDecade(end=end, decade=str(decade)),
        )
    kb.button(text=_mark(current is None, _("Any")), callback_data=ChooseDecade(end=end, decade="any"))
    _back(kb)
    kb.adjust(4, 4, 4, 1)
    return kb.as_markup()


def languages_keyboard(filters: StandingFilters, mode: LanguageMode) -> InlineKeyboardMarkup:
    """ "Only these" / "All but these" (the current mode marked), the languages (three per row,
    "✓ " = chosen), Any language, ◀ Back."""
    kb = InlineKeyboard()
    kb.button(
        text=_mark(mode is LanguageMode.INCLUDE, _("Only these")),
        callback_data=ChooseLanguageMode(mode=LanguageMode.INCLUDE),
    )
    kb.button(
        text=_mark(mode is LanguageMode.EXCLUDE, _("All but these")),
        callback_data=ChooseLanguageMode(mode=LanguageMode.EXCLUDE),
    )
    chosen = filters.languages if filters.language_mode is mode else frozenset()
    for code in LANGUAGES:
        kb.button(
            text=_mark(code in chosen, language_name(code)),
            callback_data=ToggleLanguage(mode=mode, code=code),
        )
    kb.button(text=_mark(not filters.languages, _("Any language")), callback_data=AnyLanguage())
    _back(kb)
    rows = len(LANGUAGES)
    kb.adjust(2, *[3] * (rows // 3), *([rows % 3] if rows % 3 else []), 1, 1)
    return kb.as_markup()
