"""The language model's part: the schema it answers a wish in (:class:`WishAnswer`), the prompt
(:func:`wish_prompt`), and the validation of its answer against the rules' vocabulary
(:func:`wish_from_model`).
"""

from __future__ import annotations

from functools import cache

from babel import Locale
from pydantic import BaseModel, Field

from domain.parsing import MAX_FILM_YEAR_AHEAD, MIN_FILM_YEAR
from domain.wishes.parser import Wish
from domain.wishes.vocabulary import GENRES, LANGUAGE_CODES, MAX_RUNTIME, MAX_TITLE_CHARS, MIN_RUNTIME

# --- the language model's part --------------------------------------------------------------------


class WishAnswer(BaseModel):
    """A wish as the language model answers it (validated by `wish_from_model`)."""

    genres: list[str] = Field(description="TMDB genre names from the given list that the user wants")
    without_genres: list[str] = Field(
        description="TMDB genre names from the given list the user does not want"
    )
    min_year: int | None = Field(description="earliest release year, or null")
    max_year: int | None = Field(description="latest release year, or null")
    min_runtime: int | None = Field(description="shortest runtime in minutes, or null")
    max_runtime: int | None = Field(description="longest runtime in minutes, or null")
    languages: list[str] = Field(description="ISO 639-1 codes of the original languages wanted")
    countries: list[str] = Field(description="ISO 3166-1 alpha-2 codes of the production countries wanted")
    like_title: str | None = Field(
        description="the title of a film the user wants something similar to, or null"
    )


WISH_SYSTEM_PROMPT = """\
You read what a user of a film-recommendation bot typed after /recommend and turn it into \
search filters. The text may be in any language. Fill only what the text asks for and leave \
everything else empty (empty lists, null): never guess.

- genres: only names from this list, spelled exactly: {genres}. A mood maps to genres \
(funny: Comedy; scary: Horror; feel-good: Comedy or Family; …).
- without_genres: genres from the same list the user says they do not want.
- min_year / max_year: release years (a decade such as "the 90s" is 1990 to 1999). The \
current year is {year}.
- min_runtime / max_runtime: minutes.
- languages: ISO 639-1 codes of the film's original language ("Korean film": "ko").
- countries: ISO 3166-1 alpha-2 codes of the production country ("British": "GB").
- like_title: the title of a film the user names as a reference ("something like Alien": \
"Alien"), else null."""


def wish_prompt(text: str, current_year: int) -> tuple[str, str]:
    """(system, user) messages asking a model for `text`'s filters in WishAnswer's schema."""
    return WISH_SYSTEM_PROMPT.format(genres=", ".join(GENRES), year=current_year), f"The user typed: {text}"


@cache
def _language_codes() -> frozenset[str]:
    return frozenset(c for c in Locale.parse("en").languages if isinstance(c, str) and len(c) == 2) | {"cn"}


@cache
def _country_codes() -> frozenset[str]:
    codes = Locale.parse("en").territories
    return frozenset(c for c in codes if isinstance(c, str) and len(c) == 2 and c.isalpha()) | {"SU"}


def wish_from_model(answer: WishAnswer, *, current_year: int) -> tuple[Wish, list[str]]:
    """The model's answer as a Wish, with what was dropped: genres not in GENRES, years outside
    [MIN_FILM_YEAR, current_year + MAX_FILM_YEAR_AHEAD], runtimes outside [MIN_RUNTIME,
    MAX_RUNTIME], crossed bounds (min > max: both), unknown ISO codes, blank or overlong
    titles. Returns (wish, names of the dropped fields, with repeats)."""
    dropped: list[str] = []
    by_name = {g.casefold(): g for g in GENRES}

    def genres(values: list[str], name: str) -> tuple[str, ...]:
        kept = [by_name[v.strip().casefold()] for v in values if v.strip().casefold() in by_name]
        dropped.extend([name] * (len(values) - len(kept)))
        return tuple(dict.fromkeys(kept))

    def bounded(value: int | None, low: int, high: int, name: str) -> int | None:
        if value is None:
            return None
        if low <= value <= high:
            return value
        dropped.append(name)
        return None

    def codes(values: list[str], known: frozenset[str], upper: bool, name: str) -> tuple[str, ...]:
        cleaned = [v.strip().upper() if upper else v.strip().lower() for v in values]
        kept = [c for c in cleaned if c in known]
        dropped.extend([name] * (len(cleaned) - len(kept)))
        if not upper:
            kept = [x for c in kept for x in LANGUAGE_CODES.get(c, (c,))]
        return tuple(dict.fromkeys(kept))

    last_year = current_year + MAX_FILM_YEAR_AHEAD
    min_year = bounded(answer.min_year, MIN_FILM_YEAR, last_year, "min_year")
    max_year = bounded(answer.max_year, MIN_FILM_YEAR, last_year, "max_year")
    if min_year is not None and max_year is not None and min_year > max_year:
        min_year = max_year = None
        dropped += ["min_year", "max_year"]
    min_runtime = bounded(answer.min_runtime, MIN_RUNTIME, MAX_RUNTIME, "min_runtime")
    max_runtime = bounded(answer.max_runtime, MIN_RUNTIME, MAX_RUNTIME, "max_runtime")
    if min_runtime is not None and max_runtime is not None and min_runtime > max_runtime:
        min_runtime = max_runtime = None
        dropped += ["min_runtime", "max_runtime"]
    title = " ".join((answer.like_title or "").split())
    if len(title) > MAX_TITLE_CHARS:
        dropped.append("like_title")
        title = ""
    without = genres(answer.without_genres, "without_genres")
    wish = Wish(
        genres=tuple(g for g in genres(answer.genres, "genres") if g not in without),
        without_genres=without,
        min_year=min_year,
        max_year=max_year,
        min_runtime=min_runtime,
        max_runtime=max_runtime,
        languages=codes(answer.languages, _language_codes(), False, "languages"),
        countries=codes(answer.countries, _country_codes(), True, "countries"),
        like=title or None,
    )
    return wish, dropped
