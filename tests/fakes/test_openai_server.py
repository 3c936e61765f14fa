"""The fake OpenAI server answers in the real API's shapes (checked over plain HTTP, not the SDK)."""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, fake_vector

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


async def test_chat_completions_not_yet(http: httpx.AsyncClient) -> None:
    response = await http.post("/chat/completions", json={"model": "gpt-4o-mini", "messages": []})

    assert response.status_code == 404
    assert "error" in response.json()
