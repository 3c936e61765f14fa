"""RatingsService on the real PostgreSQL: pages in both orders, changing and deleting one rated
film (with its review and diary viewings), only ever the user's own."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import DEMO_CATALOG
from bot.jobs import JobOutbox
from db.models import Review, UserFilm, Watch
from db.repositories.library import LibraryRepository, LogRow
from db.repositories.users import UserRepository
from domain.catalog import CatalogService
from domain.parsing import RatingError
from domain.ratings import RatingsOrder, RatingsService
from integrations.tmdb_csv import read_tmdb_csv

BASE = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
#: (tmdb id, rating), oldest rating first: Alien, Aliens, Alien³, Alien Resurrection,
#: Prometheus, Interstellar, Inception, The Matrix, Blade Runner, Blade Runner 2049,
#: 2001: A Space Odyssey, The Godfather.
RATED = [
    (348, "4.5"),
    (679, "4"),
    (8077, "2"),
    (8078, "1.5"),
    (70981, "3"),
    (157336, "5"),
    (27205, "3.5"),
    (603, "4"),
    (78, "5"),
    (335984, "2.5"),
    (62, "0.5"),
    (238, "3"),
]


@pytest.fixture
async def catalog(session: AsyncSession) -> None:
    await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(read_tmdb_csv(DEMO_CATALOG))


async def _user(session: AsyncSession, telegram_id: int) -> int:
    return (await UserRepository(session).upsert(telegram_id, first_name=None, language_code=None)).id


async def _seed(session: AsyncSession, user_id: int, ratings: list[tuple[int, str]] = RATED) -> None:
    rows = [
        LogRow(
            tmdb_id=t,
            rating=Decimal(r),
            watched=True,
            watched_on=None,
            liked=False,
            on_watchlist=False,
            rated_at=BASE + dt.timedelta(days=i),
        )
        for i, (t, r) in enumerate(ratings)
    ]
    await LibraryRepository(session).merge_log(user_id, rows, source="letterboxd")


async def _count(session: AsyncSession, model: type, **where: object) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).filter_by(**where)) or 0)


async def test_pages_newest_first_and_best_first(session: AsyncSession, catalog: None) -> None:
    user, other = await _user(session, 9_101), await _user(session, 9_102)
    await _seed(session, user)
    await _seed(session, other, [(496243, "5")])  # someone else's rating never shows
    service = RatingsService(session, JobOutbox())

    first = await service.page(user)
    assert (first.total, first.pages, first.page, first.offset) == (12, 2, 0, 0)
    assert [f.tmdb_id for f in first.films] == [t for t, _ in RATED[::-1]][:10]
    assert first.films[0].title == "The Godfather" and first.films[0].rated_at == BASE + dt.timedelta(days=11)
    second = await service.page(user, 1)
    assert [f.tmdb_id for f in second.films] == [679, 348] and second.offset == 10
    # a page past the end (the list shrank) is the last one; a negative one the first
    assert (await service.page(user, 7)).page == 1 and (await service.page(user, -3)).page == 0

    best = await service.page(user, 0, RatingsOrder.RATING)
    ratings = [f.rating for f in best.films]
    assert ratings == sorted(ratings, reverse=True)
    # equal ratings: the newer first (Blade Runner before Interstellar, both 5★)
    assert [f.tmdb_id for f in best.films[:2]] == [78, 157336]
    assert [f.tmdb_id for f in (await service.page(user, 1, RatingsOrder.RATING)).films] == [8078, 62]


async def test_an_empty_log_is_one_empty_page(session: AsyncSession, catalog: None) -> None:
    user = await _user(session, 9_103)
    view = await RatingsService(session, JobOutbox()).page(user, 3)
    assert (view.films, view.total, view.pages, view.page) == ((), 0, 1, 0)


async def test_change_rates_now_syncs_the_review_and_refreshes_taste(
    session: AsyncSession, catalog: None
) -> None:
    user = await _user(session, 9_104)
    await _seed(session, user)
    await LibraryRepository(session).upsert_review(
        user, 348, rating=Decimal("4.5"), text="tense", source="bot"
    )
    jobs = JobOutbox()
    service = RatingsService(session, jobs)

    changed = await service.change(user, 348, Decimal("3"))
    assert changed is not None and changed.rating == Decimal("3.0") and changed.reviewed
    row = await session.scalar(select(UserFilm).filter_by(user_id=user, tmdb_id=348))
    review = await session.scalar(select(Review).filter_by(user_id=user, tmdb_id=348))
    assert row is not None and row.rating == Decimal("3.0") and row.source == "bot"
    assert row.rated_at is not None and row.rated_at > BASE + dt.timedelta(days=30)  # stamped now
    assert review is not None and review.rating == Decimal("3.0")
    assert jobs.user_ids == {user} and jobs.summary_user_ids == {user}
    # the newest rating is now first
    assert (await service.page(user)).films[0].tmdb_id == 348


async def test_change_refuses_what_is_not_the_users(session: AsyncSession, catalog: None) -> None:
    user, other = await _user(session, 9_105), await _user(session, 9_106)
    await _seed(session, user, [(348, "4")])
    await _seed(session, other, [(679, "2")])
    jobs = JobOutbox()
    service = RatingsService(session, jobs)
    assert await service.change(user, 679, Decimal("5")) is None  # the other user's film
    assert await service.change(user, 603, Decimal("5")) is None  # a film nobody rated
    with pytest.raises(RatingError):
        await service.change(user, 348, Decimal("4.3"))
    theirs = await session.scalar(select(UserFilm.rating).filter_by(user_id=other, tmdb_id=679))
    mine = await session.scalar(select(UserFilm.rating).filter_by(user_id=user, tmdb_id=348))
    assert (theirs, mine) == (Decimal("2.0"), Decimal("4.0"))
    assert await _count(session, UserFilm, tmdb_id=603) == 0
    assert not jobs


async def test_delete_takes_the_film_out_of_the_log(session: AsyncSession, catalog: None) -> None:
    user, other = await _user(session, 9_107), await _user(session, 9_108)
    library = LibraryRepository(session)
    for who in (user, other):
        await _seed(session, who, [(348, "4"), (679, "3")])
        await library.upsert_review(who, 348, rating=Decimal("4"), text="tense", source="bot")
        await library.merge_watches(who, [(348, dt.date(2025, 3, 1), Decimal("4"))])
    jobs = JobOutbox()
    service = RatingsService(session, jobs)

    assert await service.delete(user, 348)
    assert await _count(session, UserFilm, user_id=user, tmdb_id=348) == 0
    assert await _count(session, Review, user_id=user) == 0
    assert await _count(session, Watch, user_id=user) == 0
    assert 348 not in await library.seen_ids(user)  # may be recommended again
    assert [f.tmdb_id for f in (await service.page(user)).films] == [679]
    assert jobs.user_ids == {user}
    # the other user's rating, review and viewing of the same film stay
    assert await _count(session, UserFilm, user_id=other, tmdb_id=348) == 1
    assert await _count(session, Review, user_id=other) == 1
    assert await _count(session, Watch, user_id=other) == 1
    # again (a second tap), or a film the user has not rated: nothing deleted
    assert not await service.delete(user, 348)
    assert not await service.delete(user, 603)


async def test_delete_leaves_an_unrated_log_row(session: AsyncSession, catalog: None) -> None:
    """Only rated films are listed, so only rated films can be deleted: a film the user only
    marked 🚫 stays 🚫 whatever a forged button says."""
    user = await _user(session, 9_109)
    library = LibraryRepository(session)
    await library.mark_not_interested(user, 603, source="bot")
    jobs = JobOutbox()
    assert not await RatingsService(session, jobs).delete(user, 603)
    assert 603 in await library.seen_ids(user)
    assert not jobs
