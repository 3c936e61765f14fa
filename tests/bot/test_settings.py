"""Settings are validated at start with a message naming the bad variable."""

from __future__ import annotations

import pytest

from bot.settings import PROJECT_ROOT, SettingsError, load_settings


@pytest.fixture(autouse=True)
def _no_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # .env is read from the working directory: use an empty one
    for name in ("TELEGRAM_BOT_TOKEN", "DATABASE_URL", "TMDB_API_KEY", "TMDB_READ_ACCESS_TOKEN", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_need_no_credentials() -> None:
    settings = load_settings()
    assert settings.telegram.bot_token is None and not settings.tmdb.configured
    assert settings.database.database_url is None
    assert settings.database.pgserver_data_dir == PROJECT_ROOT / ".data" / "pgserver"


def test_blank_values_from_an_env_file_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TELEGRAM_BOT_TOKEN", "DATABASE_URL", "TMDB_API_KEY", "PGSERVER_DATA_DIR"):
        monkeypatch.setenv(name, "")
    settings = load_settings()
    assert settings.telegram.bot_token is None and not settings.tmdb.configured
    assert settings.database.pgserver_data_dir == PROJECT_ROOT / ".data" / "pgserver"


def test_bad_values_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "not-a-token")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert "TELEGRAM_BOT_TOKEN" in message and "DATABASE_URL" in message and "LOG_LEVEL" in message
    assert "not-a-token" not in message  # secrets are never echoed


def test_secrets_do_not_print(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMDB_API_KEY", "super-secret-key")
    assert "super-secret-key" not in repr(load_settings())
