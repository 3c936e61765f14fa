"""The rules that read a wish (:func:`parse_wish`) and what they read it into (:class:`Wish`).

**What the rules understand** (English, Russian, Spanish, Portuguese; case and accents are
ignored, Russian words are matched by their stem so "комедию", "комедии" are "комедия"):

- *genres*: TMDB's genre names (:data:`GENRES`) in the four languages, with synonyms
  ("sci-fi", "rom-com", "мультик", "de terror", "faroeste", …: :data:`GENRE_WORDS`). Every
  genre named is wanted ("action comedy": both). "no horror", "без ужасов", "sin terror",
  "sem terror" exclude one.
- *moods* (:data:`MOOD_WORDS` → :data:`MOOD_GENRES`): funny → Comedy; feel-good → Comedy,
  Family, Romance or Animation; dark → Crime, Horror, Mystery or Thriller; scary → Horror;
  slow → Drama; exciting → Action, Adventure or Thriller; moving → Drama or Romance;
  mind-bending → Science Fiction or Mystery. A film fits the moods when it has one of the
  genres of any mood named ("funnier", "смешнее" count too).
- *decades and years*: "90s", "1990s", "'90s", "nineties", "девяностые", "90-х", "años 90",
  "anos noventa", "década de 1990" → 1990–1999 (a two-digit decade up to this one is this
  century's: "20s" is 2020–2029 in 2026, "30s" is 1930–1939); "1995"; "2000-2010",
  "between 2000 and 2010", "с 2000 по 2010", "entre 2000 y 2010", "de 2000 a 2010"; "before
  1980" (…1979), "after 2015" (2016…), "since 2015" (2015…), "until 1980" (…1980), and the
  same with a decade ("before the 90s" is …1989). "new"/"recent" is the last
  `clarify.NEW_YEARS` years, "old"/"classic" before `clarify.OLD_BEFORE`.
- *runtime*: "short" is under 100 minutes (:data:`SHORT_UNDER_MINUTES`; the clarifying
  question's "short" is up to 100), "long" at least `clarify.LONG_MIN_MINUTES` (130); "under
  2 hours" (…119), "up to 90 min" (…90), "over 2h" (121…), "at least 100 minutes",
  "меньше 100 минут", "до 2 часов", "menos de 2 horas", "até 90 minutos"; a bare length ("a 90
  minute film") is a ceiling. "not too long" is under 130, "not short" at least 100.
- *original language*: language names in the four languages from babel's CLDR data for the
  languages of :data:`FILM_LANGUAGES` ("korean", "in Japanese", "французский", "coreana",
  "em português"); "chinese" is both "zh" and TMDB's "cn" (Cantonese).
- *production country*: country names from babel's CLDR data ("from Japan", "из Японии",
  "de Corea del Sur") plus :data:`COUNTRY_WORDS` ("british", "american", "soviet", "uk",
  "usa", "hollywood", "британский", "mexicana", "brasileiro", …).
- *a reference film*: "like X", "something like X", "similar to X", "in the vein of X", "как
  X", "похожий на X", "вроде X", "como X", "parecida a X", "parecido com X", "tipo X"; the
  title runs to the next "but", "and", "with", "from", "in", comma… ("like Alien but
  funnier": Alien; "I'd like a comedy" is no reference). The service finds it in the
  catalog the way /review does.

Words that are none of these and not filler ("a", "film", "хочу", "película", …:
:data:`STOP_WORDS`) are collected in `Wish.unknown`: with a language model configured, only
then is it asked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.clarify import LONG_MIN_MINUTES, NEW_YEARS, OLD_BEFORE
from domain.parsing import MAX_FILM_YEAR_AHEAD, MIN_FILM_YEAR
from domain.wishes.lexicon import _bound_at, _Kind, _phrase_at, _Term, _term_at, _Token, _tokens
from domain.wishes.measures import (
    _ARTICLES,
    _DECADE_LEADS,
    _DECADE_NUMBER_WORDS,
    _DECADE_WORDS,
    _HALF,
    _HOURS,
    _MINUTES,
    _NUMBER_WORDS,
    _RANGE_JOIN,
    _RANGE_OPEN,
    _RUNTIME_AFTER,
    _RUNTIME_BOUNDS,
    _YEAR_BOUNDS,
    _Bound,
)
from domain.wishes.vocabulary import (
    LIKE_MARKERS,
    LIKE_VERB_BEFORE,
    MAX_TITLE_CHARS,
    MAX_WISH_CHARS,
    MOOD_GENRES,
    SHORT_UNDER_MINUTES,
    TITLE_BREAKS,
    TITLE_JOINS,
    Mood,
)


@dataclass(frozen=True, slots=True)
class Wish:
    """What a text asks for. Empty tuples and None mean "any".

    - `genres`: TMDB genre names, every one wanted; `without_genres`: none of them;
    - `moods`: a film fits when it has a genre of one of them (MOOD_GENRES);
    - `min_year`/`max_year`: release year bounds, inclusive;
    - `min_runtime`/`max_runtime`: minutes, inclusive;
    - `languages`: ISO 639-1 original languages (one of); `countries`: ISO 3166-1 alpha-2
      production countries (one of; "SU" is the Soviet Union, as in TMDB);
    - `like`: a reference film's title as typed (found in the catalog by the service);
    - `unknown`: the words no rule explained, in order.
    """

    genres: tuple[str, ...] = ()
    without_genres: tuple[str, ...] = ()
    moods: tuple[Mood, ...] = ()
    min_year: int | None = None
    max_year: int | None = None
    min_runtime: int | None = None
    max_runtime: int | None = None
    languages: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    like: str | None = None
    unknown: tuple[str, ...] = ()

    @property
    def understood(self) -> bool:
        """Whether anything in the text was understood (a filter or a reference film)."""
        return self.filters or self.like is not None

    @property
    def filters(self) -> bool:
        """Whether the wish narrows the films (anything but `like` and `unknown`)."""
        return bool(
            self.genres
            or self.without_genres
            or self.moods
            or self.languages
            or self.countries
            or any(v is not None for v in (self.min_year, self.max_year, self.min_runtime, self.max_runtime))
        )

    @property
    def mood_genres(self) -> tuple[str, ...]:
        """The genres of the moods, in MOOD_GENRES order, without repeats."""
        return tuple(dict.fromkeys(g for mood in self.moods for g in MOOD_GENRES[mood]))


# --- years and decades ----------------------------------------------------------------------------

_DECADE_TOKEN = re.compile(r"^(\d{2}|\d{4})(?:'?s|-?(?:е|х|ые|ых|ие|ых))$")


def _decade_start(digits: str, current_year: int) -> int | None:
    """ "1990" → 1990, "90" → 1990, "20" → 2020 in 2026 (a two-digit decade up to this one is this
    century's); None when it is no decade."""
    value = int(digits)
    if len(digits) == 4:
        return value if value % 10 == 0 else None
    if value % 10:
        return None
    return 2000 + value if value <= current_year % 100 else 1900 + value


def _period_at(tokens: Sequence[_Token], i: int, current_year: int) -> tuple[int, int, int] | None:
    """A year or a decade starting at token i: (tokens used, first year, last year)."""
    word = tokens[i].norm
    if re.fullmatch(r"\d{4}", word):
        year = int(word)
        if MIN_FILM_YEAR <= year <= current_year + MAX_FILM_YEAR_AHEAD:
            return 1, year, year
        return None
    if match := _DECADE_TOKEN.match(word):
        start = _decade_start(match[1], current_year)
        return None if start is None else (1, start, start + 9)
    if word in _DECADE_WORDS:
        start = _decade_start(f"{_DECADE_WORDS[word]}0", current_year)
        return None if start is None else (1, start, start + 9)
    if word in _DECADE_LEADS:  # "años 90", "de los noventa", "década de 1990"
        j = i
        while j < len(tokens) and tokens[j].norm in _DECADE_LEADS:
            j += 1
        leads = {t.norm for t in tokens[i:j]}
        if j >= len(tokens) or leads == {"de"}:
            return None
        value = tokens[j].norm
        digits: str | None = None
        if re.fullmatch(r"\d{2}", value) or (re.fullmatch(r"\d{4}", value) and leads & {"decada", "decadas"}):
            digits = value
        elif value in _DECADE_NUMBER_WORDS:
            digits = f"{_DECADE_NUMBER_WORDS[value]}0"
        if digits is not None and not (j + 1 < len(tokens) and tokens[j + 1].norm in _HOURS | _MINUTES):
            start = _decade_start(digits, current_year)
            if start is not None:
                return j - i + 1, start, start + 9
    return None


# --- runtimes -------------------------------------------------------------------------------------

_LENGTH_TOKEN = re.compile(r"^(\d+(?:[.,]\d+)?)(h|hr|hrs|hours?|ч|m|min|mins|minutes?|мин)?$")


def _length_at(tokens: Sequence[_Token], i: int) -> tuple[int, int] | None:
    """A length starting at token i ("2 hours", "90 min", "2h", "1.5 hours", "two hours and a
    half", "2 h 30 min"): (tokens used, minutes)."""
    word = tokens[i].norm
    match = _LENGTH_TOKEN.match(word)
    unit: str | None = None
    if match:
        number = float(match[1].replace(",", "."))
        unit = match[2]
    elif word in _NUMBER_WORDS:
        number = _NUMBER_WORDS[word]
    else:
        return None
    j = i + 1
    if unit is None:
        if j >= len(tokens) or tokens[j].norm not in _HOURS | _MINUTES:
            return None
        unit = tokens[j].norm
        j += 1
    hours = unit in _HOURS or unit in ("h", "hr", "hrs", "hour", "hours", "ч")
    if not match and not hours:
        return None  # "two minutes" is no film length
    minutes = number * 60 if hours else number
    if hours:
        if (n := _phrase_at(tokens, j, _HALF)) > 0:
            minutes += 30
            j += n
        else:
            k = j + (1 if j < len(tokens) and tokens[j].norm in ("and", "и", "y", "e") else 0)
            rest = _length_at(tokens, k) if k < len(tokens) else None
            if (
                rest is not None
                and not (k < len(tokens) and tokens[k].norm in _NUMBER_WORDS)
                and rest[1] < 60
            ):
                minutes += rest[1]
                j = k + rest[0]
    return j - i, round(minutes)


# --- the parser -----------------------------------------------------------------------------------


@dataclass
class _Found:
    """What the parser collected so far (mutable while parsing)."""

    genres: list[str] = field(default_factory=list)
    without: list[str] = field(default_factory=list)
    moods: list[Mood] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    periods: list[tuple[int, int]] = field(default_factory=list)  # closed year ranges (unioned)
    year_low: list[int] = field(default_factory=list)  # open bounds (intersected)
    year_high: list[int] = field(default_factory=list)
    runtime_low: list[int] = field(default_factory=list)
    runtime_high: list[int] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def bound_years(self, bound: _Bound | None, low: int, high: int) -> None:
        match bound:
            case None:
                self.periods.append((low, high))
            case _Bound.BEFORE:
                self.year_high.append(low - 1)
            case _Bound.UNTIL:
                self.year_high.append(high)
            case _Bound.AFTER:
                self.year_low.append(high + 1)
            case _Bound.SINCE:
                self.year_low.append(low)

    def bound_runtime(self, bound: _Bound | None, minutes: int) -> None:
        match bound:
            case _Bound.BEFORE:
                self.runtime_high.append(minutes - 1)
            case _Bound.UNTIL | None:
                self.runtime_high.append(minutes)
            case _Bound.AFTER:
                self.runtime_low.append(minutes + 1)
            case _Bound.SINCE:
                self.runtime_low.append(minutes)


def parse_wish(text: str, *, current_year: int) -> Wish:
    """Read a wish with the rules (see the module docstring). `current_year` dates "new" and
    two-digit decades. Never raises; a text with nothing understood gives a Wish whose
    `understood` is False and whose `unknown` holds its words."""
    text = text[:MAX_WISH_CHARS]
    tokens = _tokens(text)
    used = [False] * len(tokens)
    like = _reference(text, tokens, used)
    found = _Found()
    i = 0
    while i < len(tokens):
        if used[i]:
            i += 1
            continue
        n = _read_at(tokens, i, used, found, current_year)
        if n:
            for k in range(i, i + n):
                used[k] = True
            i += n
            continue
        word = tokens[i].norm
        if word[:1].isalnum():
            found.unknown.append(word)
        i += 1
    return _wish(found, like, current_year)


def _read_at(tokens: Sequence[_Token], i: int, used: list[bool], found: _Found, current_year: int) -> int:
    """Read one phrase at token i into `found`; the number of tokens it took (0: none)."""
    if n := _range_at(tokens, i, found, current_year):
        return n
    year_bound = _bound_at(tokens, i, _YEAR_BOUNDS)
    start = i + year_bound[0] if year_bound else i
    if year_bound and start < len(tokens):  # "before the 90s"
        start += _phrase_at(tokens, start, _ARTICLES)
    period = _period_at(tokens, start, current_year) if start < len(tokens) else None
    if period is None and year_bound and tokens[start - 1].norm in _DECADE_LEADS:  # "antes de los 90"
        start -= 1
        period = _period_at(tokens, start, current_year)
    if period is not None:
        found.bound_years(year_bound[1] if year_bound else None, period[1], period[2])
        return start - i + period[0]
    runtime_bound = _bound_at(tokens, i, _RUNTIME_BOUNDS)
    start = i + runtime_bound[0] if runtime_bound else i
    if start < len(tokens) and (length := _length_at(tokens, start)):
        j = start + length[0]
        bound = runtime_bound[1] if runtime_bound else None
        after = _bound_at(tokens, j, _RUNTIME_AFTER) if j < len(tokens) else None
        if after and bound is None:
            bound, j = after[1], j + after[0]
        found.bound_runtime(bound, length[1])
        return j - i
    matched = _term_at(tokens, i)
    if matched is None:
        return 0
    n, term = matched
    if term.kind is _Kind.NEGATION:
        return _negated(tokens, i + n, found, current_year) + n
    _apply(term, found, current_year)
    return n


def _negated(tokens: Sequence[_Token], i: int, found: _Found, current_year: int) -> int:
    """After "not"/"no"/"без"/"sin"…: the next genre is excluded, "long"/"short" and
    "new"/"old" are turned around ("not too long": under 130 min). Filler in between is
    skipped. Returns the tokens taken after the negation (0: it negates nothing we know)."""
    j = i
    while j < len(tokens) and (m := _term_at(tokens, j)) and m[1].kind is _Kind.STOP:
        j += m[0]
    matched = _term_at(tokens, j) if j < len(tokens) else None
    if matched is None:
        return 0
    n, term = matched
    match term.kind:
        case _Kind.GENRE:
            found.without.extend(term.values)
        case _Kind.LONG:
            found.runtime_high.append(LONG_MIN_MINUTES - 1)
        case _Kind.SHORT:
            found.runtime_low.append(SHORT_UNDER_MINUTES)
        case _Kind.NEW:
            found.year_high.append(current_year - NEW_YEARS)
        case _Kind.OLD:
            found.year_low.append(OLD_BEFORE)
        case _Kind.LANGUAGE | _Kind.COUNTRY if tokens[i - 1].norm == "no":  # Portuguese "no Japão": "in"
            _apply(term, found, current_year)
        case _:  # "not scary", "not korean": no rule for it (the model may know)
            found.unknown.append(" ".join(t.norm for t in tokens[i - 1 : j + n]))
    return j - i + n


def _range_at(tokens: Sequence[_Token], i: int, found: _Found, current_year: int) -> int:
    """ "2000-2010", "between 2000 and 2010", "from the 80s to the 90s", "с 2000 по 2010",
    "entre 2000 y 2010", "de 2000 a 2010": a closed range; the tokens taken (0: none)."""
    j = i + _phrase_at(tokens, i, _RANGE_OPEN)
    j += _phrase_at(tokens, j, _ARTICLES) if j < len(tokens) else 0
    first = _period_at(tokens, j, current_year) if j < len(tokens) else None
    if first is None:
        return 0
    k = j + first[0]
    join = _phrase_at(tokens, k, _RANGE_JOIN) if k < len(tokens) else 0
    if not join:
        return 0
    k += join
    k += _phrase_at(tokens, k, _ARTICLES) if k < len(tokens) else 0
    second = _period_at(tokens, k, current_year) if k < len(tokens) else None
    if second is None or second[2] < first[1]:
        return 0
    found.periods.append((first[1], second[2]))
    return k + second[0] - i


def _apply(term: _Term, found: _Found, current_year: int) -> None:
    match term.kind:
        case _Kind.GENRE:
            found.genres.extend(term.values)
        case _Kind.MOOD:
            found.moods.extend(Mood(v) for v in term.values)
        case _Kind.SHORT:
            found.runtime_high.append(SHORT_UNDER_MINUTES - 1)
        case _Kind.LONG:
            found.runtime_low.append(LONG_MIN_MINUTES)
        case _Kind.NEW:
            found.year_low.append(current_year - NEW_YEARS + 1)
        case _Kind.OLD:
            found.year_high.append(OLD_BEFORE - 1)
        case _Kind.LANGUAGE:
            found.languages.extend(term.values)
        case _Kind.COUNTRY:
            found.countries.extend(term.values)
        case _Kind.STOP | _Kind.NEGATION:
            pass


def _reference(text: str, tokens: Sequence[_Token], used: list[bool]) -> str | None:
    """Find "like <title>" (LIKE_MARKERS); mark its tokens used and return the title as typed.

    The title runs from the marker to the next TITLE_BREAKS word or punctuation; a break whose
    following words are all unknown to the rules belongs to the title ("like Pride and
    Prejudice"). No reference when "like" is a verb ("I'd like …") or the "title" is only
    words the rules know ("like a comedy")."""
    for i in range(len(tokens)):
        n = _phrase_at(tokens, i, LIKE_MARKERS)
        if not n or (tokens[i].norm == "like" and i > 0 and tokens[i - 1].norm in LIKE_VERB_BEFORE):
            continue
        start = i + n
        end = start
        while end < len(tokens):
            word = tokens[end].norm
            if not word[:1].isalnum():
                break
            if (
                word in TITLE_BREAKS
                and end > start
                and (word not in TITLE_JOINS or not _title_goes_on(tokens, end + 1))
            ):
                break
            end += 1
        if end == start or all(_term_at(tokens, k) is not None for k in range(start, end)):
            continue
        for k in range(i, end):
            used[k] = True
        title = text[tokens[start].start : tokens[end - 1].end].strip()
        return title[:MAX_TITLE_CHARS] or None
    return None


def _title_goes_on(tokens: Sequence[_Token], i: int) -> bool:
    """Whether the words from token i to the next break or punctuation are all unknown to the
    rules (filler aside): then the joining word before them is part of a title."""
    end = i
    while end < len(tokens) and tokens[end].norm[:1].isalnum() and tokens[end].norm not in TITLE_BREAKS:
        end += 1
    if end == i:
        return False
    for k in range(i, end):
        matched = _term_at(tokens, k)
        if matched is not None and matched[1].kind is not _Kind.STOP:
            return False
        if _period_at(tokens, k, 2100) or _length_at(tokens, k):
            return False
    return True


def _wish(found: _Found, like: str | None, current_year: int) -> Wish:
    low = [min(p[0] for p in found.periods)] if found.periods else []
    high = [max(p[1] for p in found.periods)] if found.periods else []
    low += found.year_low
    high += found.year_high
    without = tuple(dict.fromkeys(found.without))
    return Wish(
        genres=tuple(g for g in dict.fromkeys(found.genres) if g not in without),
        without_genres=without,
        moods=tuple(dict.fromkeys(found.moods)),
        min_year=max(low) if low else None,
        max_year=min(high) if high else None,
        min_runtime=max(found.runtime_low) if found.runtime_low else None,
        max_runtime=min(found.runtime_high) if found.runtime_high else None,
        languages=tuple(dict.fromkeys(found.languages)),
        countries=tuple(dict.fromkeys(found.countries)),
        like=like,
        unknown=tuple(found.unknown),
    )
