"""Taste stats (pure), the stored taste summary and its background job: the template every
time, the language model's wording every 10 rated films, its failures falling back to the template."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import procrastinate
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import jobs
from bot.app import DEMO_CATALOG
from bot.settings import OpenAISettings
from db.models import Film, TasteSummary, UserFilm
from db.repositories.library import LibraryRepository
from db.repositories.profile import ProfileRepository, RatedFilm
from db.repositories.users import UserRepository
from domain.catalog import CatalogService
from domain.entities import Source
from domain.ports import LanguageModelError, SchemaT
from domain.reviews import ReviewService
from domain.taste import (
    HALF_STARS,
    REWRITE_EVERY,
    TasteSummaryService,
    resolve_language,
    taste_stats,
    template_summary,
)
from integrations.embeddings import LocalEmbedder
from integrations.llm import OpenAIChatModel, make_language_model
from integrations.tmdb_csv import read_tmdb_csv
from tests.domain.test_jobs import _statuses
from tests.fakes.openai_server import FAKE_LLM_MARK, FakeOpenAIServer

# --- taste_stats: pure ---------------------------------------------------------------------------


def film(
    rating: float,
    *,
    year: int | None = 2000,
    genres: tuple[str, ...] = (),
    countries: tuple[str, ...] = (),
    keywords: tuple[str, ...] = (),
) -> RatedFilm:
    return RatedFilm(rating, year, genres, countries, keywords)


def test_no_ratings_give_empty_stats_and_a_plain_template() -> None:
    stats = taste_stats([], reviews=2)
    assert stats.rated == 0 and stats.average is None and stats.reviews == 2
    assert stats.distribution == (0,) * 10
    assert stats.genres.favourite == () and stats.main_genres == ()
    assert template_summary(stats) == "No rated films yet."


def test_distribution_counts_every_half_star() -> None:
    ratings = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.0, 3.5]
    stats = taste_stats([film(r) for r in ratings])
    assert HALF_STARS == (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)
    assert stats.distribution == (1, 1, 1, 1, 1, 1, 2, 1, 1, 2)
    assert stats.rated == 12 and stats.average == pytest.approx(sum(ratings) / 12)


def test_favourite_and_least_favourite_genres_decades_and_countries() -> None:
    films = [
        *[film(4.5, year=1975, genres=("Drama",), countries=("JP",)) for _ in range(4)],
        *[film(4.0, year=1978, genres=("Drama", "Crime"), countries=("JP",)) for _ in range(2)],
        *[film(2.0, year=2012, genres=("Comedy",), countries=("US",)) for _ in range(3)],
        film(3.0, year=2015, genres=("Crime",), countries=("US",)),
        film(5.0, year=1990, genres=("Western",), countries=("IT",)),  # one film: not a taste
    ]
    stats = taste_stats(films)
    assert [g.key for g in stats.genres.favourite] == ["Drama"]
    assert [g.key for g in stats.genres.least] == ["Comedy"]
    assert (
        stats.genres.favourite[0].average == pytest.approx(4 + 1 / 3) and stats.genres.favourite[0].films == 6
    )
    assert [g.key for g in stats.decades.favourite] == ["1970"] and [g.key for g in stats.decades.least] == [
        "2010"
    ]
    assert [g.key for g in stats.countries.favourite] == ["JP"] and [
        g.key for g in stats.countries.least
    ] == ["US"]
    every = {g.key for t in (stats.genres, stats.decades, stats.countries) for g in (*t.favourite, *t.least)}
    assert "Western" not in every and "IT" not in every and "1990" not in every
    # the chart: main genres by film count, best average first
    assert [g.key for g in stats.main_genres] == ["Drama", "Crime", "Comedy"]
    text = template_summary(stats)
    assert "Favourite genres: Drama." in text and "Least favourite genres: Comedy." in text
    assert "Favourite decades: 1970s." in text and "Rated 11 films" in text


def test_a_few_high_ratings_do_not_outrank_many_steady_ones() -> None:
    """Group averages are shrunk toward the user's mean: two 5★ films of a genre do not beat
    twenty 4.5★ films of another."""
    films = [
        *[film(4.5, genres=("Drama",)) for _ in range(20)],
        *[film(5.0, genres=("Horror",)) for _ in range(2)],
        *[film(1.5, genres=("Comedy",)) for _ in range(10)],
    ]
    assert [g.key for g in taste_stats(films).genres.favourite] == ["Drama", "Horror"]


def test_keywords_of_films_rated_high_skip_noise_and_one_offs() -> None:
    films = [
        film(5.0, keywords=("space", "duringcreditsstinger", "alien")),
        film(4.5, keywords=("Space", "alien", "robot")),
        film(4.0, keywords=("space", "robot", "woman director")),
        film(2.0, keywords=("romance", "robot")),
        film(4.5, keywords=("romance",)),
    ]
    # space ×3 high; alien and robot ×2 high, robot also in a low film; romance once high
    assert taste_stats(films).keywords == ("space", "alien", "robot")


@pytest.mark.parametrize(
    ("choice", "code", "expected"),
    [
        ("ru", "en", "ru"),
        (None, "pt-br", "pt"),
        (None, "es-419", "es"),
        (None, "de", "en"),
        (None, None, "en"),
    ],
)
def test_resolve_language(choice: str | None, code: str | None, expected: str) -> None:
    assert resolve_language(choice, code) == expected


# --- the stored summary -----------------------------------------------------------------------


class FakeModel:
    """A LanguageModel that records its prompts and answers from a script."""

    model = "fake-chat"

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, str]] = []

    async def structured(self, *, system: str, user: str, schema: type[SchemaT]) -> SchemaT:
        self.calls.append((system, user))
        if self.fail:
            raise LanguageModelError("429 insufficient_quota")
        return schema.model_validate({"summary": f"You love slow science fiction ({len(self.calls)})."})


class SlowModel(FakeModel):
    async def structured(self, *, system: str, user: str, schema: type[SchemaT]) -> SchemaT:
        import asyncio

        await asyncio.sleep(5)
        raise AssertionError("not reached")


ALIEN, ALIENS, BLADE_RUNNER, ARRIVAL, GODFATHER, AMELIE = 348, 679, 78, 329865, 238, 194


@pytest.fixture
async def user_id(session: AsyncSession) -> int:
    await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(read_tmdb_csv(DEMO_CATALOG))
    user = await UserRepository(session).upsert(5_101, first_name="Ann", language_code="ru")
    library = LibraryRepository(session)
    for tmdb_id, rating in [
        (ALIEN, "5"),
        (ALIENS, "4.5"),
        (BLADE_RUNNER, "4.5"),
        (ARRIVAL, "4"),
        (AMELIE, "2"),
    ]:
        await library.rate(user.id, tmdb_id, Decimal(rating), source=Source.BOT)
    await session.commit()
    return user.id


async def add_reviews(session: AsyncSession, user_id: int, n: int) -> None:
    """`n` more reviews of catalog films this user has not rated or reviewed yet, as /review
    saves them (each rates its film)."""
    service = ReviewService(session, jobs.JobOutbox(), max_chars=1000)
    reviewed = set(await session.scalars(select(UserFilm.tmdb_id).where(UserFilm.user_id == user_id)))
    free = [
        t for t in await session.scalars(select(Film.tmdb_id).order_by(Film.tmdb_id)) if t not in reviewed
    ]
    for tmdb_id in free[:n]:
        await service.save(user_id, tmdb_id, Decimal("3.5"), "ok")
    await session.commit()


async def test_without_a_model_the_template_is_stored_and_read_back(
    session: AsyncSession, user_id: int
) -> None:
    service = TasteSummaryService(session)
    assert await service.summary_text(user_id) is None
    stored = await service.refresh(user_id)
    assert stored is not None and stored.source == "template" and stored.language == "en"
    text = await service.summary_text(user_id)
    assert text is not None and text.startswith("Rated 5 films") and "Science Fiction" in text


async def test_the_model_words_it_in_the_users_language_and_again_every_10_ratings(
    session: AsyncSession, user_id: int
) -> None:
    model = FakeModel()
    service = TasteSummaryService(session, model)
    await add_reviews(session, user_id, 1)
    first = await service.refresh(user_id)
    assert (
        first is not None
        and first.source == "llm"
        and first.language == "ru"
        and first.rated_at_rewrite == 6  # the 5 ratings of the fixture and the review's
    )
    system, facts = model.calls[0]
    assert "Write in Russian." in system and '"films_rated": 6' in facts and "Science Fiction" in facts

    await add_reviews(session, user_id, REWRITE_EVERY - 1)  # 9 more rated films: not yet
    kept = await service.refresh(user_id)
    assert len(model.calls) == 1 and kept == first

    await add_reviews(session, user_id, 1)  # the 10th rated film since the last wording
    again = await service.refresh(user_id)
    assert len(model.calls) == 2 and again is not None and again.rated_at_rewrite == 6 + REWRITE_EVERY
    assert await service.summary_text(user_id) == "You love slow science fiction (2)."

    await ProfileRepository(session).set_language(user_id, "es")  # /language: worded again
    spanish = await service.refresh(user_id)
    assert len(model.calls) == 3 and spanish is not None and spanish.language == "es"
    assert "Write in Spanish." in model.calls[-1][0]


async def test_ratings_without_a_text_count_for_the_rewording_but_not_as_reviews(
    session: AsyncSession, user_id: int
) -> None:
    """A rating saved without a text ("Save without a review") is no review: the stats the
    user reads and the model words say 0 reviews. It still changes the ratings the summary is
    about, so REWRITE_EVERY of them reword it."""
    model = FakeModel()
    service = TasteSummaryService(session, model)
    reviews = ReviewService(session, jobs.JobOutbox(), max_chars=1000)
    await reviews.save(user_id, GODFATHER, Decimal("4"), "")
    first = await service.refresh(user_id)
    assert first is not None and first.rated_at_rewrite == 6
    assert (await service.stats(user_id)).reviews == 0 and '"reviews": 0' in model.calls[0][1]

    rated = set(await session.scalars(select(UserFilm.tmdb_id).where(UserFilm.user_id == user_id)))
    free = [t for t in await session.scalars(select(Film.tmdb_id).order_by(Film.tmdb_id)) if t not in rated]
    for tmdb_id in free[:REWRITE_EVERY]:
        await reviews.save(user_id, tmdb_id, Decimal("3"), "")
    await session.commit()
    again = await service.refresh(user_id)
    assert len(model.calls) == 2 and again is not None and again.rated_at_rewrite == 6 + REWRITE_EVERY
    assert (await service.stats(user_id)).reviews == 0


@pytest.mark.parametrize("model", [FakeModel(fail=True), SlowModel()], ids=["error", "timeout"])
async def test_a_failing_model_falls_back_to_the_template_and_is_logged_once(
    session: AsyncSession, user_id: int, model: FakeModel, caplog: pytest.LogCaptureFixture
) -> None:
    service = TasteSummaryService(session, model, timeout_s=0.2)
    with caplog.at_level(logging.WARNING, logger="domain.taste"):
        stored = await service.refresh(user_id)
    assert stored is not None and stored.source == "template" and stored.text.startswith("Rated 5 films")
    failures = [r for r in caplog.records if "taste_summary_llm_failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is None  # one line, no traceback


async def test_no_ratings_or_no_user_means_no_summary(session: AsyncSession, user_id: int) -> None:
    service = TasteSummaryService(session)
    assert await service.refresh(user_id + 10_000) is None  # forgotten user
    other = await UserRepository(session).upsert(5_102, first_name=None, language_code=None)
    assert await service.refresh(other.id) is None
    assert await service.summary_text(other.id) is None


# --- the job ----------------------------------------------------------------------------------


async def test_a_saved_review_queues_the_summary_job_which_the_fake_openai_words(
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    job_app: procrastinate.App,
    user_id: int,
) -> None:
    outbox = jobs.JobOutbox()
    await ReviewService(session, outbox, max_chars=1000).save(user_id, GODFATHER, Decimal("4.5"), "An opera.")
    await session.commit()
    await outbox.flush(job_app)
    assert (await _statuses(job_app))[jobs.REFRESH_SUMMARY] == ["todo"]

    async with FakeOpenAIServer(api_key="sk-test") as server:
        model = make_language_model(
            OpenAISettings(_env_file=None, api_key="sk-test", base_url=server.base_url)
        )
        assert model is not None
        await jobs.drain(job_app, session_factory, LocalEmbedder(), language_model=model)
        chat_requests = server.count("/v1/chat/completions")
        assert isinstance(model, OpenAIChatModel)
        await model.aclose()

    assert (await _statuses(job_app))[jobs.REFRESH_SUMMARY] == ["succeeded"]
    assert chat_requests == 1
    row = await session.get(TasteSummary, user_id, populate_existing=True)
    assert row is not None and row.source == "llm" and row.language == "ru" and row.rated_at_rewrite == 6
    assert row.text.startswith(FAKE_LLM_MARK)
