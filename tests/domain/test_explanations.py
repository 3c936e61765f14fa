"""ExplanationService with OpenAIChatModel against the fake OpenAI server: the model's text is
used when it comes in time and passes the checks; otherwise None (templates), logged once."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.jobs import JobOutbox
from db.repositories.users import UserRepository
from domain.avoid import AvoidService
from domain.entities import FilmInfo, Slot
from domain.explanations import (
    MAX_EXPLANATION_CHARS,
    ExplanationService,
    language_name,
    problem,
    system_prompt,
    user_prompt,
)
from domain.picks import ShownPick
from integrations.llm import OpenAIChatModel
from recommender import Reason, ReasonKind
from tests.fakes.openai_server import FAKE_LLM_MARK, FakeOpenAIServer, Knobs

FAKE_KEY = "sk-fake-DO-NOT-LEAK-expl-3e8f10"
WRONG_KEY = "sk-wrong-DO-NOT-LEAK-expl-99ab21"

PICKS = (
    ShownPick(
        1,
        FilmInfo(679, "Aliens", 1986, genres=("Action", "Thriller", "Science Fiction")),
        Slot.SAFE,
        (
            Reason(ReasonKind.FANS_ALSO_LOVED, ("Alien",)),
            Reason(ReasonKind.SHARED_GENRES, ("Science Fiction",)),
        ),
    ),
    ShownPick(
        2,
        FilmInfo(19, "Metropolis", 1927, genres=("Drama", "Science Fiction")),
        Slot.ADJACENT,
        (Reason(ReasonKind.NEW_DECADE, ("1920s",)), Reason(ReasonKind.SIMILAR_TO, ("Blade Runner",))),
    ),
    ShownPick(
        3,
        FilmInfo(1091, "The Thing", 1982, genres=("Horror", "Mystery")),
        Slot.WILDCARD,
        (Reason(ReasonKind.HIDDEN_GEM), Reason(ReasonKind.HIGHLY_RATED, ("8.0",))),
    ),
)
IDS = [p.film.tmdb_id for p in PICKS]


# --- prompts and checks (pure) ------------------------------------------------------------------


def test_the_prompt_carries_the_true_reasons_and_the_summary() -> None:
    prompt = user_prompt(PICKS, "You love tense science fiction.")
    document = json.loads(prompt[prompt.index("{") :])

    assert document["taste_summary"] == "You love tense science fiction."
    assert [f["tmdb_id"] for f in document["films"]] == IDS
    aliens, metropolis, thing = document["films"]
    assert aliens["title"] == "Aliens" and aliens["year"] == 1986
    assert aliens["reasons"] == [
        "people who loved Alien loved it too",
        "the user rates these genres highly: Science Fiction",
    ]
    assert metropolis["reasons"] == [
        "from a decade the user rarely watches: the 1920s",
        "close to films the user loved: Blade Runner",
    ]
    assert thing["reasons"] == ["a lesser-known film", "highly rated on TMDB (8.0/10)"]
    assert "safest" in aliens["role"] and "wildcard" in thing["role"]
    assert json.loads(user_prompt(PICKS, None)[prompt.index("{") :])["taste_summary"] == "(none yet)"


def test_the_system_prompt_names_the_language_and_the_avoid_topics() -> None:
    prompt = system_prompt("ru", ["gore", "slow romance"])
    assert "in Russian" in prompt
    assert "never mention them" in prompt and "gore; slow romance" in prompt
    assert "never mention them" not in system_prompt("en", [])


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("en", "English"),
        ("es", "Spanish"),
        ("pt_BR", "Portuguese"),
        ("ru", "Russian"),
        ("de", "the language"),
    ],
)
def test_language_name(code: str, name: str) -> None:
    assert language_name(code).startswith(name)


@pytest.mark.parametrize(
    ("text", "topics", "reason"),
    [
        ("Because you loved Alien, this siege in space should grip you.", ["gore"], None),
        ("", [], "empty"),
        ("x" * (MAX_EXPLANATION_CHARS + 1), [], "too_long"),
        ("Its cosine to your taste is high.", [], "technical"),
        ("It scores well with fans of Alien.", [], "technical"),
        ("A low penalty for novelty.", [], "technical"),
        ("Su vector de gusto lo elige.", [], "technical"),
        ("Алгоритм выбрал этот фильм.", [], "technical"),
        ("Plenty of gore, just like Alien.", ["gore"], "avoid_topic"),
        ("A slow, tender romance.", ["slow romance"], "avoid_topic"),
        ("Zombies everywhere.", ["zombie"], "avoid_topic"),
        ("A slow burn with no love story.", ["slow romance"], None),  # not every word of the topic
        ("Ignore the gorgeous sets.", ["gore"], None),  # "gore" does not start a word here
    ],
)
def test_problem(text: str, topics: list[str], reason: str | None) -> None:
    assert problem(text, topics) == reason


# --- the service against the fake server ---------------------------------------------------------


@pytest.fixture(scope="module")
async def running_server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer(api_key=FAKE_KEY) as fake:
        yield fake


@pytest.fixture
def server(running_server: FakeOpenAIServer) -> FakeOpenAIServer:
    running_server.knobs = Knobs()
    running_server.reset_log()
    return running_server


@pytest.fixture
async def model(server: FakeOpenAIServer) -> AsyncIterator[OpenAIChatModel]:
    async with OpenAIChatModel(
        api_key=FAKE_KEY, model="fake-chat", base_url=server.base_url, max_attempts=2, backoff_multiplier=0
    ) as chat:
        yield chat


@pytest.fixture
async def user_id(session: AsyncSession) -> int:
    return (await UserRepository(session).upsert(31_337, first_name=None, language_code="en")).id


class Summaries:
    """Stands in for TasteSummaryService: the stored summary text."""

    def __init__(self, text: str | None) -> None:
        self.text = text
        self.asked: list[int] = []

    async def summary_text(self, user_id: int) -> str | None:
        self.asked.append(user_id)
        return self.text


def service(
    session: AsyncSession, model: Any, *, budget: float = 2.0, summary: str | None = None
) -> ExplanationService:
    return ExplanationService(
        model,
        AvoidService(session, JobOutbox()),
        budget_seconds=budget,
        summaries=Summaries(summary),  # type: ignore[arg-type]
    )


def failures(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if event in r.getMessage()]


async def test_without_a_model_there_is_nothing_to_word(session: AsyncSession, user_id: int) -> None:
    assert await service(session, None).explain(user_id, PICKS, language="en") is None


async def test_the_models_text_is_used_for_every_pick(
    session: AsyncSession, user_id: int, model: OpenAIChatModel, server: FakeOpenAIServer
) -> None:
    await AvoidService(session, JobOutbox()).add(user_id, "gore")
    explanations = service(session, model, summary="You love tense science fiction.")

    texts = await explanations.explain(user_id, PICKS, language="es")

    assert texts == {p.film.tmdb_id: f"{FAKE_LLM_MARK} {p.film.title}" for p in PICKS}
    [request] = server.requests  # one call for the three picks
    system, user = (m["content"] for m in request["messages"])
    assert "in Spanish" in system and "gore" in system
    assert "You love tense science fiction." in user and "people who loved Alien loved it too" in user
    assert request["response_format"]["json_schema"]["name"] == "ExplanationsAnswer"


async def test_a_given_summary_wins_over_the_stored_one(
    session: AsyncSession, user_id: int, model: OpenAIChatModel, server: FakeOpenAIServer
) -> None:
    summaries = Summaries("stored summary")
    explanations = ExplanationService(
        model,
        AvoidService(session, JobOutbox()),
        budget_seconds=2.0,
        summaries=summaries,  # type: ignore[arg-type]
    )

    await explanations.explain(user_id, PICKS, language="en", taste_summary="given summary")

    assert "given summary" in server.requests[0]["messages"][1]["content"]
    assert summaries.asked == []


async def test_a_slow_model_falls_back_within_the_budget_and_is_logged_once(
    session: AsyncSession,
    user_id: int,
    model: OpenAIChatModel,
    server: FakeOpenAIServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.knobs.latency_s = 3.0
    started = time.perf_counter()

    with caplog.at_level(logging.DEBUG):
        texts = await service(session, model, budget=0.3).explain(user_id, PICKS, language="en")

    assert texts is None
    assert time.perf_counter() - started < 1.5
    [failure] = failures(caplog, "explanations_failed")
    assert failure.levelno == logging.WARNING and "over budget" in failure.getMessage()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == [failure]


@pytest.mark.parametrize("mode", ["failing", "dead_key"])
async def test_a_failing_model_falls_back_and_is_logged_once_without_the_key(
    session: AsyncSession, user_id: int, server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    key = WRONG_KEY if mode == "dead_key" else FAKE_KEY
    server.knobs.fail_all = mode == "failing"
    async with OpenAIChatModel(
        api_key=key, base_url=server.base_url, max_attempts=3, backoff_multiplier=0
    ) as chat:
        with caplog.at_level(logging.DEBUG):
            texts = await service(session, chat).explain(user_id, PICKS, language="en")

    assert texts is None
    [failure] = failures(caplog, "explanations_failed")
    assert ("HTTP 500" if mode == "failing" else "HTTP 401") in failure.getMessage()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == [failure]
    everything = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert WRONG_KEY not in everything and FAKE_KEY not in everything and WRONG_KEY[-4:] not in everything


async def test_unusable_texts_fall_back_per_film(
    session: AsyncSession,
    user_id: int,
    model: OpenAIChatModel,
    server: FakeOpenAIServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await AvoidService(session, JobOutbox()).add(user_id, "creature horror")

    def spoil(answer: dict[str, Any]) -> dict[str, Any]:
        aliens, metropolis, thing = answer["explanations"]
        metropolis["text"] = "   "  # empty
        thing["text"] = "Pure creature horror, like Alien."  # an avoid topic
        extra = {"tmdb_id": 603, "text": "The Matrix, which nobody picked."}  # not a pick
        duplicate = {"tmdb_id": aliens["tmdb_id"], "text": "A second text for Aliens."}
        return {"explanations": [aliens, metropolis, thing, extra, duplicate]}

    server.knobs.chat_edit = spoil
    with caplog.at_level(logging.INFO):
        texts = await service(session, model).explain(user_id, PICKS, language="en")

    assert texts == {679: f"{FAKE_LLM_MARK} Aliens"}  # the others get their templates
    [rejected] = failures(caplog, "explanations_rejected")
    message = rejected.getMessage()
    assert "19: 'empty'" in message and "1091: 'avoid_topic'" in message and "603: 'not_a_pick'" in message


async def test_a_technical_text_and_a_missing_film_fall_back(
    session: AsyncSession, user_id: int, model: OpenAIChatModel, server: FakeOpenAIServer
) -> None:
    def spoil(answer: dict[str, Any]) -> dict[str, Any]:
        aliens, metropolis, _thing = answer["explanations"]
        metropolis["text"] = "High cosine similarity to Blade Runner."
        return {"explanations": [aliens, metropolis]}

    server.knobs.chat_edit = spoil

    texts = await service(session, model).explain(user_id, PICKS, language="en")

    assert texts == {679: f"{FAKE_LLM_MARK} Aliens"}


async def test_an_answer_that_breaks_the_schema_falls_back(
    session: AsyncSession, user_id: int, model: OpenAIChatModel, server: FakeOpenAIServer
) -> None:
    server.knobs.chat_content = json.dumps({"explanations": [{"tmdb_id": 679}]})

    assert await service(session, model).explain(user_id, PICKS, language="en") is None
