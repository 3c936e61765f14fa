"""/stats: every figure of the admin's reply checked against data seeded for it (real PostgreSQL,
the real dispatcher); anyone else gets the unknown-command answer and no figures."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.types import Chat as TelegramChat
from aiogram.types import Message, Update
from aiogram.types import User as TelegramUser
from prometheus_client import CollectorRegistry
from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.handlers.admin import process_started_at
from bot.i18n import make_i18n
from bot.metrics import Metrics
from bot.service import BOT_COMMANDS
from bot.settings import BotSettings, SettingsError, load_settings
from db.models import (
    AvoidTopic,
    CFModelInfo,
    Film,
    Import,
    Recommendation,
    RecommendationItem,
    Review,
    User,
    UserFilm,
)
from tests.bot.conftest import BotHarness, make_harness

ADMIN = 9001
RUSSIAN_ADMIN = 9002
STRANGER = 9003
NOW = dt.datetime.now(dt.UTC)


def ago(**delta: float) -> dt.datetime:
    return NOW - dt.timedelta(**delta)


@pytest.fixture
def english() -> Iterator[None]:
    """bot.texts outside an update: in English (the source)."""
    i18n = make_i18n()
    with i18n.context(), i18n.use_locale("en"):
        yield


@pytest.fixture
async def admin_harness(
    dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[BotHarness]:
    async for h in make_harness(dispatcher, session_factory, admin_telegram_ids=[ADMIN, RUSSIAN_ADMIN]):
        yield h


# --- the seeded data and what /stats must say about it ------------------------------------------


async def add_user(session: AsyncSession, telegram_id: int, **fields: Any) -> int:
    fields.setdefault("created_at", ago(days=30))
    user_id = await session.scalar(
        insert(User).values(telegram_id=telegram_id, first_name="U", **fields).returning(User.id)
    )
    assert user_id is not None
    return int(user_id)


async def add_recommendation(
    session: AsyncSession, user_id: int, film: int, created_at: dt.datetime, items: list[tuple[str, Any]]
) -> None:
    """`items`: (status, status_at) of each pick, in order."""
    rec_id = await session.scalar(
        insert(Recommendation)
        .values(user_id=user_id, strategy="test", created_at=created_at)
        .returning(Recommendation.id)
    )
    slots = ("safe", "adjacent", "wildcard")
    await session.execute(
        insert(RecommendationItem),
        [
            {
                "recommendation_id": rec_id,
                "user_id": user_id,
                "tmdb_id": film,
                "position": position,
                "slot": slots[position],
                "score": 1.0,
                "reason": "",
                "status": status,
                "status_at": status_at,
                "created_at": created_at,
            }
            for position, (status, status_at) in enumerate(items)
        ],
    )


async def add_import(session: AsyncSession, user_id: int, status: str, **fields: Any) -> None:
    await session.execute(
        insert(Import).values(user_id=user_id, chat_id=1, file_name="export.zip", status=status, **fields)
    )


async def add_job(session: AsyncSession, queue: str, status: str) -> None:
    await session.execute(
        text(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, status) "
            "VALUES (:queue, 'test_task', CAST(:status AS procrastinate_job_status))"
        ),
        {"queue": queue, "status": status},
    )


#: Seeded users (the admin who sends /stats is one more: joined now, so active).
USERS = 12
ACTIVE = 8  # 7 seeded + the admin
CF_BUILT_AT = ago(hours=3, minutes=10)


async def seed(session: AsyncSession) -> None:
    """Known data on an empty slate (the deletes are rolled back with the test)."""
    for table in (User, CFModelInfo):
        await session.execute(delete(table))
    await session.execute(text("DELETE FROM procrastinate_jobs"))
    film = await session.scalar(select(Film.tmdb_id).limit(1))
    assert film is not None

    # -- users: which ones are active in the last 7 days, and why (domain.stats.UserCounts)
    await add_user(session, 1)  # idle for 30 days: not active
    await add_user(session, 2, blocked_at=ago(days=1))  # blocked, idle: not active
    await add_user(session, 3, created_at=ago(days=1))  # joined this week: active
    recent = await add_user(session, 4)  # /recommend 2 days ago: active
    await add_recommendation(
        session,
        recent,
        film,
        ago(days=2),
        [("watched", ago(days=2)), ("skipped", ago(days=2)), ("shown", None)],
    )
    old = await add_user(session, 5)  # /recommend and answers 20 days ago: not active
    await add_recommendation(
        session,
        old,
        film,
        ago(days=20),
        [("not_interested", ago(days=20)), ("skipped", ago(days=20)), ("watched", ago(days=20))],
    )
    answered = await add_user(session, 6)  # shown 20 days ago, ✅ yesterday: active
    await add_recommendation(
        session, answered, film, ago(days=20), [("watched", ago(days=1)), ("shown", None), ("shown", None)]
    )
    reviewer = await add_user(session, 7)  # a review saved yesterday: active
    await session.execute(
        insert(Review).values(
            user_id=reviewer,
            tmdb_id=film,
            text="",
            source="bot",
            created_at=ago(days=40),
            updated_at=ago(days=1),
        )
    )
    rater = await add_user(session, 8)  # a film logged yesterday (rated long ago): active
    await session.execute(
        insert(UserFilm).values(
            user_id=rater,
            tmdb_id=film,
            rating=Decimal("4.0"),
            rated_at=ago(days=100),
            source="letterboxd",
            updated_at=ago(days=1),
        )
    )
    avoider = await add_user(session, 9)  # an /avoid topic yesterday: active
    await session.execute(insert(AvoidTopic).values(user_id=avoider, topic="gore", created_at=ago(days=1)))

    # -- imports (domain.stats.ImportCounts)
    importer = await add_user(session, 10)  # imports sent this week: active
    await add_import(
        session, importer, "done", created_at=ago(days=2), finished_at=ago(days=2), report={"matched": 40}
    )
    await add_import(
        session, importer, "cancelled", created_at=ago(days=2), finished_at=ago(days=1), report={"matched": 7}
    )
    # cancelled before its job started: no finished_at, no report; ended at its last change
    await add_import(session, importer, "cancelled", created_at=ago(days=2), updated_at=ago(days=1))
    await add_import(
        session, importer, "failed", created_at=ago(days=3), finished_at=ago(days=3), report={"error": "tmdb"}
    )
    # ended before the window: not counted
    await add_import(
        session, importer, "done", created_at=ago(days=10), finished_at=ago(days=10), report={"matched": 100}
    )
    await add_import(session, importer, "failed", created_at=ago(days=9), finished_at=ago(days=9), report={})
    running = await add_user(session, 11)  # an import running since 8 days ago: in progress, not active
    await add_import(session, running, "running", created_at=ago(days=8), updated_at=ago(days=8))
    await add_user(session, 12, created_at=ago(days=8))  # joined 8 days ago: not active

    # -- job queues (domain.stats.QueueCounts)
    await add_job(session, "imports", "failed")
    await add_job(session, "user", "todo")
    await add_job(session, "user", "todo")
    await add_job(session, "user", "doing")
    await add_job(session, "bulk", "failed")
    await add_job(session, "bulk", "succeeded")  # done: not counted
    await add_job(session, "someday", "todo")  # a queue this version does not know: listed last

    # -- CF models: the newest row is the model
    cf = {"n_ratings": 1, "l2": 1.0, "seconds": 1.0}
    await session.execute(
        insert(CFModelInfo).values(built_at=ago(days=2), n_items=10, n_users=2, n_prior_users=0, **cf)
    )
    await session.execute(
        insert(CFModelInfo).values(built_at=CF_BUILT_AT, n_items=120, n_users=5, n_prior_users=610, **cf)
    )
    await session.commit()


def tmdb_metrics() -> Metrics:
    """A fresh registry: 11 TMDB requests, 4 of them not 2xx (404, 500, two without an answer)."""
    metrics = Metrics(CollectorRegistry())
    requests = metrics.external.requests
    requests.labels("tmdb", "/search/movie", "200").inc(6)
    requests.labels("tmdb", "/movie/{id}", "200").inc(1)
    requests.labels("tmdb", "/movie/{id}", "404").inc(1)
    requests.labels("tmdb", "/discover/movie", "500").inc(1)
    requests.labels("tmdb", "/search/movie", "error").inc(2)
    requests.labels("openai", "/chat/completions", "500").inc(5)  # another service: not counted
    return metrics


def utc(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def expected_figures() -> list[str]:
    """The reply's lines after the title, as the admin reads them (plain text)."""
    return [
        "",
        f"Users: {USERS + 1} in all · active in the last 7 days: {ACTIVE} · blocked the bot: 1",
        "",
        "Picks shown and their answers (✅ watched, ⏭ skipped, 🚫 not interested):",
        # this week: user 4's three picks (✅, ⏭, no answer)
        "• in the last 7 days: 3 — ✅ 1 (33%) · ⏭ 1 (33%) · 🚫 0 (0%) · no answer: 1 (33%)",
        # all nine: ✅ 3, ⏭ 2, 🚫 1, no answer 3
        "• all time: 9 — ✅ 3 (33%) · ⏭ 2 (22%) · 🚫 1 (11%) · no answer: 3 (33%)",
        "",
        "Imports: queued or running now: 1; ended in the last 7 days: finished 1 · stopped 2 · failed 1; "
        "films matched in the finished and stopped ones: 47",
        "",
        "Job queues (waiting · running · failed):",
        "• imports: 0 · 0 · 1",
        "• user: 2 · 1 · 0",
        "• bulk: 0 · 0 · 1",
        "• recommender: 0 · 0 · 0",
        "• someday: 1 · 0 · 0",
        "",
        f"CF model: built 3 h ago ({utc(CF_BUILT_AT)}) · films: 120 · users: 5 · prior users: 610",
        "",
        f"TMDB since this process started ({utc(process_started_at())}): 4 of 11 requests failed (36%). "
        "Failed: no answer, or an HTTP status other than 2xx. Only this process counts; separate "
        "workers and other replicas keep their own figures.",
    ]


async def test_the_admin_gets_every_figure_of_the_seeded_data(admin_harness: BotHarness) -> None:
    async with admin_harness.session_factory() as session:
        await seed(session)
    chat = admin_harness.chat(ADMIN)
    chat.overrides = {**chat.overrides, "metrics": tmdb_metrics()}
    before = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    [reply] = await chat.say("/stats")
    after = dt.datetime.now(dt.UTC)
    title, *figures = reply.split("\n")
    stamp = re.fullmatch(r"📊 Bot figures, (\d{4}-\d\d-\d\d \d\d:\d\d) UTC", title)
    assert stamp is not None, title
    taken = dt.datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC)
    assert before <= taken <= after
    assert figures == expected_figures()


async def test_the_figures_come_in_the_admins_language(admin_harness: BotHarness) -> None:
    async with admin_harness.session_factory() as session:
        await seed(session)
    [reply] = await admin_harness.chat(RUSSIAN_ADMIN, language_code="ru").say("/stats")
    assert reply.startswith("📊 Показатели бота, ")
    assert (
        f"Пользователи: всего {USERS + 1} · активных за последние 7 дней: {ACTIVE} · заблокировали бота: 1"
        in reply
    )
    assert "• за всё время: 9 — ✅ 3 (33%) · ⏭ 2 (22%) · 🚫 1 (11%) · без ответа: 3 (33%)" in reply
    assert "CF-модель: построена 3 ч назад" in reply


async def test_an_empty_bot_says_so(admin_harness: BotHarness) -> None:
    async with admin_harness.session_factory() as session:
        for table in (User, CFModelInfo):
            await session.execute(delete(table))
        await session.execute(text("DELETE FROM procrastinate_jobs"))
        await session.commit()
    chat = admin_harness.chat(ADMIN)
    chat.overrides = {**chat.overrides, "metrics": Metrics(CollectorRegistry())}
    [reply] = await chat.say("/stats")
    lines = reply.split("\n")
    assert "Users: 1 in all · active in the last 7 days: 1 · blocked the bot: 0" in lines
    assert "• in the last 7 days: 0" in lines and "• all time: 0" in lines
    assert (
        "Imports: queued or running now: 0; ended in the last 7 days: finished 0 · stopped 0 · "
        "failed 0; films matched in the finished and stopped ones: 0"
    ) in lines
    assert [line for line in lines if line.startswith("• ") and "·" in line] == [
        "• imports: 0 · 0 · 0",
        "• user: 0 · 0 · 0",
        "• bulk: 0 · 0 · 0",
        "• recommender: 0 · 0 · 0",
    ]
    assert "CF model: none built yet." in lines
    assert f"TMDB since this process started ({utc(process_started_at())}): no requests." in lines


async def test_anyone_else_gets_the_unknown_command_answer(admin_harness: BotHarness, english: None) -> None:
    async with admin_harness.session_factory() as session:
        await seed(session)
    chat = admin_harness.chat(STRANGER)
    assert await chat.say("/stats") == await chat.say("/nosuchcommand") == [texts.unknown_text()]
    ru = admin_harness.chat(STRANGER + 1, language_code="ru")
    assert await ru.say("/stats") == await ru.say("/nosuchcommand")


async def test_an_admin_in_a_group_gets_no_figures(admin_harness: BotHarness, english: None) -> None:
    group = TelegramChat(id=-100777, type="group", title="Film club")
    message = Message(
        message_id=1,
        date=dt.datetime.now(dt.UTC),
        chat=group,
        from_user=TelegramUser(id=ADMIN, is_bot=False, first_name="Ann", language_code="en"),
        text="/stats",
    )
    harness = admin_harness
    await harness.dp.feed_update(harness.bot, Update(update_id=1, message=message), **harness.overrides)
    # an unknown command in a group gets no answer (bot.handlers.group): other bots' commands are common there
    assert harness.bot.session.sent_texts(-100777, plain=True) == []  # type: ignore[attr-defined]


def test_stats_is_not_in_the_command_menu_or_help(english: None) -> None:
    assert "stats" not in {command for command, _ in BOT_COMMANDS}
    assert "/stats" not in texts.commands_help()


@pytest.mark.parametrize(
    ("part", "whole", "percent"), [(0, 0, 0), (1, 3, 33), (2, 3, 67), (1, 8, 13), (1, 200, 1), (4, 11, 36)]
)
def test_shares_are_whole_percent_rounded_half_up(part: int, whole: int, percent: int) -> None:
    assert texts.share(part, whole) == percent


@pytest.mark.parametrize(
    ("age", "shown"),
    [
        (dt.timedelta(seconds=59), "0 min"),
        (dt.timedelta(minutes=119, seconds=59), "119 min"),
        (dt.timedelta(hours=2), "2 h"),
        (dt.timedelta(hours=47, minutes=59), "47 h"),
        (dt.timedelta(hours=48), "2 d"),
        (dt.timedelta(days=9, hours=23), "9 d"),
    ],
)
def test_ages_are_cut_down_to_whole_units(age: dt.timedelta, shown: str, english: None) -> None:
    assert texts.age_text(age) == shown


# --- ADMIN_TELEGRAM_IDS ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ids"), [("", []), ("123", [123]), ("123, 456", [123, 456]), ("7,", [7]), ("[1, 2]", [1, 2])]
)
def test_admin_ids_are_comma_separated_or_a_json_list(
    monkeypatch: pytest.MonkeyPatch, value: str, ids: list[int]
) -> None:
    monkeypatch.setenv("ADMIN_TELEGRAM_IDS", value)
    assert BotSettings(_env_file=None).admin_telegram_ids == ids


def test_a_bad_admin_id_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("ADMIN_TELEGRAM_IDS", "123, ann")
    with pytest.raises(SettingsError, match="ADMIN_TELEGRAM_IDS"):
        load_settings()
