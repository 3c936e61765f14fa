"""The bot's gettext catalogs (bot/locales/<lang>/LC_MESSAGES/messages.po, English source)."""

from __future__ import annotations

from pathlib import Path

from aiogram.utils.i18n import I18n

LOCALES = Path(__file__).parent / "locales"
DEFAULT_LOCALE = "en"


def make_i18n() -> I18n:
    """aiogram's I18n over the compiled catalogs (scripts/i18n.sh builds them)."""
    return I18n(path=LOCALES, default_locale=DEFAULT_LOCALE, domain="messages")
