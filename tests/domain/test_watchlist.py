"""The watchlist on the real PostgreSQL: saving and leaving it (a rating, a watch, an import
where rated wins), the signal it gives the recommender, and picks from it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import DEMO_CATALOG
from bot.jobs import JobOutbox
from db.models import RecommendationItem, UserFilm
from db.repositories.library import LibraryRepository, LogRow
from db.repositories.users import UserRepository
from domain.catalog import CatalogService
from domain.cf_cache import CFModelCache
from domain.entities import Source
from domain.picks import load_signals
from domain.recommendations import RecommendationService
from domain.watchlist import PAGE_SIZE, SaveOutcome, WatchlistService
from integrations.tmdb_csv import read_tmdb_csv
from recommender.cf import (
    RECENCY_FLOOR,
    W_LIKED,
    W_NOT_INTERESTED,
    W_WATCHED_UNRATED,
    W_WATCHLIST,
    Signal,
    history_weights,
    signal_weight,
)

ALIEN, ALIENS, ALIEN3, MATRIX, HEAT, AMELIE, DUNE, BLADE_RUNNER = 348, 679, 8077, 603, 949, 194, 438631, 78


def test_watchlist_is_a_weak_positive_only_when_nothing_stronger_is_known() -> None:
    assert W_WATCHED_UNRATED < W_WATCHLIST < W_LIKED
    assert signal_weight(Signal(1, None, on_watchlist=True)) == W_WATCHLIST
    # a rating, like, watch or 🚫 decides, whatever the watchlist flag says
    assert signal_weight(Signal(1, 1.0, on_watchlist=True)) < 0
    assert signal_weight(Signal(1, 5.0, on_watchlist=True)) == W_LIKED
    assert signal_weight(Signal(1, None, liked=True, on_watchlist=True)) == W_LIKED
    assert signal_weight(Signal(1, None, watched=True, on_watchlist=True)) == W_WATCHED_UNRATED
    assert signal_weight(Signal(1, None, not_interested=True, on_watchlist=True)) == W_NOT_INTERESTED
    # at the end of a long history it weighs little
    weights = history_weights([*(Signal(i, 5.0) for i in range(100)), Signal(999, None, on_watchlist=True)])
    assert 0 < weights[999] < W_WATCHLIST * (RECENCY_FLOOR + 0.01)


@pytest.fixture
async def catalog(session: AsyncSession) -> None:
    await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(read_tmdb_csv(DEMO_CATALOG))


async def _user(session: AsyncSession, telegram_id: int) -> int:
    return (await UserRepository(session).upsert(telegram_id, first_name=None, language_code=None)).id


def _recommendations(session: AsyncSession) -> RecommendationService:
    return RecommendationService(
        session,
        CatalogService(session, None, ttl=dt.timedelta(days=1)),
        repeat_window=dt.timedelta(days=60),
        cf_cache=CFModelCache(),
        embedding_model=None,
    )


def _service(session: AsyncSession) -> WatchlistService:
    return WatchlistService(session, JobOutbox(), _recommendations(session))


def _row(
    tmdb_id: int, *, rating: str | None = None, watched: bool = False, watchlist: bool = False
) -> LogRow:
    return LogRow(
        tmdb_id=tmdb_id,
        rating=Decimal(rating) if rating else None,
        watched=watched,
        watched_on=None,
        liked=False,
        on_watchlist=watchlist,
        rated_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC) if rating else None,
    )


async def _flags(session: AsyncSession, user_id: int, tmdb_id: int) -> tuple[bool, Decimal | None] | None:
    row = (
        await session.execute(
            select(UserFilm.on_watchlist, UserFilm.rating).filter_by(user_id=user_id, tmdb_id=tmdb_id)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def test_save_outcomes(session: AsyncSession, catalog: None) -> None:
    user = await _user(session, 7001)
    watchlist = _service(session)
    await LibraryRepository(session).rate(user, MATRIX, Decimal("4"), source=Source.BOT)

    assert await watchlist.save(user, ALIEN) is SaveOutcome.SAVED
    assert await watchlist.save(user, ALIEN) is SaveOutcome.ALREADY_SAVED
    assert await watchlist.save(user, MATRIX) is SaveOutcome.ALREADY_SEEN  # rated: stays off
    assert await watchlist.save(user, 987654321) is SaveOutcome.NOT_FOUND  # not a catalog film
    assert await _flags(session, user, MATRIX) == (False, Decimal("4"))
    assert await _flags(session, user, 987654321) is None
    # 🚫 then 🔖: saving takes the 🚫 back
    await LibraryRepository(session).mark_not_interested(user, HEAT, source=Source.BOT)
    assert await watchlist.save(user, HEAT) is SaveOutcome.SAVED
    assert [f.tmdb_id for f in (await watchlist.page(user)).films] == [HEAT, ALIEN]


async def test_rating_or_watching_takes_a_film_off(session: AsyncSession, catalog: None) -> None:
    user = await _user(session, 7002)
    watchlist, library = _service(session), LibraryRepository(session)
    for tmdb_id in (ALIEN, ALIENS):
        await watchlist.save(user, tmdb_id)
    await library.rate(user, ALIEN, Decimal("4.5"), source=Source.BOT)
    await library.rate(user, ALIENS, None, source=Source.BOT)  # watched, no rating
    assert await _flags(session, user, ALIEN) == (False, Decimal("4.5"))
    assert await _flags(session, user, ALIENS) == (False, None)
    assert (await watchlist.page(user)).total == 0
    assert not await watchlist.remove(user, ALIEN)


async def test_an_import_does_not_put_rated_films_back(session: AsyncSession, catalog: None) -> None:
    user = await _user(session, 7003)
    library = LibraryRepository(session)
    await library.rate(user, ALIEN, Decimal("5"), source=Source.BOT)
    await _service(session).save(user, MATRIX)
    await library.merge_log(
        user,
        [
            _row(ALIEN, watchlist=True),  # rated in the bot, on the export's watchlist: rated wins
            _row(MATRIX, rating="3.5", watchlist=True),  # on the watchlist, rated in the export
            _row(AMELIE, rating="4", watchlist=True),  # rated and on watchlist.csv: rated wins
            _row(DUNE, watchlist=True),  # only on watchlist.csv
        ],
        source=Source.LETTERBOXD,
    )
    assert await _flags(session, user, ALIEN) == (False, Decimal("5"))
    assert await _flags(session, user, MATRIX) == (False, Decimal("3.5"))
    assert await _flags(session, user, AMELIE) == (False, Decimal("4"))
    assert await _flags(session, user, DUNE) == (True, None)
    # the same export again changes nothing
    await library.merge_log(user, [_row(AMELIE, rating="4", watchlist=True)], source=Source.LETTERBOXD)
    assert await _flags(session, user, AMELIE) == (False, Decimal("4"))


async def test_watchlist_is_a_signal_not_history_and_stays_recommendable(
    session: AsyncSession, catalog: None
) -> None:
    user = await _user(session, 7004)
    library = LibraryRepository(session)
    await library.rate(user, ALIEN, Decimal("5"), source=Source.BOT)
    await _service(session).save(user, ALIENS)

    signals = await load_signals(library, user)
    assert [(s.tmdb_id, s.on_watchlist) for s in signals] == [(ALIEN, False), (ALIENS, True)]
    assert history_weights(signals)[ALIENS] > 0
    assert [row.tmdb_id for row in await library.history(user)] == [ALIEN]  # the taste profile: seen films
    assert ALIENS not in await library.seen_ids(user)
    ranking = await _recommendations(session).rank(user, extra=[ALIENS])
    assert ALIENS in {s.film.tmdb_id for s in ranking.scored}


async def test_pages_newest_first(session: AsyncSession, catalog: None) -> None:
    user = await _user(session, 7005)
    watchlist = _service(session)
    ids = [int(f.tmdb_id) for f in read_tmdb_csv(DEMO_CATALOG)][: PAGE_SIZE + 2]
    await LibraryRepository(session).merge_log(
        user, [_row(t, watchlist=True) for t in ids], source=Source.LETTERBOXD
    )
    await session.execute(  # the import was yesterday: what the bot saves now comes first
        update(UserFilm)
        .where(UserFilm.user_id == user)
        .values(updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    )
    await watchlist.save(user, HEAT)
    first, last = await watchlist.page(user, 0), await watchlist.page(user, 99)
    assert (first.total, first.pages, first.page, len(first.films)) == (PAGE_SIZE + 3, 2, 0, PAGE_SIZE)
    assert first.films[0].tmdb_id == HEAT
    assert (last.page, len(last.films), last.first_number) == (1, 3, PAGE_SIZE + 1)
    assert {f.tmdb_id for f in first.films + last.films} == {*ids, HEAT}


async def test_picks_only_from_the_watchlist(session: AsyncSession, catalog: None) -> None:
    user = await _user(session, 7006)
    watchlist, library = _service(session), LibraryRepository(session)
    await library.rate(user, ALIEN, Decimal("5"), source=Source.BOT)
    listed = {ALIENS, MATRIX, HEAT, AMELIE, BLADE_RUNNER, ALIEN3}
    for tmdb_id in (*listed, DUNE):
        await watchlist.save(user, tmdb_id)
    await library.rate(user, DUNE, Decimal("2"), source=Source.BOT)  # rated since: off the list
    result = await watchlist.recommend(user)
    picked = [p.film.tmdb_id for p in result.picks]
    assert len(picked) == 3 and set(picked) <= listed
    assert not result.cold_start
    assert all(p.reasons for p in result.picks)
    stored = list(await session.scalars(select(RecommendationItem.tmdb_id).filter_by(user_id=user)))
    assert sorted(stored) == sorted(picked)
    # asked again: the three not shown yet
    again = [p.film.tmdb_id for p in (await watchlist.recommend(user)).picks]
    assert set(again) == listed - set(picked)


async def test_picks_from_a_short_or_empty_watchlist(session: AsyncSession, catalog: None) -> None:
    user = await _user(session, 7007)
    watchlist = _service(session)
    assert (await watchlist.recommend(user)).picks == ()
    await watchlist.save(user, ALIENS)
    assert [p.film.tmdb_id for p in (await watchlist.recommend(user)).picks] == [ALIENS]
