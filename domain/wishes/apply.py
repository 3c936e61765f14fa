"""Combining and applying wishes: :func:`merged` joins the rules' wish and the model's (the
rules win), :func:`preferences_for` turns a wish into the recommender's one-off filter.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.preferences import Preferences
from domain.wishes.parser import Wish


def merged(rules: Wish, model: Wish) -> Wish:
    """The rules' wish with what only the model found: each field is the rules' when they set
    it, else the model's. `unknown` stays the rules' (the words the model was asked about)."""
    return Wish(
        genres=rules.genres or tuple(g for g in model.genres if g not in rules.without_genres),
        without_genres=rules.without_genres or model.without_genres,
        moods=rules.moods,
        min_year=rules.min_year
        if rules.min_year is not None or rules.max_year is not None
        else model.min_year,
        max_year=rules.max_year
        if rules.min_year is not None or rules.max_year is not None
        else model.max_year,
        min_runtime=rules.min_runtime
        if rules.min_runtime is not None or rules.max_runtime is not None
        else model.min_runtime,
        max_runtime=rules.max_runtime
        if rules.min_runtime is not None or rules.max_runtime is not None
        else model.max_runtime,
        languages=rules.languages or model.languages,
        countries=rules.countries or model.countries,
        like=rules.like or model.like,
        unknown=rules.unknown,
    )


# --- the filter -----------------------------------------------------------------------------------


def preferences_for(wish: Wish, *, like: int | None = None, near: Sequence[int] = ()) -> Preferences:
    """The recommender's one-off filter for a wish, kept even when few films pass (`strict`:
    the bot then says that nothing, or only a few films, match).

    Named genres are all required; moods admit any of their genres (and, with no genre named,
    are the preferred genres). `like`: the reference film's tmdb id (never picked itself);
    `near`: films near it, preferred (see Preferences)."""
    return Preferences(
        genres=wish.mood_genres or wish.genres,
        required_genres=wish.genres,
        without_genres=wish.without_genres,
        min_year=wish.min_year,
        max_year=wish.max_year,
        min_runtime=wish.min_runtime,
        max_runtime=wish.max_runtime,
        languages=wish.languages,
        countries=wish.countries,
        like=like,
        near=tuple(near),
        strict=True,
    )
