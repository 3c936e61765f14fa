"""ProfileService: the /profile view, the /export CSV, /forget and the /language choice, on the
real database. A user only ever reads or deletes their own rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import DEMO_CATALOG
from bot.jobs import JobOutbox
from db.models import Base, Import, Review, TasteSummary, User, UserFilm
from db.repositories.library import LibraryRepository
from db.repositories.profile import ProfileRepository, SummaryRow
from db.repositories.recommendations import NewItem, RecommendationRepository
from db.repositories.users import UserRepository
from domain.avoid import AvoidService
from domain.catalog import CatalogService
from domain.entities import ItemStatus, Source
from domain.profile import EXPORT_COLUMNS, ProfileService
from domain.reviews import ReviewService
from integrations.tmdb_csv import read_tmdb_csv

ALIEN, ALIENS, AMELIE, HEAT, SOLARIS = 348, 679, 194, 949, 593


def test_every_table_that_points_at_users_deletes_with_the_user() -> None:
    """/forget deletes the users row; that is complete only while every user-owned table,
    including ones added later, references users ON DELETE CASCADE."""
    to_users = [
        f"{table.name}.{fk.parent.name}"
        for table in Base.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table.name == "users"
    ]
    assert {"user_films.user_id", "reviews.user_id", "taste_summaries.user_id"} <= set(to_users)
    not_cascading = [
        f"{table.name}.{fk.parent.name}"
        for table in Base.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table.name == "users" and fk.ondelete != "CASCADE"
    ]
    assert not_cascading == []


async def seed(session: AsyncSession, telegram_id: int, *, topic: str) -> tuple[int, JobOutbox]:
    """A user with ratings, a review, a shown-and-skipped pick, an avoid topic and a summary."""
    user = await UserRepository(session).upsert(telegram_id, first_name="Ann", language_code="en")
    jobs = JobOutbox()
    library = LibraryRepository(session)
    await library.rate(user.id, ALIENS, Decimal("4"), source=Source.BOT)
    await library.rate(user.id, AMELIE, Decimal("2.5"), source=Source.LETTERBOXD)
    await ReviewService(session, jobs, max_chars=1000).save(
        user.id, ALIEN, Decimal("4.5"), 'Dread, "quoted"\nand a comma, too'
    )
    recommendations = RecommendationRepository(session)
    items = await recommendations.create(
        user.id,
        "hybrid",
        [
            NewItem(HEAT, "safe", 1.0, "Because you loved Aliens."),
            NewItem(SOLARIS, "wildcard", 0.5, "A gem."),
        ],
    )
    await recommendations.set_status(items[0].id, user.id, ItemStatus.SKIPPED)
    await AvoidService(session, jobs).add(user.id, topic)
    await ProfileRepository(session).save_summary(user.id, SummaryRow("Rated 3 films.", "template", "en", 0))
    await session.commit()
    return user.id, jobs


@pytest.fixture
async def catalog(session: AsyncSession) -> None:
    await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(read_tmdb_csv(DEMO_CATALOG))
    await session.commit()


async def test_export_is_one_csv_with_a_kind_column_and_only_this_users_rows(
    session: AsyncSession, catalog: None
) -> None:
    ann, jobs = await seed(session, 6_001, topic="gore")
    await seed(session, 6_002, topic="slow romance")  # someone else
    export = await ProfileService(session, jobs).export(ann, 6_001, today=dt.date(2026, 11, 21))

    assert export.file_name == "whattowatch-6001-2026-11-21.csv"
    assert export.data.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets read it as UTF-8
    rows = list(csv.DictReader(io.StringIO(export.data.decode("utf-8-sig"))))
    assert tuple(rows[0].keys()) == EXPORT_COLUMNS
    assert export.counts == {
        "rating": 3,
        "review": 1,
        "recommendation": 2,
        "feedback": 1,
        "avoid_topic": 1,
        "taste_summary": 1,
    }
    assert export.rows == len(rows) == 9
    by_kind = {(r["kind"], r["tmdb_id"]): r for r in rows}
    assert by_kind[("rating", str(AMELIE))]["rating"] == "2.5"
    assert by_kind[("rating", str(AMELIE))]["source"] == "letterboxd"
    assert by_kind[("rating", str(ALIEN))]["watched"] == "true"
    review = by_kind[("review", str(ALIEN))]
    assert (
        review["text"] == 'Dread, "quoted"\nand a comma, too'
        and review["title"] == "Alien"
        and review["year"] == "1979"
    )
    assert by_kind[("recommendation", str(HEAT))]["text"] == "Because you loved Aliens."
    assert by_kind[("feedback", str(HEAT))]["status"] == "skipped"
    assert dt.datetime.fromisoformat(by_kind[("feedback", str(HEAT))]["date"]).tzinfo is not None
    assert [r["text"] for r in rows if r["kind"] == "avoid_topic"] == ["gore"]  # not "slow romance"


async def test_export_of_a_new_user_is_empty(session: AsyncSession) -> None:
    user = await UserRepository(session).upsert(6_003, first_name=None, language_code=None)
    export = await ProfileService(session, JobOutbox()).export(user.id, 6_003)
    assert export.rows == 0 and export.data.decode("utf-8-sig").strip() == ",".join(EXPORT_COLUMNS)


async def _owned(session: AsyncSession, user_id: int) -> dict[str, int]:
    counts = {}
    for table in Base.metadata.sorted_tables:
        if "user_id" in table.c:
            stmt = select(func.count()).select_from(table).where(table.c.user_id == user_id)
            counts[table.name] = int(await session.scalar(stmt) or 0)
    return counts


async def test_forget_deletes_every_row_of_the_user_and_nobody_elses(
    session: AsyncSession, catalog: None
) -> None:
    ann, jobs = await seed(session, 6_011, topic="gore")
    bob, _ = await seed(session, 6_012, topic="gore")
    session.add(Import(user_id=ann, chat_id=6_011, file_name="letterboxd.zip", status="done"))
    await session.commit()
    before = await _owned(session, ann)
    assert before["user_films"] == 3 and before["imports"] == 1 and before["taste_summaries"] == 1
    bob_before = await _owned(session, bob)

    assert await ProfileService(session, jobs).forget(ann) is True
    await session.commit()

    assert set((await _owned(session, ann)).values()) == {0}
    assert await session.get(User, ann, populate_existing=True) is None
    assert await _owned(session, bob) == bob_before
    assert await ProfileService(session, jobs).forget(ann) is False  # already gone
    # the same Telegram account starts fresh
    again = await UserRepository(session).upsert(6_011, first_name="Ann", language_code="en")
    assert again.id != ann and again.language is None
    assert (
        await session.scalar(select(func.count()).select_from(Review).where(Review.user_id == again.id)) == 0
    )


async def test_language_choice_is_stored_and_unknown_codes_are_refused(session: AsyncSession) -> None:
    user = await UserRepository(session).upsert(6_021, first_name=None, language_code="de")
    jobs = JobOutbox()
    service = ProfileService(session, jobs)
    assert await service.set_language(user.id, "xx") is False
    assert jobs.summary_user_ids == set()
    assert await service.set_language(user.id, "ru") is True
    assert jobs.summary_user_ids == {user.id}  # the summary is worded again in Russian
    assert await ProfileRepository(session).languages(user.id) == ("ru", "de")
    # the upsert on every update keeps the choice
    again = await UserRepository(session).upsert(6_021, first_name="Ann", language_code="en")
    assert again.language == "ru"


async def test_a_rating_saved_without_a_text_is_not_counted_as_a_review(
    session: AsyncSession, catalog: None
) -> None:
    """/profile's "N reviews" and /start's counts are the reviews the user wrote: "Save without
    a review" stores a rating, not a review."""
    ann, jobs = await seed(session, 6_041, topic="gore")
    await ReviewService(session, jobs, max_chars=1000).save(ann, HEAT, Decimal("3"), "")
    await session.commit()
    service = ProfileService(session, jobs)
    view = await service.profile(ann, language="en")
    assert view.stats.rated == 4 and view.stats.reviews == 1
    summary = await service.summary(ann)
    assert summary.rated == 4 and summary.reviews == 1
    assert await session.scalar(select(func.count()).where(Review.user_id == ann)) == 2  # both stored


async def test_profile_view_shows_the_model_summary_only_in_its_language(
    session: AsyncSession, catalog: None
) -> None:
    ann, jobs = await seed(session, 6_031, topic="gore")
    repo = ProfileRepository(session)
    service = ProfileService(session, jobs)
    view = await service.profile(ann, language="en")
    assert view.stats.rated == 3 and view.stats.reviews == 1 and view.avoid_topics == ("gore",)
    assert view.worded_summary is None  # a template summary: the bot renders the stats itself

    await repo.save_summary(ann, SummaryRow("Tu amas el terror espacial.", "llm", "es", 1))
    assert (await service.profile(ann, language="es")).worded_summary == "Tu amas el terror espacial."
    assert (await service.profile(ann, language="en")).worded_summary is None
    assert await session.get(TasteSummary, ann) is not None
    assert (
        await session.scalar(select(func.count()).select_from(UserFilm).where(UserFilm.user_id == ann)) == 3
    )
