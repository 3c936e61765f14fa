"""Normalising a wish into tokens and the lexicon that gives a phrase at a token its meaning
(built from `domain.wishes.vocabulary`, `domain.wishes.measures` and babel's CLDR names).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache

from babel import Locale

from domain.wishes.measures import _LONG_WORDS, _NEW_WORDS, _OLD_WORDS, _SHORT_WORDS, _Bound
from domain.wishes.vocabulary import (
    COUNTRY_NAME_CLASHES,
    COUNTRY_WORDS,
    FILM_LANGUAGES,
    GENRE_PAIRS,
    GENRE_WORDS,
    GENRES,
    LANGUAGE_CODES,
    MAX_PHRASE_WORDS,
    MOOD_WORDS,
    NEGATIONS,
    STEM_SLACK,
    STOP_WORDS,
    WISH_LOCALES,
)


class _Kind(StrEnum):
    GENRE = "genre"
    MOOD = "mood"
    SHORT = "short"
    LONG = "long"
    NEW = "new"
    OLD = "old"
    LANGUAGE = "language"
    COUNTRY = "country"
    NEGATION = "negation"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class _Term:
    kind: _Kind
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Entry:
    words: tuple[str, ...]
    term: _Term

    @property
    def stems(self) -> int:
        return sum(w.endswith("*") for w in self.words)


@dataclass(frozen=True, slots=True)
class _Token:
    norm: str  # casefolded, accents and apostrophes folded, hyphens dropped
    start: int  # span in the text
    end: int


# --- normalising and tokens --------------------------------------------------------------------


def _fold(text: str) -> str:
    """Casefold and drop accents ("Comédia" → "comedia", "ё" → "е"; "й" stays "й")."""
    out = []
    for char in text.casefold():
        if char in "йЙ":
            out.append("й")
            continue
        decomposed = unicodedata.normalize("NFKD", char)
        out.append("".join(c for c in decomposed if not unicodedata.combining(c)))
    return "".join(out)


@cache
def _norm(phrase: str) -> tuple[str, ...]:
    """A vocabulary phrase as normalised words, a trailing "*" kept ("sci-fi" → ("scifi",),
    "научн* фантастик*" → ("научн*", "фантастик*")); symbols ("-", "<") stay as they are."""
    if phrase in ("-", "+", "<", ">", "≤", "≥"):
        return (phrase,)
    words = (re.sub(r"[^\w*']", "", _fold(w).replace("’", "'")) for w in phrase.split())
    return tuple(w for w in words if w)


_TOKEN = re.compile(
    r"\d+(?:[.,]\d+)?(?:[-']?[^\W\d_]+)?"  # numbers, "90s", "90-е", "2h", "1.5h", "90min"
    r"|[^\W\d_]+(?:['’][^\W\d_]+)*"  # words, "i'd", "children's"
    r"|[-–—<>≤≥+]"  # a dash between years, comparisons
    r"|[,.;:!?()]"  # punctuation ends a reference title
)


def _tokens(text: str) -> list[_Token]:
    """Tokens of a text; hyphenated words are joined ("sci-fi" → "scifi", "что-то" → "чтото")."""
    raw = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    joined: list[tuple[str, int, int]] = []
    i = 0
    while i < len(raw):
        word, start, end = raw[i]
        while (
            i + 2 < len(raw)
            and raw[i + 1][0] == "-"
            and raw[i + 1][1] == end
            and raw[i + 2][1] == raw[i + 1][2]
            and word[-1:].isalpha()
            and raw[i + 2][0][:1].isalpha()
        ):
            word, end = word + raw[i + 2][0], raw[i + 2][2]
            i += 2
        joined.append((word, start, end))
        i += 1
    tokens = []
    for word, start, end in joined:
        norm = _fold(word).replace("’", "'")
        norm = re.sub(r"'s$", "", norm) if norm[:1].isalpha() else norm
        norm = "-" if norm in ("–", "—") else norm
        tokens.append(_Token(norm, start, end))
    return tokens


def _word_matches(pattern: str, word: str) -> bool:
    if pattern.endswith("*"):
        stem = pattern[:-1]
        return word.startswith(stem) and len(word) - len(stem) <= STEM_SLACK
    return pattern == word


# --- the lexicon ------------------------------------------------------------------------------


def _stem_name(name: str, locale: str) -> str:
    """A language or country name as a pattern: Russian names and Spanish/Portuguese adjectives
    as stems ("корейский" → "корейск*", "coreano" → "corean*"), others as they are."""
    if locale == "ru" and " " not in name:
        # adjectives lose their ending ("корейский" → "корейск"), nouns their last vowel
        # ("япония" → "япони": "японии", "японию"; "китай" → "кита": "китая")
        stem = re.sub(r"(?:[иыо]й|[ая]я|[оеё]е|[иы]е)$|[аеиоуыэюяйь]$", "", name)
        return stem + "*" if len(stem) >= 4 else name
    if locale in ("es", "pt") and " " not in name:
        stem = re.sub(r"[aeo]$", "", name)
        return stem + "*" if len(stem) >= 4 else name
    return name


def _clean_territory(name: str) -> str:
    """ "Hong Kong SAR China" → "Hong Kong"; "Congo - Kinshasa" → "Congo"; "Гонконг (САР)" → "Гонконг"."""
    name = re.split(r" - |\(|,", name)[0]
    name = re.sub(r"\b(SAR China|RAE de|RAE da China)\b", "", name)
    return " ".join(name.split())


@cache
def _lexicon() -> tuple[dict[str, list[_Entry]], list[_Entry]]:
    """The vocabulary: entries by exact first word, and entries whose first word is a stem. Each
    phrase keeps its first meaning (in order: genres, moods, runtime, eras, negations,
    languages, countries, filler)."""
    entries: list[_Entry] = []
    seen: set[tuple[str, ...]] = set()

    def add(phrase: str, term: _Term) -> None:
        words = _norm(phrase)
        if words and len(words) <= MAX_PHRASE_WORDS and words not in seen:  # longer: remote islands
            seen.add(words)
            entries.append(_Entry(words, term))

    for genre in GENRES:
        add(genre, _Term(_Kind.GENRE, (genre,)))
    for phrase, pair in GENRE_PAIRS.items():
        add(phrase, _Term(_Kind.GENRE, pair))
    for genre, words in GENRE_WORDS.items():
        for phrase in words:
            add(phrase, _Term(_Kind.GENRE, (genre,)))
    for mood, words in MOOD_WORDS.items():
        for phrase in words:
            add(phrase, _Term(_Kind.MOOD, (mood.value,)))
    for kind, words in (
        (_Kind.SHORT, _SHORT_WORDS),
        (_Kind.LONG, _LONG_WORDS),
        (_Kind.NEW, _NEW_WORDS),
        (_Kind.OLD, _OLD_WORDS),
    ):
        for phrase in words:
            add(phrase, _Term(kind))
    for phrase in NEGATIONS:
        add(phrase, _Term(_Kind.NEGATION))
    stop = set(STOP_WORDS)
    for code in FILM_LANGUAGES:
        codes = LANGUAGE_CODES.get(code, (code,))
        for locale in WISH_LOCALES:
            name = Locale.parse(locale).languages.get(code)
            if name and _fold(name) not in stop:
                add(name, _Term(_Kind.LANGUAGE, codes))
                add(_stem_name(_fold(name), locale), _Term(_Kind.LANGUAGE, codes))
    for code, words in COUNTRY_WORDS.items():
        for phrase in words:
            add(phrase, _Term(_Kind.COUNTRY, (code,)))
    for locale in WISH_LOCALES:
        for code, name in Locale.parse(locale).territories.items():
            if len(code) != 2 or not code.isalpha() or code in ("EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"):
                continue
            clean = _fold(_clean_territory(name))
            if not clean or clean in stop or clean in COUNTRY_NAME_CLASHES:
                continue
            add(clean, _Term(_Kind.COUNTRY, (code,)))
            if locale == "ru":
                add(" ".join(_stem_name(w, "ru") for w in clean.split()), _Term(_Kind.COUNTRY, (code,)))
    for word in STOP_WORDS:
        add(word, _Term(_Kind.STOP))
    exact: dict[str, list[_Entry]] = {}
    stems: list[_Entry] = []
    for entry in entries:
        if entry.words[0].endswith("*"):
            stems.append(entry)
        else:
            exact.setdefault(entry.words[0], []).append(entry)
    return exact, stems


def _term_at(tokens: Sequence[_Token], i: int) -> tuple[int, _Term] | None:
    """The longest vocabulary phrase starting at token i: (its length in tokens, its meaning).
    Among phrases of one length, exact words beat stems, then the first defined wins."""
    return _term_for(tuple(t.norm for t in tokens[i : i + MAX_PHRASE_WORDS]))


@lru_cache(maxsize=4096)
def _term_for(words: tuple[str, ...]) -> tuple[int, _Term] | None:
    """`_term_at` for the words from that token on (cached: parsing asks for a word often)."""
    exact, stems = _lexicon()
    best: tuple[int, int, _Term] | None = None  # (length, -stems, term)
    for entry in [*exact.get(words[0], ()), *stems]:
        n = len(entry.words)
        if n > len(words):
            continue
        if all(_word_matches(p, words[k]) for k, p in enumerate(entry.words)):
            key = (n, -entry.stems)
            if best is None or key > best[:2]:
                best = (n, -entry.stems, entry.term)
    return None if best is None else (best[0], best[2])


def _phrase_at(tokens: Sequence[_Token], i: int, phrases: Iterable[str]) -> int:
    """Length in tokens of the longest of `phrases` starting at token i (0: none)."""
    best = 0
    for phrase in phrases:
        words = _norm(phrase)
        n = len(words)
        if (
            n > best
            and i + n <= len(tokens)
            and all(_word_matches(p, tokens[i + k].norm) for k, p in enumerate(words))
        ):
            best = n
    return best


def _bound_at(tokens: Sequence[_Token], i: int, table: dict[str, _Bound]) -> tuple[int, _Bound] | None:
    best: tuple[int, _Bound] | None = None
    for phrase, bound in table.items():
        n = _phrase_at(tokens, i, (phrase,))
        if n and (best is None or n > best[0]):
            best = (n, bound)
    return best
