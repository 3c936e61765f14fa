"""Imports that finish under TMDB faults: the import against the fake TMDB on loopback (real
HTTP, real client) and the real database. A title TMDB fails on is deferred and retried at the
end; what still fails is reported as unchecked; decisions survive a crash; a TMDB that is down
ends the import with MovieSourceError (the job retries it)."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.jobs import JobOutbox
from db.models import TitleMatch, UserFilm
from db.repositories.users import UserRepository
from domain.entities import SearchPage
from domain.imports import ImportService
from domain.letterboxd import read_export_bytes
from domain.ports import MovieSourceError
from integrations.tmdb import TMDBClient, TMDBUnavailableError
from tests.domain.test_matching import write_tmdb_csv
from tests.fakes.tmdb_server import FakeTMDBServer

RATINGS = "Date,Name,Year,Letterboxd URI,Rating"
#: In the fake TMDB of test_matching (7 films), plus one TMDB has no film for.
ROWS = [
    "2024-01-01,The Thing,1982,u,4",
    "2024-01-01,Amélie,2001,u,4",
    "2024-01-01,Léon: The Professional,1994,u,4.5",
    "2024-01-01,Halloween,1978,u,3",
    "2024-01-01,Pan's Labyrinth,2006,u,5",
    "2024-01-01,Spirited Away,2001,u,5",
    "2024-01-01,The Lion King,1994,u,3.5",
    "2024-01-01,A Film Nobody Made,1999,u,2",
]
#: Many quick rounds: the tests do not wait, and a title failing half the time is sure to pass.
QUICK_RETRIES = (0.0,) * 30


def export_bytes(rows: list[str] = ROWS) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ratings.csv", "\n".join([RATINGS, *rows]) + "\n")
    return buffer.getvalue()


@pytest.fixture
async def tmdb(tmp_path: Path) -> AsyncIterator[tuple[FakeTMDBServer, TMDBClient]]:
    async with FakeTMDBServer(write_tmdb_csv(tmp_path / "films.csv"), seed=7) as server:
        # one attempt per request: every injected error reaches the import
        client = TMDBClient(base_url=server.base_url, api_key="k", max_attempts=1, backoff_multiplier=0.001)
        async with client:
            yield server, client


class WorkerDied(Exception):
    """Not a TMDB fault: the process dying mid-chunk."""


class Scripted:
    """The real client, except that searching a title of `failing` raises TMDBUnavailableError
    and searching `crash` raises WorkerDied once every other search has answered."""

    def __init__(
        self, inner: TMDBClient, *, failing: set[str] = frozenset(), crash: str | None = None, others: int = 0
    ) -> None:
        self.inner = inner
        self.failing = failing
        self.crash = crash
        self.others = others
        self.answered = 0
        self.others_answered = asyncio.Event()

    async def search(self, query: str, *, year: int | None = None, page: int = 1) -> SearchPage:
        if query in self.failing:
            raise TMDBUnavailableError(f"TMDB /search/movie: gave up on {query!r}")
        if query == self.crash:
            await asyncio.wait_for(self.others_answered.wait(), timeout=10)
            raise WorkerDied
        result = await self.inner.search(query, year=year, page=page)
        self.answered += 1
        if self.answered >= self.others:
            self.others_answered.set()
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def _user(session: AsyncSession, telegram_id: int) -> int:
    return (await UserRepository(session).upsert(telegram_id, first_name=None, language_code=None)).id


async def _stored(session: AsyncSession, user_id: int) -> int:
    return int(await session.scalar(select(func.count()).where(UserFilm.user_id == user_id)) or 0)


async def test_a_high_error_rate_still_imports_everything(
    session: AsyncSession, tmdb: tuple[FakeTMDBServer, TMDBClient]
) -> None:
    server, client = tmdb
    user_id = await _user(session, 4001)
    server.knobs.error_rate = 0.5
    service = ImportService(session, client, JobOutbox(), retry_waits=QUICK_RETRIES)
    report = await service.store_export(user_id, read_export_bytes(export_bytes(), "e.zip"))
    assert (report.matched, report.unmatched, report.unchecked) == (7, 1, 0)
    assert [f.name for f in report.unmatched_films] == ["A Film Nobody Made"]
    assert await _stored(session, user_id) == 7
    # titles failed (one attempt per request) and were searched again at the end
    assert server.count("/3/search/movie") > len(ROWS)


async def test_a_title_that_always_fails_is_unchecked_and_the_rest_stored(
    session: AsyncSession, tmdb: tuple[FakeTMDBServer, TMDBClient]
) -> None:
    server, client = tmdb
    user_id = await _user(session, 4002)
    source = Scripted(client, failing={"Pan's Labyrinth"})
    service = ImportService(session, source, JobOutbox(), retry_waits=(0.0, 0.0))  # type: ignore[arg-type]
    queued = await service.start(
        user_id=user_id, chat_id=1, file_name="e.zip", data=export_bytes(), locale="en"
    )

    async def no_progress(_p: object) -> None:
        return None

    outcome = await service.run(queued.import_id, no_progress)
    assert outcome is not None and outcome.report is not None
    assert outcome.status == "done"
    report = outcome.report
    assert (report.matched, report.unmatched, report.unchecked) == (6, 1, 1)
    # the unmatched CSV is for real "no such film" decisions only
    assert [f.name for f in report.unmatched_films] == ["A Film Nobody Made"]
    assert await _stored(session, user_id) == 6
    # nothing was decided, so nothing was cached, for the unchecked title
    assert await session.scalar(select(func.count()).select_from(TitleMatch)) == 7

    # sending the same file again once TMDB answers finishes it: one search, no duplicates
    server.reset_log()
    again = ImportService(session, client, JobOutbox(), retry_waits=(0.0,))
    second = await again.store_export(user_id, read_export_bytes(export_bytes(), "e.zip"))
    assert (second.matched, second.unmatched, second.unchecked) == (7, 1, 0)
    assert server.count("/3/search/movie") == 1
    assert await _stored(session, user_id) == 7


async def test_decisions_made_before_a_crash_are_kept(
    session: AsyncSession, tmdb: tuple[FakeTMDBServer, TMDBClient]
) -> None:
    server, client = tmdb
    user_id = await _user(session, 4003)
    source = Scripted(client, crash="Spirited Away", others=len(ROWS) - 1)
    service = ImportService(session, source, JobOutbox(), retry_waits=())  # type: ignore[arg-type]
    with pytest.raises(WorkerDied):
        await service.store_export(user_id, read_export_bytes(export_bytes(), "e.zip"))
    await session.rollback()  # what the job does: only what was committed stays
    assert await _stored(session, user_id) == 0  # the chunk itself was not stored
    assert await session.scalar(select(func.count()).select_from(TitleMatch)) == len(ROWS) - 1

    server.reset_log()
    rerun = ImportService(session, client, JobOutbox(), retry_waits=())
    report = await rerun.store_export(user_id, read_export_bytes(export_bytes(), "e.zip"))
    assert (report.matched, report.unmatched) == (7, 1)
    assert server.count("/3/search/movie") == 1  # only the title the crash cut short


async def test_tmdb_down_ends_the_import_with_the_error(
    session: AsyncSession, tmdb: tuple[FakeTMDBServer, TMDBClient]
) -> None:
    server, client = tmdb
    user_id = await _user(session, 4004)
    server.knobs.fail_all = True
    service = ImportService(session, client, JobOutbox(), retry_waits=(0.0, 0.0))
    with pytest.raises(MovieSourceError):
        await service.store_export(user_id, read_export_bytes(export_bytes(), "e.zip"))
    # every title was tried in the first pass and in both rounds; nothing was decided
    assert server.count("/3/search/movie") == 3 * len(ROWS)
    assert await session.scalar(select(func.count()).select_from(TitleMatch)) == 0
