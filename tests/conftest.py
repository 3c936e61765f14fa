"""Shared fixtures.

Two tiers: the self-contained suite (small fixtures written for this project) always runs;
tests marked `datasets` run only when `WTW_DATASETS` points at the shared datasets folder
(`.ci/run` sets it and fails when the folder is missing).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def _datasets_env() -> Path | None:
    value = os.environ.get("WTW_DATASETS", "").strip()
    return Path(value).resolve() if value else None


def pytest_report_header(config: pytest.Config) -> str:
    path = _datasets_env()
    return f"real-data tier: {'on, ' + str(path) if path else 'off (WTW_DATASETS unset)'}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    path = _datasets_env()
    if path is not None:
        if not (path / "tmdb_5000" / "tmdb_5000_movies.csv").is_file():
            raise pytest.UsageError(f"WTW_DATASETS={path} does not hold tmdb_5000/tmdb_5000_movies.csv")
        return
    kept = [item for item in items if item.get_closest_marker("datasets") is None]
    deselected = [item for item in items if item.get_closest_marker("datasets") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The shared datasets folder (only reachable from tests marked `datasets`)."""
    path = _datasets_env()
    assert path is not None, "tests using datasets_dir must be marked @pytest.mark.datasets"
    return path
