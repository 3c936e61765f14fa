"""What the bot says around /recommend with a wish (`bot/handlers/wishes.py`): the line of what
was understood ("Looking for: Comedy · 1990s · under 100 min"), and the answers when nothing
was understood, the reference film was not found, or no film matches.

Genre, decade and country names reuse `bot.texts` (translated); language names come from CLDR
(babel) in the user's language.
"""

from __future__ import annotations

from aiogram.utils.i18n import get_i18n, ngettext
from aiogram.utils.i18n import gettext as _
from aiogram.utils.text_decorations import html_decoration as hd
from babel import Locale, UnknownLocaleError

from bot.texts import country_name, decade_name, genre_name
from domain.entities import FilmInfo
from domain.wish_picks import WishOutcome
from domain.wishes import Mood, Wish

#: Examples shown when a wish was not understood.
EXAMPLES = (
    "/recommend a short 90s comedy",
    "/recommend korean thriller",
    "/recommend something like Alien but funnier",
)


def mood_name(mood: Mood) -> str:
    return {
        Mood.FUNNY: _("funny"),
        Mood.FEEL_GOOD: _("feel-good"),
        Mood.DARK: _("dark"),
        Mood.SCARY: _("scary"),
        Mood.SLOW: _("slow"),
        Mood.EXCITING: _("exciting"),
        Mood.MOVING: _("moving"),
        Mood.MIND_BENDING: _("mind-bending"),
    }[mood]


def _locale() -> Locale:
    try:
        return Locale.parse(get_i18n().current_locale)
    except (LookupError, ValueError, UnknownLocaleError):  # outside an i18n context
        return Locale("en")


def language_name(code: str) -> str | None:
    """An ISO 639-1 code as a language name in the user's language (CLDR); None when CLDR
    has none (TMDB's "cn")."""
    name = _locale().languages.get(code)
    return str(name) if name else None


def years_chip(low: int | None, high: int | None) -> str | None:
    """ "1990s", "1995", "2000–2010", "from 2016", "until 1979"; None without bounds."""
    if low is not None and high is not None:
        if low == high:
            return str(low)
        if low % 10 == 0 and high == low + 9:
            return decade_name(str(low))
        return f"{low}–{high}"
    if low is not None:
        return _("from {year}").format(year=low)
    if high is not None:
        return _("until {year}").format(year=high)
    return None


def runtime_chip(low: int | None, high: int | None) -> str | None:
    """ "under 100 min", "up to 90 min", "130 min or more", "over 120 min", "90–120 min"."""
    if low is not None and high is not None:
        return _("{low}–{high} min").format(low=low, high=high)
    if high is not None:
        if (high + 1) % 10 == 0:
            return _("under {n} min").format(n=high + 1)
        return _("up to {n} min").format(n=high)
    if low is not None:
        if (low - 1) % 10 == 0:
            return _("over {n} min").format(n=low - 1)
        return _("{n} min or more").format(n=low)
    return None


def chips(wish: Wish, reference: FilmInfo | None) -> list[str]:
    """What was understood, one short phrase each (HTML-escaped), in a fixed order: genres,
    moods, excluded genres, years, runtime, languages, countries, the reference film."""
    parts = [genre_name(g) for g in wish.genres]
    parts += [mood_name(m) for m in wish.moods]
    parts += [_("no {genre}").format(genre=genre_name(g)) for g in wish.without_genres]
    parts += [
        c
        for c in (years_chip(wish.min_year, wish.max_year), runtime_chip(wish.min_runtime, wish.max_runtime))
        if c
    ]
    languages = [n for n in dict.fromkeys(language_name(code) for code in wish.languages) if n]
    parts += [_("in {language}").format(language=name) for name in languages]
    countries = [_("the Soviet Union") if c == "SU" else country_name(c) for c in wish.countries]
    parts += [_("from {country}").format(country=name) for name in countries]
    if reference is not None:
        title = reference.title + (f" ({reference.year})" if reference.year else "")
        parts.append(_("like {title}").format(title=title))
    return [hd.quote(p) for p in parts]


def understood(outcome: WishOutcome) -> str:
    """The message above the picks: what was understood, then, when it applies, that the
    reference film was not found and that only a few films (or none) match."""
    lines = [_("Looking for: {wish}").format(wish=" · ".join(chips(outcome.wish, outcome.reference)))]
    if outcome.reference_missing and outcome.wish.like:
        lines.append(
            _("I couldn't find “{title}” in the catalog, so I left it out.").format(
                title=hd.quote(outcome.wish.like)
            )
        )
    picks = len(outcome.result.picks) if outcome.result else 0
    if not picks:
        lines.append(no_match())
    elif outcome.matches < 3:
        lines.append(
            ngettext(
                "Only {n} film you haven't seen matches it:",
                "Only {n} films you haven't seen match it:",
                outcome.matches,
            ).format(n=outcome.matches)
        )
    return "\n".join(lines)


def no_match() -> str:
    return _(
        "No film you haven't seen (or I haven't shown you lately) matches that. Try asking for less, "
        "for example only the genre or a wider decade."
    )


def not_understood(outcome: WishOutcome) -> str:
    """Nothing in the text could filter: say so (naming a reference film that was not found)
    and show examples."""
    if outcome.reference_missing and outcome.wish.like:
        head = _("I couldn't find “{title}” in the catalog.").format(title=hd.quote(outcome.wish.like))
    else:
        head = _("I didn't understand what you're looking for.")
    examples = "\n".join(EXAMPLES)
    return (
        head
        + "\n"
        + _("Tell me a genre, a decade, a length, a language or a film it should be like, for example:")
        + "\n"
        + examples
    )
