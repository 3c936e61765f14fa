"""A fake OpenAI-compatible API on loopback (aiohttp): embeddings and chat completions.

It answers in the real API's shapes (https://platform.openai.com/docs/api-reference), under
the same `/v1` prefix, so pointing `OPENAI_BASE_URL` (or `AsyncOpenAI(base_url=…)`) at
:attr:`FakeOpenAIServer.base_url` is the only difference for a client. Endpoints:

- `POST /v1/embeddings` (https://platform.openai.com/docs/api-reference/embeddings/create):
  `input` is a string or a list of 1–2048 non-empty strings, `model` one of :data:`MODELS`,
  optional `dimensions` (1 … the model's native size; text-embedding-3 models only) and
  `encoding_format` ("float", the API default, or "base64": little-endian float32 bytes,
  which the official SDK asks for unless told otherwise). Each vector is deterministic:
  Gaussian noise seeded with sha256(model, text), unit length — equal texts give equal
  vectors, different texts nearly orthogonal ones (no semantics).
- `POST /v1/chat/completions` (https://platform.openai.com/docs/api-reference/chat/create):
  `model` any non-empty string (compatible servers name models freely), `messages` a
  non-empty list of `{role, content}`. With `response_format`
  `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}` (what the SDK's
  `chat.completions.parse(response_format=Model)` sends) the answer's `content` is a JSON
  document valid against that schema, built from the prompt by :func:`fake_structured`:
  every string it makes up starts with :data:`FAKE_LLM_MARK`, so a test can tell text that
  came from the "model". A strict schema must be strict (every object closed with
  `additionalProperties: false` and all its properties required), as the real API insists
  (400 otherwise). Without a schema the content is FAKE_LLM_MARK + the last user message.

Errors use OpenAI's body `{"error": {"message", "type", "param", "code"}}` and status codes
(https://platform.openai.com/docs/guides/error-codes): missing or wrong
`Authorization: Bearer <key>` → 401 `invalid_api_key` (the message quotes the key masked, as
the real API does); bad body → 400 `invalid_request_error`; unknown model → 404
`model_not_found`. Chat answers can be steered with the `chat_*` knobs (verbatim content,
an edit of the generated object, a refusal, a finish reason).

Tests steer failures at run time through :attr:`FakeOpenAIServer.knobs` (see :class:`Knobs`)
and inspect :attr:`FakeOpenAIServer.requests`. By hand::

    python -m tests.fakes.openai_server --port 8766 --api-key sk-fake
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import random
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Models the fake knows: native dimensions and whether `dimensions` may shorten them.
MODELS: dict[str, tuple[int, bool]] = {
    "text-embedding-3-small": (1536, True),
    "text-embedding-3-large": (3072, True),
    "text-embedding-ada-002": (1536, False),
}
MAX_INPUTS = 2048
#: Every string the fake chat model makes up starts with this.
FAKE_LLM_MARK = "[fake LLM]"
DEFAULT_API_KEY = "sk-fake-openai-key"
#: The request body parsed by the middleware (None when there is none or it is not JSON).
JSON_BODY = web.RequestKey("json_body", object)


class ApiError(Exception):
    """An error answer in OpenAI's shape: HTTP `status` with body `{"error": {...}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
        self.headers = headers or {}

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.status, headers=self.headers)


def invalid_request(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param=param)


@dataclass
class Knobs:
    """Failure injection, read on every request, so tests may change it between calls.

    Precedence: `latency_s` applies first to all; then `fail_all`, the API key check,
    `quota_exceeded`, `burst_429`; the answer knobs shape successful answers only.
    """

    latency_s: float = 0.0  # sleep before answering each request
    fail_all: bool = False  # every request gets 500 server_error
    burst_429: int = 0  # the next N authorised requests get 429 rate_limit_exceeded
    retry_after_s: float = 0  # Retry-After header of those 429s
    quota_exceeded: bool = False  # every authorised request gets 429 insufficient_quota
    # answers
    scale: float = 1.0  # multiply each vector (1.0: unit length, as OpenAI answers)
    reverse_order: bool = False  # list `data` last index first (clients must sort by `index`)
    dimensions_override: int | None = None  # vectors of this length whatever was asked
    # chat answers
    chat_content: str | None = None  # the answer's content verbatim (e.g. JSON that breaks the schema)
    chat_edit: Callable[[Any], Any] | None = None  # applied to the generated object before sending
    chat_refusal: str | None = None  # answer with this refusal (content null)
    chat_finish_reason: str = "stop"  # e.g. "length" (the SDK raises LengthFinishReasonError)


def fake_vector(model: str, text: str, dimensions: int) -> list[float]:
    """The fake's unit vector for `text`: deterministic, a function of (model, text, dimensions)."""
    seed = hashlib.sha256(f"{model}\x00{text}".encode()).digest()
    rng = random.Random(int.from_bytes(seed, "big"))
    values = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = sum(v * v for v in values) ** 0.5
    return [v / norm for v in values]


def mask_key(key: str) -> str:
    """A key as OpenAI quotes it in a 401 message: "sk-abc***********wxyz"."""
    if len(key) <= 8:
        return "*" * len(key)
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


class FakeOpenAIServer(LoopbackServer):
    """The fake API. Use as ``async with FakeOpenAIServer(api_key="sk-…") as server: ...``.

    Attributes:
        api_key: the one key accepted as ``Authorization: Bearer <key>``.
        knobs: failure injection (:class:`Knobs`), mutable at run time.
        requests: the parsed JSON body of every request received (rejected ones included,
            ``{}`` when the body is not JSON), in order — e.g. ``len(server.requests)`` is
            the number of API calls.
        paths: the path of each of those requests (e.g. "/v1/embeddings"), same order.
    """

    prefix = "/v1"
    label = "fake OpenAI server"

    def __init__(self, *, api_key: str = DEFAULT_API_KEY, host: str = "127.0.0.1", port: int = 0) -> None:
        self.api_key = api_key
        self.knobs = Knobs()
        self.requests: list[Json] = []
        self.paths: list[str] = []
        super().__init__(host=host, port=port)

    def count(self, path: str = "/v1/embeddings") -> int:
        """How many requests went to `path`."""
        return sum(1 for p in self.paths if p == path)

    def reset_log(self) -> None:
        self.requests.clear()
        self.paths.clear()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/embeddings", self._embeddings),
            web.post("/v1/chat/completions", self._chat_completions),
        ]

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Log the request, apply the knobs, check the key, and turn errors into OpenAI error bodies."""
        body = request[JSON_BODY] = await _json_body(request)
        self.requests.append(body if isinstance(body, dict) else {})
        self.paths.append(request.path)
        knobs = self.knobs
        if knobs.latency_s > 0:
            await asyncio.sleep(knobs.latency_s)
        try:
            if knobs.fail_all:
                raise ApiError(
                    500,
                    "The server had an error while processing your request. Sorry about that!",
                    type_="server_error",
                )
            self._check_key(request)
            if knobs.quota_exceeded:
                raise ApiError(
                    429,
                    "You exceeded your current quota, please check your plan and billing details.",
                    type_="insufficient_quota",
                    code="insufficient_quota",
                )
            if knobs.burst_429 > 0:
                knobs.burst_429 -= 1
                raise ApiError(
                    429,
                    "Rate limit reached for requests per min (RPM): Limit 3000, Used 3000, Requested 1.",
                    type_="requests",
                    code="rate_limit_exceeded",
                    headers={"Retry-After": f"{knobs.retry_after_s:g}"},
                )
            return await handler(request)
        except ApiError as error:
            return error.response()
        except web.HTTPNotFound:
            return ApiError(404, f"Invalid URL ({request.method} {request.path})").response()
        except web.HTTPMethodNotAllowed:
            return ApiError(405, f"Invalid method for URL ({request.method} {request.path})").response()

    def _check_key(self, request: web.Request) -> None:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization "
                "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        if key.strip() != self.api_key:
            raise ApiError(
                401,
                f"Incorrect API key provided: {mask_key(key.strip())}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = request[JSON_BODY]
        if not isinstance(body, dict):
            raise invalid_request("We could not parse the JSON body of your request.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise invalid_request("you must provide a model parameter", "model")
        if model not in MODELS:
            raise ApiError(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        native, shortenable = MODELS[model]
        texts = _inputs(body.get("input"))
        dimensions = body.get("dimensions", native)
        if "dimensions" in body and not shortenable:
            raise invalid_request("This model does not support specifying dimensions.", "dimensions")
        if not isinstance(dimensions, int) or isinstance(dimensions, bool) or not 1 <= dimensions <= native:
            raise invalid_request(f"Invalid 'dimensions': must be between 1 and {native}.", "dimensions")
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            raise invalid_request("'encoding_format' must be 'float' or 'base64'.", "encoding_format")

        knobs = self.knobs
        size = knobs.dimensions_override or dimensions
        data: list[Json] = []
        for index, text in enumerate(texts):
            vector = [v * knobs.scale for v in fake_vector(model, text, size)]
            embedding: list[float] | str = vector
            if encoding == "base64":
                embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        if knobs.reverse_order:
            data.reverse()
        tokens = sum(max(1, len(text.split())) for text in texts)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            headers={"x-request-id": f"req_fake_{time.monotonic_ns()}"},
        )

    async def _chat_completions(self, request: web.Request) -> web.Response:
        body = request[JSON_BODY]
        if not isinstance(body, dict):
            raise invalid_request("We could not parse the JSON body of your request.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise invalid_request("you must provide a model parameter", "model")
        prompt = _last_user_message(body.get("messages"))
        schema = _response_schema(body.get("response_format"))
        knobs = self.knobs
        content: str | None
        if knobs.chat_refusal is not None:
            content = None
        elif knobs.chat_content is not None:
            content = knobs.chat_content
        elif schema is not None:
            answer = fake_structured(schema, prompt)
            if knobs.chat_edit is not None:
                answer = knobs.chat_edit(answer)
            content = json.dumps(answer, ensure_ascii=False)
        else:
            content = f"{FAKE_LLM_MARK} {prompt}"
        prompt_tokens = sum(
            len(str(m.get("content", "")).split()) for m in body["messages"] if isinstance(m, dict)
        )
        completion_tokens = len((content or knobs.chat_refusal or "").split())
        return web.json_response(
            {
                "id": f"chatcmpl-fake{time.monotonic_ns()}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": knobs.chat_refusal},
                        "logprobs": None,
                        "finish_reason": knobs.chat_finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
            headers={"x-request-id": f"req_fake_{time.monotonic_ns()}"},
        )


# --- chat: structured answers made up from the prompt


def fake_structured(schema: Json, prompt: str) -> Any:
    """A JSON value valid against `schema` (the JSON Schema subset structured output allows:
    objects, arrays, strings, integers, numbers, booleans, null, `enum`, `anyOf`, `$ref` to
    `$defs`), made up from the prompt:

    - the *records* are the first list of JSON objects found in a JSON document inside the
      prompt (e.g. the films a prompt lists); an array of objects gets one item per record;
    - inside an item, a property whose name the record also has, with a value of the right
      type, is copied from the record (so ids come back as sent);
    - any other string is ``f"{FAKE_LLM_MARK} {label}"``, where label is the record's
      "title" or "name" (else its first string value) or, outside records, the prompt's
      first 80 characters;
    - other numbers are their `minimum` or 0, booleans False, enums their first value.
    """
    records = _records(prompt)
    snippet = " ".join(prompt.split())[:80]
    defs: Json = schema.get("$defs", {})

    def resolve(node: Json) -> Json:
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return resolve(defs[ref.removeprefix("#/$defs/")])
        if "anyOf" in node:
            options = [resolve(o) for o in node["anyOf"]]
            return next((o for o in options if o.get("type") != "null"), options[0])
        return node

    def label(record: Json | None) -> str:
        if record:
            for key in ("title", "name"):
                if isinstance(record.get(key), str):
                    return str(record[key])
            first = next((v for v in record.values() if isinstance(v, str)), None)
            if first:
                return first
        return snippet

    def make(node: Json, name: str | None, record: Json | None) -> Any:
        node = resolve(node)
        if "enum" in node:
            return node["enum"][0]
        kind = node.get("type")
        kinds = {"string": str, "integer": int, "number": (int, float), "boolean": bool}
        if record is not None and name in record and kind in kinds:
            value = record[name]
            if isinstance(value, kinds[kind]) and not (kind != "boolean" and isinstance(value, bool)):
                return value
        if kind == "object":
            return {key: make(sub, key, record) for key, sub in node.get("properties", {}).items()}
        if kind == "array":
            items = resolve(node.get("items", {}))
            if items.get("type") == "object" and records:
                return [make(items, None, r) for r in records]
            return [make(items, None, record)]
        if kind == "string":
            return f"{FAKE_LLM_MARK} {label(record)}"
        if kind in ("integer", "number"):
            return node.get("minimum", 0)
        if kind == "boolean":
            return False
        return None

    return make(schema, None, None)


def _records(prompt: str) -> list[Json]:
    """The first list of objects inside the first JSON document (object or array) of `prompt`."""
    decoder = json.JSONDecoder()
    for index, char in enumerate(prompt):
        if char not in "{[":
            continue
        try:
            document, _end = decoder.raw_decode(prompt, index)
        except ValueError:
            continue
        found = _first_object_list(document)
        if found is not None:
            return found
    return []


def _first_object_list(value: Any) -> list[Json] | None:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return value
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        found = _first_object_list(child)
        if found is not None:
            return found
    return None


def _last_user_message(messages: object) -> str:
    """The text of the last user message, validated as the API does (text content only)."""
    if not isinstance(messages, list) or not messages:
        raise invalid_request("'messages' must be a non-empty array.", "messages")
    user = ""
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in (
            "system",
            "developer",
            "user",
            "assistant",
        ):
            raise invalid_request("Each message needs a valid 'role'.", "messages")
        content = message.get("content")
        if not isinstance(content, str):
            raise invalid_request("Only text 'content' is supported by this server.", "messages")
        if message["role"] == "user":
            user = content
    return user


def _response_schema(response_format: object) -> Json | None:
    """The JSON schema a `response_format` asks for (None for plain text), checked as the API
    checks it: a strict schema's objects must be closed and require all their properties."""
    if response_format is None:
        return None
    if not isinstance(response_format, dict) or response_format.get("type") not in (
        "text",
        "json_object",
        "json_schema",
    ):
        raise invalid_request(
            "'response_format.type' must be text, json_object or json_schema.", "response_format"
        )
    if response_format["type"] == "text":
        return None
    if response_format["type"] == "json_object":
        return {"type": "object", "properties": {"answer": {"type": "string"}}}
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
        raise invalid_request("'response_format.json_schema.name' is required.", "response_format")
    schema = spec.get("schema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise invalid_request(
            "'response_format.json_schema.schema' must be an object schema.", "response_format"
        )
    if spec.get("strict"):
        problem = _strictness_problem(schema)
        if problem:
            raise invalid_request(
                f"Invalid schema for response_format '{spec['name']}': {problem}", "response_format"
            )
    return schema


def _strictness_problem(node: Any, path: str = "#") -> str | None:
    """Why `node` is not a strict structured-output schema, or None."""
    if isinstance(node, dict):
        if node.get("type") == "object":
            properties = node.get("properties", {})
            if node.get("additionalProperties") is not False:
                return (
                    f"In context={path}, 'additionalProperties' is required to be supplied and to be false."
                )
            if sorted(node.get("required", [])) != sorted(properties):
                return f"In context={path}, 'required' is required to include every key in properties."
        for key, child in node.items():
            problem = _strictness_problem(child, f"{path}/{key}")
            if problem:
                return problem
    elif isinstance(node, list):
        for index, child in enumerate(node):
            problem = _strictness_problem(child, f"{path}/{index}")
            if problem:
                return problem
    return None


async def _json_body(request: web.Request) -> Any:
    """The request body parsed as JSON; None if there is none or it is not JSON."""
    if not request.body_exists:
        return None
    try:
        return json.loads(await request.read())
    except ValueError:
        return None


def _inputs(value: object) -> list[str]:
    """`input` as a list of strings, validated as the API does (token arrays are not supported)."""
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise invalid_request("'input' must be a string or a non-empty list of strings.", "input")
    if len(texts) > MAX_INPUTS:
        raise invalid_request(f"'input' must have at most {MAX_INPUTS} items.", "input")
    if any(t == "" for t in texts):
        raise invalid_request(
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            "input",
        )
    return texts


# --- by hand


async def _serve(args: argparse.Namespace) -> None:
    async with FakeOpenAIServer(api_key=args.api_key, host=args.host, port=args.port) as server:
        server.knobs.latency_s = args.latency
        print(f"fake OpenAI at {server.base_url}, key {args.api_key!r} (Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Serve a fake OpenAI-compatible API (embeddings, chat completions)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the one key accepted")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before each answer")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
