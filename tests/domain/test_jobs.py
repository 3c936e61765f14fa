"""Background jobs on the real procrastinate queue in PostgreSQL: nothing is lost while the
worker is down, the sweep finds what was never queued, a failing job is retried."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import procrastinate
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import jobs
from bot.app import DEMO_CATALOG
from db.models import FilmEmbedding, ReviewEmbedding, TasteVector
from db.repositories.users import UserRepository
from domain.catalog import CatalogService
from domain.embeddings import EmbeddingService
from domain.ports import EmbeddingError
from domain.reviews import ReviewService
from integrations.embeddings import LocalEmbedder
from integrations.tmdb_csv import read_tmdb_csv
from tests.conftest import execute_sql


class BrokenEmbedder:
    """An embedder whose API key is dead."""

    model = "all-MiniLM-L6-v2-int8"
    dimensions = 384

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise EmbeddingError("OpenAI rejected the API key")


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


async def _statuses(app: procrastinate.App) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for job in await app.job_manager.list_jobs_async():
        found.setdefault(job.task_name, []).append(str(job.status))
    return found


async def _taste(session: AsyncSession, user_id: int) -> TasteVector | None:
    return await session.scalar(select(TasteVector).where(TasteVector.user_id == user_id))


async def _count(session: AsyncSession, model: type[object]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
async def reviewer(session: AsyncSession) -> int:
    await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(read_tmdb_csv(DEMO_CATALOG))
    user = await UserRepository(session).upsert(4_242, first_name=None, language_code=None)
    await session.commit()
    return user.id


async def test_a_review_saved_while_the_worker_is_down_is_embedded_when_it_comes_back(
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    job_app: procrastinate.App,
    embedder: LocalEmbedder,
    reviewer: int,
) -> None:
    outbox = jobs.JobOutbox()
    await ReviewService(session, outbox, max_chars=1000).save(
        reviewer, 348, Decimal("4.5"), "Slow, cold dread in a haunted-house spaceship."
    )
    await session.commit()
    await outbox.flush(job_app)  # what DatabaseMiddleware does after the update's commit

    queued = await _statuses(job_app)  # no worker yet: the jobs wait in PostgreSQL
    # the embedding job refreshes the taste after it: no taste job of its own
    assert queued == {jobs.EMBED_REVIEWS: ["todo"], jobs.REFRESH_SUMMARY: ["todo"]}
    assert await _count(session, ReviewEmbedding) == 0

    await jobs.drain(job_app, session_factory, embedder)  # the worker comes back

    assert await _count(session, ReviewEmbedding) == 1
    taste = await _taste(session, reviewer)
    assert taste is not None and taste.n_reviews == 1 and taste.model == embedder.model
    statuses = await _statuses(job_app)
    assert statuses == {jobs.EMBED_REVIEWS: ["succeeded"], jobs.REFRESH_SUMMARY: ["succeeded"]}


async def test_a_review_whose_embedding_fails_still_counts_in_the_taste_and_is_embedded_on_retry(
    database_url: str,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    job_app: procrastinate.App,
    embedder: LocalEmbedder,
    reviewer: int,
) -> None:
    await EmbeddingService(session, embedder).embed_films([348])  # the rated film has a vector
    await session.commit()
    outbox = jobs.JobOutbox()
    await ReviewService(session, outbox, max_chars=1000).save(reviewer, 348, Decimal("4.5"), "Dread.")
    await session.commit()
    await outbox.flush(job_app)

    await jobs.drain(job_app, session_factory, BrokenEmbedder())  # the embedder is down
    taste = await _taste(session, reviewer)
    assert taste is not None and (taste.n_films, taste.n_reviews) == (1, 0)  # the rating counts
    [job] = list(await job_app.job_manager.list_jobs_async(task=jobs.EMBED_REVIEWS))
    assert job.attempts == 1 and str(job.status) == "todo" and job.id is not None  # to be retried

    await _make_due(database_url, job.id)
    await jobs.drain(job_app, session_factory, embedder)  # the embedder is back
    session.expunge_all()
    taste = await _taste(session, reviewer)
    assert taste is not None and (taste.n_films, taste.n_reviews) == (1, 1)
    assert await _count(session, ReviewEmbedding) == 1


async def test_the_sweep_finds_what_was_never_queued_and_is_idempotent(
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    job_app: procrastinate.App,
    embedder: LocalEmbedder,
    reviewer: int,
) -> None:
    lost = jobs.JobOutbox()  # a deferral that never happened (e.g. the queue was unreachable)
    await ReviewService(session, lost, max_chars=1000).save(reviewer, 603, Decimal("5"), "Bullet time!")
    await session.commit()

    counts = await jobs.queue_missing(job_app, session_factory, embedder)
    assert counts == {"films": 70, "reviews": 1, "topics": 0, "users": 1}
    await jobs.drain(job_app, session_factory, embedder)
    assert await _count(session, FilmEmbedding) == 70
    assert await _count(session, ReviewEmbedding) == 1

    again = await jobs.queue_missing(job_app, session_factory, embedder)
    assert again == {"films": 0, "reviews": 0, "topics": 0, "users": 0}


async def test_a_failing_job_is_retried_then_failed_and_an_admin_can_retry_it(
    database_url: str,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    job_app: procrastinate.App,
    embedder: LocalEmbedder,
    reviewer: int,
) -> None:
    outbox = jobs.JobOutbox()
    outbox.embed_films([348, 679])
    await outbox.flush(job_app)

    await jobs.drain(job_app, session_factory, BrokenEmbedder())
    [job] = list(await job_app.job_manager.list_jobs_async(task=jobs.EMBED_FILMS))
    assert job.attempts == 1 and str(job.status) == "todo"  # scheduled again, with backoff
    assert job.scheduled_at is not None and job.scheduled_at > dt.datetime.now(dt.UTC)
    assert job.id is not None

    runs = 1
    while str(job.status) == "todo" and runs < 10:  # time passes; every retry fails too
        await _make_due(database_url, job.id)
        await jobs.drain(job_app, session_factory, BrokenEmbedder())
        [job] = list(await job_app.job_manager.list_jobs_async(task=jobs.EMBED_FILMS))
        runs += 1
    assert str(job.status) == "failed"
    assert runs == 1 + jobs.RETRY.max_attempts, runs  # the first run and every retry
    assert await _count(session, FilmEmbedding) == 0

    assert job.id is not None  # the admin fixes the key and runs `python -m bot jobs retry ID`
    await job_app.job_manager.retry_job_by_id_async(job.id, retry_at=dt.datetime.now(dt.UTC))
    await jobs.drain(job_app, session_factory, embedder)
    [job] = list(await job_app.job_manager.list_jobs_async(task=jobs.EMBED_FILMS))
    assert str(job.status) == "succeeded"
    assert await _count(session, FilmEmbedding) == 2


async def _make_due(database_url: str, job_id: int) -> None:
    await execute_sql(
        database_url, "UPDATE procrastinate_jobs SET scheduled_at = now() WHERE id = $1", job_id
    )
