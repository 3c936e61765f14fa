"""FeedbackService on the real PostgreSQL: a ✅ / ⏭ / 🚫 answer touches only the user's own pick;
↩️ takes it back within the window, unsets 🚫 only when that tap set it, and never touches
another user's pick."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import DEMO_CATALOG
from bot.jobs import JobOutbox
from db.models import RecommendationItem, UserFilm
from db.repositories.library import LibraryRepository
from db.repositories.recommendations import NewItem, RecommendationRepository
from domain.catalog import CatalogService
from domain.entities import ItemStatus
from domain.feedback import UNDO_WINDOW, FeedbackService, UndoOutcome
from domain.picks import Feedback
from domain.reviews import ReviewService
from integrations.tmdb_csv import read_tmdb_csv
from tests.domain.helpers import new_user

ALIEN, ALIENS, MATRIX = 348, 679, 603


@pytest.fixture
async def catalog(session: AsyncSession) -> CatalogService:
    catalog = CatalogService(session, None, ttl=dt.timedelta(days=1))
    await catalog.store(read_tmdb_csv(DEMO_CATALOG))
    return catalog


async def _picks(session: AsyncSession, user_id: int, *tmdb_ids: int) -> list[int]:
    """Store a recommendation of these films; their item ids."""
    items = await RecommendationRepository(session).create(
        user_id, "test", [NewItem(t, "safe", 1.0, "") for t in tmdb_ids]
    )
    return [item.id for item in items]


async def _item(session: AsyncSession, item_id: int) -> RecommendationItem:
    item = await session.get(RecommendationItem, item_id, populate_existing=True)
    assert item is not None
    return item


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def test_undo_not_interested_makes_the_film_recommendable_again(
    session: AsyncSession, catalog: CatalogService
) -> None:
    user = await new_user(session, 9_201)
    [item_id] = await _picks(session, user, MATRIX)
    assert await FeedbackService(session, JobOutbox()).answer(user, item_id, ItemStatus.NOT_INTERESTED) is (
        Feedback.UPDATED
    )
    library = LibraryRepository(session)
    assert MATRIX in await library.seen_ids(user)
    jobs = JobOutbox()

    undo = await FeedbackService(session, jobs).undo(user, item_id, _now())
    assert (undo.outcome, undo.status, undo.tmdb_id) == (
        UndoOutcome.UNDONE,
        ItemStatus.NOT_INTERESTED,
        MATRIX,
    )
    item = await _item(session, item_id)
    assert (item.status, item.status_at) == ("shown", None)
    assert MATRIX not in await library.seen_ids(user)
    # the 🚫 tap made the log row and it says nothing else now: gone
    assert await session.scalar(select(UserFilm).filter_by(user_id=user, tmdb_id=MATRIX)) is None
    assert jobs.user_ids == {user}
    # a second undo: nothing left to undo
    assert (
        await FeedbackService(session, jobs).undo(user, item_id, _now())
    ).outcome is UndoOutcome.NOTHING_TO_UNDO


async def test_undo_not_interested_keeps_the_rest_of_the_log_row(
    session: AsyncSession, catalog: CatalogService
) -> None:
    user = await new_user(session, 9_202)
    library = LibraryRepository(session)
    await library.like(user, MATRIX, source="bot")  # liked at onboarding: still recommendable
    [item_id] = await _picks(session, user, MATRIX)
    await FeedbackService(session, JobOutbox()).answer(user, item_id, ItemStatus.NOT_INTERESTED)

    assert (
        await FeedbackService(session, JobOutbox()).undo(user, item_id, _now())
    ).outcome is UndoOutcome.UNDONE
    row = await session.scalar(
        select(UserFilm).filter_by(user_id=user, tmdb_id=MATRIX).execution_options(populate_existing=True)
    )
    assert row is not None and row.liked and not row.not_interested


async def test_another_not_interested_answer_keeps_the_flag(
    session: AsyncSession, catalog: CatalogService
) -> None:
    """Two cards of the same film (the first left unanswered past the repeat window) both got 🚫:
    undoing one leaves the film 🚫, as the other answer says."""
    user = await new_user(session, 9_203)
    [old] = await _picks(session, user, MATRIX)
    [new] = await _picks(session, user, MATRIX)
    answers = FeedbackService(session, JobOutbox())
    await answers.answer(user, new, ItemStatus.NOT_INTERESTED)
    await answers.answer(user, old, ItemStatus.NOT_INTERESTED)

    assert (await FeedbackService(session, JobOutbox()).undo(user, old, _now())).outcome is UndoOutcome.UNDONE
    assert (await _item(session, old)).status == "shown"
    assert MATRIX in await LibraryRepository(session).seen_ids(user)


async def test_too_late_changes_nothing(session: AsyncSession, catalog: CatalogService) -> None:
    user = await new_user(session, 9_204)
    [item_id] = await _picks(session, user, MATRIX)
    await FeedbackService(session, JobOutbox()).answer(user, item_id, ItemStatus.NOT_INTERESTED)
    answered_at = (await _item(session, item_id)).status_at
    assert answered_at is not None
    jobs = JobOutbox()
    service = FeedbackService(session, jobs)

    late = await service.undo(user, item_id, answered_at + UNDO_WINDOW + dt.timedelta(seconds=1))
    assert late.outcome is UndoOutcome.TOO_LATE
    item = await _item(session, item_id)
    assert (item.status, item.status_at) == ("not_interested", answered_at)
    assert MATRIX in await LibraryRepository(session).seen_ids(user)
    assert not jobs
    # exactly at the end of the window it still works
    assert (await service.undo(user, item_id, answered_at + UNDO_WINDOW)).outcome is UndoOutcome.UNDONE


async def test_feedback_on_another_users_item_is_not_found(
    session: AsyncSession, catalog: CatalogService
) -> None:
    owner, intruder = await new_user(session, 9_209), await new_user(session, 9_210)
    [item_id] = await _picks(session, owner, MATRIX)
    answers = FeedbackService(session, JobOutbox())
    assert await answers.answer(intruder, item_id, ItemStatus.NOT_INTERESTED) is Feedback.NOT_FOUND
    assert await answers.answer(owner, item_id, ItemStatus.SKIPPED) is Feedback.UPDATED


async def test_another_users_item_is_not_found(session: AsyncSession, catalog: CatalogService) -> None:
    owner, intruder = await new_user(session, 9_205), await new_user(session, 9_206)
    [item_id] = await _picks(session, owner, MATRIX)
    await FeedbackService(session, JobOutbox()).answer(owner, item_id, ItemStatus.NOT_INTERESTED)
    jobs = JobOutbox()

    undo = await FeedbackService(session, jobs).undo(intruder, item_id, _now())
    assert (undo.outcome, undo.tmdb_id) == (UndoOutcome.NOT_FOUND, None)
    assert (await _item(session, item_id)).status == "not_interested"
    assert MATRIX in await LibraryRepository(session).seen_ids(owner)
    assert not jobs
    assert (
        await FeedbackService(session, jobs).undo(owner, 2**31 - 1, _now())
    ).outcome is UndoOutcome.NOT_FOUND


async def test_undo_skip_and_unanswered(session: AsyncSession, catalog: CatalogService) -> None:
    user = await new_user(session, 9_207)
    skipped, untouched = await _picks(session, user, MATRIX, ALIENS)
    await FeedbackService(session, JobOutbox()).answer(user, skipped, ItemStatus.SKIPPED)
    jobs = JobOutbox()
    service = FeedbackService(session, jobs)

    undo = await service.undo(user, skipped, _now())
    assert (undo.outcome, undo.status) == (UndoOutcome.UNDONE, ItemStatus.SKIPPED)
    assert (await _item(session, skipped)).status == "shown"
    assert not jobs  # a skip says nothing about taste
    assert (await service.undo(user, untouched, _now())).outcome is UndoOutcome.NOTHING_TO_UNDO


async def test_undo_watched_keeps_a_rating_already_given(
    session: AsyncSession, catalog: CatalogService
) -> None:
    user = await new_user(session, 9_208)
    [item_id] = await _picks(session, user, ALIEN)
    await FeedbackService(session, JobOutbox()).answer(user, item_id, ItemStatus.WATCHED)
    await ReviewService(session, JobOutbox(), max_chars=1000).save(
        user, ALIEN, Decimal("4"), "tense", recommendation_item_id=item_id
    )

    undo = await FeedbackService(session, JobOutbox()).undo(user, item_id, _now())
    assert (undo.outcome, undo.status) == (UndoOutcome.UNDONE, ItemStatus.WATCHED)
    assert (await _item(session, item_id)).status == "shown"
    rating = await session.scalar(select(UserFilm.rating).filter_by(user_id=user, tmdb_id=ALIEN))
    assert rating == Decimal("4.0")
