"""Application settings, read from the environment (and `.env`) with pydantic-settings.

Each concern has its own class; :class:`Settings` composes them. Every variable is listed,
with a comment, in `.env.example`. :func:`load_settings` turns a validation error into a
message that names the bad variable, so start-up fails with one readable line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

_COMMON = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

#: HTTP_PORT in webhook mode when it is not set.
WEBHOOK_DEFAULT_PORT: Final = 8080

#: TELEGRAM_WEBHOOK_SECRET: Telegram's secret_token alphabet, at least 32 characters (guessing
#: it must be hopeless: the header is the only thing that tells Telegram's requests apart).
WEBHOOK_SECRET_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{32,256}")


class TelegramSettings(BaseSettings):
    """`TELEGRAM_BOT_TOKEN`: from @BotFather. Unset → the bot runs as a console chat.

    `TELEGRAM_API_BASE_URL`: the Bot API server (a self-hosted one, or a fake in tests).
    `TELEGRAM_WEBHOOK_URL`: set → webhook mode (see bot/web.py); it then needs
    `TELEGRAM_WEBHOOK_SECRET`, which Telegram sends back in every request's
    `X-Telegram-Bot-Api-Secret-Token` header and which also names the webhook path.
    """

    model_config = _COMMON | SettingsConfigDict(env_prefix="TELEGRAM_")

    bot_token: SecretStr | None = None
    api_base_url: str = "https://api.telegram.org"
    #: The public URL Telegram posts updates to (scheme and host, maybe a path prefix); the
    #: webhook path (bot.web.webhook_path) is appended. None: long polling.
    webhook_url: str | None = None
    #: 32–256 characters of A–Z, a–z, 0–9, _ and - (Telegram allows 1–256 of these).
    webhook_secret: SecretStr | None = Field(default=None, validate_default=True)

    @field_validator("api_base_url")
    @classmethod
    def _api_url_shape(cls, value: str) -> str:
        value = value.strip().rstrip("/") or "https://api.telegram.org"
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s):// URL, e.g. https://api.telegram.org")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url_shape(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")) or "?" in value or "#" in value:
            raise ValueError(
                "must be the public https:// URL Telegram posts to, without a query, "
                "e.g. https://bot.example.com"
            )
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        secret = value.get_secret_value().strip() if value is not None else ""
        if not secret:
            if info.data.get("webhook_url"):
                raise ValueError("required when TELEGRAM_WEBHOOK_URL is set (32+ characters of A-Za-z0-9_-)")
            return None
        if not WEBHOOK_SECRET_PATTERN.fullmatch(secret):
            raise ValueError(
                "must be 32 to 256 characters of A-Z, a-z, 0-9, _ and - (Telegram's secret_token); "
                "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return SecretStr(secret)

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        token = value.get_secret_value().strip()
        head, _, tail = token.partition(":")
        if not head.isdigit() or len(tail) < 20:
            raise ValueError("does not look like a bot token from @BotFather (digits:secret)")
        return SecretStr(token)


class DatabaseSettings(BaseSettings):
    """`DATABASE_URL` (postgresql://…) or, when unset, an embedded server in `PGSERVER_DATA_DIR`."""

    model_config = _COMMON

    database_url: SecretStr | None = None
    pgserver_data_dir: Path = PROJECT_ROOT / ".data" / "pgserver"
    db_pool_size: int = Field(default=5, ge=1, le=100)

    @field_validator("pgserver_data_dir", mode="before")
    @classmethod
    def _blank_dir_is_default(cls, value: object) -> object:
        # a blank line in .env must not turn into Path("") — the current directory
        if value is None or (isinstance(value, str) and not value.strip()):
            return PROJECT_ROOT / ".data" / "pgserver"
        return value

    @field_validator("database_url")
    @classmethod
    def _url_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not value.get_secret_value().startswith(("postgresql://", "postgresql+asyncpg://", "postgres://")):
            raise ValueError("must start with postgresql:// (only PostgreSQL with pgvector is supported)")
        return value


class TMDBSettings(BaseSettings):
    """TMDB API access: a v3 `TMDB_API_KEY` or a v4 `TMDB_READ_ACCESS_TOKEN` (bearer)."""

    model_config = _COMMON | SettingsConfigDict(env_prefix="TMDB_")

    api_key: SecretStr | None = None
    read_access_token: SecretStr | None = None
    base_url: str = "https://api.themoviedb.org/3"
    #: Root of poster images: a card's photo is `<image_base_url>/w500<poster_path>`
    #: (https://developer.themoviedb.org/docs/image-basics); Telegram downloads it.
    image_base_url: str = "https://image.tmdb.org/t/p"
    language: str = "en-US"
    timeout_seconds: float = Field(default=10.0, gt=0)
    max_concurrency: int = Field(default=8, ge=1, le=64)
    #: TMDB allows about 50 requests per second per IP; stay under it
    max_requests_per_second: float = Field(default=45.0, gt=0, le=1000)
    max_attempts: int = Field(default=4, ge=1, le=10)
    cache_ttl_days: int = Field(default=14, ge=1)
    #: Total seconds the TMDB calls of one /recommend (or onboarding grid, or clarifying
    #: answer) may take while the user waits; past it, or on a TMDB error, the answer comes
    #: from the catalog. 1.5 s leaves room within /recommend's 3 s for the database and the
    #: ranking; background jobs (imports) are not bounded by it.
    interactive_budget_seconds: float = Field(default=1.5, gt=0, le=30)

    @field_validator("api_key", "read_access_token")
    @classmethod
    def _blank_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return value

    @property
    def configured(self) -> bool:
        """True when a key or token is set (the fake TMDB in tests accepts any)."""
        return self.api_key is not None or self.read_access_token is not None


class OpenAISettings(BaseSettings):
    """OpenAI or any OpenAI-compatible server (`OPENAI_BASE_URL`), used for embeddings when
    `EMBEDDING_PROVIDER=openai` and, with a key, for the chat model (`OPENAI_CHAT_MODEL`)."""

    model_config = _COMMON | SettingsConfigDict(env_prefix="OPENAI_")

    api_key: SecretStr | None = None
    base_url: str | None = None
    embedding_model: str = "text-embedding-3-small"
    timeout_seconds: float = Field(default=20.0, gt=0)
    max_attempts: int = Field(default=4, ge=1, le=10)
    #: Chat model that words explanations (and other texts the code decided); it needs
    #: structured output. Only used with a key.
    chat_model: str = "gpt-4o-mini"
    #: Seconds /recommend waits for the explanations before it shows the template ones.
    explanation_budget_seconds: float = Field(default=4.0, gt=0)

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("base_url", mode="before")
    @classmethod
    def _blank_url_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class EmbeddingSettings(BaseSettings):
    """Which embedder makes the film, review and taste vectors.

    `local` (default): all-MiniLM-L6-v2 as int8 ONNX on the CPU, offline. `openai`:
    `OPENAI_EMBEDDING_MODEL` with 384 dimensions (needs `OPENAI_API_KEY`).
    """

    model_config = _COMMON | SettingsConfigDict(env_prefix="EMBEDDING_")

    provider: Literal["local", "openai"] = "local"
    batch_size: int = Field(default=16, ge=1, le=2048)
    threads: int = Field(default=2, ge=1, le=64)


class BotSettings(BaseSettings):
    """Behaviour of the bot itself."""

    model_config = _COMMON

    recommend_cooldown_seconds: int = Field(default=60, ge=0)
    recommend_repeat_window_days: int = Field(default=60, ge=1)
    #: How long a group's vote on its three picks stays open (/together, domain.groups).
    group_vote_minutes: float = Field(default=10.0, gt=0)
    max_review_chars: int = Field(default=50_000, ge=100)
    #: Telegram ids allowed to use /stats: "123, 456" (or a JSON list, "[123, 456]"); empty: nobody.
    admin_telegram_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"
    log_json: bool = False
    #: `python -m bot run` also runs a job worker (embeddings, taste, CF model) in-process;
    #: set false when workers run separately (`python -m bot worker`).
    worker_in_process: bool = True
    #: Seconds `python -m bot run` gives, after SIGTERM or SIGINT, to the updates being
    #: handled and to the in-process worker's jobs before it stops them and exits.
    shutdown_timeout_seconds: float = Field(default=25.0, gt=0, le=3600)

    @field_validator("admin_telegram_ids", mode="before")
    @classmethod
    def _comma_separated_ids(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        value = value.strip()
        if value.startswith("["):
            return json.loads(value)  # a JSONDecodeError is a ValueError: reported as this variable
        return [part.strip() for part in value.split(",") if part.strip()]

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value


class HTTPSettings(BaseSettings):
    """Where `python -m bot run` serves HTTP (`HTTP_HOST`, `HTTP_PORT`; port 0: any free port,
    logged as `http_listening`): in webhook mode the webhook, /healthz, /readyz and /metrics
    (port default WEBHOOK_DEFAULT_PORT); in polling mode the last three, only when `HTTP_PORT`
    is set."""

    model_config = _COMMON | SettingsConfigDict(env_prefix="HTTP_")

    host: str = "0.0.0.0"  # every interface: a service in a container is reached from outside it
    port: int | None = Field(default=None, ge=0, le=65535)

    @property
    def webhook_port(self) -> int:
        """`port`, or WEBHOOK_DEFAULT_PORT (8080) when unset."""
        return WEBHOOK_DEFAULT_PORT if self.port is None else self.port


class CFSettings(BaseSettings):
    """The collaborative-filtering model (domain/cf.py)."""

    model_config = _COMMON | SettingsConfigDict(env_prefix="CF_")

    #: Weight of each prior user (a public ratings dataset loaded with `python -m bot cf
    #: load-ratings`) in EASE's Gram matrix G = Xᵀ·diag(w)·X + λI, the bot's own users
    #: weighing 1. 0 leaves the priors out of training. Same default as domain.cf.CF_PRIOR_WEIGHT.
    prior_weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)


class Settings(BaseSettings):
    """All settings. Build with :func:`load_settings`."""

    model_config = _COMMON

    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    tmdb: TMDBSettings = Field(default_factory=TMDBSettings)
    bot: BotSettings = Field(default_factory=BotSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    cf: CFSettings = Field(default_factory=CFSettings)
    http: HTTPSettings = Field(default_factory=HTTPSettings)

    @model_validator(mode="after")
    def _tmdb_url(self) -> Settings:
        self.tmdb.base_url = self.tmdb.base_url.rstrip("/")
        if self.embedding.provider == "openai" and self.openai.api_key is None:
            raise ValueError("EMBEDDING_PROVIDER=openai needs OPENAI_API_KEY")
        return self

    @model_validator(mode="after")
    def _webhook_needs_token(self) -> Settings:
        if self.telegram.webhook_url is not None and self.telegram.bot_token is None:
            raise ValueError("TELEGRAM_WEBHOOK_URL needs TELEGRAM_BOT_TOKEN")
        return self


class SettingsError(RuntimeError):
    """Raised by :func:`load_settings`; the message names each bad variable."""


def load_settings() -> Settings:
    """Read and validate all settings.

    Raises:
        SettingsError: a variable is malformed; the message names it and says why.
    """
    sections = {
        "telegram": (TelegramSettings, "TELEGRAM_"),
        "database": (DatabaseSettings, ""),
        "tmdb": (TMDBSettings, "TMDB_"),
        "bot": (BotSettings, ""),
        "openai": (OpenAISettings, "OPENAI_"),
        "embedding": (EmbeddingSettings, "EMBEDDING_"),
        "cf": (CFSettings, "CF_"),
        "http": (HTTPSettings, "HTTP_"),
    }
    built: dict[str, BaseSettings] = {}
    problems: list[str] = []
    for name, (cls, prefix) in sections.items():
        try:
            built[name] = cls()
        except ValidationError as exc:
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else "?"
                problems.append(f"{(prefix + field).upper()}: {err['msg']}")
    if problems:
        raise SettingsError("Bad settings:\n  " + "\n  ".join(problems))
    try:
        return Settings(**built)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError("Bad settings:\n  " + "\n  ".join(e["msg"] for e in exc.errors())) from None
