"""Wishes typed after /recommend ("a short 90s comedy", "korean thriller", "something like
Alien but funnier"): the rules that read them, the schema a language model answers in when the
rules leave words unexplained, and the one-off recommender filter a wish stands for.

Everything here is pure (no I/O): :func:`parse_wish` reads a text with the rules
(`domain.wishes.parser`, which lists what they understand; their words are in
`domain.wishes.vocabulary` and `domain.wishes.measures`, read through `domain.wishes.lexicon`),
:func:`wish_from_model` validates a model's answer against the same vocabulary
(`domain.wishes.model`), :func:`merged` joins the two (the rules win), and
:func:`preferences_for` turns a wish into :class:`domain.preferences.Preferences`
(`domain.wishes.apply`). The service around them is `domain.wish_picks.WishService`.
"""

from domain.wishes.apply import merged, preferences_for
from domain.wishes.model import WISH_SYSTEM_PROMPT, WishAnswer, wish_from_model, wish_prompt
from domain.wishes.parser import Wish, parse_wish
from domain.wishes.vocabulary import GENRES, MAX_WISH_CHARS, MOOD_GENRES, SHORT_UNDER_MINUTES, Mood

__all__ = [
    "GENRES",
    "MAX_WISH_CHARS",
    "MOOD_GENRES",
    "SHORT_UNDER_MINUTES",
    "WISH_SYSTEM_PROMPT",
    "Mood",
    "Wish",
    "WishAnswer",
    "merged",
    "parse_wish",
    "preferences_for",
    "wish_from_model",
    "wish_prompt",
]
