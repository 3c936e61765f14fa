"""LocalEmbedder (the real int8 ONNX model) and OpenAIEmbedder (against the fake OpenAI server)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from bot.settings import EmbeddingSettings, OpenAISettings
from domain.ports import Embedder, EmbeddingError
from integrations.embeddings import (
    EMBEDDING_DIMENSIONS,
    TOKENIZER_PATH,
    LocalEmbedder,
    OpenAIEmbedder,
    make_embedder,
)
from tests.fakes.openai_server import FakeOpenAIServer, Knobs, fake_vector

FAKE_KEY = "sk-fake-DO-NOT-LEAK-4b7e1d9a0c"
WRONG_KEY = "sk-wrong-DO-NOT-LEAK-8f2c6e3b51"
MODEL = "text-embedding-3-small"

TEXTS = [
    "A ticking-time-bomb insomniac and a slippery soap salesman channel primal male aggression "
    "into a shocking new form of therapy.",
    "violent gore",
    "",
    "In the 22nd century, a paraplegic Marine is dispatched to the moon Pandora on a unique mission.",
    "a gentle romantic comedy",
    "x",
    "Led by their mentor, a group of young wizards must stop a dark lord before he returns to power "
    "and plunges the world into darkness; the fate of two worlds hangs on a single choice.",
]


def matrix(vectors: Sequence[Sequence[float]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.asarray(vectors, dtype=np.float64)


def assert_unit_vectors(vectors: list[list[float]], count: int) -> None:
    assert len(vectors) == count
    assert all(isinstance(v, list) and len(v) == EMBEDDING_DIMENSIONS for v in vectors)
    assert all(isinstance(x, float) and math.isfinite(x) for v in vectors for x in v)
    np.testing.assert_allclose(np.linalg.norm(matrix(vectors), axis=1), 1.0, atol=1e-5)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return float(np.dot(a, b))


# --- LocalEmbedder ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    return LocalEmbedder(batch_size=3, threads=2)


def test_local_satisfies_the_port(local: LocalEmbedder) -> None:
    embedder: Embedder = local
    assert embedder.model == "all-MiniLM-L6-v2-int8"
    assert embedder.dimensions == EMBEDDING_DIMENSIONS == 384


async def test_local_vectors_are_unit_length_and_384_dimensional(local: LocalEmbedder) -> None:
    vectors = await local.embed(TEXTS)

    assert_unit_vectors(vectors, len(TEXTS))


async def test_local_keeps_input_order_across_sorted_batches(local: LocalEmbedder) -> None:
    # batch_size=3 over 7 texts of mixed lengths: sorted by length, then cut in 3 batches
    together = await local.embed(TEXTS)
    one_by_one = [(await local.embed([text]))[0] for text in TEXTS]

    for joint, alone in zip(together, one_by_one, strict=True):
        assert cosine(joint, alone) > 0.9999
    # and not merely all alike: each text is nearest to itself
    similarity = matrix(together) @ matrix(one_by_one).T
    assert list(similarity.argmax(axis=1)) == list(range(len(TEXTS)))


async def test_local_similar_meanings_are_closer(local: LocalEmbedder) -> None:
    slasher, gore, romcom = await local.embed(
        ["a bloody slasher horror film", "violent gore", "a gentle romantic comedy"]
    )

    assert cosine(slasher, gore) > cosine(slasher, romcom) + 0.05
    assert cosine(slasher, gore) > cosine(gore, romcom) + 0.05


async def test_local_same_text_same_vector(local: LocalEmbedder) -> None:
    first = await local.embed(["Alien (1979): in space no one can hear you scream"])
    second = await local.embed(["Alien (1979): in space no one can hear you scream"])
    within = await local.embed(["same", "something else entirely, and longer", "same"])

    assert first == second
    np.testing.assert_allclose(within[0], within[2], atol=1e-6)


async def test_local_empty_text_and_no_texts(local: LocalEmbedder) -> None:
    vectors = await local.embed(["", "   "])

    assert_unit_vectors(vectors, 2)
    assert await local.embed([]) == []


async def test_local_truncates_long_texts(local: LocalEmbedder) -> None:
    long = "a haunted lighthouse keeper slowly loses his mind " * 200  # ≫ 128 tokens
    head = "a haunted lighthouse keeper slowly loses his mind " * 30  # already > 128 tokens

    [long_vector, head_vector] = await local.embed([long, head])

    assert_unit_vectors([long_vector], 1)
    np.testing.assert_allclose(long_vector, head_vector, atol=1e-6)  # both cut to the same 128


async def test_local_embed_sync_matches_embed(local: LocalEmbedder) -> None:
    asynchronous = await local.embed(TEXTS)
    synchronous = local.embed_sync(TEXTS)
    other_batching = LocalEmbedder(batch_size=64).embed_sync(TEXTS)

    assert synchronous == asynchronous
    np.testing.assert_allclose(other_batching, synchronous, atol=1e-6)


async def test_local_does_not_block_the_event_loop() -> None:
    embedder = LocalEmbedder(batch_size=8)  # fresh: the model load happens inside embed too
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    try:
        await embedder.embed([f"{text} {i}" for i in range(6) for text in TEXTS])
    finally:
        done.set()
        await task
    assert ticks >= 5


async def test_local_rejects_an_altered_model_file(tmp_path: Path) -> None:
    bogus = tmp_path / "model.onnx"
    bogus.write_bytes(b"not the model")

    embedder = LocalEmbedder(model_path=bogus)
    with pytest.raises(EmbeddingError, match="sha256"):
        await embedder.embed(["anything"])


async def test_local_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="cannot be read"):
        await LocalEmbedder(model_path=tmp_path / "absent.onnx").embed(["anything"])


def test_local_tokenizer_is_bundled() -> None:
    assert TOKENIZER_PATH.is_file()
    assert (TOKENIZER_PATH.parent / "NOTICE.md").is_file()


async def test_local_refuses_a_bare_string(local: LocalEmbedder) -> None:
    with pytest.raises(TypeError):
        await local.embed("one text")


# --- OpenAIEmbedder ---------------------------------------------------------------------------


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


def make_remote(server: FakeOpenAIServer, **overrides: Any) -> OpenAIEmbedder:
    options: dict[str, Any] = {
        "api_key": FAKE_KEY,
        "base_url": server.base_url,
        "model_name": MODEL,
        "timeout_seconds": 5.0,
        "max_attempts": 3,
        "batch_size": 4,
        "backoff_multiplier": 0,
    }
    return OpenAIEmbedder(**(options | overrides))


@pytest.fixture
async def remote(server: FakeOpenAIServer) -> AsyncIterator[OpenAIEmbedder]:
    async with make_remote(server) as embedder:
        yield embedder


def expected(text: str) -> list[float]:
    return fake_vector(MODEL, text or " ", EMBEDDING_DIMENSIONS)


async def test_openai_satisfies_the_port(remote: OpenAIEmbedder) -> None:
    embedder: Embedder = remote
    assert embedder.model == "openai:text-embedding-3-small@384"
    assert embedder.dimensions == 384


async def test_openai_vectors_in_order_unit_length(remote: OpenAIEmbedder, server: FakeOpenAIServer) -> None:
    vectors = await remote.embed(TEXTS)

    assert_unit_vectors(vectors, len(TEXTS))
    for text, vector in zip(TEXTS, vectors, strict=True):
        np.testing.assert_allclose(vector, expected(text), atol=1e-6)  # float32 on the wire


async def test_openai_one_call_per_batch(remote: OpenAIEmbedder, server: FakeOpenAIServer) -> None:
    texts = [f"film overview number {i}" for i in range(10)]

    vectors = await remote.embed(texts)

    assert len(vectors) == 10
    assert server.count("/v1/embeddings") == len(server.requests) == math.ceil(10 / 4)
    assert [body["input"] for body in server.requests] == [texts[0:4], texts[4:8], texts[8:10]]
    assert all(body["dimensions"] == 384 and body["model"] == MODEL for body in server.requests)


async def test_openai_no_texts_no_calls(remote: OpenAIEmbedder, server: FakeOpenAIServer) -> None:
    assert await remote.embed([]) == []
    assert server.requests == []


async def test_openai_sorts_by_index_and_renormalises(
    remote: OpenAIEmbedder, server: FakeOpenAIServer
) -> None:
    server.knobs.reverse_order = True
    server.knobs.scale = 3.5

    vectors = await remote.embed(TEXTS[:4])

    assert_unit_vectors(vectors, 4)
    for text, vector in zip(TEXTS[:4], vectors, strict=True):
        np.testing.assert_allclose(vector, expected(text), atol=1e-6)


async def test_openai_same_text_same_vector(remote: OpenAIEmbedder) -> None:
    first, _, third = await remote.embed(["Heat (1995)", "Ronin (1998)", "Heat (1995)"])
    [again] = await remote.embed(["Heat (1995)"])

    assert first == third == again


async def test_openai_empty_text_is_sent_as_a_space(remote: OpenAIEmbedder, server: FakeOpenAIServer) -> None:
    vectors = await remote.embed(["", "not empty"])

    assert_unit_vectors(vectors, 2)
    assert server.requests[0]["input"] == [" ", "not empty"]


async def test_openai_retries_a_429_burst(remote: OpenAIEmbedder, server: FakeOpenAIServer) -> None:
    server.knobs.burst_429 = 2

    with capture_logs() as logs:
        vectors = await remote.embed(["Jaws", "Alien"])

    assert_unit_vectors(vectors, 2)
    assert len(server.requests) == 3  # two 429s, then the answer
    retries = [entry for entry in logs if entry["event"] == "openai_embed_retry"]
    assert [entry["error"] for entry in retries] == ["HTTP 429", "HTTP 429"]
    assert "Jaws" not in repr(logs) and FAKE_KEY not in repr(logs)


async def test_openai_gives_up_after_max_attempts(remote: OpenAIEmbedder, server: FakeOpenAIServer) -> None:
    server.knobs.fail_all = True

    with pytest.raises(EmbeddingError, match=r"gave up after 3 attempts \(last: HTTP 500\)"):
        await remote.embed(["Jaws"])
    assert len(server.requests) == 3


async def test_openai_wrong_key_fails_at_once_without_leaking_it(server: FakeOpenAIServer) -> None:
    with capture_logs() as logs:
        async with make_remote(server, api_key=WRONG_KEY) as embedder:
            with pytest.raises(EmbeddingError) as caught:
                await embedder.embed(["Jaws"])

    error = caught.value
    assert "API key" in str(error)
    for fragment in (WRONG_KEY, WRONG_KEY[-4:], FAKE_KEY):
        assert fragment not in str(error)
        assert fragment not in repr(logs)
    assert error.__cause__ is None and error.__suppress_context__  # the SDK error (masked key) is dropped
    assert len(server.requests) == 1  # not retried


async def test_openai_exhausted_quota_is_not_retried(
    remote: OpenAIEmbedder, server: FakeOpenAIServer
) -> None:
    server.knobs.quota_exceeded = True

    with pytest.raises(EmbeddingError, match="insufficient_quota"):
        await remote.embed(["Jaws"])
    assert len(server.requests) == 1


async def test_openai_unknown_model(server: FakeOpenAIServer) -> None:
    async with make_remote(server, model_name="no-such-model") as embedder:
        with pytest.raises(EmbeddingError, match="no-such-model"):
            await embedder.embed(["Jaws"])
    assert len(server.requests) == 1


async def test_openai_model_without_dimensions_support(server: FakeOpenAIServer) -> None:
    async with make_remote(server, model_name="text-embedding-ada-002") as embedder:
        with pytest.raises(EmbeddingError, match="HTTP 400"):
            await embedder.embed(["Jaws"])


async def test_openai_wrong_vector_length(remote: OpenAIEmbedder, server: FakeOpenAIServer) -> None:
    server.knobs.dimensions_override = 1536

    with pytest.raises(EmbeddingError, match="1536 floats, expected 384"):
        await remote.embed(["Jaws"])


async def test_openai_timeouts_are_retried(server: FakeOpenAIServer) -> None:
    server.knobs.latency_s = 1.0

    async with make_remote(server, timeout_seconds=0.1, max_attempts=2) as embedder:
        with pytest.raises(EmbeddingError, match="last: APITimeoutError"):
            await embedder.embed(["Jaws"])
    assert len(server.requests) == 2


async def test_openai_connection_errors_are_retried(unused_tcp_port: int) -> None:
    async with OpenAIEmbedder(
        api_key=FAKE_KEY,
        base_url=f"http://127.0.0.1:{unused_tcp_port}/v1",
        max_attempts=2,
        backoff_multiplier=0,
    ) as embedder:
        with pytest.raises(EmbeddingError, match="gave up after 2 attempts"):
            await embedder.embed(["Jaws"])


async def test_openai_base_url_is_honoured(server: FakeOpenAIServer) -> None:
    # a trailing slash works too; every call reaches the fake under /v1
    async with make_remote(server, base_url=server.base_url + "/") as embedder:
        await embedder.embed(["Jaws"])
    assert server.paths == ["/v1/embeddings"]


async def test_openai_refuses_an_empty_key() -> None:
    with pytest.raises(EmbeddingError, match="needs an API key"):
        OpenAIEmbedder(api_key="")


# --- make_embedder ----------------------------------------------------------------------------


def test_make_embedder_local() -> None:
    embedder = make_embedder(OpenAISettings(), EmbeddingSettings(provider="local", batch_size=16, threads=1))

    assert isinstance(embedder, LocalEmbedder)
    assert (embedder.batch_size, embedder.threads) == (16, 1)


async def test_make_embedder_openai(server: FakeOpenAIServer) -> None:
    openai = OpenAISettings(
        api_key=SecretStr(FAKE_KEY), base_url=server.base_url, max_attempts=2, timeout_seconds=5.0
    )
    embedder = make_embedder(openai, EmbeddingSettings(provider="openai", batch_size=2))

    assert isinstance(embedder, OpenAIEmbedder)
    try:
        assert embedder.model == f"openai:{openai.embedding_model}@384"
        vectors = await embedder.embed(["Jaws", "Alien", "Heat"])
    finally:
        await embedder.aclose()
    assert_unit_vectors(vectors, 3)
    assert len(server.requests) == 2


def test_make_embedder_openai_needs_a_key() -> None:
    with pytest.raises(EmbeddingError, match="OPENAI_API_KEY"):
        make_embedder(OpenAISettings(api_key=None), EmbeddingSettings(provider="openai"))
