"""The recommendation service on the real PostgreSQL: CF over all users, pgvector taste and ANN,
hard rules, feedback and avoid topics. The demo catalog and hand-made users, no TMDB."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import DEMO_CATALOG
from bot.jobs import JobOutbox
from domain.avoid import AvoidService
from domain.catalog import CatalogService, SourceBudget
from domain.cf import build_cf_model
from domain.cf_cache import CFModelCache
from domain.embeddings import EmbeddingService
from domain.entities import ItemStatus, Slot
from domain.feedback import FeedbackService
from domain.onboarding import OnboardingService
from domain.picks import Feedback, reason_genres
from domain.ports import MovieSourceError
from domain.recommendations import RecommendationService
from integrations.embeddings import LocalEmbedder
from integrations.tmdb_csv import read_tmdb_csv
from recommender import ReasonKind
from tests.domain.helpers import ROMANCE, SCI_FI, new_user, rate


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


def _service(
    session: AsyncSession, *, model: str | None, cache: CFModelCache | None = None
) -> RecommendationService:
    catalog = CatalogService(session, None, ttl=dt.timedelta(days=1))
    return RecommendationService(
        session,
        catalog,
        repeat_window=dt.timedelta(days=60),
        cf_cache=CFModelCache(),
        embedding_model=model,
    )


@pytest.fixture
async def world(session: AsyncSession) -> AsyncSession:
    """The demo catalog and 20 users in two taste clusters: sci-fi fans (who also dislike the
    romances they saw) and romance fans."""
    await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(read_tmdb_csv(DEMO_CATALOG))
    for i in range(10):
        user_id = await new_user(session, 7_000 + i)
        seen = SCI_FI[i % 3 :] + ROMANCE[:1]
        await rate(session, user_id, {t: ("5" if t in SCI_FI else "1.5") for t in seen})
    for i in range(10):
        user_id = await new_user(session, 8_000 + i)
        await rate(session, user_id, dict.fromkeys(ROMANCE[i % 2 :], "4.5"))
    return session


async def test_cf_ranks_the_users_cluster_first_and_says_whose_fans_loved_it(world: AsyncSession) -> None:
    await build_cf_model(world, min_users=2)
    target = await new_user(world, 9_001)
    await rate(world, target, {348: "5", 679: "4.5", 78: "5"})
    service = _service(world, model=None)

    ranking = await service.rank(target)
    top = [s.film.tmdb_id for s in ranking.scored[:5]]
    assert set(top) <= set(SCI_FI), top  # a broken CF sign or weight would put romances here
    assert not {348, 679, 78} & {s.film.tmdb_id for s in ranking.scored}

    result = await service.recommend(target)
    assert [p.slot for p in result.picks] == [Slot.SAFE, Slot.ADJACENT, Slot.WILDCARD]
    safe = result.picks[0]
    assert safe.film.tmdb_id in SCI_FI
    fans = [r for r in safe.reasons if r.kind is ReasonKind.FANS_ALSO_LOVED]
    assert fans and set(fans[0].values) <= {"Alien", "Aliens", "Blade Runner"}


async def test_feedback_changes_the_next_recommendation(world: AsyncSession) -> None:
    await build_cf_model(world, min_users=2)
    target = await new_user(world, 9_002)
    await rate(world, target, {348: "5", 679: "4.5"})
    service = _service(world, model=None)

    first = await service.recommend(target)
    shown = {p.film.tmdb_id for p in first.picks}
    banned = first.picks[0]
    answers = FeedbackService(world, JobOutbox())
    assert await answers.answer(target, banned.item_id, ItemStatus.NOT_INTERESTED) is Feedback.UPDATED
    assert await answers.answer(target, banned.item_id, ItemStatus.NOT_INTERESTED) is Feedback.ALREADY_DONE

    second = await service.recommend(target)
    assert not shown & {p.film.tmdb_id for p in second.picks}  # shown within 60 days: never again
    ranking = await service.rank(target)
    assert banned.film.tmdb_id not in {s.film.tmdb_id for s in ranking.scored}
    assert ranking.weights[banned.film.tmdb_id] < 0  # 🚫 counts as a dislike


async def test_taste_vector_finds_films_like_the_ones_rated_without_any_cf(
    world: AsyncSession, embedder: LocalEmbedder
) -> None:
    embeddings = EmbeddingService(world, embedder)
    assert await embeddings.embed_films(await embeddings.films_to_embed()) == 70
    assert await embeddings.films_to_embed() == []  # current vectors are not redone
    target = await new_user(world, 9_005)
    await rate(world, target, {348: "5", 679: "5"})  # Alien, Aliens
    assert await embeddings.refresh_taste(target)
    service = _service(world, model=embedder.model)  # no CF model built

    ranking = await service.rank(target)
    nearest = max(ranking.scored, key=lambda s: s.candidate.content or -1.0)
    assert nearest.film.tmdb_id in {8077, 8078}  # Alien³ / Alien Resurrection
    assert nearest.components["content"] > 0
    # no CF: quality, era and content share the ranking; the top ones are all near in content
    assert all((s.candidate.content or 0) > 0 for s in ranking.scored[:10])
    picks = (await service.recommend(target)).picks
    similar = [r for p in picks for r in p.reasons if r.kind is ReasonKind.SIMILAR_TO]
    assert similar and set(similar[0].values) <= {"Alien", "Aliens"}
    for pick in picks:  # a card's genres (its first three) include those its reasons name
        assert set(reason_genres(pick.reasons)[:3]) <= set(pick.film.genres[:3])


async def test_an_avoid_topic_pushes_close_films_down_without_banning_them(
    world: AsyncSession, embedder: LocalEmbedder
) -> None:
    embeddings = EmbeddingService(world, embedder)
    await embeddings.embed_films(await embeddings.films_to_embed())
    await build_cf_model(world, min_users=2)
    target = await new_user(world, 9_006)
    await rate(world, target, {603: "5", 27205: "5"})  # The Matrix, Inception
    await embeddings.refresh_taste(target)
    service = _service(world, model=embedder.model)
    before = {s.film.tmdb_id: s.score for s in (await service.rank(target)).scored}

    await AvoidService(world, JobOutbox()).add(target, "creature horror in space")
    assert await embeddings.embed_avoid_topics() == 1
    after = {s.film.tmdb_id: s for s in (await service.rank(target)).scored}
    assert 1091 in after  # The Thing is pushed down, not banned
    assert after[1091].score < before[1091]
    assert after[1091].components["avoid"] < 0
    assert after[19].components["avoid"] == 0  # Metropolis: nothing to do with it


async def test_a_new_user_is_onboarded_with_popular_varied_films(world: AsyncSession) -> None:
    newcomer = await new_user(world, 9_007)
    service = _service(world, model=None)
    jobs = JobOutbox()
    onboarding = OnboardingService(world, service.catalog, jobs)
    assert await onboarding.needed(newcomer)
    films = await onboarding.grid_films(newcomer, limit=8)
    assert len(films) == 8 and len({f.tmdb_id for f in films}) == 8
    assert len({f.genres[0] for f in films if f.genres}) >= 4  # MMR spreads the grid over genres
    genres = await onboarding.grid_genres(limit=5)
    assert genres[0] == "Drama" and len(genres) == 5

    liked = await onboarding.like(newcomer, films[0].tmdb_id)
    assert liked is not None and liked.tmdb_id == films[0].tmdb_id
    assert jobs.user_ids == {newcomer}  # its taste vector is refreshed
    assert await onboarding.like(newcomer, 999_999_999) is None
    assert not await onboarding.needed(newcomer)

    result = await service.recommend(newcomer, genres=["Documentary"])
    assert result.cold_start
    assert any("Documentary" in p.film.genres for p in result.picks)
    assert films[0].tmdb_id not in {p.film.tmdb_id for p in result.picks}


# --- TMDB while a user waits: the time budget ----------------------------------------------------


class StuckTMDB:
    """A MovieSource that takes every call and never answers (TMDB accepting connections but
    hanging); `calls` names the calls started, in order."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def _hang(self, name: str) -> Any:
        self.calls.append(name)
        await asyncio.sleep(3600)

    async def search(self, query: str, *, year: int | None = None, page: int = 1) -> Any:
        return await self._hang("search")

    async def details(self, tmdb_ids: Sequence[int]) -> Any:
        return await self._hang("details")

    async def related(self, tmdb_id: int, kind: str, *, page: int = 1) -> Any:
        return await self._hang("related")

    async def popular(self, *, genres: Sequence[str] = (), page: int = 1) -> Any:
        return await self._hang("popular")


class BrokenTMDB(StuckTMDB):
    """A MovieSource that fails at once (an outage after retries, a rejected key)."""

    async def _hang(self, name: str) -> Any:
        self.calls.append(name)
        raise MovieSourceError("TMDB /discover/movie: gave up after 4 attempts (last: HTTP 503)")


BUDGET_S = 0.3


def _budgeted(session: AsyncSession, source: StuckTMDB) -> RecommendationService:
    catalog = CatalogService(session, source, ttl=dt.timedelta(days=1), budget=SourceBudget(BUDGET_S))
    return RecommendationService(
        session,
        catalog,
        repeat_window=dt.timedelta(days=60),
        cf_cache=CFModelCache(),
        embedding_model=None,
    )


def _degraded(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "tmdb_degraded" in r.getMessage()]


@pytest.mark.parametrize("source", [StuckTMDB, BrokenTMDB], ids=["hanging", "erroring"])
async def test_with_tmdb_hanging_or_failing_the_picks_come_from_the_catalog_within_the_budget(
    world: AsyncSession, caplog: pytest.LogCaptureFixture, source: type[StuckTMDB]
) -> None:
    await build_cf_model(world, min_users=2)
    target = await new_user(world, 9_010)
    await rate(world, target, {348: "5", 679: "4.5", 78: "5"})
    tmdb = source()
    service = _budgeted(world, tmdb)

    started = time.perf_counter()
    with caplog.at_level(logging.WARNING):
        result = await service.recommend(target)
    elapsed = time.perf_counter() - started

    assert len(result.picks) == 3 and result.picks[0].film.tmdb_id in SCI_FI  # CF + catalog still work
    assert elapsed < BUDGET_S + 1.5, elapsed
    assert tmdb.calls and set(tmdb.calls) == {"related"}  # tried first; given up for the rest
    [warning] = _degraded(caplog)  # one warning per degraded answer, not an error
    assert warning.levelno == logging.WARNING
    assert service.catalog.degraded


async def test_tmdb_failing_with_an_empty_catalog_still_says_so(
    session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing in the catalog to fall back on: TMDB's failure surfaces (the bot's friendly
    "TMDB isn't answering"), quickly."""
    newcomer = await new_user(session, 9_011)
    started = time.perf_counter()
    onboarding = OnboardingService(session, _budgeted(session, StuckTMDB()).catalog, JobOutbox())
    with pytest.raises(MovieSourceError):
        await onboarding.grid_films(newcomer)
    with pytest.raises(MovieSourceError):
        await _budgeted(session, BrokenTMDB()).recommend(newcomer)
    assert time.perf_counter() - started < BUDGET_S + 1.5


async def test_the_budget_is_shared_by_the_calls_and_given_up_once() -> None:
    budget = SourceBudget(0.2)
    assert await budget.call("first", lambda: asyncio.sleep(0.05, result="ok")) == "ok"
    assert 0.04 < budget.spent < 0.2 and not budget.degraded

    fetched: list[str] = []

    async def hangs() -> str:
        fetched.append("hangs")
        await asyncio.sleep(10)
        return "never"

    started = time.perf_counter()
    assert await budget.call("second", hangs) is None  # only what was left of 0.2 s
    assert time.perf_counter() - started < 0.2
    assert budget.given_up == "timeout"
    assert await budget.call("third", hangs) is None  # given up: not even tried
    assert fetched == ["hangs"]


async def test_errors_other_than_tmdbs_are_bugs_and_propagate() -> None:
    budget = SourceBudget(1.0)

    async def bug() -> None:
        raise KeyError("results")

    with pytest.raises(KeyError):
        await budget.call("bug", bug)
    assert not budget.degraded
