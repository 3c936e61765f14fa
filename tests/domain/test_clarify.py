"""The clarifying question: the pure decision and option mapping, and, on the real PostgreSQL
with the demo catalog and a CF model, that a weak signal asks, a strong one does not, and the
answer changes the candidates."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import DEMO_CATALOG
from db.models import Film, RecommendationItem
from db.repositories.films import FilmRow
from domain.catalog import CatalogService, SourceBudget
from domain.cf import build_cf_model
from domain.cf_cache import CFModelCache
from domain.clarify import (
    FIT_TOP,
    GENRE_OPTIONS,
    LENGTHS,
    LONG_MIN_MINUTES,
    LOW_FIT,
    MIN_CANDIDATES,
    MIN_RATED,
    MOODS,
    OLD_BEFORE,
    SHORT_MAX_MINUTES,
    ClarifyService,
    Question,
    QuestionKind,
    SignalStrength,
    decide,
    make_question,
    measure,
    preferences_for,
)
from domain.picks import Ranking, RecommendationResult
from domain.preferences import Preferences
from domain.recommendations import RecommendationService
from integrations.tmdb_csv import read_tmdb_csv
from recommender import CFModel, build_taste
from recommender.types import Candidate, FilmFeatures, HistoryEntry, ScoredCandidate
from tests.domain.helpers import new_user, rate

SCI_FI = [348, 679, 8077, 70981, 157336, 27205, 603, 78, 335984, 62, 329865, 1091, 438631]
ROMANCE = [194, 76, 843, 289, 239, 313369, 4348, 137]


# --- the decision (pure) ------------------------------------------------------------------------


def signal(**overrides: object) -> SignalStrength:
    """A strong signal, changed by `overrides`."""
    values: dict[str, object] = {
        "rated": MIN_RATED,
        "fit": LOW_FIT,
        "personal": True,
        "top_genres": 2,
        "usual_decades": 1,
        "candidates": MIN_CANDIDATES,
    }
    return SignalStrength(**(values | overrides))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, None),  # exactly at both thresholds: strong enough
        ({"rated": 40, "fit": 0.9}, None),
        ({"fit": LOW_FIT - 0.01, "top_genres": 0}, QuestionKind.GENRE),
        ({"rated": 1, "top_genres": 0}, QuestionKind.GENRE),
        ({"rated": MIN_RATED - 1, "fit": 1.0}, QuestionKind.MOOD),  # few films, however well they fit
        ({"fit": 0.05, "usual_decades": 2}, QuestionKind.ERA),
        ({"fit": 0.05, "usual_decades": 1}, QuestionKind.LENGTH),
        ({"fit": 0.05, "usual_decades": 0}, QuestionKind.LENGTH),
        # never: nothing personal (cold start) or too few candidates to narrow down
        ({"rated": 1, "fit": 0.0, "personal": False}, None),
        ({"rated": 1, "candidates": MIN_CANDIDATES - 1}, None),
    ],
)
def test_decide(overrides: dict[str, object], expected: QuestionKind | None) -> None:
    assert decide(signal(**overrides)) is expected


def film(tmdb_id: int, *genres: str, year: int = 2000) -> FilmFeatures:
    return FilmFeatures(tmdb_id, f"Film {tmdb_id}", year, genres, (), 10.0, 7.0, 100)


def scored(tmdb_id: int, cf: float, content: float) -> ScoredCandidate:
    components = {"cf": cf, "content": content, "quality": 0.1}
    candidate = Candidate(film(tmdb_id, "Drama"), cf=cf, content=content)
    return ScoredCandidate(candidate, sum(components.values()), components, ())


def test_measure_reads_the_best_candidates_and_the_taste() -> None:
    taste = build_taste(
        [
            HistoryEntry(film(1, "Horror", year=1979), 5.0),
            HistoryEntry(film(2, "Horror", year=1982), 4.5),
            HistoryEntry(film(3, "Comedy", year=2005), 2.0),
        ]
    )
    best = [scored(10, 1.0, 0.2), scored(11, 0.5, 0.1), scored(12, 0.0, 0.3), scored(13, 0.0, 0.0)]
    ranking = Ranking(best, taste, {}, CFModel.empty(), history_size=3)

    strength = measure(ranking)

    assert FIT_TOP == 3
    assert strength.fit == pytest.approx((1.2 + 0.6 + 0.3) / 3)  # the 4th candidate is not counted
    assert strength.rated == 3 and strength.candidates == 4 and strength.personal
    assert strength.top_genres == len(taste.top_genres) == 1  # Horror
    assert strength.usual_decades == len(taste.usual_decades)


def test_measure_of_an_empty_ranking() -> None:
    ranking = Ranking([], build_taste([]), {}, CFModel.empty(), history_size=0)
    assert measure(ranking) == SignalStrength(0, 0.0, False, 0, 0, 0)
    assert decide(measure(ranking)) is None


# --- questions and answers (pure) ---------------------------------------------------------------


def test_questions_offer_their_options() -> None:
    assert make_question(QuestionKind.MOOD) == Question(QuestionKind.MOOD, tuple(MOODS))
    assert make_question(QuestionKind.LENGTH).options == ("short", "long")
    assert make_question(QuestionKind.ERA).options == ("new", "old")
    genres = ["Drama", "Comedy", "Action", "Horror", "Thriller", "Romance", "War", "Western"]
    assert make_question(QuestionKind.GENRE, genres).options == tuple(genres[:GENRE_OPTIONS])
    assert make_question(QuestionKind.GENRE, []).kind is QuestionKind.MOOD  # nothing to offer


def test_every_option_maps_to_preferences_that_narrow() -> None:
    mood = make_question(QuestionKind.MOOD)
    assert preferences_for(mood, mood.options.index("light"), year=2026) == Preferences(
        genres=("Comedy", "Animation", "Family")
    )
    length = make_question(QuestionKind.LENGTH)
    assert preferences_for(length, 0, year=2026) == Preferences(max_runtime=SHORT_MAX_MINUTES)
    assert preferences_for(length, 1, year=2026) == Preferences(min_runtime=LONG_MIN_MINUTES)
    assert LENGTHS["short"] == (None, 100)
    era = make_question(QuestionKind.ERA)
    assert preferences_for(era, 0, year=2026) == Preferences(min_year=2017)  # the last 10 years
    assert preferences_for(era, 1, year=2026) == Preferences(max_year=OLD_BEFORE - 1)
    genre = make_question(QuestionKind.GENRE, ["Drama", "Comedy"])
    assert preferences_for(genre, 1, year=2026) == Preferences(genres=("Comedy",))
    for question in (mood, length, era, genre):
        assert all(
            preferences_for(question, i, year=2026) != Preferences() for i in range(len(question.options))
        )


@pytest.mark.parametrize("index", [-1, 2, 99])
def test_options_never_offered_are_refused(index: int) -> None:
    assert preferences_for(make_question(QuestionKind.ERA), index, year=2026) is None


def test_a_forged_option_code_is_refused() -> None:
    assert preferences_for(Question(QuestionKind.MOOD, ("sleepy",)), 0, year=2026) is None
    assert preferences_for(Question(QuestionKind.LENGTH, ("medium",)), 0, year=2026) is None


def row(genres: tuple[str, ...] = ("Drama",), year: int | None = 2000, runtime: int | None = None) -> FilmRow:
    return FilmRow(1, "A film", year, genres, (), 10.0, 7.0, 100, "en", runtime)


@pytest.mark.parametrize(
    ("preferences", "film_row", "admitted"),
    [
        (Preferences(), row(), True),
        (Preferences(genres=("Comedy", "Drama")), row(), True),
        (Preferences(genres=("Comedy",)), row(), False),
        (Preferences(min_year=2017), row(year=2017), True),
        (Preferences(min_year=2017), row(year=2016), False),
        (Preferences(max_year=1989), row(year=None), False),  # unknown year fails a year bound
        (Preferences(max_runtime=100), row(runtime=100), True),
        (Preferences(max_runtime=100), row(runtime=101), False),
        (Preferences(min_runtime=130), row(), False),  # unknown runtime fails a runtime bound
        (Preferences(min_runtime=130), row(year=None, runtime=150), True),  # no year bound: year not needed
    ],
)
def test_preferences_admit(preferences: Preferences, film_row: FilmRow, admitted: bool) -> None:
    assert preferences.admits(film_row) is admitted


# --- on the database ----------------------------------------------------------------------------


def _service(session: AsyncSession) -> ClarifyService:
    recommendations = RecommendationService(
        session,
        CatalogService(session, None, ttl=dt.timedelta(days=1)),
        repeat_window=dt.timedelta(days=60),
        cf_cache=CFModelCache(),
        embedding_model=None,
    )
    return ClarifyService(recommendations, today=lambda: dt.date(2026, 11, 21))


@pytest.fixture
async def world(session: AsyncSession) -> AsyncSession:
    """The demo catalog, 20 users in two taste clusters (sci-fi, romance) and their CF model."""
    await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(read_tmdb_csv(DEMO_CATALOG))
    for i in range(10):
        user_id = await new_user(session, 7_100 + i)
        seen = SCI_FI[i % 3 :] + ROMANCE[:1]
        await rate(session, user_id, {t: ("5" if t in SCI_FI else "1.5") for t in seen})
    for i in range(10):
        user_id = await new_user(session, 8_100 + i)
        await rate(session, user_id, dict.fromkeys(ROMANCE[i % 2 :], "4.5"))
    await build_cf_model(session, min_users=2)
    return session


async def _items(session: AsyncSession, user_id: int) -> int:
    count = await session.scalar(
        select(func.count()).select_from(RecommendationItem).where(RecommendationItem.user_id == user_id)
    )
    return int(count or 0)


async def test_a_weak_signal_gets_a_question_and_nothing_is_stored(world: AsyncSession) -> None:
    weak = await new_user(world, 9_101)
    await rate(world, weak, {348: "5"})  # one film: CF reaches its fans' films, nothing more

    outcome = await _service(world).recommend_or_ask(weak)

    assert isinstance(outcome, Question)
    assert outcome.kind is QuestionKind.GENRE  # one rating says nothing about genres
    assert outcome.options[0] == "Drama" and len(outcome.options) == GENRE_OPTIONS  # the catalog's
    assert await _items(world, weak) == 0


async def test_a_strong_signal_recommends_at_once(world: AsyncSession) -> None:
    strong = await new_user(world, 9_102)
    await rate(world, strong, {348: "5", 679: "5", 78: "4.5", 603: "5", 194: "1", 76: "1.5"})
    service = _service(world)
    assert decide(measure(await service.recommendations.rank(strong))) is None

    outcome = await service.recommend_or_ask(strong)

    assert isinstance(outcome, RecommendationResult) and len(outcome.picks) == 3
    assert await _items(world, strong) == 3


async def _runtimes(session: AsyncSession, ids: list[int]) -> dict[int, int | None]:
    rows = await session.execute(select(Film.tmdb_id, Film.runtime).where(Film.tmdb_id.in_(ids)))
    return {r.tmdb_id: r.runtime for r in rows}


async def test_the_answer_changes_the_candidates(world: AsyncSession) -> None:
    """Users with the same single rating: skipping gives the plain picks, each answer narrows them."""
    service = _service(world)
    outcomes: dict[str, RecommendationResult] = {}
    answers: dict[str, tuple[Question, int | None]] = {
        "skip": (make_question(QuestionKind.MOOD), None),
        "short": (make_question(QuestionKind.LENGTH), 0),
        "long": (make_question(QuestionKind.LENGTH), 1),
        "old": (make_question(QuestionKind.ERA), 1),
        "new": (make_question(QuestionKind.ERA), 0),
        "light": (make_question(QuestionKind.MOOD), 0),
        "romance": (make_question(QuestionKind.GENRE, ["Romance"]), 0),
    }
    for n, (name, (question, index)) in enumerate(answers.items()):
        user_id = await new_user(world, 9_200 + n)
        await rate(world, user_id, {348: "5"})
        result = await service.answer(user_id, question, index)
        assert result is not None and len(result.picks) == 3, name
        outcomes[name] = result

    def ids(name: str) -> list[int]:
        return [p.film.tmdb_id for p in outcomes[name].picks]

    runtimes = await _runtimes(world, [t for name in outcomes for t in ids(name)])
    assert all((runtimes[t] or 999) <= SHORT_MAX_MINUTES for t in ids("short"))
    assert all((runtimes[t] or 0) >= LONG_MIN_MINUTES for t in ids("long"))
    assert all((p.film.year or 9999) < OLD_BEFORE for p in outcomes["old"].picks)
    assert all((p.film.year or 0) >= 2017 for p in outcomes["new"].picks)
    assert all(set(MOODS["light"]) & set(p.film.genres) for p in outcomes["light"].picks)
    assert all("Romance" in p.film.genres for p in outcomes["romance"].picks)
    for name in ("short", "old", "new", "light", "romance"):  # the plain picks break these wishes
        assert ids(name) != ids("skip"), name
    # the long wish changes the picks unless the plain ones are long films already (they depend
    # on the CF model's training, e.g. its time decay); it always narrows the candidates
    if not all((runtimes[t] or 0) >= LONG_MIN_MINUTES for t in ids("skip")):
        assert ids("long") != ids("skip")
    user_id = await new_user(world, 9_299)
    await rate(world, user_id, {348: "5"})
    plain = await service.recommendations.rank(user_id)
    long = await service.recommendations.rank(user_id, preferences=Preferences(min_runtime=LONG_MIN_MINUTES))
    assert len(long.scored) < len(plain.scored)


async def test_an_option_never_offered_recommends_nothing(world: AsyncSession) -> None:
    user_id = await new_user(world, 9_103)
    await rate(world, user_id, {348: "5"})

    assert await _service(world).answer(user_id, make_question(QuestionKind.ERA), 5) is None
    assert await _items(world, user_id) == 0


async def test_a_wish_the_catalog_cannot_meet_is_dropped(world: AsyncSession) -> None:
    user_id = await new_user(world, 9_104)
    await rate(world, user_id, {348: "5"})

    result = await _service(world).answer(user_id, make_question(QuestionKind.GENRE, ["Telenovela"]), 0)

    assert result is not None and len(result.picks) == 3  # relaxed rather than empty


class StuckTMDB:
    """A MovieSource that takes every call and never answers (TMDB hanging)."""

    async def _hang(self) -> Any:
        await asyncio.sleep(3600)

    async def search(self, query: str, *, year: int | None = None, page: int = 1) -> Any:
        return await self._hang()

    async def details(self, tmdb_ids: Sequence[int]) -> Any:
        return await self._hang()

    async def related(self, tmdb_id: int, kind: str, *, page: int = 1) -> Any:
        return await self._hang()

    async def popular(self, *, genres: Sequence[str] = (), page: int = 1) -> Any:
        return await self._hang()


async def test_with_tmdb_hanging_the_question_and_the_answer_come_within_the_budget(
    world: AsyncSession,
) -> None:
    """Each update (the /recommend that asks, the tap that answers) gets its own budget; past
    it the catalog answers, so the user neither waits for TMDB's retries nor loses the turn."""
    budget_s = 0.3

    def service() -> ClarifyService:  # one per update, as ServiceFactory.bind makes them
        catalog = CatalogService(world, StuckTMDB(), ttl=dt.timedelta(days=1), budget=SourceBudget(budget_s))
        recommendations = RecommendationService(
            world,
            catalog,
            repeat_window=dt.timedelta(days=60),
            cf_cache=CFModelCache(),
            embedding_model=None,
        )
        return ClarifyService(recommendations, today=lambda: dt.date(2026, 11, 21))

    weak = await new_user(world, 9_105)
    await rate(world, weak, {348: "5"})

    started = time.perf_counter()
    question = await service().recommend_or_ask(weak)
    assert isinstance(question, Question) and question.kind is QuestionKind.GENRE
    assert time.perf_counter() - started < budget_s + 1.5

    started = time.perf_counter()
    result = await service().answer(weak, question, 0)
    assert result is not None and len(result.picks) == 3
    assert all(question.options[0] in p.film.genres for p in result.picks)
    assert time.perf_counter() - started < budget_s + 1.5
