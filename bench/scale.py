"""Collaborative filtering at scale: a seeded synthetic catalog and history, loaded into
PostgreSQL with COPY, then the CF build's wall time and peak memory, the stored model's size,
its load time, and /recommend latency for the heaviest user at that scale.

The data is generated here with numpy (nothing committed), seed SEED:

- films: `--films` rows (default 50,000) with a synthetic title, year, one of GENRES,
  vote average and count; film popularity is Zipf-like, P(film of rank r) ∝ 1/(r + 10), so the
  tail film still has a dozen interactions at the default size;
- users: `--users` (default 200,000) whose activity is lognormal (σ = 1.2), scaled to
  `--interactions` in total (default 10,000,000); the heaviest users have thousands of films;
- taste: each film and user belongs to one of TASTES clusters and half of a user's films are
  drawn from their own cluster (with the same popularity law), so the CF model has structure;
- every interaction is a rating (half stars 0.5–5.0; mean 4★ for a film of the user's own
  cluster, 3★ for another) marked watched, with a rated_at spread over five years; (user,
  film) pairs are unique;
- film vectors: 384 dimensions, the film's taste cluster's direction plus noise of the same
  norm (`synthetic_vectors`: cosine ≈ 0.5 within a cluster, ≈ 0 across), stored under the
  bot's embedding model, so /recommend uses the content signal and pgvector's HNSW index as
  with real films; the heavy user's taste vector is computed by the bot's own code.

It runs in its own database `wtw_scale` (created and migrated like bench/recommend_quality.py),
truncated first. The build runs in a child process (`python -m bench.scale --build-only`) so
its peak memory is the child's peak resident set (`getrusage(RUSAGE_CHILDREN).ru_maxrss`,
which counts the whole child process: Python, numpy, asyncpg). Latency is measured through the
dispatcher, warm, without LLM or TMDB (the pattern of bench/recommend_quality.py
`measure_latency`). No text is embedded at this scale (50,000 films would take hours on this
machine): the film vectors are the synthetic ones above.

    python -m bench.scale                       # the full size (about 15 minutes here)
    python -m bench.scale --users 20000 --films 5000 --interactions 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import asyncpg
import numpy as np
import numpy.typing as npt
from pgvector.asyncpg import register_vector
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.recommend_quality import TELEGRAM_ID_BASE, bench_database, bench_settings, say
from bench.timing import percentile, recommend_timings
from bot.console import ChatUser
from bot.logging import setup_logging
from bot.services import ServiceFactory
from db.copy import COPY_SIGNATURE
from db.models import EMBEDDING_DIMENSIONS
from db.session import create_engine, create_session_factory
from domain.cf import build_cf_model
from domain.cf_cache import CFModelCache
from domain.embeddings import EmbeddingService
from integrations.embeddings import LOCAL_MODEL, LocalEmbedder

SEED = 13
SCALE_DATABASE = "wtw_scale"
TASTES = 20
GENRES = ("Drama", "Comedy", "Thriller", "Action", "Romance", "Horror", "Documentary", "Animation")
LATENCY_CALLS = 40
#: Mean rating in half stars of a film of the user's own taste cluster (4★) and of any other
#: (3★), σ 1.8 half stars: what a user likes shows in their ratings, as with real users.
OWN_TASTE_HALF_STARS = 8.0
OTHER_HALF_STARS = 6.0
#: Microseconds between the Unix epoch and PostgreSQL's (2000-01-01), for binary timestamps.
_PG_EPOCH_US = 946_684_800 * 1_000_000
_CHUNK_ROWS = 1 << 18
_SOURCE = b"movielens"  # a source the check constraint knows (bench data, like recommend_quality.py)


# --- data ------------------------------------------------------------------------------------
def generate(users: int, films: int, interactions: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """The synthetic history, sorted by (user, film): arrays user (0-based), film (0-based,
    popularity rank), half_stars (1–10) and ts (Unix seconds); plus film_taste."""
    rng = np.random.default_rng(seed)
    film_taste = rng.integers(0, TASTES, films)
    user_taste = rng.integers(0, TASTES, users)
    popularity = 1.0 / (np.arange(films) + 10.0)
    activity = rng.lognormal(0.0, 1.2, users)
    pairs = np.zeros(0, dtype=np.int64)
    factor = 1.05
    for _ in range(6):  # bounded: draw again with more per user until the pairs reach the target
        counts = np.maximum(1, np.round(activity / activity.sum() * interactions * factor)).astype(np.int64)
        counts = np.minimum(counts, films // 2)
        pairs = _draw(rng, counts, film_taste, user_taste, popularity)
        if len(pairs) >= interactions:
            break
        factor *= 1.02 * interactions / max(len(pairs), 1)
    if len(pairs) > interactions:
        pairs = np.sort(rng.choice(pairs, size=interactions, replace=False))
    user, film = pairs // films, pairs % films
    own = film_taste[film] == user_taste[user]
    mean = np.where(own, OWN_TASTE_HALF_STARS, OTHER_HALF_STARS)
    half_stars = np.clip(np.round(rng.normal(mean, 1.8)), 1, 10).astype(np.int64)
    start = int(dt.datetime(2021, 1, 1, tzinfo=dt.UTC).timestamp())
    ts = start + rng.integers(0, 5 * 365 * 86400, len(pairs))
    return {"user": user, "film": film, "half_stars": half_stars, "ts": ts, "film_taste": film_taste}


def _draw(
    rng: np.random.Generator,
    counts: np.ndarray,
    film_taste: np.ndarray,
    user_taste: np.ndarray,
    popularity: np.ndarray,
) -> np.ndarray:
    """Unique user × films + film keys: counts[u] draws for user u (duplicates dropped), half
    from the popularity law over all films, half over the films of the user's taste."""
    films = len(film_taste)
    user_of = np.repeat(np.arange(len(counts)), counts)
    own = rng.random(len(user_of)) < 0.5
    film_of = np.empty(len(user_of), dtype=np.int64)
    p_all = popularity / popularity.sum()
    film_of[~own] = rng.choice(films, size=int((~own).sum()), p=p_all)
    own_taste = user_taste[user_of[own]]
    own_films = np.empty(int(own.sum()), dtype=np.int64)
    for taste in range(TASTES):  # bounded: TASTES clusters
        members = np.flatnonzero(film_taste == taste)
        rows = np.flatnonzero(own_taste == taste)
        if len(members) and len(rows):
            p = popularity[members] / popularity[members].sum()
            own_films[rows] = members[rng.choice(len(members), size=len(rows), p=p)]
        elif len(rows):
            own_films[rows] = rng.choice(films, size=len(rows), p=p_all)
    film_of[own] = own_films
    return np.unique(user_of * films + film_of)


def synthetic_vectors(film_taste: npt.NDArray[np.int64], seed: int = SEED) -> npt.NDArray[np.float32]:
    """Unit film vectors (films × EMBEDDING_DIMENSIONS, float32): the direction of the film's
    taste cluster plus Gaussian noise of the same expected norm, normalised; two films of one
    cluster have cosine ≈ 0.5, of two clusters ≈ 0 (random directions in 384 dimensions)."""
    rng = np.random.default_rng(seed + 2)
    centres = rng.normal(size=(TASTES, EMBEDDING_DIMENSIONS))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.normal(scale=EMBEDDING_DIMENSIONS**-0.5, size=(len(film_taste), EMBEDDING_DIMENSIONS))
    vectors = centres[film_taste] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


async def _user_film_rows(data: dict[str, np.ndarray], user_ids: np.ndarray) -> AsyncIterator[bytes]:
    """user_films as a binary COPY stream: user_id int4, tmdb_id int4, rating numeric (two
    base-10000 digits, dscale 1), watched bool, rated_at timestamptz, source varchar
    (PostgreSQL manual, COPY "Binary Format"; numeric_send/timestamptz_send layouts)."""
    dtype = np.dtype(
        [
            ("fields", ">i2"),
            ("l_user", ">i4"), ("user", ">i4"),
            ("l_film", ">i4"), ("film", ">i4"),
            ("l_rating", ">i4"), ("ndigits", ">i2"), ("weight", ">i2"), ("sign", ">i2"),
            ("dscale", ">i2"), ("d0", ">i2"), ("d1", ">i2"),
            ("l_watched", ">i4"), ("watched", "u1"),
            ("l_ts", ">i4"), ("ts", ">i8"),
            ("l_source", ">i4"), ("source", f"S{len(_SOURCE)}"),
        ]
    )  # fmt: skip
    n = len(data["user"])
    yield COPY_SIGNATURE + bytes(8)
    for start in range(0, n, _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, n)
        rows = np.zeros(stop - start, dtype=dtype)
        rows["fields"] = 6
        rows["l_user"], rows["user"] = 4, user_ids[data["user"][start:stop]]
        rows["l_film"], rows["film"] = 4, data["film"][start:stop] + 1
        half = data["half_stars"][start:stop]
        rows["l_rating"], rows["ndigits"], rows["dscale"] = 12, 2, 1
        rows["d0"], rows["d1"] = half // 2, (half % 2) * 5000
        rows["l_watched"], rows["watched"] = 1, 1
        rows["l_ts"], rows["ts"] = 8, data["ts"][start:stop] * 1_000_000 - _PG_EPOCH_US
        rows["l_source"], rows["source"] = len(_SOURCE), _SOURCE
        yield rows.tobytes()
    yield b"\xff\xff"


async def load(url: str, data: dict[str, np.ndarray], users: int, films: int) -> int:
    """Truncate and fill films, users and user_films; the heaviest user's telegram id."""
    conn = await asyncpg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        await conn.execute(
            "TRUNCATE users, user_films, films, film_embeddings, taste_vectors, cf_items, cf_neighbours,"
            " cf_models RESTART IDENTITY CASCADE"
        )
        rng = np.random.default_rng(SEED + 1)
        years = rng.integers(1930, 2026, films)
        votes = rng.uniform(4.0, 8.5, films)
        n_votes = (20_000 / (np.arange(films) + 10.0) * 50).astype(np.int64)
        taste = data["film_taste"]
        await conn.copy_records_to_table(
            "films",
            records=[
                (
                    i + 1,
                    f"Synthetic film {i + 1}",
                    int(years[i]),
                    [GENRES[int(taste[i]) % len(GENRES)]],
                    float(round(votes[i], 1)),
                    int(n_votes[i]),
                    float(n_votes[i]) / 100,
                )
                for i in range(films)
            ],
            columns=["tmdb_id", "title", "year", "genres", "vote_average", "vote_count", "popularity"],
        )
        await register_vector(conn)
        await conn.copy_records_to_table(
            "film_embeddings",
            records=(
                (i + 1, LOCAL_MODEL, vector, "synthetic") for i, vector in enumerate(synthetic_vectors(taste))
            ),
            columns=["tmdb_id", "model", "embedding", "text_hash"],
        )
        await conn.copy_records_to_table(
            "users",
            records=[(TELEGRAM_ID_BASE + u, f"s{u}") for u in range(users)],
            columns=["telegram_id", "first_name"],
        )
        ids = await conn.fetch("SELECT id, telegram_id FROM users ORDER BY telegram_id")
        user_ids = np.asarray([r["id"] for r in ids], dtype=np.int64)
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")  # skip per-row FK checks
            await conn.copy_to_table(
                "user_films",
                source=_user_film_rows(data, user_ids),
                columns=["user_id", "tmdb_id", "rating", "watched", "rated_at", "source"],
                format="binary",
            )
        await conn.execute("ANALYZE films, film_embeddings, users, user_films")
    finally:
        await conn.close()
    heaviest = int(np.bincount(data["user"], minlength=users).argmax())
    return TELEGRAM_ID_BASE + heaviest


# --- the build, in a child process -------------------------------------------------------------
async def build_only(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    session_factory = create_session_factory(engine)
    async with session_factory() as session:
        report = await build_cf_model(session)
        await session.commit()
    await engine.dispose()
    print(json.dumps({"method": report.method, "items": report.items, "edges": report.edges,
                      "interactions": report.interactions, "users": report.users,
                      "seconds": report.seconds}))  # fmt: skip


def run_build(url: str) -> tuple[dict[str, object], float, float]:
    """(the build's report, wall seconds of the child, its peak RSS in bytes)."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--build-only", "--url", url],
        check=True,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # Linux: kilobytes
    return json.loads(done.stdout.strip().splitlines()[-1]), wall, peak


# --- measurements ------------------------------------------------------------------------------
async def measure(url: str, heavy_telegram_id: int, calls: int) -> dict[str, float]:
    settings = bench_settings(recommend_cooldown_seconds=0)
    engine = create_engine(url, pool_size=4)
    session_factory = create_session_factory(engine)
    out: dict[str, float] = {}
    async with session_factory() as session:
        out["disk_bytes"] = float(
            await session.scalar(
                text(
                    "SELECT pg_total_relation_size('cf_items') + pg_total_relation_size('cf_neighbours')"
                    " + pg_total_relation_size('cf_transitions')"
                )
            )
            or 0
        )
        t0 = time.perf_counter()
        model = await CFModelCache().get(session)
        out["load_seconds"] = time.perf_counter() - t0
        out["model_films"] = float(len(model))
        out["heavy_ratings"] = float(
            await session.scalar(
                text(
                    "SELECT count(*) FROM user_films JOIN users ON users.id = user_id WHERE telegram_id = :t"
                ),
                {"t": heavy_telegram_id},
            )
            or 0
        )
        user_id = await session.scalar(
            text("SELECT id FROM users WHERE telegram_id = :t"), {"t": heavy_telegram_id}
        )
        # the heavy user's taste vector, as the worker computes it after a rating
        await EmbeddingService(session, LocalEmbedder()).refresh_taste(user_id)
        await session.commit()
    del model
    services = ServiceFactory(settings, None, embedding_model=LOCAL_MODEL)
    user = ChatUser(telegram_id=heavy_telegram_id, first_name="heavy", language_code="en")
    timings = await recommend_timings(settings, session_factory, services, user, calls)
    out["p50"] = statistics.median(timings)
    out["p95"] = percentile(timings, 0.95)
    out["calls"] = float(len(timings))
    await engine.dispose()
    return out


async def main(users: int, films: int, interactions: int, database: str, calls: int) -> None:
    setup_logging(os.environ.get("LOG_LEVEL", "WARNING"), json=False)
    started = time.perf_counter()
    t0 = time.perf_counter()
    data = generate(users, films, interactions)
    activity = np.bincount(data["user"], minlength=users)
    say(
        f"generated {len(data['user']):,} interactions of {users:,} users on {films:,} films in "
        f"{time.perf_counter() - t0:.0f} s (heaviest user {activity.max():,}, "
        f"median {np.median(activity):.0f})"
    )
    url = await bench_database(database)
    t0 = time.perf_counter()
    heavy = await load(url, data, users, films)
    n_interactions = len(data["user"])
    del data
    say(f"loaded into {database} with COPY in {time.perf_counter() - t0:.0f} s")
    report, wall, peak = run_build(url)
    say(f"CF build: {report}")
    figures = await measure(url, heavy, calls)
    print()
    print(
        f"CF at scale — synthetic, seed {SEED}: {users:,} users, {films:,} films, "
        f"{n_interactions:,} interactions (database {database})"
    )
    print(
        f"build: {wall:.0f} s wall in a child process (build_cf_model itself {report['seconds']:.0f} s), "
        f"peak RSS {peak / 2**30:.2f} GiB (getrusage RUSAGE_CHILDREN ru_maxrss), method {report['method']}"
    )
    print(
        f"model: {report['items']:,} films (of {films:,}), {report['edges']:,} edges, "
        f"{figures['disk_bytes'] / 2**20:.0f} MiB on disk (cf_items + cf_neighbours + cf_transitions); "
        f"load into a process {figures['load_seconds']:.2f} s"
    )
    print(
        f"/recommend through the dispatcher, heaviest user ({figures['heavy_ratings']:.0f} ratings), "
        f"{figures['calls']:.0f} calls, warm, no LLM, no TMDB, synthetic film vectors: "
        f"p50 {figures['p50']:.0f} ms, p95 {figures['p95']:.0f} ms"
    )
    print(f"total run time {(time.perf_counter() - started) / 60:.1f} min")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--films", type=int, default=50_000)
    parser.add_argument("--interactions", type=int, default=10_000_000)
    parser.add_argument("--database", default=SCALE_DATABASE)
    parser.add_argument("--latency-calls", type=int, default=LATENCY_CALLS)
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_only:
        asyncio.run(build_only(args.url))
        return
    asyncio.run(main(args.users, args.films, args.interactions, args.database, args.latency_calls))


if __name__ == "__main__":
    cli()
