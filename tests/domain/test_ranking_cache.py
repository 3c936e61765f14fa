"""Reused rankings (domain.ranking_cache) on the real PostgreSQL: a ranking is reused only while
nothing it reads has changed, a reuse never repeats a shown film and weighs the latest picks,
and a reuse expires. The demo catalog and hand-made users, no TMDB."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, cast

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import DEMO_CATALOG
from bot.jobs import JobOutbox
from db.repositories.rankings import RankingStamp, RankingStampRepository
from db.repositories.vectors import VectorRepository
from domain.avoid import AvoidService
from domain.catalog import CatalogService, SourceBudget
from domain.cf import build_cf_model
from domain.cf_cache import CFModelCache
from domain.entities import ItemStatus
from domain.feedback import FeedbackService
from domain.picks import Ranking
from domain.ports import MovieSourceError
from domain.ranking_cache import RankingCache
from domain.recommendations import RecommendationService
from domain.settings import UserSettingsService
from integrations.tmdb_csv import read_tmdb_csv
from tests.domain.helpers import ROMANCE, SCI_FI, new_user, rate

MODEL = "test-model"


class Counted(RecommendationService):
    """The service, counting the rankings it computes from scratch."""

    computed = 0

    async def _rank(self, *args: Any, **kwargs: Any) -> Any:
        self.computed += 1
        return await super()._rank(*args, **kwargs)


def _service(session: AsyncSession, cache: RankingCache | None = None) -> Counted:
    return Counted(
        session,
        CatalogService(session, None, ttl=dt.timedelta(days=1)),
        repeat_window=dt.timedelta(days=60),
        cf_cache=CFModelCache(),
        embedding_model=MODEL,
        rankings=cache,
    )


@pytest.fixture
async def world(session: AsyncSession) -> AsyncSession:
    """The demo catalog, a CF model over 20 users in two taste clusters."""
    await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(read_tmdb_csv(DEMO_CATALOG))
    for i in range(10):
        await rate(session, await new_user(session, 7_000 + i), dict.fromkeys(SCI_FI[i % 3 :], "5"))
    for i in range(10):
        await rate(session, await new_user(session, 8_000 + i), dict.fromkeys(ROMANCE[i % 2 :], "4.5"))
    await build_cf_model(session, min_users=2)
    await session.commit()
    return session


def _ids(result: Any) -> set[int]:
    return {p.film.tmdb_id for p in result.picks}


async def test_answers_reuse_one_ranking_and_never_repeat_a_film(world: AsyncSession) -> None:
    target = await new_user(world, 9_101)
    await rate(world, target, {348: "5", 679: "4.5", 78: "5"})
    service = _service(world)

    first = await service.rank(target)
    answers = [await service.recommend(target) for _ in range(4)]
    assert service.computed == 1  # the first ranking served all four answers

    shown = [_ids(a) for a in answers]
    assert all(len(s) == 3 for s in shown)
    assert len(set().union(*shown)) == 12  # no film twice
    ranked = {s.film.tmdb_id for s in first.scored}
    assert set().union(*shown) <= ranked
    after = await service.rank(target)
    assert {s.film.tmdb_id for s in after.scored} == ranked - set().union(*shown)


async def test_a_reused_ranking_weighs_the_latest_picks_as_a_fresh_one(world: AsyncSession) -> None:
    target = await new_user(world, 9_102)
    await rate(world, target, {348: "5", 679: "4.5", 78: "5"})
    reusing = _service(world)
    await reusing.rank(target)
    await reusing.recommend(target)  # three picks: the novelty and repeat terms now see them

    reused = {s.film.tmdb_id: s for s in (await reusing.rank(target)).scored}
    fresh = {s.film.tmdb_id: s for s in (await _service(world).rank(target)).scored}
    assert reusing.computed == 1
    assert reused.keys() == fresh.keys()
    penalised = [t for t, s in fresh.items() if s.components["novelty"] < 0 or s.components["repeat"] < 0]
    assert penalised  # the picks' genres and decades weigh on the others
    for tmdb_id, s in fresh.items():
        assert reused[tmdb_id].components["novelty"] == pytest.approx(s.components["novelty"])
        assert reused[tmdb_id].components["repeat"] == pytest.approx(s.components["repeat"])


async def _rerate(session: AsyncSession, user_id: int) -> None:
    await rate(session, user_id, {348: "2"})  # an update of a rated film
    await session.commit()


async def _new_rating(session: AsyncSession, user_id: int) -> None:
    await rate(session, user_id, {157336: "5"}, start=10)
    await session.commit()


async def _not_interested(session: AsyncSession, user_id: int) -> None:
    service = _service(session)
    pick = (await service.recommend(user_id)).picks[0]
    await FeedbackService(session, JobOutbox()).answer(user_id, pick.item_id, ItemStatus.NOT_INTERESTED)
    await session.commit()


async def _settings(session: AsyncSession, user_id: int) -> None:
    await UserSettingsService(session).toggle_genre(user_id, "Romance")
    await session.commit()


async def _avoid(session: AsyncSession, user_id: int) -> None:
    await AvoidService(session, JobOutbox()).add(user_id, "creature horror")
    await session.commit()


async def _taste_vector(session: AsyncSession, user_id: int) -> None:
    vectors = VectorRepository(session)
    for value in (0.1, 0.2):  # written, then rewritten in another transaction
        await vectors.upsert_taste(MODEL, user_id, np.full(384, value), n_films=3, n_reviews=0)
        await session.commit()


async def _cf_model(session: AsyncSession, user_id: int) -> None:
    await build_cf_model(session, min_users=2)
    await session.commit()


@pytest.mark.parametrize(
    "write",
    [_rerate, _new_rating, _not_interested, _settings, _avoid, _taste_vector, _cf_model],
)
async def test_any_write_the_ranking_reads_ranks_again(
    world: AsyncSession, write: Callable[[AsyncSession, int], Awaitable[None]]
) -> None:
    target = await new_user(world, 9_103)
    await rate(world, target, {348: "5", 679: "4.5", 78: "5"})
    service = _service(world)
    await service.rank(target)
    await service.rank(target)
    assert service.computed == 1

    await write(world, target)
    await service.rank(target)
    assert service.computed == 2


async def test_the_stamp_sees_a_second_write_in_the_same_transaction(world: AsyncSession) -> None:
    target = await new_user(world, 9_104)
    await rate(world, target, {348: "5"})
    stamps = RankingStampRepository(world)
    update = text("UPDATE user_films SET rating = :r WHERE user_id = :u AND tmdb_id = 348")
    await world.execute(update, {"r": 4, "u": target})
    before = await stamps.stamp(target, MODEL)
    await world.execute(update, {"r": 3, "u": target})  # same xmin: the row moved instead
    assert await stamps.stamp(target, MODEL) != before
    assert await stamps.stamp(target, MODEL) == await stamps.stamp(target, MODEL)


async def test_other_users_writes_and_shown_picks_keep_the_ranking(world: AsyncSession) -> None:
    target, other = await new_user(world, 9_105), await new_user(world, 9_106)
    await rate(world, target, {348: "5", 679: "4.5", 78: "5"})
    service = _service(world)
    await service.recommend(target)
    await rate(world, other, {348: "5", 194: "1"})
    answer = await service.recommend(target)
    await FeedbackService(world, JobOutbox()).answer(target, answer.picks[0].item_id, ItemStatus.SKIPPED)
    await service.recommend(target)
    assert service.computed == 1


async def test_a_ranking_expires_and_replicas_share_nothing(world: AsyncSession) -> None:
    now = [0.0]
    cache = RankingCache(ttl=600, timer=lambda: now[0])
    target = await new_user(world, 9_107)
    await rate(world, target, {348: "5", 679: "4.5", 78: "5"})
    service = _service(world, cache)
    await service.rank(target)
    now[0] = 599.0
    await service.rank(target)
    assert service.computed == 1
    now[0] = 600.0
    await service.rank(target)
    assert service.computed == 2

    replica = _service(world)  # another process: its own cache, the same answers
    assert [s.film.tmdb_id for s in (await replica.rank(target)).scored] == [
        s.film.tmdb_id for s in (await service.rank(target)).scored
    ]


async def test_a_clarified_or_group_ranking_is_never_reused(world: AsyncSession) -> None:
    target = await new_user(world, 9_108)
    await rate(world, target, {348: "5", 679: "4.5", 78: "5"})
    service = _service(world)
    await service.rank(target, extra=[194])
    await service.rank(target, extra=[194])
    await service.rank(target, skip_recently_shown=False)
    assert service.computed == 3
    await service.rank(target, genres=("Drama",))
    await service.rank(target)
    assert service.computed == 5  # genres are part of the key


def test_a_newer_cf_model_drops_the_rankings_made_with_the_older() -> None:
    cache = RankingCache()
    first, second, third = (cast(Ranking, object()) for _ in range(3))
    old = RankingStamp((1, 2), cf_version=1)
    cache.put("a", old, first)
    cache.put("b", old, second)
    assert (entry := cache.get("b", old)) is not None and entry.ranking is second
    new = RankingStamp((1, 2), cf_version=2)
    cache.put("a", new, third)  # each ranking holds its model: the old one must go
    assert cache.get("b", old) is None
    assert (entry := cache.get("a", new)) is not None and entry.ranking is third
    assert cache.get("a", RankingStamp((1, 3), cf_version=2)) is None  # a write: dropped
    assert cache.get("a", new) is None


class BrokenTMDB:
    """A MovieSource whose every call fails at once (an outage after the retries)."""

    def __init__(self) -> None:
        self.calls = 0

    async def _fail(self) -> Any:
        self.calls += 1
        raise MovieSourceError("TMDB: gave up after 4 attempts (last: HTTP 503)")

    async def search(self, query: str, *, year: int | None = None, page: int = 1) -> Any:
        return await self._fail()

    async def details(self, tmdb_ids: Any) -> Any:
        return await self._fail()

    async def related(self, tmdb_id: int, kind: str, *, page: int = 1) -> Any:
        return await self._fail()

    async def popular(self, *, genres: Any = (), page: int = 1) -> Any:
        return await self._fail()


async def test_a_ranking_made_while_tmdb_fails_is_not_reused(world: AsyncSession) -> None:
    target = await new_user(world, 9_109)
    await rate(world, target, {348: "5", 679: "4.5", 78: "5"})
    tmdb, cache = BrokenTMDB(), RankingCache()

    def service() -> Counted:  # one per update, as the bot binds them, sharing the cache
        catalog = CatalogService(world, tmdb, ttl=dt.timedelta(days=1), budget=SourceBudget(0.5))
        return Counted(
            world,
            catalog,
            repeat_window=dt.timedelta(days=60),
            cf_cache=CFModelCache(),
            embedding_model=MODEL,
            rankings=cache,
        )

    first, second = service(), service()
    assert len((await first.recommend(target)).picks) == 3  # from the catalog, TMDB left out
    assert first.catalog.degraded and tmdb.calls
    await second.recommend(target)
    assert second.computed == 1  # ranked again: TMDB's lists may be back
