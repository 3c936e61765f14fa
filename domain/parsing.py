"""Parsing what people type: film titles with a year, and Letterboxd-style ratings.

Ratings follow Letterboxd: 0.5 to 5 stars in half steps. Accepted at the start of a text:
"4.5", "4,5", "4/5", "4.5/5", "8/10" (tenths are halved), "★★★★½", "****1/2" is not
Letterboxd syntax and is not accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MIN_RATING = Decimal("0.5")
MAX_RATING = Decimal("5")
#: Years we accept as "the year of a film" in a title query: first films (1874) to a few years ahead.
MIN_FILM_YEAR = 1874
MAX_FILM_YEAR_AHEAD = 5


@dataclass(frozen=True, slots=True)
class TitleQuery:
    """A title search: "Alien (1979)" → title "Alien", year 1979. `raw` is the whole input."""

    title: str
    year: int | None
    raw: str


_YEAR_SUFFIX = re.compile(r"^(?P<title>.+?)[\s,]*[(\[]?\s*(?P<year>\d{4})\s*[)\]]?\s*$")


def parse_title_query(text: str, *, current_year: int) -> TitleQuery | None:
    """Split "Alien", "Alien 1979", "Alien (1979)" or "Alien, 1979" into title and year.

    A trailing number counts as a year only in [1874, current_year + 5] and only when some
    title is left ("1917" stays a title). Returns None for blank input.
    """
    raw = " ".join(text.split())
    if not raw:
        return None
    match = _YEAR_SUFFIX.match(raw)
    if match:
        year = int(match["year"])
        title = match["title"].strip(" ,-–(")
        if title and MIN_FILM_YEAR <= year <= current_year + MAX_FILM_YEAR_AHEAD:
            return TitleQuery(title=title, year=year, raw=raw)
    return TitleQuery(title=raw, year=None, raw=raw)


class RatingError(ValueError):
    """A rating was given but is not 0.5–5 in half steps. `value` is what was typed, `rest`
    the text after it (by `split_rating`; empty otherwise)."""

    def __init__(self, value: str, rest: str = "") -> None:
        super().__init__(f"not a Letterboxd rating: {value!r}")
        self.value = value
        self.rest = rest


@dataclass(frozen=True, slots=True)
class RatedText:
    """A message split into its leading rating (if any) and the rest (the review text)."""

    rating: Decimal | None
    text: str


_STARS = re.compile(r"^\s*(?P<stars>★{0,5}½?)(?=\s|$|[^★½])")
_NUMBER = re.compile(
    r"^\s*(?P<num>\d{1,2}(?:[.,]\d{1,2})?)\s*(?:/\s*(?P<scale>5|10)\b|(?P<unit>stars?|⭐)(?=\s|$|[.,!:;-]))?"
    r"(?=\s|$|[.,!:;—–-])"
)


def normalize_rating(value: Decimal) -> Decimal:
    """Check a rating is 0.5–5 in half steps and return it with one decimal (4 → 4.0).

    Raises:
        RatingError: outside the range or not a half step.
    """
    if not (MIN_RATING <= value <= MAX_RATING) or (value * 2) % 1 != 0:
        raise RatingError(str(value))
    return value.quantize(Decimal("0.1"))


def split_rating(text: str) -> RatedText:
    """Take a rating off the start of `text`.

    "4.5 great tension" → (4.5, "great tension"); "★★★★½ wow" → (4.5, "wow");
    "8/10 fun" → (4.0, "fun"); "great film" → (None, "great film").

    Raises:
        RatingError: a number in rating position that is not a valid rating ("7 great",
            "4.3 ok", "0 awful"). Years such as "2001: A Space Odyssey" are not ratings.
    """
    stars = _STARS.match(text)
    if stars and stars["stars"]:
        count = Decimal(stars["stars"].count("★")) + (Decimal("0.5") if "½" in stars["stars"] else 0)
        return RatedText(normalize_rating(count), _rest(text, stars.end()))
    number = _NUMBER.match(text)
    if not number:
        return RatedText(None, text.strip())
    try:
        value = Decimal(number["num"].replace(",", "."))
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only digits
        raise RatingError(number["num"]) from exc
    if number["scale"] == "10":
        value = value / 2
    try:
        return RatedText(normalize_rating(value), _rest(text, number.end()))
    except RatingError as exc:
        raise RatingError(exc.value, _rest(text, number.end())) from None


def looks_like_rating(text: str) -> bool:
    """Whether `text` starts with something only a rating looks like: stars ("★★★★½"), a
    scale ("4/5", "8/10"), a decimal ("4.5", "4,5") or "4 stars". A bare integer does not
    count: "3 Idiots" and "2 Fast 2 Furious" are titles."""
    stars = _STARS.match(text)
    if stars and stars["stars"]:
        return True
    number = _NUMBER.match(text)
    return bool(number and (number["scale"] or number["unit"] or any(c in number["num"] for c in ".,")))


def _rest(text: str, end: int) -> str:
    return text[end:].lstrip(" \t.,!:;—–-").strip()
