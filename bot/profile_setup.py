"""The bot's profile texts on Telegram: the description (an empty chat's "What can this bot do?")
and the short description (the profile page, shared links), in English for everyone and in
each translated language for Telegram clients set to it, like the command menu
(bot.service.set_bot_commands). The texts are gettext messages in bot.texts.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiogram import Bot
from aiogram.utils.i18n import I18n

from bot import texts


@dataclass(frozen=True, slots=True)
class BotProfile:
    """The two texts in one language (plain text, within Telegram's limits)."""

    description: str
    short_description: str


def bot_profile(i18n: I18n, locale: str) -> BotProfile:
    """The texts in `locale` (the English source for a language without a catalog).

    Raises:
        ValueError: a text is longer than Telegram takes (512 / 120 characters), which
            Telegram would refuse with a 400; names the locale.
    """
    with i18n.context(), i18n.use_locale(locale):
        profile = BotProfile(texts.bot_description(), texts.bot_short_description())
    if len(profile.description) > texts.MAX_DESCRIPTION_CHARS:
        raise ValueError(f"bot description in {locale!r} is over {texts.MAX_DESCRIPTION_CHARS} characters")
    if len(profile.short_description) > texts.MAX_SHORT_DESCRIPTION_CHARS:
        raise ValueError(
            f"bot short description in {locale!r} is over {texts.MAX_SHORT_DESCRIPTION_CHARS} characters"
        )
    return profile


async def set_bot_profile(bot: Bot, i18n: I18n) -> int:
    """Set the description and the short description for everyone (no `language_code`, in the
    default locale) and for each translated language (es, pt, ru: `language_code`), where
    Telegram's differs: getMyDescription / getMyShortDescription first, then
    setMyDescription / setMyShortDescription only for the texts that changed, so a restart
    with nothing new makes no set calls. Returns how many set calls were made (0 to 2 × (1 +
    languages)).

    Raises:
        ValueError: a text is over Telegram's limit (see `bot_profile`); nothing is sent.
        aiogram.exceptions.TelegramAPIError: Telegram refused a call.
    """
    wanted = {locale: bot_profile(i18n, locale or i18n.default_locale) for locale in _locales(i18n)}
    calls = 0
    for locale, profile in wanted.items():
        current = await bot.get_my_description(language_code=locale)
        if current.description != profile.description:
            await bot.set_my_description(description=profile.description, language_code=locale)
            calls += 1
        current_short = await bot.get_my_short_description(language_code=locale)
        if current_short.short_description != profile.short_description:
            await bot.set_my_short_description(
                short_description=profile.short_description, language_code=locale
            )
            calls += 1
    return calls


def _locales(i18n: I18n) -> tuple[str | None, ...]:
    """None (everyone: the default locale's texts), then every translated language."""
    return (None, *sorted(i18n.available_locales))
