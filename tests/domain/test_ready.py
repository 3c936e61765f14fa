"""Ready at once (issue 11), on the real procrastinate queue in PostgreSQL: new film vectors
refresh the taste of the users who have those films, the CF model is rebuilt when it is
missing or older than the newest import, and `catalog load-csv` embeds what it loads."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import procrastinate
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import bot.jobs.tasks as job_tasks
from bot import jobs
from bot.app import DEMO_CATALOG, App, load_catalog_csv
from db.models import CFModelInfo, FilmEmbedding, Import
from db.repositories.library import LibraryRepository, LogRow
from db.repositories.users import UserRepository
from domain.catalog import CatalogService
from domain.cf import build_cf_model
from domain.embeddings import EmbeddingService
from domain.entities import Source
from domain.imports import cf_model_due
from domain.ports import EmbeddingError
from integrations.embeddings import LocalEmbedder
from integrations.tmdb_csv import read_tmdb_csv
from tests.bot.conftest import make_settings

ALIEN, ALIENS, ALIEN3, MATRIX = 348, 679, 8077, 603


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


async def _user(session: AsyncSession, telegram_id: int, films: dict[int, dict[str, Any]]) -> int:
    """A user whose history holds `films` (tmdb id → LogRow fields), committed."""
    user = await UserRepository(session).upsert(telegram_id, first_name=None, language_code=None)
    rows = [
        LogRow(
            tmdb_id=tmdb_id,
            rating=fields.get("rating"),
            watched=fields.get("watched", False),
            watched_on=None,
            liked=fields.get("liked", False),
            on_watchlist=fields.get("on_watchlist", False),
        )
        for tmdb_id, fields in films.items()
    ]
    await LibraryRepository(session).merge_log(user.id, rows, source=Source.LETTERBOXD)
    await session.commit()
    return user.id


@pytest.fixture
async def catalog(session: AsyncSession) -> None:
    await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(read_tmdb_csv(DEMO_CATALOG))
    await session.commit()


async def _jobs(app: procrastinate.App, task: str) -> list[Any]:
    return list(await app.job_manager.list_jobs_async(task=task))


async def _vectors(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(FilmEmbedding)) or 0)


# --- new film vectors refresh the affected users' taste --------------------------------------


async def test_embedding_films_queues_one_taste_refresh_per_affected_user_only(
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    job_app: procrastinate.App,
    embedder: LocalEmbedder,
    catalog: None,
) -> None:
    rated = Decimal("4.5")
    two_films = await _user(session, 5101, {ALIEN: {"rating": rated}, ALIENS: {"watched": True}})
    other_film = await _user(session, 5102, {MATRIX: {"rating": rated}})
    # the watchlist is a weak signal (recommender.cf.W_WATCHLIST): it shapes the taste vector too
    watchlist_only = await _user(session, 5103, {ALIEN: {"on_watchlist": True}})

    outbox = jobs.JobOutbox()
    outbox.embed_films([ALIEN, ALIENS, ALIEN3])
    await outbox.flush(job_app)
    await jobs.drain(job_app, session_factory, embedder, queues=[jobs.BULK_QUEUE])

    [embedded] = await _jobs(job_app, jobs.EMBED_FILMS)
    assert str(embedded.status) == "succeeded"
    tastes = await _jobs(job_app, jobs.REFRESH_TASTE)
    assert [(j.task_kwargs, str(j.status)) for j in tastes] == [
        ({"user_id": two_films}, "todo"),
        ({"user_id": watchlist_only}, "todo"),
    ]
    assert other_film not in [j.task_kwargs["user_id"] for j in tastes]

    # the queued refresh now builds the vector from both films
    await jobs.drain(job_app, session_factory, embedder, queues=[jobs.USER_QUEUE])
    refresh = await EmbeddingService(session, embedder).refresh_taste_report(two_films)
    assert refresh.complete and refresh.films == 2


async def test_films_already_embedded_queue_no_taste_refresh(
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    job_app: procrastinate.App,
    embedder: LocalEmbedder,
    catalog: None,
) -> None:
    await _user(session, 5104, {ALIEN: {"rating": Decimal("5")}})
    await EmbeddingService(session, embedder).embed_films([ALIEN])
    await session.commit()

    await job_app.configure_task(jobs.EMBED_FILMS).defer_async(tmdb_ids=[ALIEN])
    await jobs.drain(job_app, session_factory, embedder, queues=[jobs.BULK_QUEUE])
    assert await _jobs(job_app, jobs.REFRESH_TASTE) == []  # nothing new: nothing to refresh


# --- the CF model follows imports --------------------------------------------------------------


async def test_an_import_burst_queues_one_delayed_cf_rebuild(
    job_app: procrastinate.App, caplog: pytest.LogCaptureFixture
) -> None:
    before = dt.datetime.now(dt.UTC)
    assert await jobs.defer_cf_rebuild(job_app)
    assert not await jobs.defer_cf_rebuild(job_app)  # a second import of the burst
    [job] = await _jobs(job_app, jobs.REBUILD_CF)
    assert str(job.status) == "todo" and job.scheduled_at is not None
    delay = (job.scheduled_at - before).total_seconds()
    assert jobs.CF_REBUILD_DELAY_S - 1 <= delay <= jobs.CF_REBUILD_DELAY_S + 5
    assert "cf_rebuild_already_queued" in caplog.text


async def test_the_cf_model_is_due_when_missing_or_older_than_the_newest_import(
    session: AsyncSession, catalog: None
) -> None:
    assert not await cf_model_due(session)  # no histories: nothing to train on
    user_id = await _user(session, 5105, {ALIEN: {"rating": Decimal("4")}, MATRIX: {"watched": True}})
    assert await cf_model_due(session)  # histories and no model

    await build_cf_model(session)
    await session.commit()
    assert not await cf_model_due(session)

    built = await session.scalar(select(func.max(CFModelInfo.built_at)))
    assert built is not None
    session.add(Import(user_id=user_id, chat_id=5105, file_name="x.zip", status="done"))
    await session.flush()
    later = built + dt.timedelta(minutes=1)
    await session.execute(update(Import).where(Import.user_id == user_id).values(finished_at=later))
    await session.commit()
    assert await cf_model_due(session)  # an import finished after the model was built


async def test_a_worker_that_starts_without_a_cf_model_queues_a_rebuild(
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    job_app: procrastinate.App,
    embedder: LocalEmbedder,
    catalog: None,
) -> None:
    # no loops, no stall watch: only what a worker does when it starts
    await jobs.run_workers(job_app, session_factory, embedder, loops=(), stall_check_seconds=None)
    assert await _jobs(job_app, jobs.REBUILD_CF) == []  # nobody has a history yet

    await _user(session, 5106, {ALIEN: {"rating": Decimal("4")}})
    await jobs.run_workers(job_app, session_factory, embedder, loops=(), stall_check_seconds=None)
    await jobs.run_workers(job_app, session_factory, embedder, loops=(), stall_check_seconds=None)
    [job] = await _jobs(job_app, jobs.REBUILD_CF)  # a second worker finds it queued
    assert job.scheduled_at is None or job.scheduled_at <= dt.datetime.now(dt.UTC)

    await jobs.drain(job_app, session_factory, embedder, queues=[jobs.BULK_QUEUE])
    assert await session.scalar(select(func.count()).select_from(CFModelInfo)) == 1


# --- catalog load-csv ------------------------------------------------------------------------


def _tiny_csv(path: Path, rows: int, *, overviews: dict[str, str] | None = None) -> Path:
    """The first `rows` films of the demo catalog, as a TMDB-format CSV; `overviews` (tmdb id
    → text) replaces some films' overviews."""
    with DEMO_CATALOG.open(newline="", encoding="utf-8") as src, path.open("w", newline="") as out:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        for _, row in zip(range(rows), reader, strict=False):
            writer.writerow({**row, "overview": (overviews or {}).get(row["id"], row["overview"])})
    return path


def _app(session_factory: async_sessionmaker[AsyncSession], job_app: procrastinate.App, embedder: Any) -> App:
    """The parts of `bot.app.App` that `load_catalog_csv` uses, on the test transaction."""
    return App(
        settings=make_settings(),
        engine=None,  # type: ignore[arg-type]
        session_factory=session_factory,
        tmdb=None,
        services=None,  # type: ignore[arg-type]
        dispatcher=None,  # type: ignore[arg-type]
        job_app=job_app,
        embedder=embedder,
    )


async def test_load_csv_embeds_the_films_it_loads_and_refreshes_their_fans(
    tmp_path: Path,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    job_app: procrastinate.App,
    embedder: LocalEmbedder,
) -> None:
    path = _tiny_csv(tmp_path / "films.csv", 5)
    fan = await _user(session, 5107, {})  # no films yet: the history is added after the load…
    done = await load_catalog_csv(_app(session_factory, job_app, embedder), path)
    assert (done.films, done.to_embed, done.embedded, done.jobs) == (5, 5, 5, 0)
    assert done.seconds > 0
    assert await _vectors(session) == 5
    assert await _jobs(job_app, jobs.EMBED_FILMS) == []  # nothing left for the workers

    # …and a second load of a changed CSV re-embeds only what changed, refreshing the fan
    await LibraryRepository(session).merge_log(
        fan, [LogRow(ALIEN, Decimal("5"), True, None, False, False)], source=Source.LETTERBOXD
    )
    await session.commit()
    _tiny_csv(path, 5, overviews={str(ALIEN): "A crew wakes to a distress call. Director's cut."})
    again = await load_catalog_csv(_app(session_factory, job_app, embedder), path)
    assert (again.films, again.to_embed, again.embedded) == (5, 1, 1)
    assert [j.task_kwargs for j in await _jobs(job_app, jobs.REFRESH_TASTE)] == [{"user_id": fan}]


async def test_load_csv_no_embed_queues_the_jobs_at_once(
    tmp_path: Path,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    job_app: procrastinate.App,
    embedder: LocalEmbedder,
) -> None:
    path = _tiny_csv(tmp_path / "films.csv", 5)
    done = await load_catalog_csv(_app(session_factory, job_app, embedder), path, embed=False)
    assert (done.films, done.to_embed, done.embedded, done.jobs) == (5, 5, 0, 1)
    assert await _vectors(session) == 0
    [job] = await _jobs(job_app, jobs.EMBED_FILMS)
    assert len(job.task_kwargs["tmdb_ids"]) == 5

    await jobs.drain(job_app, session_factory, embedder)
    assert await _vectors(session) == 5


class FailsOnSecondCall:
    """The local embedder, failing from its second call on (the API went away mid-load)."""

    def __init__(self, inner: LocalEmbedder) -> None:
        self.inner, self.model, self.dimensions, self.calls = inner, inner.model, inner.dimensions, 0

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        if self.calls > 1:
            raise EmbeddingError("the embedder went away")
        return await self.inner.embed(texts)


async def test_an_interrupted_load_keeps_the_batches_it_embedded(
    tmp_path: Path,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    job_app: procrastinate.App,
    embedder: LocalEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(job_tasks, "JOB_BATCH", 2)
    path = _tiny_csv(tmp_path / "films.csv", 5)
    with pytest.raises(EmbeddingError):
        await load_catalog_csv(_app(session_factory, job_app, FailsOnSecondCall(embedder)), path)
    assert await _vectors(session) == 2  # the first batch was committed
    async with session_factory() as fresh:
        assert len(await EmbeddingService(fresh, embedder).films_to_embed()) == 3  # for the sweep
