"""OpenAIChatModel against the fake OpenAI server: structured output, retries, failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr
from structlog.testing import capture_logs

from bot.settings import OpenAISettings
from domain.ports import LanguageModel, LanguageModelError
from integrations.llm import OpenAIChatModel, make_language_model
from tests.fakes.openai_server import FAKE_LLM_MARK, FakeOpenAIServer, Knobs

FAKE_KEY = "sk-fake-DO-NOT-LEAK-chat-5d1e9b"
WRONG_KEY = "sk-wrong-DO-NOT-LEAK-chat-7c3a44"
CHAT_MODEL = "fake-chat-1"
PROMPT = "Explain.\n" + json.dumps(
    {"films": [{"tmdb_id": 348, "title": "Alien"}, {"tmdb_id": 78, "title": "Heat"}]}
)


class Line(BaseModel):
    tmdb_id: int
    text: str


class Lines(BaseModel):
    lines: list[Line]


@pytest.fixture(scope="module")
async def running_server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer(api_key=FAKE_KEY) as fake:
        yield fake


@pytest.fixture
def server(running_server: FakeOpenAIServer) -> FakeOpenAIServer:
    """The module's fake server with default knobs and an empty request log."""
    running_server.knobs = Knobs()
    running_server.reset_log()
    return running_server


def make_model(server: FakeOpenAIServer, **overrides: Any) -> OpenAIChatModel:
    options: dict[str, Any] = {
        "api_key": FAKE_KEY,
        "model": CHAT_MODEL,
        "base_url": server.base_url,
        "timeout_seconds": 5.0,
        "max_attempts": 3,
        "backoff_multiplier": 0,
    }
    return OpenAIChatModel(**(options | overrides))


@pytest.fixture
async def model(server: FakeOpenAIServer) -> AsyncIterator[OpenAIChatModel]:
    async with make_model(server) as chat:
        yield chat


async def ask(model: LanguageModel) -> Lines:
    return await model.structured(system="Be brief.", user=PROMPT, schema=Lines)


async def test_satisfies_the_port(model: OpenAIChatModel) -> None:
    port: LanguageModel = model
    assert port.model == CHAT_MODEL


async def test_one_structured_call_parsed_into_the_schema(
    model: OpenAIChatModel, server: FakeOpenAIServer
) -> None:
    answer = await ask(model)

    assert isinstance(answer, Lines)
    assert [(line.tmdb_id, line.text) for line in answer.lines] == [
        (348, f"{FAKE_LLM_MARK} Alien"),
        (78, f"{FAKE_LLM_MARK} Heat"),
    ]
    [request] = server.requests
    assert server.paths == ["/v1/chat/completions"]
    assert request["model"] == CHAT_MODEL
    assert request["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": PROMPT},
    ]
    response_format = request["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Lines" and response_format["json_schema"]["strict"]


async def test_base_url_with_a_trailing_slash(server: FakeOpenAIServer) -> None:
    async with make_model(server, base_url=server.base_url + "/") as chat:
        await ask(chat)
    assert server.paths == ["/v1/chat/completions"]


async def test_slow_server_times_out_each_attempt(server: FakeOpenAIServer) -> None:
    server.knobs.latency_s = 1.0

    async with make_model(server, timeout_seconds=0.1, max_attempts=2) as chat:
        with pytest.raises(LanguageModelError, match=r"gave up after 2 attempts \(last: APITimeoutError\)"):
            await ask(chat)
    assert server.count("/v1/chat/completions") == 2


async def test_the_callers_budget_cuts_a_slow_call(model: OpenAIChatModel, server: FakeOpenAIServer) -> None:
    server.knobs.latency_s = 2.0

    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await ask(model)
    assert loop.time() - started < 1.0


async def test_failing_server_is_retried_then_given_up(
    model: OpenAIChatModel, server: FakeOpenAIServer
) -> None:
    server.knobs.fail_all = True

    with pytest.raises(LanguageModelError, match=r"gave up after 3 attempts \(last: HTTP 500\)"):
        await ask(model)
    assert server.count("/v1/chat/completions") == 3


async def test_a_429_burst_is_retried(model: OpenAIChatModel, server: FakeOpenAIServer) -> None:
    server.knobs.burst_429 = 2

    answer = await ask(model)

    assert len(answer.lines) == 2
    assert server.count("/v1/chat/completions") == 3


async def test_exhausted_quota_is_not_retried(model: OpenAIChatModel, server: FakeOpenAIServer) -> None:
    server.knobs.quota_exceeded = True

    with pytest.raises(LanguageModelError, match="insufficient_quota"):
        await ask(model)
    assert server.count("/v1/chat/completions") == 1


async def test_dead_key_fails_at_once_without_leaking_it(server: FakeOpenAIServer) -> None:
    with capture_logs() as logs:
        async with make_model(server, api_key=WRONG_KEY) as chat:
            with pytest.raises(LanguageModelError) as caught:
                await ask(chat)

    error = caught.value
    assert "401" in str(error) and "key" in str(error)
    for fragment in (WRONG_KEY, WRONG_KEY[-4:], FAKE_KEY):
        assert fragment not in str(error) and fragment not in repr(error)
        assert fragment not in repr(logs)
    assert error.__cause__ is None and error.__suppress_context__  # the SDK error (masked key) is dropped
    assert server.count("/v1/chat/completions") == 1  # never retried


async def test_connection_errors_are_retried(unused_tcp_port: int) -> None:
    async with OpenAIChatModel(
        api_key=FAKE_KEY,
        base_url=f"http://127.0.0.1:{unused_tcp_port}/v1",
        max_attempts=2,
        backoff_multiplier=0,
    ) as chat:
        with pytest.raises(
            LanguageModelError, match=r"gave up after 2 attempts \(last: APIConnectionError\)"
        ):
            await ask(chat)


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"chat_refusal": "I can't help with that."}, "refused"),
        ({"chat_content": "this is not JSON"}, "does not fit Lines"),
        ({"chat_content": json.dumps({"lines": [{"tmdb_id": "x"}]})}, "does not fit Lines"),
        ({"chat_finish_reason": "length"}, "cut or filtered"),
        ({"chat_finish_reason": "content_filter"}, "cut or filtered"),
    ],
)
async def test_unusable_answers_fail_without_retries(
    model: OpenAIChatModel, server: FakeOpenAIServer, knobs: dict[str, Any], message: str
) -> None:
    for name, value in knobs.items():
        setattr(server.knobs, name, value)

    with pytest.raises(LanguageModelError, match=message):
        await ask(model)
    assert server.count("/v1/chat/completions") == 1


async def test_refuses_an_empty_key() -> None:
    with pytest.raises(LanguageModelError, match="OPENAI_API_KEY"):
        OpenAIChatModel(api_key="")


def test_make_language_model_without_a_key_is_none() -> None:
    assert make_language_model(OpenAISettings(_env_file=None, api_key=None)) is None


async def test_make_language_model_from_settings(server: FakeOpenAIServer) -> None:
    settings = OpenAISettings(
        _env_file=None,
        api_key=SecretStr(FAKE_KEY),
        base_url=server.base_url,
        chat_model="gpt-test-mini",
        max_attempts=1,
    )
    model = make_language_model(settings)

    assert isinstance(model, OpenAIChatModel)
    try:
        assert model.model == "gpt-test-mini"
        await ask(model)
    finally:
        await model.aclose()
    assert server.requests[0]["model"] == "gpt-test-mini"
