"""ImportService on the real database, catalog mode (demo catalog, no TMDB)."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import DEMO_CATALOG
from bot.jobs import JobOutbox
from db.models import Review, UserFilm
from db.repositories.users import UserRepository
from domain.catalog import CatalogService
from domain.imports import ImportService, unmatched_csv_path
from domain.letterboxd import LetterboxdFormatError
from domain.reviews import ReviewService
from integrations.tmdb_csv import read_tmdb_csv
from tests.conftest import LETTERBOXD_DEMO_ZIP


@pytest.fixture
async def imports(session: AsyncSession) -> ImportService:
    catalog = CatalogService(session, None, ttl=dt.timedelta(days=1))
    await catalog.store(read_tmdb_csv(DEMO_CATALOG))
    return ImportService(session, catalog, JobOutbox())


async def _user(session: AsyncSession, telegram_id: int) -> int:
    return (await UserRepository(session).upsert(telegram_id, first_name=None, language_code=None)).id


async def _rows(session: AsyncSession, model: type, user_id: int) -> int:
    stmt = select(func.count()).select_from(model).where(model.user_id == user_id)  # type: ignore[attr-defined]
    return int(await session.scalar(stmt) or 0)


async def test_zip_import_counts_and_unmatched_csv(
    session: AsyncSession, imports: ImportService, tmp_path
) -> None:
    user_id = await _user(session, 3001)
    zip_path = tmp_path / "export.zip"
    shutil.copy(LETTERBOXD_DEMO_ZIP, zip_path)
    report = await imports.import_letterboxd(user_id, zip_path)
    assert (report.films_in_export, report.matched, report.unmatched) == (17, 15, 2)
    assert (report.ratings, report.watched, report.reviews, report.likes, report.watchlist) == (
        12,
        14,
        4,
        5,
        1,
    )
    assert report.unmatched_csv == str(unmatched_csv_path(zip_path)) == str(tmp_path / "export-unmatched.csv")
    rows = csv.DictReader(Path(report.unmatched_csv).read_text(encoding="utf-8").splitlines())
    names = [row["Name"] for row in rows]
    assert names == ["Film That Does Not Exist", "Untitled Heist Project"]
    assert await _rows(session, UserFilm, user_id) == 15
    assert await _rows(session, Review, user_id) == 4
    texts = list(await session.scalars(select(Review.text).where(Review.user_id == user_id)))
    assert all(text and "<" not in text and "&amp;" not in text for text in texts)


async def test_reimport_and_folder_create_no_duplicates(
    session: AsyncSession, imports: ImportService, tmp_path, letterboxd_demo_dir: Path
) -> None:
    user_id = await _user(session, 3002)
    first = await imports.import_letterboxd(user_id, LETTERBOXD_DEMO_ZIP, unmatched_csv=tmp_path / "u.csv")
    again = await imports.import_letterboxd(user_id, letterboxd_demo_dir, unmatched_csv=tmp_path / "u.csv")
    assert first == again
    assert await _rows(session, UserFilm, user_id) == 15
    assert await _rows(session, Review, user_id) == 4
    assert await session.scalar(
        select(UserFilm.rating).where(UserFilm.user_id == user_id, UserFilm.tmdb_id == 348)
    )


async def test_a_bot_review_survives_a_later_import(
    session: AsyncSession, imports: ImportService, tmp_path
) -> None:
    user_id = await _user(session, 3003)
    await ReviewService(session, JobOutbox(), max_chars=1000).save(user_id, 348, Decimal("3"), "mine")
    await imports.import_letterboxd(user_id, LETTERBOXD_DEMO_ZIP, unmatched_csv=tmp_path / "u.csv")
    text = await session.scalar(select(Review.text).where(Review.user_id == user_id, Review.tmdb_id == 348))
    assert text == "mine"


async def test_broken_export_stores_nothing(session: AsyncSession, imports: ImportService, tmp_path) -> None:
    user_id = await _user(session, 3004)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(LetterboxdFormatError) as excinfo:
        await imports.import_letterboxd(user_id, broken)
    assert str(tmp_path) not in str(excinfo.value)
    assert await _rows(session, UserFilm, user_id) == 0
