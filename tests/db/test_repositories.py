"""Repositories against the real PostgreSQL: upserts, constraints, ownership checks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from db.models import Review, UserFilm
from db.repositories.films import FilmRepository
from db.repositories.library import LibraryRepository, LogRow, ReviewRow
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


async def test_counts_say_rated_watched_and_reviews(session) -> None:
    users = UserRepository(session)
    user = await users.upsert(10, first_name=None, language_code=None)
    nobody = await users.upsert(11, first_name=None, language_code=None)
    await FilmRepository(session).upsert([ALIEN, ALIENS, INTERSTELLAR])
    library = LibraryRepository(session)
    rows = [
        LogRow(348, Decimal("5"), True, dt.date(2020, 1, 1), True, False),
        LogRow(679, None, True, None, False, False),
        LogRow(157336, Decimal("3.5"), False, None, False, True),
    ]
    await library.merge_log(user.id, rows, source="letterboxd")
    await library.upsert_review(user.id, 348, rating=Decimal("5"), text="the lobby", source="bot")
    assert await library.counts(user.id) == {"rated": 2, "watched": 2, "reviews": 1}
    assert await library.counts(nobody.id) == {"rated": 0, "watched": 0, "reviews": 0}


async def test_review_upsert_updates_the_same_row(session) -> None:
    user = await UserRepository(session).upsert(9, first_name=None, language_code=None)
    await FilmRepository(session).upsert([ALIEN])
    library = LibraryRepository(session)
    first_id, created = await library.upsert_review(user.id, 348, rating=Decimal("4"), text="a", source="bot")
    second_id, created_again = await library.upsert_review(
        user.id, 348, rating=Decimal("5"), text="b", source="bot"
    )
    assert first_id == second_id and created and not created_again


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


# --- newest rating wins; a film's rating and its review's agree -------------------------------------


def _day(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=dt.UTC)


async def _alien_state(session, user_id: int) -> tuple[Decimal | None, str, Decimal | None, str]:  # type: ignore[no-untyped-def]
    """(film rating, its source, review rating, review text) of Alien for the user."""
    film = (
        await session.execute(
            select(UserFilm.rating, UserFilm.source).where(
                UserFilm.user_id == user_id, UserFilm.tmdb_id == 348
            )
        )
    ).one()
    review = (
        await session.execute(select(Review.rating, Review.text).where(Review.user_id == user_id))
    ).one()
    return (film.rating, film.source, review.rating, review.text)


async def _bot_review(session, telegram_id: int, rating: str) -> tuple[int, LibraryRepository]:  # type: ignore[no-untyped-def]
    """A user who rated and reviewed Alien in the bot just now (what ReviewService.save does)."""
    user = await UserRepository(session).upsert(telegram_id, first_name=None, language_code=None)
    await FilmRepository(session).upsert([ALIEN])
    library = LibraryRepository(session)
    await library.rate(user.id, 348, Decimal(rating), source="bot")
    await library.upsert_review(user.id, 348, rating=Decimal(rating), text="mine", source="bot")
    return user.id, library


def _export_row(rating: str, rated_at: dt.datetime | None) -> LogRow:
    return LogRow(348, Decimal(rating), True, dt.date(2024, 1, 1), False, False, rated_at=rated_at)


async def test_an_older_export_row_does_not_overwrite_a_newer_bot_rating(session) -> None:
    user_id, library = await _bot_review(session, 20, "5")
    await library.merge_log(user_id, [_export_row("4", _day(2024, 1, 1))], source="letterboxd")
    await library.merge_reviews(
        user_id, [ReviewRow(348, Decimal("4"), "theirs", dt.date(2024, 1, 1))], source="letterboxd"
    )
    assert await _alien_state(session, user_id) == (Decimal("5"), "bot", Decimal("5"), "mine")
    # an export row without any date does not overwrite a rating that has a time either
    await library.merge_log(user_id, [_export_row("2", None)], source="letterboxd")
    assert await _alien_state(session, user_id) == (Decimal("5"), "bot", Decimal("5"), "mine")


async def test_a_newer_export_row_overwrites_and_the_bot_review_follows(session) -> None:
    user_id, library = await _bot_review(session, 21, "5")
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    rows = [_export_row("4", tomorrow)]
    await library.merge_log(user_id, rows, source="letterboxd")
    # the bot review's text stays (never overwritten by an export); its rating is the film's
    assert await _alien_state(session, user_id) == (Decimal("4"), "letterboxd", Decimal("4"), "mine")
    stamped = await session.scalar(select(UserFilm.rated_at).where(UserFilm.user_id == user_id))
    assert stamped == tomorrow
    # re-importing the same rows changes nothing
    await library.merge_log(user_id, rows, source="letterboxd")
    assert await _alien_state(session, user_id) == (Decimal("4"), "letterboxd", Decimal("4"), "mine")
    assert await session.scalar(select(UserFilm.rated_at).where(UserFilm.user_id == user_id)) == tomorrow
    # a new rating in the bot wins again, and the review follows it
    await library.rate(user_id, 348, Decimal("3.5"), source="bot")
    assert await _alien_state(session, user_id) == (Decimal("3.5"), "bot", Decimal("3.5"), "mine")


async def test_a_rating_without_a_time_or_without_a_value_is_replaced(session) -> None:
    user = await UserRepository(session).upsert(22, first_name=None, language_code=None)
    await FilmRepository(session).upsert([ALIEN])
    library = LibraryRepository(session)
    await library.like(user.id, 348, source="bot")  # a like now: no rating yet
    await library.merge_log(user.id, [_export_row("3", _day(2020, 1, 1))], source="letterboxd")
    assert await session.scalar(select(UserFilm.rating)) == Decimal("3")  # a NULL rating is replaced
    await session.execute(update(UserFilm).values(rated_at=None))
    await library.merge_log(user.id, [_export_row("2", None)], source="letterboxd")
    assert await session.scalar(select(UserFilm.rating)) == Decimal("2")  # a rating without a time too
    # ✅ without a rating keeps the rating and its time, so an older export still cannot win
    await library.merge_log(user.id, [_export_row("4", _day(2021, 1, 1))], source="letterboxd")
    await library.rate(user.id, 348, None, source="bot")
    row = (await session.execute(select(UserFilm.rating, UserFilm.rated_at, UserFilm.source))).one()
    assert tuple(row) == (Decimal("4"), _day(2021, 1, 1), "letterboxd")


async def test_imported_review_texts_follow_the_newest_date(session) -> None:
    user = await UserRepository(session).upsert(23, first_name=None, language_code=None)
    await FilmRepository(session).upsert([ALIEN])
    library = LibraryRepository(session)
    await library.merge_log(user.id, [_export_row("4", _day(2024, 6, 1))], source="letterboxd")
    newer = ReviewRow(348, Decimal("4"), "newer", dt.date(2024, 6, 1))
    await library.merge_reviews(user.id, [newer], source="letterboxd")
    for stale in (
        ReviewRow(348, Decimal("2"), "older", dt.date(2023, 1, 1)),
        ReviewRow(348, None, "undated", None),
    ):
        await library.merge_reviews(user.id, [stale], source="letterboxd")
    assert await _alien_state(session, user.id) == (Decimal("4"), "letterboxd", Decimal("4"), "newer")
    await library.merge_reviews(
        user.id, [ReviewRow(348, None, "newest", dt.date(2025, 1, 1))], source="letterboxd"
    )
    assert await _alien_state(session, user.id) == (Decimal("4"), "letterboxd", Decimal("4"), "newest")
