"""Where to watch: the 📺 button on pick cards, /country and /services — texts, keyboards and
callback data (ids and codes only; every handler acts on the tapping user)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.text_decorations import html_decoration as hd
from pydantic import Field

from bot.keyboard_builder import InlineKeyboard
from bot.keyboards import CHECK, DbId
from bot.texts import country_name
from domain.entities import FilmInfo
from domain.ports import Provider
from domain.where_to_watch import COMMON_COUNTRIES, CountryChoice, Offers

#: An ISO 3166-1 alpha-2 code in callback data (forged data of another shape does not unpack).
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class WhereToWatch(CallbackData, prefix="wtw"):
    """📺 on a pick card: where the film `tmdb_id` streams in the tapper's country."""

    tmdb_id: DbId


class CountryPick(CallbackData, prefix="wtc"):
    """A country button of /country."""

    code: CountryCode


class ServiceToggle(CallbackData, prefix="wts"):
    """A service button of /services: tick or untick provider `provider_id`."""

    provider_id: DbId


def watch_button(tmdb_id: int) -> InlineKeyboardButton:
    """📺 for a pick card's 🔖 row (bot/keyboards.pick_keyboard), only with TMDB configured."""
    return InlineKeyboardButton(
        text=_("📺 Where to watch"), callback_data=WhereToWatch(tmdb_id=tmdb_id).pack()
    )


def _join(names: Sequence[str]) -> str:
    return hd.quote(", ".join(names))


def offers_text(film: FilmInfo | None, offers: Offers) -> str:
    """ "Where to watch <film> in Germany:" and one line per kind ("Stream: Netflix, …"),
    or "Not streaming in Germany as far as JustWatch knows"; then the JustWatch credit
    (TMDB's terms) linking TMDB's watch page."""
    country = hd.quote(country_name(offers.country))
    title = hd.bold(hd.quote(film.label)) if film is not None else ""
    lines = []
    if offers.empty:
        lines.append(
            _("{title}: not streaming in {country} as far as JustWatch knows.").format(
                title=title, country=country
            )
            if title
            else _("Not streaming in {country} as far as JustWatch knows.").format(country=country)
        )
    else:
        lines.append(_("📺 Where to watch {title} in {country}:").format(title=title, country=country))
        parts = [
            (_("Stream: {names}"), offers.flatrate),
            (_("Free: {names}"), offers.free),
            (_("With ads: {names}"), offers.ads),
            (_("Rent: {names}"), offers.rent),
            (_("Buy: {names}"), offers.buy),
        ]
        lines.append(" · ".join(label.format(names=_join(names)) for label, names in parts if names))
    credit = _("Streaming data by JustWatch")
    if offers.link:
        credit = f'<a href="{hd.quote(offers.link)}">{hd.quote(credit)}</a>'
    lines.append(f"<i>{credit}</i>" if not offers.link else credit)
    return "\n".join(lines)


def for_you_line(names: Sequence[str]) -> str:
    """The pick card note: "📺 On Netflix for you" (the user's services streaming it)."""
    return _("📺 On {services} for you").format(services=_join(names[:2]))


def unavailable() -> str:
    return _("I can't check where it streams right now (TMDB is not answering). Please try again later.")


def offline() -> str:
    return _("Where to watch needs TMDB, which this bot is not connected to.")


def country_prompt(choice: CountryChoice) -> str:
    name = hd.bold(hd.quote(country_name(choice.code)))
    current = (
        _("Your country for where to watch: {country} (from your Telegram language).")
        if choice.derived
        else _("Your country for where to watch: {country}.")
    ).format(country=name)
    return current + "\n" + _("Choose another below, or type its code, e.g. <code>/country de</code>.")


def country_set(code: str) -> str:
    return _("Country set: {country}. 📺 now shows what streams there.").format(
        country=hd.bold(hd.quote(country_name(code)))
    )


def country_unknown(text: str) -> str:
    return _(
        "I don't know the country {code}. Use a two-letter ISO code, e.g. <code>/country de</code>."
    ).format(code=hd.quote(text[:20]))


def country_keyboard(current: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboard()
    for code in COMMON_COUNTRIES:
        label = country_name(code)
        kb.button(text=(CHECK if code == current else "") + label, callback_data=CountryPick(code=code))
    kb.adjust(3)
    return kb.as_markup()


def services_prompt(country: str, mine: Collection[str]) -> str:
    head = _(
        "Tick the streaming services you pay for in {country}; "
        "pick cards then say when a film is on one of them."
    ).format(country=hd.quote(country_name(country)))
    if mine:
        return head + "\n" + _("Yours: {names}").format(names=_join(sorted(mine)))
    return head


def services_keyboard(offered: Sequence[Provider], mine: Collection[int]) -> InlineKeyboardMarkup:
    kb = InlineKeyboard()
    for provider_id, name in offered:
        kb.button(
            text=(CHECK if provider_id in mine else "") + name[:40],
            callback_data=ServiceToggle(provider_id=provider_id),
        )
    kb.adjust(2)
    return kb.as_markup()


def service_toggled(on: bool) -> str:
    return _("Added ✓") if on else _("Removed")
