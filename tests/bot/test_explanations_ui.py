"""/recommend's explanations and the clarifying question, through Dispatcher.feed_update on the
real database (demo catalog, no TMDB), with the fake OpenAI server as the chat model."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from aiogram import Dispatcher
from aiogram.types import Message
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.keyboards import ClarifyAnswer
from bot.services import ServiceFactory
from bot.settings import OpenAISettings, Settings
from db.models import Film, RateLimit, RecommendationItem, User
from domain.cf import build_cf_model
from integrations.llm import OpenAIChatModel
from tests.bot.conftest import BotHarness, Chat, make_harness
from tests.domain.helpers import ROMANCE, SCI_FI, new_user, rate
from tests.fakes.openai_server import FAKE_LLM_MARK, FakeOpenAIServer, Knobs

FAKE_KEY = "sk-fake-DO-NOT-LEAK-ui-0f9e8d"
CARD_TITLES = ("🎯 Safe pick", "🧭 Something adjacent", "🎲 Wildcard")
INVALID = "This button is no longer valid."
QUESTION = "One quick question so my picks fit better:"


@pytest.fixture(scope="module")
async def running_server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer(api_key=FAKE_KEY) as fake:
        yield fake


@pytest.fixture
def llm_server(running_server: FakeOpenAIServer) -> FakeOpenAIServer:
    running_server.knobs = Knobs()
    running_server.reset_log()
    return running_server


def with_model(harness: BotHarness, model: OpenAIChatModel | None, *, budget: float = 2.0) -> None:
    """Give the harness's bot a chat model and an explanation budget (seconds)."""
    settings: Settings = harness.overrides["settings"]  # type: ignore[assignment]
    settings = settings.model_copy(
        update={"openai": OpenAISettings(_env_file=None, api_key=None, explanation_budget_seconds=budget)}
    )
    harness.overrides["settings"] = settings
    harness.overrides["service_factory"] = ServiceFactory(settings, None, language_model=model)


@pytest.fixture
async def llm_harness(
    dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession], llm_server: FakeOpenAIServer
) -> AsyncIterator[BotHarness]:
    """The bot on the demo catalog with the fake chat model (budget 2 s)."""
    async with OpenAIChatModel(
        api_key=FAKE_KEY,
        model="fake-chat",
        base_url=llm_server.base_url,
        max_attempts=2,
        backoff_multiplier=0,
    ) as model:
        async for harness in make_harness(dispatcher, session_factory):
            with_model(harness, model)
            yield harness


def cards(replies: list[str]) -> list[str]:
    return [r for r in replies if r.startswith(CARD_TITLES)]


async def review_alien(chat: Chat) -> None:
    await chat.say("/review Alien (1979)")
    await chat.say("5 perfect")


async def shown(harness: BotHarness, telegram_id: int) -> list[tuple[int, tuple[str, ...], int | None]]:
    """(tmdb_id, genres, runtime) of the films shown to a user, in slot order."""
    async with harness.session_factory() as session:
        rows = await session.execute(
            select(Film.tmdb_id, Film.genres, Film.runtime)
            .join(RecommendationItem, RecommendationItem.tmdb_id == Film.tmdb_id)
            .join(User, User.id == RecommendationItem.user_id)
            .where(User.telegram_id == telegram_id)
            .order_by(RecommendationItem.id)
        )
        return [(r.tmdb_id, tuple(r.genres or ()), r.runtime) for r in rows]


# --- explanations -------------------------------------------------------------------------------


async def test_cards_carry_the_models_explanations(
    llm_harness: BotHarness, llm_server: FakeOpenAIServer
) -> None:
    chat = llm_harness.chat(6001)
    await review_alien(chat)

    replies = cards(await chat.say("/recommend"))

    assert len(replies) == 3
    titles = [film for film, _genres, _runtime in await shown(llm_harness, 6001)]
    async with llm_harness.session_factory() as session:
        names = {
            f.tmdb_id: f.title for f in await session.scalars(select(Film).where(Film.tmdb_id.in_(titles)))
        }
    for card, tmdb_id in zip(replies, titles, strict=True):
        assert card.split("\n")[2] == f"{FAKE_LLM_MARK} {names[tmdb_id]}"  # the model's words, per film
    assert llm_server.count("/v1/chat/completions") == 1  # one call for the three picks
    system = llm_server.requests[-1]["messages"][0]["content"]
    assert "in English" in system


async def test_the_picks_after_onboarding_are_explained_by_the_model_too(
    llm_harness: BotHarness, llm_server: FakeOpenAIServer
) -> None:
    chat = llm_harness.chat(6009)
    await chat.say("/recommend")  # a new user: the onboarding grid
    replies = cards(await chat.tap("Show picks"))
    assert len(replies) == 3
    assert all(card.split("\n")[2].startswith(FAKE_LLM_MARK) for card in replies)
    assert llm_server.count("/v1/chat/completions") == 1


async def test_the_model_is_told_the_users_language(
    llm_harness: BotHarness, llm_server: FakeOpenAIServer
) -> None:
    chat = llm_harness.chat(6002, language_code="ru")
    await review_alien(chat)

    replies = await chat.say("/recommend")

    assert any(FAKE_LLM_MARK in r for r in replies)
    assert "in Russian" in llm_server.requests[-1]["messages"][0]["content"]


async def test_without_a_key_the_cards_carry_template_reasons(
    dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession], llm_server: FakeOpenAIServer
) -> None:
    async for harness in make_harness(dispatcher, session_factory):
        with_model(harness, None)
        chat = harness.chat(6003)
        await review_alien(chat)
        replies = cards(await chat.say("/recommend"))

    assert len(replies) == 3
    assert not any(FAKE_LLM_MARK in c for c in replies)
    reasons = [c.split("\n")[2] for c in replies]
    assert all(reasons) and any("Highly rated" in r or "Popular" in r or "gem" in r for r in reasons)
    assert llm_server.count("/v1/chat/completions") == 0


@pytest.mark.parametrize("mode", ["slow", "failing"])
async def test_a_slow_or_failing_model_gives_template_reasons_at_once(
    llm_harness: BotHarness, llm_server: FakeOpenAIServer, mode: str
) -> None:
    chat = llm_harness.chat(6004)
    await review_alien(chat)
    with_model(llm_harness, llm_harness.overrides["service_factory"].language_model, budget=0.3)  # type: ignore[attr-defined]
    if mode == "slow":
        llm_server.knobs.latency_s = 3.0
    else:
        llm_server.knobs.fail_all = True
    started = time.perf_counter()

    replies = cards(await chat.say("/recommend"))

    assert time.perf_counter() - started < 2.0
    assert len(replies) == 3 and not any(FAKE_LLM_MARK in c for c in replies)
    assert all(c.split("\n")[2] for c in replies)
    assert not any("500" in r or "error" in r.lower() for r in replies)


async def test_the_models_text_is_html_escaped(llm_harness: BotHarness, llm_server: FakeOpenAIServer) -> None:
    def inject(answer: dict[str, object]) -> dict[str, object]:
        items = answer["explanations"]
        assert isinstance(items, list)
        items[0]["text"] = "<b>Bold</b> & brave"
        return answer

    llm_server.knobs.chat_edit = inject
    chat = llm_harness.chat(6005)
    await review_alien(chat)

    await chat.say("/recommend")

    raw = [t for t in chat.session.sent_texts(6005) if "Bold" in t]
    assert raw and "&lt;b&gt;Bold&lt;/b&gt; &amp; brave" in raw[0]


# --- the clarifying question --------------------------------------------------------------------


async def _rate(session: AsyncSession, telegram_id: int, ratings: dict[int, str]) -> None:
    await rate(session, await new_user(session, telegram_id), ratings)


@pytest.fixture
async def cf_harness(llm_harness: BotHarness) -> BotHarness:
    """The LLM harness with 20 users in two taste clusters and their CF model, so one rating
    reaches CF neighbours (a personal but weak signal)."""
    async with llm_harness.session_factory() as session:
        for i in range(10):
            seen = SCI_FI[i % 3 :] + ROMANCE[:1]
            await _rate(session, 7_200 + i, {t: ("5" if t in SCI_FI else "1.5") for t in seen})
        for i in range(10):
            await _rate(session, 8_200 + i, dict.fromkeys(ROMANCE[i % 2 :], "4.5"))
        await build_cf_model(session, min_users=2)
        await session.commit()
    return llm_harness


def question_message(chat: Chat) -> Message:
    message = chat.session.last_keyboard_message(chat.user.telegram_id)
    assert message is not None and (message.text or "").startswith(QUESTION)
    return message


def question_message_any(chat: Chat) -> Message:
    """The question message as stored now (also after its buttons were removed)."""
    found = [m for m in chat.session.messages.values() if (m.text or "").startswith(QUESTION)]
    assert found
    assert found[-1].reply_markup is None
    return found[-1]


async def test_a_weak_signal_gets_a_question_and_the_answer_changes_the_picks(cf_harness: BotHarness) -> None:
    asker, skipper = cf_harness.chat(6101), cf_harness.chat(6102)
    async with cf_harness.session_factory() as session:
        for chat in (asker, skipper):
            await _rate(session, chat.user.telegram_id, {348: "5"})  # one film: weak
        await session.commit()

    for chat in (asker, skipper):
        [question] = await chat.say("/recommend")
        assert question.startswith(QUESTION) and "Which genre tonight?" in question
        labels = [b.text for row in question_message(chat).reply_markup.inline_keyboard for b in row]  # type: ignore[union-attr]
        assert labels[0] == "Drama" and labels[-1] == "🎬 Just recommend"
    assert await shown(cf_harness, 6101) == []  # nothing recommended (or stored) yet

    answered = await asker.tap("Drama", message=question_message(asker))
    skipped = await skipper.tap("Just recommend", message=question_message(skipper))

    assert len(cards(answered)) == 3 and len(cards(skipped)) == 3
    assert all(FAKE_LLM_MARK in c for c in cards(answered))  # explained by the model too
    drama = await shown(cf_harness, 6101)
    plain = await shown(cf_harness, 6102)
    assert all("Drama" in genres for _id, genres, _rt in drama)
    assert not all("Drama" in genres for _id, genres, _rt in plain)
    assert [t for t, _g, _r in drama] != [t for t, _g, _r in plain]
    # the question is done: its buttons are gone and a late tap changes nothing
    assert (await asker.tap_data(ClarifyAnswer(index=0).pack(), message=question_message_any(asker))) == [
        INVALID
    ]
    assert len(await shown(cf_harness, 6101)) == 3


async def test_a_strong_signal_gets_picks_at_once(cf_harness: BotHarness) -> None:
    chat = cf_harness.chat(6103)
    async with cf_harness.session_factory() as session:
        await _rate(session, 6103, {348: "5", 679: "5", 78: "4.5", 603: "5", 194: "1", 76: "1.5"})
        await session.commit()

    replies = await chat.say("/recommend")

    assert not any(QUESTION in r for r in replies)
    assert len(cards(replies)) == 3


async def test_forged_stale_and_foreign_answers_are_refused(cf_harness: BotHarness) -> None:
    owner, intruder = cf_harness.chat(6104), cf_harness.chat(6105)
    async with cf_harness.session_factory() as session:
        await _rate(session, 6104, {348: "5"})
        await session.commit()
    await owner.say("/recommend")
    question = question_message(owner)

    for forged in (ClarifyAnswer(index=99).pack(), "clar:-1", "clar:abc", "clar_skip:1"):
        assert await owner.tap_data(forged, message=question) == [INVALID], forged
    assert await intruder.tap_data(ClarifyAnswer(index=0).pack(), message=question) == [INVALID]
    assert await shown(cf_harness, 6104) == [] and await shown(cf_harness, 6105) == []

    [hint] = await owner.say("something romantic")  # text while asked: a hint, the question stays
    assert hint == "Tap one of the answers above, or 🎬 Just recommend."
    replies = await owner.tap("Just recommend", message=question)  # still answerable
    assert len(cards(replies)) == 3


async def test_a_command_leaves_the_question(cf_harness: BotHarness) -> None:
    chat = cf_harness.chat(6106)
    async with cf_harness.session_factory() as session:
        await _rate(session, 6106, {348: "5"})
        await session.commit()
    await chat.say("/recommend")
    question = question_message(chat)

    await chat.say("/help")

    assert await chat.tap_data(ClarifyAnswer(index=0).pack(), message=question) == [INVALID]
    assert await shown(cf_harness, 6106) == []


async def test_asking_again_instead_of_answering_passes_on_the_question(cf_harness: BotHarness) -> None:
    chat = cf_harness.chat(6107)
    async with cf_harness.session_factory() as session:
        await _rate(session, 6107, {348: "5"})  # one film: weak
        await session.commit()
    [first] = await chat.say("/recommend")
    assert first.startswith(QUESTION)
    question = question_message(chat)

    # the question is ignored: recommend at once (a question did not use up the cooldown)
    again = await chat.say("/recommend")

    assert not any(QUESTION in r for r in again)
    assert len(cards(again)) == 3 and len(await shown(cf_harness, 6107)) == 3
    assert await chat.tap_data(ClarifyAnswer(index=0).pack(), message=question) == [INVALID]
    [wait] = await chat.say("/recommend")  # picks did use it up
    assert wait.startswith("Give me a moment: you can ask again in")
    await forget_cooldown(cf_harness)
    [later] = await chat.say("/recommend")  # a new request with a weak signal: asked again
    assert later.startswith(QUESTION)


async def forget_cooldown(harness: BotHarness) -> None:
    """As if the /recommend cooldown had passed."""
    async with harness.session_factory() as session:
        await session.execute(delete(RateLimit))
        await session.commit()
