"""Standing filters (/settings): what a user sets once and every recommendation path honours
(/recommend picks, the onboarding grid, the clarifying answer, a group's per-member ranking).

- :class:`StandingFilters` is the pure value object: the settings, the rule that admits a film
  (:meth:`StandingFilters.admits`), which setting removes the most candidates
  (:meth:`StandingFilters.loosen`, for "your settings leave too few films: try …"), and the
  changes the /settings buttons make (each returns a new value).
- :class:`UserSettingsService` reads and stores them (`user_settings`); a user who never
  changed anything has the defaults (no row), which admit every film.

`domain.recommendations.RecommendationService` applies them before scoring. Unlike a one-off
`Preferences` (a clarifying answer), they are never dropped when few films pass: the picks
that pass are shown, and the bot names the setting to loosen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.films import FilmRepository
from db.repositories.settings import SettingsRepository

log = structlog.get_logger(__name__)


class Setting(StrEnum):
    """One setting of /settings, in the order the "loosen" hint considers them on ties."""

    GENRES = "genres"
    DECADES = "decades"
    RUNTIME = "runtime"
    LANGUAGES = "languages"
    WATCHLIST = "watchlist"


class LanguageMode(StrEnum):
    """How the chosen original languages are used: only these, or all but these."""

    INCLUDE = "include"
    EXCLUDE = "exclude"


#: Decades offered (their first years): 1920s … 2020s.
DECADES: tuple[int, ...] = tuple(range(1920, 2030, 10))
#: Longest runtimes offered, in minutes.
RUNTIMES: tuple[int, ...] = (90, 120, 150)
#: Original languages offered (ISO 639-1, as TMDB's `original_language`).
LANGUAGES: tuple[str, ...] = ("en", "fr", "es", "ja", "ko", "it", "de", "ru", "hi", "zh", "pt")
#: Catalog genres offered for exclusion (most common first; TMDB has 19).
GENRE_OPTIONS = 24


class FilmLike(Protocol):
    """What the rules read of a film (`FilmRow` and `FilmInfo` have it)."""

    @property
    def tmdb_id(self) -> int: ...
    @property
    def year(self) -> int | None: ...
    @property
    def genres(self) -> tuple[str, ...]: ...
    @property
    def runtime(self) -> int | None: ...  # minutes
    @property
    def original_language(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class StandingFilters:
    """A user's standing filters; the defaults admit every film.

    - `excluded_genres`: TMDB genre names; a film with any of them is never picked;
    - `min_year` / `max_year`: release years, inclusive (the UI sets decade bounds: 1980–1999);
    - `max_runtime`: minutes, inclusive;
    - `languages_include`: ISO 639-1 original languages; when any, only films in one of them;
    - `languages_exclude`: original languages never picked;
    - `from_watchlist`: False keeps the user's watchlisted films out of the picks.

    A film whose year or runtime is unknown fails a bound on it (as `Preferences.admits`); an
    unknown original language fails an include list and passes an exclude list.

    Raises:
        ValueError: `min_year` after `max_year`, or a `max_runtime` below 1.
    """

    excluded_genres: frozenset[str] = field(default_factory=frozenset)
    min_year: int | None = None
    max_year: int | None = None
    max_runtime: int | None = None
    languages_include: frozenset[str] = field(default_factory=frozenset)
    languages_exclude: frozenset[str] = field(default_factory=frozenset)
    from_watchlist: bool = True

    def __post_init__(self) -> None:
        if self.min_year is not None and self.max_year is not None and self.min_year > self.max_year:
            raise ValueError(f"min_year {self.min_year} is after max_year {self.max_year}")
        if self.max_runtime is not None and self.max_runtime < 1:
            raise ValueError(f"max_runtime must be at least 1 minute, not {self.max_runtime}")

    # --- the rules --------------------------------------------------------------------------------
    @property
    def is_default(self) -> bool:
        """True when nothing is set (every film passes)."""
        return self == StandingFilters()

    def rejects(self, film: FilmLike, *, watchlisted: bool = False) -> tuple[Setting, ...]:
        """The settings `film` fails, in Setting order (empty: it passes). `watchlisted`: the
        film is on the user's watchlist."""
        failed: list[Setting] = []
        if self.excluded_genres.intersection(film.genres):
            failed.append(Setting.GENRES)
        if not _within(film.year, self.min_year, self.max_year):
            failed.append(Setting.DECADES)
        if not _within(film.runtime, None, self.max_runtime):
            failed.append(Setting.RUNTIME)
        language = film.original_language
        if (self.languages_include and language not in self.languages_include) or (
            language is not None and language in self.languages_exclude
        ):
            failed.append(Setting.LANGUAGES)
        if watchlisted and not self.from_watchlist:
            failed.append(Setting.WATCHLIST)
        return tuple(failed)

    def admits(self, film: FilmLike, *, watchlisted: bool = False) -> bool:
        """Whether `film` passes every setting (see the class docstring for unknown values)."""
        return not self.rejects(film, watchlisted=watchlisted)

    def loosen(self, films: Iterable[FilmLike], *, watchlisted: Collection[int] = ()) -> Setting | None:
        """The single setting that removes the most of `films` (each setting counted on its
        own, so a film failing two settings counts for both; ties go to the earlier Setting);
        None when no setting removes any. `watchlisted`: tmdb ids on the user's watchlist."""
        removed: Counter[Setting] = Counter()
        for film in films:
            removed.update(self.rejects(film, watchlisted=film.tmdb_id in watchlisted))
        if not removed:
            return None
        return max(Setting, key=lambda s: (removed[s], -list(Setting).index(s)))

    # --- reading the settings as the buttons show them --------------------------------------------
    @property
    def from_decade(self) -> int | None:
        """The first decade allowed (1980 for 1980s), None for any."""
        return None if self.min_year is None else self.min_year // 10 * 10

    @property
    def to_decade(self) -> int | None:
        """The last decade allowed, None for any."""
        return None if self.max_year is None else self.max_year // 10 * 10

    @property
    def language_mode(self) -> LanguageMode:
        """EXCLUDE when an exclude list is set, else INCLUDE."""
        return LanguageMode.EXCLUDE if self.languages_exclude else LanguageMode.INCLUDE

    @property
    def languages(self) -> frozenset[str]:
        """The languages of the current mode's list."""
        return (
            self.languages_exclude if self.language_mode is LanguageMode.EXCLUDE else self.languages_include
        )

    # --- the changes the buttons make (each returns a new value) ----------------------------------
    def toggle_genre(self, genre: str) -> StandingFilters:
        """`genre` excluded, or allowed again if it was."""
        return replace(self, excluded_genres=self.excluded_genres.symmetric_difference({genre}))

    def with_from_decade(self, decade: int | None) -> StandingFilters:
        """Films from `decade` on (None: no lower bound). A "to" decade before it moves to it.

        Raises:
            ValueError: `decade` is not one of DECADES.
        """
        if decade is None:
            return replace(self, min_year=None)
        _check(decade, DECADES, "decade")
        to = self.to_decade if self.to_decade is None or self.to_decade >= decade else decade
        return replace(self, min_year=decade, max_year=None if to is None else to + 9)

    def with_to_decade(self, decade: int | None) -> StandingFilters:
        """Films up to the end of `decade` (None: no upper bound). A "from" decade after it
        moves to it.

        Raises:
            ValueError: `decade` is not one of DECADES.
        """
        if decade is None:
            return replace(self, max_year=None)
        _check(decade, DECADES, "decade")
        start = self.from_decade if self.from_decade is None or self.from_decade <= decade else decade
        return replace(self, min_year=start, max_year=decade + 9)

    def with_max_runtime(self, minutes: int | None) -> StandingFilters:
        """Films up to `minutes` long (None: any length).

        Raises:
            ValueError: `minutes` is not one of RUNTIMES.
        """
        if minutes is not None:
            _check(minutes, RUNTIMES, "runtime")
        return replace(self, max_runtime=minutes)

    def toggle_language(self, code: str, mode: LanguageMode) -> StandingFilters:
        """`code` added to (or removed from) the list of `mode`; the other list is cleared (the
        two are exclusive: "only these" or "all but these").

        Raises:
            ValueError: `code` is not one of LANGUAGES.
        """
        _check(code, LANGUAGES, "language")
        current = self.languages if self.language_mode is mode else frozenset()
        chosen = current.symmetric_difference({code})
        if mode is LanguageMode.INCLUDE:
            return replace(self, languages_include=chosen, languages_exclude=frozenset())
        return replace(self, languages_include=frozenset(), languages_exclude=chosen)

    def with_language_mode(self, mode: LanguageMode) -> StandingFilters:
        """The chosen languages moved to the list of `mode` ("only these" ↔ "all but these")."""
        chosen = self.languages
        if mode is LanguageMode.INCLUDE:
            return replace(self, languages_include=chosen, languages_exclude=frozenset())
        return replace(self, languages_include=frozenset(), languages_exclude=chosen)

    def any_language(self) -> StandingFilters:
        """No language list."""
        return replace(self, languages_include=frozenset(), languages_exclude=frozenset())

    def with_from_watchlist(self, allowed: bool) -> StandingFilters:
        return replace(self, from_watchlist=allowed)


def _within(value: int | None, low: int | None, high: int | None) -> bool:
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def _check(value: object, allowed: Collection[object], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of {sorted(allowed, key=str)}")


class UserSettingsService:
    """A user's standing filters: read (defaults when never set), changed, reset."""

    def __init__(self, session: AsyncSession) -> None:
        self.repo = SettingsRepository(session)
        self.films = FilmRepository(session)

    async def get(self, user_id: int) -> StandingFilters:
        """The user's settings; the defaults (admitting every film) when they have no row."""
        row = await self.repo.get(user_id)
        if row is None:
            return StandingFilters()
        return StandingFilters(
            excluded_genres=frozenset(row.excluded_genres or ()),
            min_year=row.min_year,
            max_year=row.max_year,
            max_runtime=row.max_runtime,
            languages_include=frozenset(row.languages_include or ()),
            languages_exclude=frozenset(row.languages_exclude or ()),
            from_watchlist=row.from_watchlist,
        )

    async def save(self, user_id: int, filters: StandingFilters) -> StandingFilters:
        """Store `filters` as the user's settings (the defaults remove the row); returns them."""
        if filters.is_default:
            await self.repo.delete(user_id)
        else:
            await self.repo.save(
                user_id,
                {
                    "excluded_genres": sorted(filters.excluded_genres),
                    "min_year": filters.min_year,
                    "max_year": filters.max_year,
                    "max_runtime": filters.max_runtime,
                    "languages_include": sorted(filters.languages_include),
                    "languages_exclude": sorted(filters.languages_exclude),
                    "from_watchlist": filters.from_watchlist,
                },
            )
        log.info("settings_saved", user_id=user_id, default=filters.is_default)
        return filters

    async def update(
        self, user_id: int, change: Callable[[StandingFilters], StandingFilters]
    ) -> StandingFilters:
        """Apply one change (a `StandingFilters` method, e.g. ``lambda f: f.toggle_genre("Horror")``)
        to the stored settings and store the result; returns it.

        Raises:
            ValueError: the change's value is not one offered (the settings are left as they were).
        """
        return await self.save(user_id, change(await self.get(user_id)))

    async def genre_options(self, filters: StandingFilters) -> list[str]:
        """The genres offered for exclusion: the catalog's GENRE_OPTIONS most common, most
        common first, then any genre `filters` exclude that is not among them (so it can be
        allowed again)."""
        common = await self.films.top_genres(GENRE_OPTIONS)
        return [*common, *sorted(filters.excluded_genres.difference(common))]

    async def toggle_genre(self, user_id: int, genre: str) -> StandingFilters | None:
        """Exclude `genre`, or allow it again; None (nothing changed) when it is not one of
        `genre_options` (a forged or stale button)."""
        filters = await self.get(user_id)
        if genre not in await self.genre_options(filters):
            return None
        return await self.save(user_id, filters.toggle_genre(genre))

    async def reset(self, user_id: int) -> StandingFilters:
        """Back to the defaults (the row is removed); returns them."""
        return await self.save(user_id, StandingFilters())

    async def watchlisted(self, user_id: int, tmdb_ids: Iterable[int]) -> set[int]:
        """Those of `tmdb_ids` on the user's watchlist."""
        return await self.repo.watchlisted(user_id, tmdb_ids)

    async def popular_ids(self, filters: StandingFilters, *, exclude: Iterable[int], limit: int) -> list[int]:
        """Popular, well-rated catalog films that pass `filters` (watchlist aside), best first:
        candidates that a strict setting would otherwise leave out of a popularity-ordered list."""
        return await self.repo.popular_ids(filters, exclude=exclude, limit=limit)
