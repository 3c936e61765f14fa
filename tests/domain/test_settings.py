"""Standing filters (/settings): the pure rules of `StandingFilters`, and `UserSettingsService`
on the real database (defaults, changes, reset, and the SQL candidates matching the rules)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import DEMO_CATALOG
from db.models import Film, UserSettings
from db.repositories.films import FILM_ROW_COLUMNS, FilmRow, film_row
from db.repositories.library import LibraryRepository, LogRow
from db.repositories.users import UserRepository
from domain.catalog import CatalogService
from domain.settings import LanguageMode, Setting, StandingFilters, UserSettingsService
from integrations.tmdb_csv import read_tmdb_csv


def film(
    tmdb_id: int = 1,
    *,
    year: int | None = 1995,
    runtime: int | None = 100,
    genres: tuple[str, ...] = ("Comedy",),
    language: str | None = "en",
) -> FilmRow:
    return FilmRow(
        tmdb_id=tmdb_id,
        title=f"Film {tmdb_id}",
        year=year,
        genres=genres,
        keywords=(),
        popularity=10.0,
        vote_average=7.0,
        vote_count=500,
        original_language=language,
        runtime=runtime,
    )


# --- the rules -----------------------------------------------------------------------------------


def test_the_defaults_admit_every_film_even_with_unknown_values() -> None:
    filters = StandingFilters()
    assert filters.is_default
    assert filters.admits(film(year=None, runtime=None, genres=(), language=None))
    assert filters.admits(film(), watchlisted=True)


def test_an_excluded_genre_rejects_any_film_that_has_it() -> None:
    filters = StandingFilters(excluded_genres=frozenset({"Horror"}))
    assert not filters.admits(film(genres=("Science Fiction", "Horror")))
    assert filters.admits(film(genres=("Science Fiction",)))
    assert filters.rejects(film(genres=("Horror",))) == (Setting.GENRES,)


def test_year_bounds_are_inclusive_and_an_unknown_year_fails_them() -> None:
    filters = StandingFilters().with_from_decade(1990).with_to_decade(1990)
    assert (filters.min_year, filters.max_year) == (1990, 1999)
    assert [filters.admits(film(year=y)) for y in (1989, 1990, 1999, 2000)] == [False, True, True, False]
    assert not filters.admits(film(year=None))
    assert StandingFilters(min_year=1990).admits(film(year=2024))
    assert not StandingFilters(max_year=1999).admits(film(year=None))


def test_max_runtime_is_inclusive_and_an_unknown_runtime_fails_it() -> None:
    filters = StandingFilters().with_max_runtime(90)
    assert filters.admits(film(runtime=90))
    assert not filters.admits(film(runtime=91))
    assert not filters.admits(film(runtime=None))
    assert filters.rejects(film(runtime=None)) == (Setting.RUNTIME,)


def test_languages_include_or_exclude() -> None:
    only = (
        StandingFilters()
        .toggle_language("ja", LanguageMode.INCLUDE)
        .toggle_language("ko", LanguageMode.INCLUDE)
    )
    assert only.languages_include == {"ja", "ko"} and only.language_mode is LanguageMode.INCLUDE
    assert only.admits(film(language="ja")) and not only.admits(film(language="en"))
    assert not only.admits(film(language=None))  # unknown fails an include list
    but = only.with_language_mode(LanguageMode.EXCLUDE)
    assert but.languages_exclude == {"ja", "ko"} and not but.languages_include
    assert not but.admits(film(language="ko")) and but.admits(film(language="en"))
    assert but.admits(film(language=None))  # … and passes an exclude list
    # toggling in the other mode starts that list afresh: the two are exclusive
    switched = but.toggle_language("en", LanguageMode.INCLUDE)
    assert switched.languages_include == {"en"} and not switched.languages_exclude
    assert only.toggle_language("ja", LanguageMode.INCLUDE).languages_include == {"ko"}
    assert only.any_language().is_default


def test_the_watchlist_setting_rejects_watchlisted_films_only() -> None:
    filters = StandingFilters().with_from_watchlist(False)
    assert filters.admits(film())
    assert not filters.admits(film(), watchlisted=True)
    assert filters.rejects(film(), watchlisted=True) == (Setting.WATCHLIST,)


def test_a_film_failing_several_settings_names_each() -> None:
    filters = StandingFilters(
        excluded_genres=frozenset({"Horror"}), max_runtime=90, languages_include=frozenset({"fr"})
    )
    assert filters.rejects(film(genres=("Horror",), runtime=120, language="en")) == (
        Setting.GENRES,
        Setting.RUNTIME,
        Setting.LANGUAGES,
    )


def test_loosen_names_the_setting_that_removes_the_most() -> None:
    filters = StandingFilters(excluded_genres=frozenset({"Horror"}), min_year=1990, max_year=1999)
    films = [
        film(1, year=1995, genres=("Horror",)),
        film(2, year=1975),
        film(3, year=2005),
        film(4, year=None),
        film(5, year=1992),
    ]
    assert filters.loosen(films) is Setting.DECADES  # 3 films against 1
    assert StandingFilters(excluded_genres=frozenset({"Horror"})).loosen(films) is Setting.GENRES
    assert filters.loosen([film(5, year=1992)]) is None  # nothing removed
    # each setting counted on its own; a tie goes to the earlier setting
    tie = StandingFilters(max_runtime=90, languages_exclude=frozenset({"en"}))
    assert (
        tie.loosen([film(1, runtime=120, language="fr"), film(2, runtime=80, language="en")])
        is Setting.RUNTIME
    )
    watch = StandingFilters(from_watchlist=False, max_runtime=150)
    assert watch.loosen([film(1), film(2), film(3, runtime=200)], watchlisted={1, 2}) is Setting.WATCHLIST


def test_decade_bounds_keep_a_valid_range() -> None:
    filters = StandingFilters().with_from_decade(1980).with_to_decade(1990)
    assert (filters.min_year, filters.max_year) == (1980, 1999)
    later = filters.with_from_decade(2000)  # after "to": "to" moves with it
    assert (later.min_year, later.max_year) == (2000, 2009)
    earlier = filters.with_to_decade(1960)  # before "from": "from" moves with it
    assert (earlier.min_year, earlier.max_year) == (1960, 1969)
    assert filters.with_from_decade(None).min_year is None and filters.with_to_decade(None).max_year is None
    assert (filters.from_decade, filters.to_decade) == (1980, 1990)


def test_values_outside_the_offered_ones_are_refused() -> None:
    with pytest.raises(ValueError):
        StandingFilters().with_from_decade(1985)
    with pytest.raises(ValueError):
        StandingFilters().with_to_decade(1900)
    with pytest.raises(ValueError):
        StandingFilters().with_max_runtime(100)
    with pytest.raises(ValueError):
        StandingFilters().toggle_language("xx", LanguageMode.INCLUDE)
    with pytest.raises(ValueError):
        StandingFilters(min_year=2000, max_year=1990)
    with pytest.raises(ValueError):
        StandingFilters(max_runtime=0)


def test_toggling_a_genre_twice_restores_it() -> None:
    filters = StandingFilters().toggle_genre("Horror")
    assert filters.excluded_genres == {"Horror"} and not filters.is_default
    assert filters.toggle_genre("Horror").is_default


# --- the service ---------------------------------------------------------------------------------


async def _user(session: AsyncSession, telegram_id: int) -> int:
    return (await UserRepository(session).upsert(telegram_id, first_name="Ann", language_code="en")).id


async def test_settings_default_change_and_reset(session: AsyncSession) -> None:
    service = UserSettingsService(session)
    user_id = await _user(session, 31_001)
    assert await service.get(user_id) == StandingFilters()

    await service.update(user_id, lambda f: f.toggle_genre("Horror"))
    await service.update(user_id, lambda f: f.with_from_decade(1980))
    await service.update(user_id, lambda f: f.with_max_runtime(120))
    await service.update(user_id, lambda f: f.toggle_language("fr", LanguageMode.EXCLUDE))
    stored = await service.update(user_id, lambda f: f.with_from_watchlist(False))

    assert await service.get(user_id) == stored
    row = await session.get(UserSettings, user_id)
    assert row is not None
    assert (row.excluded_genres, row.min_year, row.max_year, row.max_runtime) == (["Horror"], 1980, None, 120)
    assert (row.languages_include, row.languages_exclude, row.from_watchlist) == ([], ["fr"], False)

    with pytest.raises(ValueError):  # a bad value leaves the settings as they were
        await service.update(user_id, lambda f: f.with_max_runtime(7))
    assert await service.get(user_id) == stored

    assert await service.reset(user_id) == StandingFilters()
    assert await service.get(user_id) == StandingFilters()
    assert await session.scalar(select(func.count()).select_from(UserSettings)) == 0


async def test_only_offered_genres_toggle(session: AsyncSession) -> None:
    await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(read_tmdb_csv(DEMO_CATALOG))
    service = UserSettingsService(session)
    user_id = await _user(session, 31_002)
    options = await service.genre_options(StandingFilters())
    assert "Horror" in options and options[0] == "Drama"  # the catalog's, most common first
    assert await service.toggle_genre(user_id, "Nonsense") is None
    assert await service.get(user_id) == StandingFilters()
    assert (await service.toggle_genre(user_id, "Horror")) == StandingFilters(
        excluded_genres=frozenset({"Horror"})
    )


async def test_sql_candidates_follow_the_same_rules(session: AsyncSession) -> None:
    await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(read_tmdb_csv(DEMO_CATALOG))
    service = UserSettingsService(session)
    rows = [
        film_row(r) for r in await session.execute(select(*FILM_ROW_COLUMNS).where(Film.vote_count >= 50))
    ]
    cases = [
        StandingFilters(excluded_genres=frozenset({"Horror", "Drama"})),
        StandingFilters(min_year=1970, max_year=1989),
        StandingFilters(max_runtime=120),
        StandingFilters(languages_include=frozenset({"ja", "ko"})),
        StandingFilters(languages_exclude=frozenset({"en"})),
        StandingFilters(excluded_genres=frozenset({"Comedy"}), min_year=1990, max_runtime=150),
    ]
    for filters in cases:
        expected = {r.tmdb_id for r in rows if filters.admits(r)}
        got = await service.popular_ids(filters, exclude=(), limit=1000)
        assert set(got) == expected, filters
        assert expected and len(expected) < len(rows)
    assert 348 not in await service.popular_ids(StandingFilters(), exclude={348}, limit=1000)


async def test_watchlisted_reads_the_users_watchlist(session: AsyncSession) -> None:
    await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(read_tmdb_csv(DEMO_CATALOG))
    user_id = await _user(session, 31_003)
    other = await _user(session, 31_004)
    for owner, tmdb_id in ((user_id, 348), (other, 679)):
        await LibraryRepository(session).merge_log(
            owner,
            [
                LogRow(
                    tmdb_id=tmdb_id,
                    rating=None,
                    watched=False,
                    watched_on=None,
                    liked=False,
                    on_watchlist=True,
                    rated_at=None,
                )
            ],
            source="letterboxd",
        )
    assert await UserSettingsService(session).watchlisted(user_id, [348, 679, 78]) == {348}
