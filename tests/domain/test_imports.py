"""ImportService on the real database, catalog mode (demo catalog, no TMDB): the command-line
path, the chat path (start → run), resuming, cancelling, re-importing, and whose data is touched."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import domain.imports as imports_module
from bot.app import DEMO_CATALOG
from bot.jobs import JobOutbox
from db.models import Import, Review, TitleMatch, UserFilm, Watch
from db.repositories.imports import ImportInProgressError
from domain.catalog import CatalogService
from domain.import_types import ImportProgress
from domain.imports import ImportService, unmatched_csv_path
from domain.letterboxd import LetterboxdFormatError
from domain.reviews import ReviewService
from integrations.tmdb_csv import read_tmdb_csv
from tests.conftest import LETTERBOXD_DEMO_ZIP
from tests.domain.helpers import new_user

DIARY = "Date,Name,Year,Letterboxd URI,Rating,Rewatch,Tags,Watched Date"
REVIEWS = "Date,Name,Year,Letterboxd URI,Rating,Rewatch,Review,Tags,Watched Date"
RATINGS = "Date,Name,Year,Letterboxd URI,Rating"
WATCHLIST = "Date,Name,Year,Letterboxd URI"


@pytest.fixture
async def imports(session: AsyncSession) -> ImportService:
    await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(read_tmdb_csv(DEMO_CATALOG))
    return ImportService(session, None, JobOutbox())


def export_zip(files: dict[str, list[str]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, lines in files.items():
            archive.writestr(f"letterboxd-ann-2026-11-21-utc/{name}", "\n".join(lines) + "\n")
    return buffer.getvalue()


async def _rows(session: AsyncSession, model: type, user_id: int) -> int:
    stmt = select(func.count()).select_from(model).where(model.user_id == user_id)  # type: ignore[attr-defined]
    return int(await session.scalar(stmt) or 0)


async def _no_progress(_p: ImportProgress) -> None:
    return None


# --- the command line -----------------------------------------------------------------------------


async def test_zip_import_counts_and_unmatched_csv(
    session: AsyncSession, imports: ImportService, tmp_path: Path
) -> None:
    user_id = await new_user(session, 3001)
    zip_path = tmp_path / "export.zip"
    shutil.copy(LETTERBOXD_DEMO_ZIP, zip_path)
    report, written = await imports.import_letterboxd(user_id, zip_path)
    assert (report.films, report.matched, report.unmatched) == (17, 15, 2)
    assert (report.ratings, report.watched, report.reviews, report.likes, report.watchlist) == (
        12,
        14,
        4,
        5,
        1,
    )
    assert written == unmatched_csv_path(zip_path) == tmp_path / "export-unmatched.csv"
    rows = csv.DictReader(written.read_text(encoding="utf-8-sig").splitlines())
    assert [row["Name"] for row in rows] == ["Film That Does Not Exist", "Untitled Heist Project"]
    assert await _rows(session, UserFilm, user_id) == 15
    assert await _rows(session, Review, user_id) == 4
    texts = list(await session.scalars(select(Review.text).where(Review.user_id == user_id)))
    assert all(text and "<" not in text and "&amp;" not in text for text in texts)


async def test_reimport_and_folder_create_no_duplicates(
    session: AsyncSession, imports: ImportService, tmp_path: Path, letterboxd_demo_dir: Path
) -> None:
    user_id = await new_user(session, 3002)
    first, _ = await imports.import_letterboxd(user_id, LETTERBOXD_DEMO_ZIP, unmatched_csv=tmp_path / "u.csv")
    again, _ = await imports.import_letterboxd(user_id, letterboxd_demo_dir, unmatched_csv=tmp_path / "u.csv")
    assert first == again
    assert await _rows(session, UserFilm, user_id) == 15
    assert await _rows(session, Review, user_id) == 4


async def test_a_bot_review_survives_a_later_import(
    session: AsyncSession, imports: ImportService, tmp_path: Path
) -> None:
    user_id = await new_user(session, 3003)
    await ReviewService(session, JobOutbox(), max_chars=1000).save(user_id, 348, Decimal("3"), "mine")
    await imports.import_letterboxd(user_id, LETTERBOXD_DEMO_ZIP, unmatched_csv=tmp_path / "u.csv")
    text = await session.scalar(select(Review.text).where(Review.user_id == user_id, Review.tmdb_id == 348))
    assert text == "mine"


async def test_broken_export_stores_nothing(
    session: AsyncSession, imports: ImportService, tmp_path: Path
) -> None:
    user_id = await new_user(session, 3004)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(LetterboxdFormatError) as excinfo:
        await imports.import_letterboxd(user_id, broken)
    assert str(tmp_path) not in str(excinfo.value)
    assert await _rows(session, UserFilm, user_id) == 0


# --- diary: rewatches and the review join ----------------------------------------------------------


async def test_rewatches_are_viewings_and_the_review_rating_is_the_films(
    session: AsyncSession, imports: ImportService
) -> None:
    user_id = await new_user(session, 3010)
    data = export_zip(
        {
            "diary.csv": [
                DIARY,
                "2020-01-02,Alien,1979,https://boxd.it/a1,4,,,2020-01-01",
                "2023-05-06,Alien,1979,https://boxd.it/a2,5,Yes,,2023-05-05",
                "2023-05-07,Heat,1995,https://boxd.it/a3,3.5,,,2023-05-07",
            ],
            "reviews.csv": [
                REVIEWS,
                # no Rating cell: the diary entry of the same film and Watched Date gives it
                "2020-01-02,Alien,1979,https://boxd.it/a1,,,"
                '"<p>First time.</p><p>Terrifying.</p>",,2020-01-01',
            ],
        }
    )
    queued = await imports.start(user_id=user_id, chat_id=1, file_name="export.zip", data=data, locale="en")
    outcome = await imports.run(queued.import_id, _no_progress)
    assert outcome is not None and outcome.report is not None
    assert (outcome.report.films, outcome.report.viewings, outcome.report.reviews) == (2, 3, 1)
    assert await _rows(session, UserFilm, user_id) == 2  # the rewatch is not a second film
    viewings = (
        await session.execute(select(Watch.watched_on, Watch.rating).where(Watch.user_id == user_id))
    ).all()
    assert sorted(viewings) == [
        (dt.date(2020, 1, 1), Decimal("4.0")),
        (dt.date(2023, 5, 5), Decimal("5.0")),
        (dt.date(2023, 5, 7), Decimal("3.5")),
    ]
    review = (
        await session.execute(select(Review.rating, Review.text).where(Review.user_id == user_id))
    ).one()
    # the viewing's diary rating (4) stays with the viewing; the review's rating is the film's:
    # the latest diary rating (a film's rating and its review's always agree)
    assert review == (Decimal("5.0"), "First time.\n\nTerrifying.")
    assert (
        await session.scalar(
            select(UserFilm.rating).where(UserFilm.user_id == user_id, UserFilm.tmdb_id == 348)
        )
        == 5
    )


async def test_a_newer_export_updates_ratings_and_adds_new_entries_only(
    session: AsyncSession, imports: ImportService
) -> None:
    user_id = await new_user(session, 3011)
    old = export_zip(
        {
            "ratings.csv": [RATINGS, "2020-01-01,Alien,1979,https://boxd.it/1,3"],
            "watchlist.csv": [WATCHLIST, "2020-01-01,Heat,1995,https://boxd.it/2"],
        }
    )
    new = export_zip(
        {
            "ratings.csv": [
                RATINGS,
                "2024-01-01,Alien,1979,https://boxd.it/1,4.5",
                "2024-02-01,Heat,1995,https://boxd.it/2,4",
            ],
            "diary.csv": [DIARY, "2024-02-01,Heat,1995,https://boxd.it/3,4,,,2024-02-01"],
        }
    )
    for data in (old, new):
        queued = await imports.start(user_id=user_id, chat_id=1, file_name="e.zip", data=data, locale="en")
        await imports.run(queued.import_id, _no_progress)
    rows = (
        await session.execute(
            select(UserFilm.tmdb_id, UserFilm.rating, UserFilm.watched, UserFilm.on_watchlist)
            .where(UserFilm.user_id == user_id)
            .order_by(UserFilm.tmdb_id)
        )
    ).all()
    assert rows == [(348, Decimal("4.5"), True, False), (949, Decimal("4.0"), True, False)]


async def test_newest_rating_wins_between_the_bot_and_an_export(
    session: AsyncSession, imports: ImportService
) -> None:
    """The issue's case: 5★ in the bot today, then an export rating Alien 4 on 2024-01-01."""
    user_id = await new_user(session, 3012)
    await ReviewService(session, JobOutbox(), max_chars=1000).save(user_id, 348, Decimal("5"), "mine")

    async def alien() -> tuple[object, ...]:
        film = select(UserFilm.rating, UserFilm.source).where(UserFilm.user_id == user_id)
        review = select(Review.rating, Review.text).where(Review.user_id == user_id)
        return (*(await session.execute(film)).one(), *(await session.execute(review)).one())

    older = export_zip({"ratings.csv": [RATINGS, "2024-01-01,Alien,1979,https://boxd.it/1,4"]})
    for _ in range(2):  # and re-importing it changes nothing
        queued = await imports.start(user_id=user_id, chat_id=1, file_name="e.zip", data=older, locale="en")
        await imports.run(queued.import_id, _no_progress)
        assert await alien() == (Decimal("5"), "bot", Decimal("5"), "mine")

    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    newer = export_zip(
        {
            "ratings.csv": [RATINGS, f"{tomorrow},Alien,1979,https://boxd.it/1,3.5"],
            "reviews.csv": [REVIEWS, f"{tomorrow},Alien,1979,https://boxd.it/2,3.5,,theirs,,{tomorrow}"],
        }
    )
    for _ in range(2):
        queued = await imports.start(user_id=user_id, chat_id=1, file_name="e.zip", data=newer, locale="en")
        await imports.run(queued.import_id, _no_progress)
        # the newer rating wins; the review written in the bot keeps its text and takes the rating
        assert await alien() == (Decimal("3.5"), "letterboxd", Decimal("3.5"), "mine")
    assert await _rows(session, UserFilm, user_id) == 1
    assert await _rows(session, Review, user_id) == 1


# --- the chat path: queue, run, resume, cancel ----------------------------------------------------------


async def test_start_refuses_unreadable_files_and_a_second_import(
    session: AsyncSession, imports: ImportService
) -> None:
    user_id = await new_user(session, 3020)
    with pytest.raises(LetterboxdFormatError) as caught:
        await imports.start(user_id=user_id, chat_id=1, file_name="e.zip", data=b"", locale="en")
    assert caught.value.code == "empty"
    data = export_zip({"ratings.csv": [RATINGS, "2020-01-01,Alien,1979,u,3"]})
    await imports.start(user_id=user_id, chat_id=1, file_name="e.zip", data=data, locale="en")
    with pytest.raises(ImportInProgressError):
        await imports.start(user_id=user_id, chat_id=1, file_name="e.zip", data=data, locale="en")
    assert await _rows(session, Import, user_id) == 1


async def test_a_run_cut_short_resumes_without_duplicates(
    session: AsyncSession, imports: ImportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after the first chunk (the worker died): the retried job stores the rest, once."""
    monkeypatch.setattr(imports_module, "CHUNK", 5)
    user_id = await new_user(session, 3021)
    queued = await imports.start(
        user_id=user_id, chat_id=1, file_name="demo.zip", data=LETTERBOXD_DEMO_ZIP.read_bytes(), locale="en"
    )

    class WorkerDied(Exception):
        pass

    async def die_after_first_chunk(progress: ImportProgress) -> None:
        raise WorkerDied

    with pytest.raises(WorkerDied):
        await imports.run(queued.import_id, die_after_first_chunk)
    assert 0 < await _rows(session, UserFilm, user_id) < 15
    decided_before = await session.scalar(select(func.count()).select_from(TitleMatch))

    seen: list[ImportProgress] = []

    async def record(progress: ImportProgress) -> None:
        seen.append(progress)

    outcome = await imports.run(queued.import_id, record)
    assert outcome is not None and outcome.status == "done" and outcome.report is not None
    assert (outcome.report.matched, outcome.report.unmatched) == (15, 2)
    assert await _rows(session, UserFilm, user_id) == 15
    assert await _rows(session, Review, user_id) == 4
    assert [p.done for p in seen] == [5, 10, 15, 17]
    # the 14 watched films come first; the watchlist- and likes-only films last
    assert [p.history_done for p in seen] == [False, False, True, True]
    assert decided_before  # the first run's decisions were kept for the second
    row = await session.get(Import, queued.import_id, populate_existing=True)
    assert row is not None and row.status == "done" and row.payload is None and row.report is not None


async def test_cancel_stops_at_the_next_chunk_and_keeps_what_is_stored(
    session: AsyncSession, imports: ImportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports_module, "CHUNK", 5)
    user_id = await new_user(session, 3022)
    queued = await imports.start(
        user_id=user_id, chat_id=1, file_name="demo.zip", data=LETTERBOXD_DEMO_ZIP.read_bytes(), locale="en"
    )

    async def cancel_after_first_chunk(progress: ImportProgress) -> None:
        assert await imports.cancel(user_id)

    outcome = await imports.run(queued.import_id, cancel_after_first_chunk)
    assert outcome is not None and outcome.status == "cancelled" and outcome.report is not None
    assert outcome.report.matched + outcome.report.unmatched == 5
    assert await _rows(session, UserFilm, user_id) == outcome.report.matched
    # the user can start again at once, and a cancelled import never runs again
    assert await imports.run(queued.import_id, _no_progress) is None
    await imports.start(
        user_id=user_id, chat_id=1, file_name="demo.zip", data=LETTERBOXD_DEMO_ZIP.read_bytes(), locale="en"
    )


async def test_a_queued_import_cancelled_before_it_runs_does_nothing(
    session: AsyncSession, imports: ImportService
) -> None:
    user_id = await new_user(session, 3023)
    queued = await imports.start(
        user_id=user_id, chat_id=1, file_name="demo.zip", data=LETTERBOXD_DEMO_ZIP.read_bytes(), locale="en"
    )
    assert await imports.cancel(user_id)
    assert not await imports.cancel(user_id)  # nothing left to cancel
    assert await imports.run(queued.import_id, _no_progress) is None
    assert await _rows(session, UserFilm, user_id) == 0


async def test_only_the_senders_data_is_written_and_read(
    session: AsyncSession, imports: ImportService
) -> None:
    ann, bob = await new_user(session, 3030), await new_user(session, 3031)
    await ReviewService(session, JobOutbox(), max_chars=1000).save(bob, 348, Decimal("1"), "not for me")
    queued = await imports.start(
        user_id=ann, chat_id=1, file_name="demo.zip", data=LETTERBOXD_DEMO_ZIP.read_bytes(), locale="en"
    )
    await imports.run(queued.import_id, _no_progress)
    bob_alien = await session.scalar(
        select(UserFilm.rating).where(UserFilm.user_id == bob, UserFilm.tmdb_id == 348)
    )
    assert bob_alien == Decimal("1") and await _rows(session, UserFilm, bob) == 1
    # the unmatched list is Ann's alone
    found = await imports.unmatched_csv(ann, queued.import_id)
    assert found is not None and found[0] == "demo-unmatched.csv" and b"Untitled Heist Project" in found[1]
    assert await imports.unmatched_csv(bob, queued.import_id) is None
    assert not await imports.cancel(bob)


async def test_a_file_unreadable_at_run_time_fails_cleanly(
    session: AsyncSession, imports: ImportService
) -> None:
    user_id = await new_user(session, 3040)
    queued = await imports.start(
        user_id=user_id, chat_id=1, file_name="demo.zip", data=LETTERBOXD_DEMO_ZIP.read_bytes(), locale="en"
    )
    row = await session.get(Import, queued.import_id)
    assert row is not None
    row.payload = b"PK\x03\x04 garbage"
    await session.flush()
    outcome = await imports.run(queued.import_id, _no_progress)
    assert outcome is not None and outcome.status == "failed" and outcome.error is not None
    assert outcome.error.code == "not_zip"


async def test_forget_during_an_import_stops_it_quietly(
    session: AsyncSession, imports: ImportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/forget deletes the user (and the import with it) between two chunks: the job stops
    at the next chunk and reports nothing."""
    from db.models import User

    monkeypatch.setattr(imports_module, "CHUNK", 5)
    user_id = await new_user(session, 3041)
    queued = await imports.start(
        user_id=user_id, chat_id=1, file_name="demo.zip", data=LETTERBOXD_DEMO_ZIP.read_bytes(), locale="en"
    )

    async def forget(_p: ImportProgress) -> None:
        user = await session.get(User, user_id)
        if user is not None:
            await session.delete(user)
            await session.flush()

    assert await imports.run(queued.import_id, forget) is None
    assert await _rows(session, UserFilm, user_id) == 0
    assert await session.get(Import, queued.import_id) is None
