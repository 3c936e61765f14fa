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
#: The demo Letterboxd export (fictional user, our own text). The zip is the only committed
#: form; tests that need the unpacked folder get it from `letterboxd_demo_dir`.
LETTERBOXD_DEMO_ZIP = FIXTURES / "letterboxd" / "demo.zip"


def _datasets_env() -> Path | None:
    value = os.environ.get("WTW_DATASETS", "").strip()
    return Path(value).resolve() if value else None


def pytest_configure(config: pytest.Config) -> None:
    # structlog through the standard library, as in production, so caplog sees events
    from bot.logging import setup_logging

    setup_logging("INFO")


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
def letterboxd_demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """demo.zip unpacked: the export as the folder a user gets after unzipping it."""
    import zipfile

    target = tmp_path_factory.mktemp("letterboxd-demo")
    with zipfile.ZipFile(LETTERBOXD_DEMO_ZIP) as archive:
        archive.extractall(target)
    [top] = [p for p in target.iterdir() if p.is_dir()]
    return top


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The shared datasets folder (only reachable from tests marked `datasets`)."""
    path = _datasets_env()
    assert path is not None, "tests using datasets_dir must be marked @pytest.mark.datasets"
    return path


# --- PostgreSQL --------------------------------------------------------------------------
# The suite always runs on a real PostgreSQL with pgvector: TEST_DATABASE_URL when set (a
# server you run; the database named in it is dropped and re-created), else the embedded
# pgserver in .data/pgserver-test. Each test runs inside a transaction that is rolled back.

TEST_DB = "wtw_test"


def _test_server_url() -> str:
    from sqlalchemy.engine import make_url

    from bot.settings import PROJECT_ROOT
    from db.embedded import start_embedded_postgres

    explicit = os.environ.get("TEST_DATABASE_URL", "").strip()
    if explicit:
        return explicit
    url = make_url(start_embedded_postgres(PROJECT_ROOT / ".data" / "pgserver-test", "postgres"))
    return url.set(database=TEST_DB).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
async def database_url() -> str:
    """A freshly created, fully migrated test database."""
    from bot.database import recreate_database

    url = _test_server_url()
    await recreate_database(url, migrated=True)
    return url


@pytest.fixture(scope="session")
async def engine(database_url: str):  # type: ignore[no-untyped-def]
    from db.session import create_engine

    engine = create_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine):  # type: ignore[no-untyped-def]
    """One connection with an outer transaction that is rolled back after the test."""
    async with engine.connect() as conn:
        trans = await conn.begin()
        yield conn
        await trans.rollback()


@pytest.fixture
def session_factory(connection):  # type: ignore[no-untyped-def]
    """Sessions bound to the test's connection: their commits become savepoints."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    return async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
async def session(session_factory):  # type: ignore[no-untyped-def]
    async with session_factory() as session:
        yield session


# --- the job queue ----------------------------------------------------------------------------------
# procrastinate talks to the database over its own connections, so its tables live outside the
# test transaction; tasks run with the test's session factory and see the test's data.


async def execute_sql(database_url: str, sql: str, *args: object) -> None:
    """Run SQL on a connection of its own (outside the test transaction)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


@pytest.fixture
async def job_app(database_url: str):  # type: ignore[no-untyped-def]
    """An empty procrastinate queue on the test database (no periodic tasks)."""
    from bot import jobs

    clear = "TRUNCATE procrastinate_jobs, procrastinate_periodic_defers CASCADE"
    await execute_sql(database_url, clear)
    app = jobs.make_job_app(database_url, periodic=False)
    async with app.open_async():
        yield app
    await execute_sql(database_url, clear)


# --- the bot ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dispatcher():  # type: ignore[no-untyped-def]
    """One dispatcher for the whole run (its routers can be attached only once); each test
    passes its own session factory, services and settings to `feed_update`, and
    `tests.bot.conftest.make_harness` points its FSM storage at the test's transaction. Chat
    locks are taken in the test's transaction (advisory locks touch no data; one connection
    takes its own lock again at once)."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from bot.dispatcher import build_dispatcher
    from bot.services import ServiceFactory
    from tests.bot.conftest import make_settings

    settings = make_settings()
    return build_dispatcher(settings, async_sessionmaker(), ServiceFactory(settings, None), isolate=True)
