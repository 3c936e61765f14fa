"""A process killed in the middle of a flow loses nothing: the real `python -m bot console`
takes each flow to a step and is killed with SIGKILL there; another process (this test's
dispatcher, on the same database) continues the flow from PostgreSQL.

The consoles run at the same time (each takes seconds to start) against a database of their
own, committed for real, so the demo catalog they load touches no other test.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from aiogram import Dispatcher
from aiogram.types import Chat, InlineKeyboardMarkup, Message, User
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.console import LocalSession, UpdateFactory, clock_message_id, console_bot
from bot.database import recreate_database
from bot.fsm import PostgresStorage
from bot.keyboards import ClarifyAnswer, ForgetAnswer, ForgetConfirm, OnboardDone, OnboardFilm
from bot.services import ServiceFactory
from db.models import FsmState, Review, UserFilm
from db.models import User as DbUser
from db.session import create_engine, create_session_factory
from tests.bot.conftest import BotHarness, make_settings

ROOT = Path(__file__).resolve().parents[2]
#: Telegram ids of the users whose console is killed, one per flow step.
REVIEW_RATING, REVIEW_MORE, FORGET, CLARIFY, ONBOARDING = 9101, 9102, 9103, 9104, 9105
#: (lines typed into the console, the FSM state stored once the last line was handled)
SCRIPTS = {
    REVIEW_RATING: (["/review Heat 1995"], "ReviewFlow:rating"),
    REVIEW_MORE: (["/review Alien 1979", "4 first part"], "ReviewFlow:more"),
    FORGET: (["/review Alien 1979", "4 good", "/forget"], "ForgetFlow:confirming"),
    # the in-process worker embeds the review first: with a taste vector the signal is
    # personal but weak, and /recommend asks its question
    CLARIFY: (["/review Alien 1979", "5 great", ":wait 10", "/recommend"], "ClarifyFlow:asked"),
    ONBOARDING: (["/recommend"], "OnboardingFlow:choosing"),
}


@dataclass
class Killed:
    database_url: str
    outputs: dict[int, str]


async def _console_until(url: str, telegram_id: int, lines: list[str], state: str, tmp: Path) -> str:
    """Run a console for `telegram_id` with `lines`; once PostgreSQL holds `state` for that
    chat (the last line was handled and committed), kill it with SIGKILL. Returns its output."""
    script = tmp / f"script-{telegram_id}.txt"
    script.write_text("\n".join([*lines, ":wait 120"]) + "\n", encoding="utf-8")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "WORKER_IN_PROCESS": str(":wait" in " ".join(lines)).lower(),
        "TELEGRAM_BOT_TOKEN": "",
        "TMDB_API_KEY": "",
        "TMDB_READ_ACCESS_TOKEN": "",
        "OPENAI_API_KEY": "",
    }
    log = tmp / f"console-{telegram_id}.log"
    with log.open("wb") as out:
        command = ["-m", "bot", "console", "--telegram-id", str(telegram_id), "--script", str(script)]
        process = await asyncio.create_subprocess_exec(
            sys.executable, *command, cwd=ROOT, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
        engine = create_engine(url, pool_size=1)
        try:
            async with asyncio.timeout(150):
                while await _state(engine, telegram_id) != state:
                    assert process.returncode is None, log.read_text()
                    await asyncio.sleep(0.2)
        finally:
            process.send_signal(signal.SIGKILL)
            await process.wait()
            await engine.dispose()
    return log.read_text()


async def _state(engine: AsyncEngine, telegram_id: int) -> str | None:
    async with engine.connect() as conn:
        return await conn.scalar(select(FsmState.state).where(FsmState.chat_id == telegram_id))


@pytest.fixture(scope="module")
async def killed(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Killed:
    parsed = make_url(database_url)  # named after the test database: parallel runs stay apart
    url = parsed.set(database=f"{parsed.database}_restart").render_as_string(hide_password=False)
    await recreate_database(url, migrated=True)
    tmp = tmp_path_factory.mktemp("consoles")
    # every flow at once (each console finds the catalog empty and loads the demo films: upserts)
    outputs = await asyncio.gather(*(_console_until(url, i, *SCRIPTS[i], tmp) for i in SCRIPTS))
    return Killed(url, dict(zip(SCRIPTS, outputs, strict=True)))


@pytest.fixture
async def after_restart(killed: Killed, dispatcher: Dispatcher) -> AsyncIterator[BotHarness]:
    """This process, continuing on the killed consoles' database (committed sessions)."""
    engine = create_engine(killed.database_url, pool_size=2)
    factory = create_session_factory(engine)
    settings = make_settings()
    dispatcher.fsm.storage = PostgresStorage(factory)
    overrides: dict[str, object] = {
        "settings": settings,
        "session_factory": factory,
        "service_factory": ServiceFactory(settings, None),
    }
    bot = console_bot(first_message_id=clock_message_id())  # Telegram's ids only grow
    try:
        async with bot:
            assert isinstance(bot.session, LocalSession)
            yield BotHarness(dispatcher, bot, factory, overrides, UpdateFactory(bot.session))
    finally:
        await engine.dispose()


async def fsm_data(factory: async_sessionmaker[AsyncSession], telegram_id: int) -> dict[str, object]:
    async with factory() as session:
        return dict(await session.scalar(select(FsmState.data).filter_by(chat_id=telegram_id)) or {})


async def tap_data(harness: BotHarness, telegram_id: int, message_id: int, data: str) -> list[str]:
    """Tap a button of a message the killed console sent (known by its id only)."""
    chat = harness.chat(telegram_id)
    message = Message(
        message_id=message_id,
        date=0,  # type: ignore[arg-type]
        chat=Chat(id=telegram_id, type="private"),
        from_user=User(id=1, is_bot=True, first_name="WhatToWatch"),
        text="…",
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[]),
    )
    chat.session.messages[(telegram_id, message_id)] = message
    return await chat.tap_data(data, message=message)


async def review_of(harness: BotHarness, telegram_id: int) -> Review:
    async with harness.session_factory() as session:
        stmt = (
            select(Review).join(DbUser, DbUser.id == Review.user_id).where(DbUser.telegram_id == telegram_id)
        )
        return (await session.scalars(stmt)).one()


async def test_killed_at_the_rating_step(after_restart: BotHarness, killed: Killed) -> None:
    assert "How many stars?" in killed.outputs[REVIEW_RATING]  # the console really got there
    [saved] = await after_restart.chat(REVIEW_RATING).say("3.5 the heist, the diner scene")
    assert "Saved" in saved and "Heat" in saved
    review = await review_of(after_restart, REVIEW_RATING)
    assert review.rating == Decimal("3.5") and review.text == "the heist, the diner scene"


async def test_killed_while_collecting_a_long_review(after_restart: BotHarness) -> None:
    [added] = await after_restart.chat(REVIEW_MORE).say("second part")
    assert "Added" in added
    review = await review_of(after_restart, REVIEW_MORE)
    assert review.text == "first part\nsecond part"


async def test_killed_while_asking_to_forget(after_restart: BotHarness) -> None:
    data = await fsm_data(after_restart.session_factory, FORGET)
    nonce = str(data["forget_nonce"])
    yes = ForgetConfirm(answer=ForgetAnswer.YES, nonce=nonce).pack()
    replies = await tap_data(after_restart, FORGET, 1, yes)  # the nonce, not the message, is checked
    assert any("deleted" in r.lower() for r in replies)
    async with after_restart.session_factory() as session:
        assert await session.scalar(select(DbUser.id).where(DbUser.telegram_id == FORGET)) is None


async def test_killed_while_the_clarifying_question_is_shown(after_restart: BotHarness) -> None:
    data = await fsm_data(after_restart.session_factory, CLARIFY)
    assert data.get("kind") and data.get("options"), data
    question_id = int(str(data["message_id"]))
    replies = await tap_data(after_restart, CLARIFY, question_id, ClarifyAnswer(index=0).pack())
    assert any("🎯" in r for r in replies), replies


async def test_killed_during_onboarding(after_restart: BotHarness) -> None:
    data = await fsm_data(after_restart.session_factory, ONBOARDING)
    films = data["films"]
    assert isinstance(films, list) and films
    grid_id = int(str(data["message_id"]))
    first_film = int(films[0][0])
    await tap_data(after_restart, ONBOARDING, grid_id, OnboardFilm(tmdb_id=first_film).pack())
    replies = await tap_data(after_restart, ONBOARDING, grid_id, OnboardDone().pack())
    assert any("🎯" in r for r in replies), replies
    async with after_restart.session_factory() as session:
        liked = await session.scalar(
            select(UserFilm.liked)
            .join(DbUser, DbUser.id == UserFilm.user_id)
            .where(DbUser.telegram_id == ONBOARDING, UserFilm.tmdb_id == first_film)
        )
        assert liked is True
