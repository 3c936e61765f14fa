"""One-off preferences for a single answer, and the helpers that filter candidates by them.

`Preferences` come from the reply to a clarifying question (`domain.clarify`) or a wish typed
after /recommend (`domain.wishes`); `domain.recommendations.RecommendationService.rank` applies
them to its candidates with `_preferred` (and flags candidates matching an avoid topic with
`_mentions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from db.repositories.films import FilmRow

log = structlog.get_logger(__name__)

#: Fewest candidates a preference filter may leave; with fewer, the filter is dropped for that
#: answer (a wish narrows the picks, it never empties them).
PREFERENCE_MIN_FILMS = 3


@dataclass(frozen=True, slots=True)
class Preferences:
    """Wishes for one answer only (the reply to a clarifying question, see `domain.clarify`, or
    a wish typed after /recommend, see `domain.wishes`).

    Candidates must have one of `genres` (when any), every one of `required_genres`, none of
    `without_genres`, a release year in [min_year, max_year] and a runtime in [min_runtime,
    max_runtime] minutes (inclusive; None = unbounded), an original language among
    `languages` and a production country among `countries` (ISO 639-1 / 3166-1 codes, as
    TMDB's; when any). A film whose year, runtime, language or countries are unknown fails a
    bound on them. `like` (a reference film's tmdb id) is never a candidate itself. `genres`
    are also preferred in the score.

    When at least PREFERENCE_MIN_FILMS passing candidates are among `near` (films close to
    `like`), only those are kept. When fewer than PREFERENCE_MIN_FILMS candidates pass, the
    filter is dropped, unless `strict` (a typed wish: the caller then says few or none match).
    """

    genres: tuple[str, ...] = ()
    min_year: int | None = None
    max_year: int | None = None
    min_runtime: int | None = None
    max_runtime: int | None = None
    required_genres: tuple[str, ...] = ()
    without_genres: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    like: int | None = None
    near: tuple[int, ...] = ()
    strict: bool = False

    def admits(self, film: FilmRow) -> bool:
        """Whether `film` passes every bound (an unknown year, runtime, language or country
        fails a bound on it)."""
        if self.genres and not set(self.genres).intersection(film.genres):
            return False
        if not set(self.required_genres).issubset(film.genres):
            return False
        if set(self.without_genres).intersection(film.genres):
            return False
        if self.languages and film.original_language not in self.languages:
            return False
        if self.countries and not set(self.countries).intersection(film.countries):
            return False
        if self.like is not None and film.tmdb_id == self.like:
            return False
        for value, low, high in (
            (film.year, self.min_year, self.max_year),
            (film.runtime, self.min_runtime, self.max_runtime),
        ):
            if (low is not None or high is not None) and value is None:
                return False
            if value is not None and (
                (low is not None and value < low) or (high is not None and value > high)
            ):
                return False
        return True


def _preferred(films: dict[int, FilmRow], preferences: Preferences) -> dict[int, FilmRow]:
    """The candidates that pass `preferences` (only those near `preferences.like` when at
    least PREFERENCE_MIN_FILMS of them are), or all of them when fewer than
    PREFERENCE_MIN_FILMS would pass and the preferences are not `strict`."""
    kept = {t: f for t, f in films.items() if preferences.admits(f)}
    if preferences.near:
        near = set(preferences.near)
        close = {t: f for t, f in kept.items() if t in near}
        if len(close) >= PREFERENCE_MIN_FILMS:
            kept = close
    if len(kept) < PREFERENCE_MIN_FILMS and not preferences.strict:
        log.info("preferences_relaxed", candidates=len(films), passing=len(kept))
        return films
    return kept


def _mentions(film: FilmRow, topics: Sequence[str]) -> bool:
    """An avoid topic's words all appear in the film's title, genres or keywords."""
    if not topics:
        return False
    haystack = " ".join([film.title, *film.genres, *film.keywords]).casefold()
    return any(all(word in haystack for word in topic.casefold().split()) for topic in topics)
