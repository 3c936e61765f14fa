"""Repositories against the real PostgreSQL: upserts, constraints, ownership checks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from db.models import UserFilm
from db.repositories.films import FilmRepository
from db.repositories.library import LibraryRepository, LogRow
from db.repositories.rate_limits import RateLimitRepository
from db.repositories.recommendations import NewItem, RecommendationRepository
from db.repositories.users import UserRepository
from domain.entities import FilmInfo

ALIEN = FilmInfo(
    tmdb_id=348,
    title="Alien",
    year=1979,
    genres=("Horror", "Science Fiction"),
    popularity=50,
    vote_average=8.1,
    vote_count=10000,
)
ALIENS = FilmInfo(
    tmdb_id=679,
    title="Aliens",
    year=1986,
    genres=("Action", "Science Fiction"),
    popularity=40,
    vote_average=7.9,
    vote_count=8000,
)
INTERSTELLAR = FilmInfo(
    tmdb_id=157336,
    title="Interstellar",
    year=2014,
    original_title="Interstellar",
    genres=("Science Fiction", "Drama"),
    popularity=90,
    vote_average=8.4,
    vote_count=30000,
)


async def test_user_upsert_creates_once_and_refreshes(session) -> None:
    users = UserRepository(session)
    first = await users.upsert(42, first_name="Ann", language_code="en")
    again = await users.upsert(42, first_name="Anna", language_code="es")
    assert first.id == again.id
    assert again.first_name == "Anna" and again.language_code == "es"


async def test_film_upsert_keeps_details_when_a_search_result_arrives(session) -> None:
    films = FilmRepository(session)
    detailed = FilmInfo(
        tmdb_id=348, title="Alien", year=1979, runtime=117, keywords=("space",), has_details=True
    )
    await films.upsert([detailed])
    await films.upsert([FilmInfo(tmdb_id=348, title="Alien", year=1979, popularity=99.0)])
    row = (await films.get_many([348]))[348]
    assert row.runtime == 117 and row.keywords == ["space"] and row.popularity == 99.0
    assert row.details_fetched_at is not None


async def test_trigram_search_forgives_typos(session) -> None:
    films = FilmRepository(session)
    await films.upsert([ALIEN, ALIENS, INTERSTELLAR])
    assert [f.tmdb_id for f in await films.search("Interstelar")][:1] == [157336]
    found = [f.tmdb_id for f in await films.search("alien")]
    assert found[:2] == [348, 679]


async def test_match_titles_exact_year_and_tolerance(session) -> None:
    films = FilmRepository(session)
    await films.upsert([ALIEN, ALIENS, INTERSTELLAR])
    pairs = [("ALIEN", 1979), ("Aliens", 1987), ("Alien", 1990), ("Interstellar", None)]
    assert await films.match_titles(pairs) == {
        ("ALIEN", 1979): 348,
        ("Aliens", 1987): 679,
        ("Interstellar", None): 157336,
    }


async def test_rating_outside_half_steps_is_rejected_by_the_database(session) -> None:
    user = await UserRepository(session).upsert(7, first_name=None, language_code=None)
    await FilmRepository(session).upsert([ALIEN])
    library = LibraryRepository(session)
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            await library.rate(user.id, 348, Decimal("4.3"), source="bot")
    await library.rate(user.id, 348, Decimal("4.5"), source="bot")
    assert await session.scalar(select(UserFilm.rating)) == Decimal("4.5")


async def test_merge_log_is_idempotent(session) -> None:
    user = await UserRepository(session).upsert(8, first_name=None, language_code=None)
    await FilmRepository(session).upsert([ALIEN, ALIENS])
    library = LibraryRepository(session)
    rows = [
        LogRow(348, Decimal("5"), True, dt.date(2020, 1, 1), True, False),
        LogRow(679, None, False, None, False, True),
    ]
    await library.merge_log(user.id, rows, source="letterboxd")
    await library.merge_log(user.id, rows, source="letterboxd")
    assert await session.scalar(select(func.count()).select_from(UserFilm)) == 2
    assert await library.seen_ids(user.id) == {348}


async def test_review_upsert_updates_the_same_row(session) -> None:
    user = await UserRepository(session).upsert(9, first_name=None, language_code=None)
    await FilmRepository(session).upsert([ALIEN])
    library = LibraryRepository(session)
    first_id, created = await library.upsert_review(user.id, 348, rating=Decimal("4"), text="a", source="bot")
    second_id, created_again = await library.upsert_review(
        user.id, 348, rating=Decimal("5"), text="b", source="bot"
    )
    assert first_id == second_id and created and not created_again
    assert await library.append_review_text(user.id, first_id, "more") == len("b\nmore")
    assert await library.append_review_text(user.id + 1000, first_id, "intruder") is None


async def test_rate_limit_allows_once_per_cooldown(session) -> None:
    user = await UserRepository(session).upsert(10, first_name=None, language_code=None)
    limits = RateLimitRepository(session)
    cooldown = dt.timedelta(seconds=60)
    assert await limits.try_acquire(user.id, "recommend", cooldown) == 0.0
    wait = await limits.try_acquire(user.id, "recommend", cooldown)
    assert 59 <= wait <= 60
    await limits.release(user.id, "recommend")
    assert await limits.try_acquire(user.id, "recommend", cooldown) == 0.0


async def test_item_status_only_changes_for_its_owner(session) -> None:
    users = UserRepository(session)
    owner = await users.upsert(11, first_name=None, language_code=None)
    other = await users.upsert(12, first_name=None, language_code=None)
    await FilmRepository(session).upsert([ALIEN])
    recs = RecommendationRepository(session)
    [item] = await recs.create(owner.id, "v1", [NewItem(348, "safe", 1.0, "because")])
    assert not await recs.set_status(item.id, other.id, "skipped")
    assert await recs.set_status(item.id, owner.id, "skipped")
    assert not await recs.set_status(item.id, owner.id, "watched")
    assert await recs.recent_tmdb_ids(owner.id, dt.timedelta(days=60)) == {348}
