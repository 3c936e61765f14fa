"""Recommendation quality on real ratings, and /recommend latency. Prints one table.

    make bench            # or: WTW_DATASETS=../shared/datasets .venv/bin/python -m bench.recommend_quality

Protocol (issue 3):
- Data: MovieLens ml-latest-small ratings, movieId → tmdbId through links.csv, kept where the
  TMDB id is in tmdb_5000_movies.csv (loaded as the catalog): 610 users, 4,803 films.
- Split per user (`--split`): temporal (default) = the last 20% of their ratings by timestamp
  (round(0.2·n), at least one) are the test part; random = the same number drawn at random
  (`random.Random(SEED + userId)`). The rest, in time order, is loaded into PostgreSQL as that
  user's history (every user's, so collaborative filtering sees the whole user base).
  Relevant = test rating ≥ 4.0; users without a relevant test film are skipped (590 remain on
  the temporal split).
- Validation: carved from each user's train part by the same rule (its last 20%, or a seeded
  random 20%), relevant = rating ≥ 4.0. Tuned baselines choose their constants there
  (bench/baselines.py) and are retrained on the whole train part; so does the project
  (bench/tune.py: the CF training input — decay, λ, graded targets, session rows,
  co-occurrence —, the query's recency, the ranking weights; the bot's defaults are the
  temporal split's choice). The test part is never used to choose anything.
- Every method ranks all catalog films the user has not rated in train. Metrics: NDCG@10
  (binary gains, Järvelin & Kekäläinen 2002), Recall@10 (hits / min(10, #relevant)),
  HitRate@3, catalog coverage of the top-10 lists (distinct films / catalog size), and for the
  project also HitRate@3 of the three picks the bot shows (after MMR and the slots).
- Baselines, computed with numpy from the same train part: most popular; item-kNN (cosine,
  100 neighbours, Sarwar et al. 2001); EASE (Steck 2019) with λ tuned on a time split of the
  validation split (λ ∈ 50…1600); EASE on a time-decayed input (τ, λ); RP3beta (Paudel et
  al. 2016; α, β; k = 200); content-only (mean vector of liked films − 0.7 × mean of disliked
  ones, the shape of the system this one replaces).
- The project's ranking runs end to end: its catalog, embedding jobs' code, CF model build
  and `RecommendationService` on a real PostgreSQL (a separate `wtw_bench` database).
- Latency: `/recommend` through the dispatcher (Telegram faked at the Bot API boundary) for
  the user with the most ratings, warm caches, no LLM, TMDB not configured: p50 / p95 of 200
  (`--latency-calls`). `--users N` evaluates the first N users only (a quick check).

Film vectors are kept between runs (keyed by model and text hash); everything else is reloaded.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import asyncpg
import numpy as np
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from bench import tune
from bench.baselines import (
    DISCOUNTS,
    K,
    interaction_matrix,
    item_knn,
    rating_matrix,
    tuned_baselines,
)
from bench.split import Split, load_split, validation
from bench.timing import percentile, recommend_timings
from bot.console import ChatUser
from bot.database import migrate, resolve_database_url
from bot.jobs import JobOutbox
from bot.logging import setup_logging
from bot.services import ServiceFactory
from bot.settings import BotSettings, DatabaseSettings, Settings, TelegramSettings, TMDBSettings
from db.models import FilmEmbedding
from db.repositories.films import FilmRepository
from db.session import create_engine, create_session_factory
from domain.cf import build_cf_model
from domain.embeddings import JOB_BATCH, EmbeddingService
from integrations.embeddings import LocalEmbedder
from integrations.tmdb_csv import read_tmdb_csv

BENCH_DATABASE = "wtw_bench"
PARAM_NAMES = {"l2": "λ", "tau": "τ", "alpha": "α", "beta": "β"}
TELEGRAM_ID_BASE = 9_000_000_000  # bench users' fake Telegram ids: base + MovieLens userId


# --- metrics ---------------------------------------------------------------------------------
@dataclass
class Scores:
    ndcg: list[float]
    recall: list[float]
    hit3: list[float]
    covered: set[int]

    @classmethod
    def new(cls) -> Scores:
        return cls([], [], [], set())

    def add(self, top: list[int], relevant: set[int]) -> None:
        gains = np.array([t in relevant for t in top[:K]], dtype=float)
        gains = np.pad(gains, (0, K - len(gains)))
        ideal = DISCOUNTS[: min(len(relevant), K)].sum()
        self.ndcg.append(float((gains * DISCOUNTS).sum() / ideal))
        self.recall.append(float(gains.sum() / min(len(relevant), K)))
        self.hit3.append(float(gains[:3].max()))
        self.covered.update(top[:K])


def rank_dense(scores: np.ndarray, seen: np.ndarray, items: np.ndarray) -> list[int]:
    s = np.where(seen, -np.inf, scores)
    top = np.argpartition(-s, K)[:K]
    top = top[np.argsort(-s[top], kind="stable")]
    return [int(items[i]) for i in top]


# --- database --------------------------------------------------------------------------------
def bench_url(name: str = BENCH_DATABASE) -> str:
    """The URL of the benchmark database `name` on the server of BENCH_DATABASE_URL (or the
    bot's DATABASE_URL); nothing is created."""
    url = os.environ.get("BENCH_DATABASE_URL") or resolve_database_url(bench_settings())
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def bench_database(name: str = BENCH_DATABASE) -> str:
    """`bench_url(name)`, the database created if missing and migrated to head."""
    url = bench_url(name)
    admin = make_url(url).set(database="postgres", drivername="postgresql")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    await migrate(url)
    return url


def bench_settings(**bot: object) -> Settings:
    return Settings(
        telegram=TelegramSettings(_env_file=None, bot_token=None),
        database=DatabaseSettings(_env_file=None),
        tmdb=TMDBSettings(_env_file=None, api_key=None, read_access_token=None),
        bot=BotSettings(_env_file=None, **bot),
    )


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


async def main(datasets: Path, *, latency_calls: int, users_limit: int | None, kind: str) -> None:
    setup_logging(os.environ.get("LOG_LEVEL", "WARNING"), json=False)
    started = time.perf_counter()
    split = load_split(datasets, kind)
    say(
        f"{kind} split: {len(split.train)} users, {len(split.catalog)} films, "
        f"{sum(len(h) for h in split.train.values())} train ratings, {len(split.relevant)} evaluated users"
    )
    settings = bench_settings(recommend_cooldown_seconds=0)
    url = await bench_database()
    engine = create_engine(url, pool_size=4)
    session_factory = create_session_factory(engine)
    embedder = LocalEmbedder()

    # catalog, history, vectors, CF model ------------------------------------------------------
    async with session_factory() as session:
        await session.execute(
            text("TRUNCATE users, cf_items, cf_neighbours, cf_models RESTART IDENTITY CASCADE")
        )
        films = list(read_tmdb_csv(datasets / "tmdb_5000" / "tmdb_5000_movies.csv"))
        await FilmRepository(session).upsert(films)
        await session.commit()

    t0 = time.perf_counter()
    async with session_factory() as session:
        todo = await EmbeddingService(session, embedder).films_to_embed()
    for start in range(0, len(todo), JOB_BATCH):
        async with session_factory() as session:
            await EmbeddingService(session, embedder).embed_films(todo[start : start + JOB_BATCH])
            await session.commit()
    embed_seconds = time.perf_counter() - t0
    say(f"embedded {len(todo)} films in {embed_seconds:.0f} s ({embedder.model}; the rest were current)")

    # the project's constants, chosen on the validation split only -------------------------------
    items = np.asarray(split.catalog)
    vectors = await film_vector_matrix(engine, embedder.model, items)
    chosen = tune.choose(
        split.train,
        *validation(split),
        items,
        {f.tmdb_id: (f.vote_average, f.vote_count) for f in films},
        vectors,
    )
    services = ServiceFactory(settings, None, embedding_model=embedder.model, rank_weights=chosen.weights)

    user_ids = await load_history(engine, split)
    say(f"history loaded for {len(user_ids)} users")
    async with session_factory() as session:
        training = chosen.training
        report = await build_cf_model(
            session,
            tau=training.tau,
            l2=training.l2,
            target=training.target,
            sessions=training.sessions,
            cooccurrence=training.cooccurrence,
        )
        await session.commit()
    say(f"CF model: {report.items} films, {report.edges} weights, {report.seconds:.1f} s")

    t0 = time.perf_counter()
    for user_id in user_ids.values():
        async with session_factory() as session:
            await EmbeddingService(session, embedder).refresh_taste(user_id)
            await session.commit()
    say(f"taste vectors for {len(user_ids)} users in {time.perf_counter() - t0:.0f} s")

    evaluated = sorted(split.relevant)[:users_limit] if users_limit else sorted(split.relevant)

    # the project: ranking and the three picks ---------------------------------------------------
    ours, picks = Scores.new(), Scores.new()
    rank_ms: list[float] = []
    for ml_user in evaluated:
        async with session_factory() as session:
            svc = services.bind(session, JobOutbox())["recommendations"]
            t0 = time.perf_counter()
            ranking = await svc.rank(user_ids[ml_user])
            rank_ms.append((time.perf_counter() - t0) * 1000)
            ours.add([s.film.tmdb_id for s in ranking.scored[:K]], split.relevant[ml_user])
            result = await svc.recommend(user_ids[ml_user])
            picks.hit3.append(float(any(p.film.tmdb_id in split.relevant[ml_user] for p in result.picks)))
            await session.rollback()  # leave no shown items behind: every user starts fresh
    say(f"project ranked {len(evaluated)} users (median {statistics.median(rank_ms):.0f} ms per ranking)")

    # measured before the baselines fill memory with dense item × item matrices
    latency = await measure_latency(settings, session_factory, services, split, user_ids, latency_calls)

    # baselines ----------------------------------------------------------------------------------
    ml_users = sorted(split.train)
    x = interaction_matrix(split.train, ml_users, items)
    row = {u: i for i, u in enumerate(ml_users)}
    eval_rows = [row[u] for u in evaluated]
    seen = x > 0
    table: dict[str, Scores] = {}

    pop = x.sum(axis=0)

    def evaluate(score: Callable[[int], np.ndarray]) -> Scores:
        result = Scores.new()
        for r, ml_user in zip(eval_rows, evaluated, strict=True):
            top = rank_dense(np.asarray(score(r), dtype=np.float64), seen[r], items)
            result.add(top, split.relevant[ml_user])
        return result

    table["most popular"] = evaluate(lambda r: pop)
    knn = item_knn(x)
    table["item-kNN (cosine, k=100)"] = evaluate(lambda r: x[r] @ knn)
    say(f"tuning on the validation split carved from the train part ({kind}):")
    for name, params, scores in tuned_baselines(split.train, validation(split), ml_users, items):
        label = ", ".join(
            f"{PARAM_NAMES[k]}={'∞' if v == float('inf') else f'{v:g}'}" for k, v in params.items()
        )
        table[f"{name} ({label})"] = evaluate(lambda r, s=scores: s[r])
    ratings = rating_matrix(split.train, ml_users, items)
    liked, disliked = (ratings >= 4.0), (ratings > 0) & (ratings <= 2.0)

    def content(r: int) -> np.ndarray:
        taste = _mean_rows(vectors, liked[r]) - 0.7 * _mean_rows(vectors, disliked[r])
        return vectors @ taste

    table["content-only (liked − 0.7·disliked)"] = evaluate(content)
    table["WhatToWatch hybrid (this project)"] = ours

    await engine.dispose()

    seconds = time.perf_counter() - started
    print_table(table, picks, len(split.catalog), len(evaluated), latency, seconds, kind)
    print(
        f"the project's constants, chosen on validation (bench/tune.py): CF training "
        f"{chosen.training.label()}; {tune._label(chosen.weights)} "
        f"(validation NDCG@10 {chosen.ndcg:.4f}, deployed coverage@10 {chosen.coverage:.4f})"
    )


async def load_history(engine, split: Split) -> dict[int, int]:  # type: ignore[no-untyped-def]
    """Create one user per MovieLens user and COPY their train ratings; ML id → user id."""
    async with engine.begin() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        rows = [(TELEGRAM_ID_BASE + u, f"ml{u}") for u in sorted(split.train)]
        await driver.copy_records_to_table("users", records=rows, columns=["telegram_id", "first_name"])
        ids = {
            r["telegram_id"] - TELEGRAM_ID_BASE: r["id"]
            for r in await driver.fetch("SELECT id, telegram_id FROM users")
        }
        records = [
            (
                ids[u],
                tmdb_id,
                Decimal(str(rating)),
                True,
                dt.datetime.fromtimestamp(ts, dt.UTC),
                "movielens",
            )
            for u, history in split.train.items()
            for tmdb_id, rating, ts in history
        ]
        await driver.copy_records_to_table(
            "user_films",
            records=records,
            columns=["user_id", "tmdb_id", "rating", "watched", "rated_at", "source"],
        )
    return ids


async def film_vector_matrix(engine, model: str, items: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """All catalog vectors (for the content-only baseline only; the project never does this)."""
    index = {int(t): i for i, t in enumerate(items)}
    matrix = np.zeros((len(items), 384), dtype=np.float32)
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(FilmEmbedding.tmdb_id, FilmEmbedding.embedding).where(FilmEmbedding.model == model)
        )
        for tmdb_id, vector in rows:
            matrix[index[tmdb_id]] = np.asarray(vector, dtype=np.float32)
    return matrix


def _mean_rows(vectors: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return vectors[mask].mean(axis=0) if mask.any() else np.zeros(vectors.shape[1], dtype=np.float32)


async def measure_latency(settings, session_factory, services, split, user_ids, calls):  # type: ignore[no-untyped-def]
    """p50/p95 of /recommend through the dispatcher for the user with the most ratings."""
    heavy = max(split.train, key=lambda u: len(split.train[u]))
    n_ratings = len(split.train[heavy])
    user = ChatUser(telegram_id=TELEGRAM_ID_BASE + heavy, first_name=f"ml{heavy}", language_code="en")
    timings = await recommend_timings(settings, session_factory, services, user, calls)
    async with session_factory() as session:  # the next run starts clean
        await session.execute(text("DELETE FROM recommendations WHERE user_id = :u"), {"u": user_ids[heavy]})
        await session.commit()
    return {
        "user_ratings": n_ratings,
        "calls": len(timings),
        "p50": statistics.median(timings),
        "p95": percentile(timings, 0.95),
    }


def print_table(table, picks, catalog_size, n_users, latency, seconds, kind) -> None:  # type: ignore[no-untyped-def]
    print()
    print(
        f"Recommendation quality — MovieLens ml-latest-small ∩ TMDB 5000, {n_users} users, "
        f"{kind} 80/20 split (baselines tuned on a {kind} validation split of the train part)"
    )
    print(f"{'method':<40} {'NDCG@10':>8} {'Recall@10':>10} {'HitRate@3':>10} {'Coverage@10':>12}")
    for name, s in table.items():
        print(
            f"{name:<40} {np.mean(s.ndcg):>8.4f} {np.mean(s.recall):>10.4f} "
            f"{np.mean(s.hit3):>10.3f} {len(s.covered) / catalog_size:>12.4f}"
        )
    print(f"{'  the bot’s three picks (MMR + slots)':<40} {'':>8} {'':>10} {np.mean(picks.hit3):>10.3f}")
    print()
    print(
        f"/recommend latency through the dispatcher: user with {latency['user_ratings']} ratings, "
        f"{latency['calls']} calls, warm caches (the ranking reused, domain.ranking_cache; "
        f"`make bench-latency` also times answers ranking from scratch), no LLM, no TMDB: "
        f"p50 {latency['p50']:.0f} ms, p95 {latency['p95']:.0f} ms"
    )
    print(f"total run time {seconds / 60:.1f} min")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=os.environ.get("WTW_DATASETS", "../shared/datasets"))
    parser.add_argument("--latency-calls", type=int, default=200)
    parser.add_argument(
        "--split",
        choices=("temporal", "random"),
        default="temporal",
        help="test part: each user's last 20%% of ratings, or a seeded random 20%%",
    )
    parser.add_argument("--users", type=int, help="evaluate only the first N users (quick check)")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="the fresh-install protocol: every user alone, without and with a 5-fold prior",
    )
    args = parser.parse_args()
    if not (args.datasets / "movielens").is_dir():
        sys.exit(f"No datasets at {args.datasets}: set WTW_DATASETS or pass --datasets")
    if args.fresh:
        from bench import fresh_install

        setup_logging("WARNING", json=False)
        asyncio.run(fresh_install.main(args.datasets, users_limit=args.users))
        return
    asyncio.run(
        main(args.datasets, latency_calls=args.latency_calls, users_limit=args.users, kind=args.split)
    )


if __name__ == "__main__":
    cli()
