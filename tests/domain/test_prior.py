"""Public ratings priors (domain/prior.py): loading a MovieLens folder, the CF model trained on
prior users beside the bot's users (domain/cf.py), and the `cf` commands of the CLI.

The MovieLens folders are small synthetic ones written by each test into tmp_path; the real
ml-latest-small is read by path from WTW_DATASETS (second tier) and never copied.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import logging
import math
import os
import sys
import time
from decimal import Decimal
from pathlib import Path
from subprocess import PIPE

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

import domain.cf as cf_module
import domain.prior as prior_module
from bot.database import recreate_database
from bot.settings import CFSettings, SettingsError, load_settings
from db.copy import BinaryCopyReader
from db.models import CFItem, CFModelInfo, CFNeighbour, CFPrior, CFPriorRating, Film, User, UserFilm
from db.session import create_engine
from domain.catalog import CatalogService
from domain.cf import CF_PRIOR_WEIGHT, build_cf_model
from domain.prior import PriorFormatError, drop_prior, list_priors, load_movielens
from integrations.tmdb_csv import read_tmdb_csv

Rating = tuple[int, int, float, int]  # userId, movieId, rating, timestamp


def write_movielens(
    folder: Path,
    ratings: list[Rating],
    links: dict[int, int | None],
    *,
    ratings_header: str = "userId,movieId,rating,timestamp",
) -> Path:
    """A MovieLens-layout folder as GroupLens ships it (CRLF line endings, empty tmdbId when
    a movie has none)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [ratings_header] + [f"{u},{m},{r:.1f},{t}" for u, m, r, t in ratings]
    (folder / "ratings.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    link_lines = ["movieId,imdbId,tmdbId"] + [
        f"{m},{m:07d},{'' if t is None else t}" for m, t in links.items()
    ]
    (folder / "links.csv").write_bytes(("\r\n".join(link_lines) + "\r\n").encode())
    return folder


# movieId → tmdbId: 3 has no TMDB id; 1 and 4 are one TMDB film (a re-release, say)
LINKS: dict[int, int | None] = {1: 100, 2: 200, 3: None, 4: 100, 5: 300}
RATINGS: list[Rating] = [
    (1, 1, 4.0, 1_000),
    (1, 2, 3.5, 1_100),
    (1, 3, 5.0, 1_200),  # unlinked: no tmdbId
    (1, 4, 2.0, 2_000),  # TMDB 100 again, later: kept (2.0)
    (2, 4, 1.0, 500),
    (2, 1, 4.5, 900),  # TMDB 100 again, later although on a later line anyway: kept (4.5)
    (3, 99, 3.0, 100),  # movieId 99 is not in links.csv: unlinked
    (3, 5, 5.0, 200),
]


async def stored(session: AsyncSession, name: str) -> set[tuple[int, int, float]]:
    prior_id = await session.scalar(select(CFPrior.id).where(CFPrior.name == name))
    rows = await session.execute(
        select(CFPriorRating.prior_user, CFPriorRating.tmdb_id, CFPriorRating.rating).where(
            CFPriorRating.prior_id == prior_id
        )
    )
    return {(u, t, r) for u, t, r in rows.all()}


def reference(
    ratings: list[Rating], links: dict[int, int | None]
) -> tuple[dict[tuple[int, int], float], int]:
    """What loading must store, computed the plain way: the latest rating per (user, TMDB id)
    (by timestamp, then line), and how many rows had no TMDB id."""
    best: dict[tuple[int, int], tuple[int, int, float]] = {}
    unlinked = 0
    for line, (user, movie, rating, ts) in enumerate(ratings):
        tmdb = links.get(movie)
        if tmdb is None:
            unlinked += 1
            continue
        if (user, tmdb) not in best or (ts, line) > best[(user, tmdb)][:2]:
            best[(user, tmdb)] = (ts, line, rating)
    return {key: value[2] for key, value in best.items()}, unlinked


# --- loading ------------------------------------------------------------------------------------


async def test_load_stores_prior_users_skips_unlinked_and_keeps_the_later_rating(
    session: AsyncSession, tmp_path: Path
) -> None:
    users_before = await session.scalar(select(func.count()).select_from(User))
    report = await load_movielens(session, write_movielens(tmp_path / "ml-tiny", RATINGS, LINKS))

    assert report.name == "ml-tiny"  # the folder's name
    assert (report.users, report.films, report.ratings, report.unlinked, report.merged) == (3, 3, 4, 2, 2)
    assert await stored(session, "ml-tiny") == {(1, 100, 2.0), (1, 200, 3.5), (2, 100, 4.5), (3, 300, 5.0)}
    [info] = await list_priors(session)
    assert (info.name, info.format, info.users, info.films, info.ratings, info.unlinked) == (
        "ml-tiny",
        "movielens",
        3,
        3,
        4,
        2,
    )
    assert info.loaded_at > dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    # prior users are not users of the bot
    assert await session.scalar(select(func.count()).select_from(User)) == users_before


@pytest.mark.parametrize("chunk_rows", [1, 2, 7, 1000])
async def test_chunked_reading_stores_what_the_plain_reading_says(
    session: AsyncSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int
) -> None:
    # users' ratings straddle chunk boundaries; movies map many-to-one onto TMDB ids
    rng = np.random.default_rng(7)
    links: dict[int, int | None] = {m: (None if m % 9 == 0 else 1000 + m % 13) for m in range(1, 40)}
    ratings: list[Rating] = []
    for user in range(1, 25):
        movies = rng.choice(np.arange(1, 45), size=int(rng.integers(1, 12)), replace=False)
        ratings += [(user, int(m), float(rng.integers(1, 11)) / 2, int(rng.integers(0, 50))) for m in movies]
    monkeypatch.setattr(prior_module, "CHUNK_ROWS", chunk_rows)

    report = await load_movielens(session, write_movielens(tmp_path / "ml", ratings, links), name="synthetic")

    expected, unlinked = reference(ratings, links)
    assert await stored(session, "synthetic") == {(u, t, r) for (u, t), r in expected.items()}
    assert report.unlinked == unlinked
    assert report.ratings == len(expected)
    assert report.merged == len(ratings) - unlinked - len(expected)
    assert report.users == len({u for u, _ in expected})
    assert report.films == len({t for _, t in expected})


async def test_loading_a_name_again_replaces_it_and_drop_removes_priors(
    session: AsyncSession, tmp_path: Path
) -> None:
    first = write_movielens(tmp_path / "a", RATINGS, LINKS)
    await load_movielens(session, first, name="ml")
    await load_movielens(session, first, name="other")
    second = write_movielens(tmp_path / "b", [(7, 2, 1.5, 10)], LINKS)
    report = await load_movielens(session, second, name="ml")

    assert (report.users, report.ratings) == (1, 1)
    assert await stored(session, "ml") == {(7, 200, 1.5)}
    assert [p.name for p in await list_priors(session)] == ["ml", "other"]
    assert await session.scalar(select(func.count()).select_from(CFPriorRating)) == 1 + 4

    assert await drop_prior(session, "nothing-of-that-name") == 0
    assert await drop_prior(session, "ml") == 1
    assert [p.name for p in await list_priors(session)] == ["other"]
    assert await session.scalar(select(func.count()).select_from(CFPriorRating)) == 4  # cascade
    await load_movielens(session, second, name="ml")
    assert await drop_prior(session) == 2
    assert await list_priors(session) == []
    assert await session.scalar(select(func.count()).select_from(CFPriorRating)) == 0


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no-folder", "not a folder"),
        ("no-ratings", "no ratings.csv"),
        ("no-links", "no links.csv"),
        ("wrong-columns", "missing column(s) movieId"),
        ("bad-row", "ratings.csv lines"),
        ("header-only", "no ratings"),
        ("users-apart", "userId 1 appears again"),
    ],
)
async def test_bad_input_raises_one_line_and_writes_nothing(
    session: AsyncSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, message: str
) -> None:
    await load_movielens(session, write_movielens(tmp_path / "good", RATINGS, LINKS), name="ml")
    before = await stored(session, "ml")
    folder = tmp_path / "bad"
    if case != "no-folder":
        write_movielens(folder, RATINGS, LINKS)
    if case == "no-ratings":
        (folder / "ratings.csv").unlink()
    elif case == "no-links":
        (folder / "links.csv").unlink()
    elif case == "wrong-columns":
        write_movielens(folder, RATINGS, LINKS, ratings_header="userId,itemId,rating,timestamp")
    elif case == "bad-row":  # far from the first chunk: rows were COPYed before it
        monkeypatch.setattr(prior_module, "CHUNK_ROWS", 2)
        with (folder / "ratings.csv").open("a", encoding="utf-8") as handle:
            handle.write("9,1,four,100\r\n")
    elif case == "header-only":
        write_movielens(folder, [], LINKS)
    elif case == "users-apart":
        monkeypatch.setattr(prior_module, "CHUNK_ROWS", 2)
        write_movielens(folder, [*RATINGS, (1, 5, 3.0, 10)], LINKS)

    with pytest.raises(PriorFormatError) as caught:
        async with session.begin_nested():  # the caller's transaction, rolled back on error
            await load_movielens(session, folder, name="ml")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert await stored(session, "ml") == before
    assert [p.name for p in await list_priors(session)] == ["ml"]


# --- training on prior users ------------------------------------------------------------------

# Catalog films; 900 is rated by prior users only; 950 is rated in the prior but not in the catalog.
FILMS = (100, 200, 300, 400, 900)


async def catalog(session: AsyncSession) -> None:
    session.add_all([Film(tmdb_id=t, title=f"Film {t}") for t in FILMS])
    await session.flush()


async def bot_user(session: AsyncSession, telegram_id: int, films: list[int]) -> int:
    user = User(telegram_id=telegram_id)
    session.add(user)
    await session.flush()
    session.add_all(
        [UserFilm(user_id=user.id, tmdb_id=t, rating=Decimal("4"), watched=True, source="bot") for t in films]
    )
    await session.flush()
    return user.id


async def edges(session: AsyncSession) -> dict[tuple[int, int], float]:
    rows = await session.execute(select(CFNeighbour.source_id, CFNeighbour.target_id, CFNeighbour.weight))
    return {(s, t): w for s, t, w in rows.all()}


async def items(session: AsyncSession) -> dict[int, int]:
    rows = await session.execute(select(CFItem.tmdb_id, CFItem.n_ratings))
    return {int(t): int(n) for t, n in rows.all()}


@pytest.fixture
async def prior_world(session: AsyncSession, tmp_path: Path) -> AsyncSession:
    """Two bot users who had 100, 200 and 300; four prior users who had 300, 400 and 900
    (and 950, which is not in the catalog)."""
    await catalog(session)
    await bot_user(session, 61_001, [100, 200, 300])
    await bot_user(session, 61_002, [100, 200, 300])
    links: dict[int, int | None] = {1: 300, 2: 400, 3: 900, 4: 950, 5: 100}
    ratings = [(u, m, 1.0 if m == 2 else 4.0, u * 10 + m) for u in range(1, 5) for m in (1, 2, 3, 4)]
    ratings.append((1, 5, 5.0, 1))
    await load_movielens(session, write_movielens(tmp_path / "ml-prior", ratings, links))
    return session


async def test_a_film_only_prior_users_had_gets_neighbours(
    prior_world: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    session = prior_world
    with caplog.at_level(logging.INFO):
        report = await build_cf_model(session, prior_weight=1.0)

    assert (report.users, report.prior_users, report.prior_weight) == (2, 4, 1.0)
    assert report.items == 5  # 950 is not in the catalog
    assert report.interactions == 2 * 3 + 4 * 3 + 1
    # n_ratings counts bot and prior users, unweighted; a low rating is still an interaction
    assert await items(session) == {100: 3, 200: 2, 300: 6, 400: 4, 900: 4}
    learned = await edges(session)
    assert learned[(400, 900)] > 0 and learned[(900, 400)] > 0  # reachable through prior users only
    assert (100, 900) not in learned or learned[(100, 900)] < learned[(400, 900)]
    info = await session.scalar(select(CFModelInfo).where(CFModelInfo.id == report.version))
    assert info is not None
    assert (info.n_users, info.n_prior_users, info.prior_weight) == (2, 4, 1.0)
    [built] = [
        r for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == "cf_model_built"
    ]
    assert isinstance(built.msg, dict)
    assert (built.msg["prior_users"], built.msg["prior_weight"]) == (4, 1.0)


async def test_prior_weight_zero_is_training_without_the_prior(prior_world: AsyncSession) -> None:
    session = prior_world
    zero = await build_cf_model(session, prior_weight=0.0)
    zero_edges, zero_items = await edges(session), await items(session)
    await drop_prior(session)
    without = await build_cf_model(session)

    assert (zero.users, zero.prior_users, zero.items) == (without.users, 0, without.items) == (2, 0, 3)
    assert zero_items == await items(session)
    assert zero_edges.keys() == (without_edges := await edges(session)).keys()
    for key, weight in zero_edges.items():
        assert weight == pytest.approx(without_edges[key], rel=1e-6)


async def test_a_prior_weight_of_2_counts_each_prior_user_twice(
    prior_world: AsyncSession, tmp_path: Path
) -> None:
    session = prior_world
    once = await build_cf_model(session, l2=1.0, prior_weight=1.0)
    weight_once = await edges(session)
    twice = await build_cf_model(session, l2=1.0, prior_weight=2.0)
    weight_twice = await edges(session)
    # the same prior loaded a second time under another name: every prior user twice, weight 1
    await load_movielens(session, tmp_path / "ml-prior", name="copy")
    copies = await build_cf_model(session, l2=1.0, prior_weight=1.0)
    duplicated = await edges(session)

    assert (twice.prior_users, copies.prior_users) == (4, 8)
    assert weight_twice.keys() == duplicated.keys()
    for key, weight in weight_twice.items():
        assert weight == pytest.approx(duplicated[key], rel=1e-5)
    assert weight_once[(400, 300)] < weight_twice[(400, 300)]  # prior users count more
    info = await session.scalar(select(CFModelInfo).where(CFModelInfo.id == twice.version))
    assert info is not None and (info.n_prior_users, info.prior_weight) == (4, 2.0)
    assert once.version < twice.version
    with pytest.raises(ValueError, match="prior_weight"):
        await build_cf_model(session, prior_weight=-1.0)


@pytest.mark.parametrize("piece", [1, 5, 26, 1000])
async def test_the_binary_copy_stream_is_parsed_in_any_chunking(
    prior_world: AsyncSession, piece: int
) -> None:
    # the real stream PostgreSQL sends for the training query, fed in pieces of `piece` bytes
    raw = await (await prior_world.connection()).get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    received: list[bytes] = []

    async def collect(chunk: bytes) -> None:
        received.append(chunk)

    query = cf_module._INTERACTIONS_SQL + cf_module._PRIOR_INTERACTIONS_SQL
    await driver.copy_from_query(query, output=collect, format="binary")
    stream = b"".join(received)
    expected = {
        (s, u, t, a, None if math.isnan(r) else r, liked)
        for s, u, t, a, r, liked in await driver.fetch(query)
    }
    sink = BinaryCopyReader(cf_module._TRAIN_COLUMNS)
    for start in range(0, len(stream), piece):
        await sink(stream[start : start + piece])
        sink._drain()  # as if every piece crossed the drain threshold
    rows = sink.finish()
    columns = ("source", "user", "tmdb", "age", "rating", "liked")
    got = zip(*(rows[c] for c in columns), strict=True)
    assert {
        (int(s), int(u), int(t), int(a), None if np.isnan(r) else float(r), int(liked))
        for s, u, t, a, r, liked in got
    } == expected
    assert {r for *_, r, _liked in expected} - {None}  # prior ratings and the bot's own
    assert len(rows["tmdb"]) == len(expected) == 2 * 3 + 4 * 3 + 1
    with pytest.raises(ValueError, match="truncated"):
        cut = BinaryCopyReader(cf_module._TRAIN_COLUMNS)
        await cut(stream[:-5])
        cut.finish()


def test_the_setting_defaults_to_the_domain_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CF_PRIOR_WEIGHT", raising=False)
    assert CFSettings().prior_weight == CF_PRIOR_WEIGHT == 1.0
    monkeypatch.setenv("CF_PRIOR_WEIGHT", "0.25")
    assert load_settings().cf.prior_weight == 0.25
    monkeypatch.setenv("CF_PRIOR_WEIGHT", "-1")
    with pytest.raises(SettingsError, match="CF_PRIOR_WEIGHT"):
        load_settings()


# --- the CLI ------------------------------------------------------------------------------------


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def cli_env(database_url: str) -> dict[str, str]:
    """The environment of a `python -m bot` process on a database of its own (the CLI commits
    for real; the dispatcher it builds can be built once per process), with the catalog films."""
    parsed = make_url(database_url)
    url = parsed.set(database=f"{parsed.database}_prior_cli").render_as_string(hide_password=False)
    await recreate_database(url, migrated=True)
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(Film.__table__.insert(), [{"tmdb_id": t, "title": f"Film {t}"} for t in FILMS])
    finally:
        await engine.dispose()
    blank = ("TELEGRAM_BOT_TOKEN", "TMDB_API_KEY", "TMDB_READ_ACCESS_TOKEN", "OPENAI_API_KEY")
    return {**os.environ, **dict.fromkeys(blank, ""), "DATABASE_URL": url, "CF_PRIOR_WEIGHT": "0.5"}


async def run_cli(env: dict[str, str], *argv: str) -> tuple[int, str, str]:
    """`python -m bot ARGV` (bot.cli.main) in a process of its own: exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *argv, cwd=ROOT, env=env, stdout=PIPE, stderr=PIPE
    )
    async with asyncio.timeout(120):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli_loads_shows_rebuilds_and_drops_priors(cli_env: dict[str, str], tmp_path: Path) -> None:
    links: dict[int, int | None] = {1: 300, 2: 400, 3: 900, 4: None}
    ratings = [(u, m, 4.0, m) for u in range(1, 4) for m in (1, 2, 3, 4)]
    folder = write_movielens(tmp_path / "ml-cli", ratings, links)

    code, out, err = await run_cli(cli_env, "cf", "load-ratings", str(folder), "--format", "movielens")
    assert code == 0, err
    assert "Prior ml-cli (movielens): 3 users, 3 films, 9 ratings; skipped 3 ratings" in out
    # rebuilt at once, with CF_PRIOR_WEIGHT
    assert "(ease): 0 bot users, 3 prior users (weight 0.5), 3 films" in out

    code, out, err = await run_cli(cli_env, "cf", "status")
    assert code == 0, err
    assert "Prior ml-cli (movielens): 3 users, 3 films, 9 ratings, 3 without a TMDB id; loaded 20" in out
    assert "(ease), built " in out and "0 bot users, 3 prior users (weight 0.5), 3 films, 6 weights." in out

    code, out, err = await run_cli(cli_env, "cf", "drop-prior", "ml-cli")
    assert code == 0, err
    assert "Dropped ml-cli." in out
    assert "0 bot users, 0 prior users (weight 0.5), 0 films" in out  # rebuilt without it


async def test_cli_exits_1_on_a_missing_file_or_an_unknown_prior_and_changes_nothing(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    folder = write_movielens(tmp_path / "ml-broken", RATINGS, LINKS)
    (folder / "links.csv").unlink()

    (code, out, err), (drop_code, _, drop_err) = await asyncio.gather(
        run_cli(cli_env, "cf", "load-ratings", str(folder)), run_cli(cli_env, "cf", "drop-prior", "nothing")
    )
    assert code == 1
    assert f"load-ratings: {folder}: no links.csv (expected a MovieLens folder)" in err.splitlines()
    assert "Traceback" not in err and "CF model" not in out
    assert drop_code == 1 and "No prior named nothing." in drop_err.splitlines()
    engine = create_engine(cli_env["DATABASE_URL"], pool_size=1)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(CFPrior)) == 0
            assert await conn.scalar(select(func.count()).select_from(CFModelInfo)) == 0
    finally:
        await engine.dispose()


# --- the real ml-latest-small (second tier) ---------------------------------------------------


@pytest.mark.datasets
async def test_real_ml_latest_small_loads_fast_and_trains_the_model(
    session: AsyncSession, datasets_dir: Path
) -> None:
    folder = datasets_dir / "movielens" / "ml-latest-small"
    started = time.perf_counter()
    report = await load_movielens(session, folder)
    load_seconds = time.perf_counter() - started

    assert load_seconds < 60
    # 100,836 rows (datasets README); 13 rows' movies have no tmdbId; one user rated two
    # movieIds of one TMDB film. Checked against a plain csv-module reading of the files.
    assert (report.name, report.users, report.ratings, report.unlinked, report.merged) == (
        "ml-latest-small",
        610,
        100_822,
        13,
        1,
    )
    with (folder / "links.csv").open(newline="", encoding="utf-8") as handle:
        linked = {int(row["tmdbId"]) for row in csv.DictReader(handle) if row["tmdbId"]}
    assert report.films <= len(linked)

    await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(
        read_tmdb_csv(datasets_dir / "tmdb_5000" / "tmdb_5000_movies.csv")
    )
    model = await build_cf_model(session, prior_weight=1.0)
    assert model.prior_users == 610
    assert model.items > 2000 and model.edges > 100_000
    learned = await edges(session)
    toy_story, toy_story_2 = 862, 863
    sources = sorted(((w, s) for (s, t), w in learned.items() if t == toy_story_2), reverse=True)
    assert toy_story in [s for _, s in sources[:10]]
    print(f"ml-latest-small: load {load_seconds:.1f} s; CF build {model.seconds:.1f} s, {model}")
