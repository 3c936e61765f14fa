"""The fake OpenAI server answers in the real API's shapes (checked over plain HTTP, not the SDK)."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterator
from typing import Literal

import httpx
import pytest
from openai.lib._parsing._completions import type_to_response_format_param
from pydantic import BaseModel, ConfigDict

from tests.fakes.openai_server import FAKE_LLM_MARK, FakeOpenAIServer, Knobs, fake_structured, fake_vector

KEY = "sk-fake-server-test-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
MODEL = "text-embedding-3-small"


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        yield fake


@pytest.fixture
async def http(server: FakeOpenAIServer) -> AsyncIterator[httpx.AsyncClient]:
    server.reset_log()
    async with httpx.AsyncClient(base_url=server.base_url, headers=AUTH) as client:
        yield client


async def test_base_url_ends_with_v1(server: FakeOpenAIServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.base_url.endswith("/v1")


async def test_embeddings_float_shape(http: httpx.AsyncClient, server: FakeOpenAIServer) -> None:
    body = {"model": MODEL, "input": ["a", "b"], "dimensions": 384}
    response = await http.post("/embeddings", json=body)

    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"object", "data", "model", "usage"}
    assert data["object"] == "list" and data["model"] == MODEL
    assert [item["index"] for item in data["data"]] == [0, 1]
    assert all(item["object"] == "embedding" for item in data["data"])
    assert data["data"][1]["embedding"] == fake_vector(MODEL, "b", 384)
    assert set(data["usage"]) == {"prompt_tokens", "total_tokens"}
    assert server.requests == [body]


async def test_embeddings_base64_is_float32(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/embeddings", json={"model": MODEL, "input": "a", "dimensions": 8, "encoding_format": "base64"}
    )

    raw = base64.b64decode(response.json()["data"][0]["embedding"])
    decoded = struct.unpack("<8f", raw)
    assert decoded == pytest.approx(fake_vector(MODEL, "a", 8), abs=1e-6)


async def test_default_dimensions_are_the_models(http: httpx.AsyncClient) -> None:
    response = await http.post("/embeddings", json={"model": MODEL, "input": "a"})

    assert len(response.json()["data"][0]["embedding"]) == 1536


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": MODEL, "input": ""}, 400, "input"),
        ({"model": MODEL, "input": []}, 400, "input"),
        ({"model": MODEL, "input": "a", "dimensions": 0}, 400, "dimensions"),
        ({"model": "text-embedding-ada-002", "input": "a", "dimensions": 384}, 400, "dimensions"),
        ({"input": "a"}, 400, "model"),
        ({"model": "gpt-nope", "input": "a"}, 404, None),
    ],
)
async def test_invalid_requests(
    http: httpx.AsyncClient, body: dict[str, object], status: int, param: str
) -> None:
    response = await http.post("/embeddings", json=body)

    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param


async def test_wrong_or_missing_key_is_401(server: FakeOpenAIServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        missing = await client.post("/embeddings", json={"model": MODEL, "input": "a"})
        wrong = await client.post(
            "/embeddings",
            json={"model": MODEL, "input": "a"},
            headers={"Authorization": "Bearer sk-wrong-abcdefghijklmnop"},
        )

    assert missing.status_code == wrong.status_code == 401
    error = wrong.json()["error"]
    assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
    assert "sk-wrong-abcdefghijklmnop" not in error["message"] and "mnop" in error["message"]


async def test_knobs(http: httpx.AsyncClient, server: FakeOpenAIServer) -> None:
    body = {"model": MODEL, "input": "a"}
    server.knobs.burst_429 = 1
    try:
        limited = await http.post("/embeddings", json=body)
        after = await http.post("/embeddings", json=body)
        server.knobs.fail_all = True
        failed = await http.post("/embeddings", json=body)
    finally:
        server.knobs.fail_all = False

    assert limited.status_code == 429 and limited.headers["Retry-After"] == "0"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert after.status_code == 200
    assert failed.status_code == 500 and failed.json()["error"]["type"] == "server_error"
    assert server.count() == 3


# --- chat completions ------------------------------------------------------------------------

CHAT_MODEL = "gpt-4o-mini"


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tmdb_id: int
    text: str
    stars: float | None
    mood: Literal["calm", "tense"]


class Notes(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notes: list[Note]
    headline: str
    ok: bool


def strict_format(model: type[BaseModel]) -> dict[str, object]:
    """What the SDK's `chat.completions.parse(response_format=model)` sends."""
    return type_to_response_format_param(model)  # type: ignore[return-value]


def chat_body(prompt: str, **extra: object) -> dict[str, object]:
    return {
        "model": CHAT_MODEL,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt}],
        **extra,
    }


PROMPT = "Explain.\n" + json.dumps(
    {
        "summary": "likes space",
        "films": [{"tmdb_id": 348, "title": "Alien"}, {"tmdb_id": 78, "title": "Blade Runner"}],
    }
)


async def test_chat_structured_answer_fits_the_schema_and_comes_from_the_prompt(
    http: httpx.AsyncClient, server: FakeOpenAIServer
) -> None:
    response = await http.post(
        "/chat/completions", json=chat_body(PROMPT, response_format=strict_format(Notes))
    )

    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion" and data["model"] == CHAT_MODEL
    [choice] = data["choices"]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    parsed = Notes.model_validate_json(choice["message"]["content"])  # valid against the schema
    assert [n.tmdb_id for n in parsed.notes] == [348, 78]  # one item per film of the prompt, ids copied
    assert [n.text for n in parsed.notes] == [f"{FAKE_LLM_MARK} Alien", f"{FAKE_LLM_MARK} Blade Runner"]
    assert parsed.headline.startswith(FAKE_LLM_MARK) and "Explain." in parsed.headline
    assert (
        data["usage"]["total_tokens"] == data["usage"]["prompt_tokens"] + data["usage"]["completion_tokens"]
    )
    assert server.count("/v1/chat/completions") == 1


async def test_chat_without_a_schema_answers_text(http: httpx.AsyncClient) -> None:
    response = await http.post("/chat/completions", json=chat_body("hello there"))

    assert response.json()["choices"][0]["message"]["content"] == f"{FAKE_LLM_MARK} hello there"


def test_fake_structured_without_records_uses_the_prompt() -> None:
    schema = {
        "type": "object",
        "properties": {"summary": {"type": "string"}, "count": {"type": "integer", "minimum": 1}},
    }
    assert fake_structured(schema, "You like slow science fiction.") == {
        "summary": f"{FAKE_LLM_MARK} You like slow science fiction.",
        "count": 1,
    }


async def test_chat_knobs_shape_the_answer(http: httpx.AsyncClient, server: FakeOpenAIServer) -> None:
    body = chat_body(PROMPT, response_format=strict_format(Notes))
    try:
        server.knobs.chat_edit = lambda answer: {**answer, "headline": "edited"}
        edited = (await http.post("/chat/completions", json=body)).json()
        server.knobs.chat_edit = None
        server.knobs.chat_content = "not json"
        verbatim = (await http.post("/chat/completions", json=body)).json()
        server.knobs.chat_content = None
        server.knobs.chat_refusal = "I can't help with that."
        refused = (await http.post("/chat/completions", json=body)).json()
    finally:
        server.knobs = Knobs()

    assert json.loads(edited["choices"][0]["message"]["content"])["headline"] == "edited"
    assert verbatim["choices"][0]["message"]["content"] == "not json"
    message = refused["choices"][0]["message"]
    assert message["content"] is None and message["refusal"] == "I can't help with that."


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": CHAT_MODEL, "messages": []}, "messages"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": CHAT_MODEL, "messages": [{"role": "robot", "content": "hi"}]}, "messages"),
        (chat_body("hi", response_format={"type": "xml"}), "response_format"),
        (
            chat_body(
                "hi",
                response_format={
                    "type": "json_schema",
                    "json_schema": {  # strict, but the object is open and `b` is not required
                        "name": "Loose",
                        "strict": True,
                        "schema": {
                            "type": "object",
                            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                            "required": ["a"],
                        },
                    },
                },
            ),
            "response_format",
        ),
    ],
)
async def test_chat_invalid_requests(http: httpx.AsyncClient, body: dict[str, object], param: str) -> None:
    response = await http.post("/chat/completions", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


async def test_chat_failure_modes(server: FakeOpenAIServer) -> None:
    body = chat_body("hi")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        wrong_key = await client.post(
            "/chat/completions", json=body, headers={"Authorization": "Bearer sk-wrong-abcdefghijklmnop"}
        )
        server.knobs.fail_all = True
        try:
            failing = await client.post("/chat/completions", json=body, headers=AUTH)
        finally:
            server.knobs.fail_all = False
        server.knobs.latency_s = 0.3
        try:
            with pytest.raises(httpx.ReadTimeout):  # slow mode: longer than the client waits
                await client.post("/chat/completions", json=body, headers=AUTH, timeout=0.05)
        finally:
            server.knobs.latency_s = 0.0

    assert wrong_key.status_code == 401 and wrong_key.json()["error"]["code"] == "invalid_api_key"
    assert failing.status_code == 500 and failing.json()["error"]["type"] == "server_error"
