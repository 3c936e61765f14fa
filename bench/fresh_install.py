"""The fresh-install protocol (issue 11): every evaluated user alone in the database.

    make bench-fresh      # or: python -m bench.recommend_quality --fresh

A self-hosted bot starts with one user, so this protocol never lets collaborative filtering
see the other MovieLens users as bot users:
- **Data and split** as the public protocol (`bench.split.load_split`): MovieLens
  ml-latest-small ∩ TMDB 5000, temporal 80/20 per user, relevant = test rating ≥ 4.0.
- **Validation**: each user's train part is split again by the same rule (its last 20 %);
  the thin-CF weights (`RankWeights.fresh_*`) are chosen on it with a grid search over the
  score components the service computed, and the test runs use the chosen weights.
- **Alone, no prior**: for each evaluated user, their train ratings are the only history in
  the database (inserted and rolled back in one transaction); the CF model is empty; the
  real `RecommendationService` ranks and picks.
- **Alone, with a prior**: 5 folds over users (seeded); for a fold, the train parts of the
  users of the other folds are loaded as a ratings prior (`cf_prior_ratings`, as
  `python -m bot cf load-ratings` stores one) and the CF model is built from it; then each
  user of the fold is ranked alone, as above.
- Beside them, computed from the same train parts: the IMDb-style weighted rating of the
  catalog, the TMDB vote count, and content only (mean vector of liked − 0.7 × disliked).
- For every pick the bot would show, each reason is checked against the user's history by
  the written rules (`reason_failures`), and 🧭/🎲 picks against the quality floor.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.recommend_quality import (
    DISCOUNTS,
    TELEGRAM_ID_BASE,
    K,
    Scores,
    bench_database,
    film_vector_matrix,
    rank_dense,
    say,
)
from bench.split import Split, load_split
from db.repositories.films import FilmRepository
from db.session import create_engine, create_session_factory
from domain.catalog import CatalogService
from domain.cf import build_cf_model
from domain.cf_cache import CFModelCache
from domain.embeddings import JOB_BATCH, EmbeddingService
from domain.entities import Slot
from domain.picks import ShownPick
from domain.recommendations import TASTE_HISTORY, RecommendationService
from integrations.embeddings import LocalEmbedder
from integrations.tmdb_csv import read_tmdb_csv
from recommender import ReasonKind
from recommender.picks import SLOT_MIN_VOTES
from recommender.scoring import (
    BAYES_MIN_VOTES,
    BAYES_PRIOR_MEAN,
    DEFAULT_WEIGHTS,
    RankWeights,
    bayesian_rating,
)
from recommender.taste import LOVED_MIN_RATING, NEW_GENRE_MAX_SHARE, TOP_RATING, USUAL_DECADE_SHARE

FOLDS = 5
SEED = 11
#: The weights searched on validation (fresh_quality stays 1: it sets the scale).
GRID = {
    "fresh_content": (0.5, 1.0, 1.5, 2.0),
    "fresh_genres": (0.0, 0.25, 0.5, 1.0),
    "fresh_votes": (0.0, 0.5, 1.0, 1.5),
    "fresh_era": (0.0, 0.5, 1.0, 1.5, 2.0),
}
FRESH_COMPONENTS = {
    "content": "fresh_content",
    "genres": "fresh_genres",
    "votes": "fresh_votes",
    "era": "fresh_era",
}
UNIT = RankWeights(fresh_content=1.0, fresh_quality=1.0, fresh_genres=1.0, fresh_votes=1.0, fresh_era=1.0)

History = list[tuple[int, float, int]]  # (tmdb id, rating, timestamp), oldest first


def carve(history: History) -> tuple[History, set[int]]:
    """The validation split of one train part, by the rule that carved the test part from the
    whole: the last round(0.2·n) films (at least one) are held out; relevant = rated ≥ 4."""
    n_val = max(1, round(0.2 * len(history))) if len(history) > 1 else 0
    held = history[len(history) - n_val :]
    return history[: len(history) - n_val], {t for t, r, _ in held if r >= 4.0}


@dataclass
class Run:
    """One configuration of the project, measured on the test part."""

    scores: Scores
    picks_hit3: list[float]
    reasons: int = 0
    failed: int = 0
    slot_picks: int = 0
    under_floor: int = 0
    rank_ms: list[float] | None = None


class Lab:
    """The bench database with the catalog and its vectors; runs one user at a time alone."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], embedder: LocalEmbedder) -> None:
        self.session_factory = session_factory
        self.embedder = embedder
        self.model = embedder.model
        self.cf_cache = CFModelCache()
        self.titles: dict[int, str] = {}
        self.films: dict[int, tuple[int | None, tuple[str, ...], float, int]] = {}
        self.median_votes = 0.0
        self.median_weighted = 0.0

    async def load_catalog(self, catalog: Sequence[int]) -> None:
        async with self.session_factory() as session:
            repo = FilmRepository(session)
            rows = await repo.rows_many(catalog)
            self.median_votes, self.median_weighted = await repo.vote_medians(
                BAYES_MIN_VOTES, BAYES_PRIOR_MEAN
            )
        for t, f in rows.items():
            self.titles[t] = f.title
            self.films[t] = (f.year, f.genres, f.vote_average, f.vote_count)

    async def alone(
        self, ml_user: int, history: History, weights: RankWeights, *, picks: bool
    ) -> tuple[list[tuple[int, dict[str, float]]], tuple[ShownPick, ...], float]:
        """Rank (and with `picks`, recommend) for one user whose history is the only one in
        the database; everything is rolled back. Returns (candidates with their components,
        best first), the picks, and the ranking's milliseconds."""
        async with self.session_factory() as session:
            conn = await session.connection()
            user_id = (
                await conn.execute(
                    text("INSERT INTO users (telegram_id, first_name) VALUES (:t, :n) RETURNING id"),
                    {"t": TELEGRAM_ID_BASE + ml_user, "n": f"ml{ml_user}"},
                )
            ).scalar_one()
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.copy_records_to_table(
                "user_films",
                records=[
                    (user_id, t, Decimal(str(r)), True, dt.datetime.fromtimestamp(ts, dt.UTC), "movielens")
                    for t, r, ts in history
                ],
                columns=["user_id", "tmdb_id", "rating", "watched", "rated_at", "source"],
            )
            await EmbeddingService(session, self.embedder).refresh_taste(user_id)  # reads stored vectors
            service = RecommendationService(
                session,
                CatalogService(session, None, ttl=dt.timedelta(days=1)),
                repeat_window=dt.timedelta(days=60),
                cf_cache=self.cf_cache,
                embedding_model=self.model,
                weights=weights,
            )
            t0 = time.perf_counter()
            ranking = await service.rank(user_id)
            ms = (time.perf_counter() - t0) * 1000
            shown: tuple[ShownPick, ...] = ()
            if picks:
                shown = (await service.recommend(user_id, ranking=ranking)).picks
            await session.rollback()
        ranked = [(s.film.tmdb_id, dict(s.components)) for s in ranking.scored]
        return ranked, shown, ms

    def reason_failures(self, pick: ShownPick, history: History) -> list[str]:
        """The reasons of a pick that break their written rule, checked on the raw history
        (the TASTE_HISTORY most recent films, as the taste profile sees them):
        - FANS_ALSO_LOVED / SIMILAR_TO: each title is a film the user rated 5★, or ≥ 4★ and
          above their mean (MovieLens has no likes);
        - SHARED_GENRES: the film has the genre, and the user's mean for it is above their mean;
        - NEW_GENRE: under 10 % of the rated films have the genre;
        - NEW_DECADE: under 15 % of the dated films are from the decade;
        - HIDDEN_GEM: fewer TMDB votes than the catalog's median;
        - HIGHLY_RATED: the value is the film's TMDB rating and its weighted rating is above C."""
        recent = history[-TASTE_HISTORY:]
        mean = statistics.fmean(r for _, r, _ in recent)
        loved_titles = {
            self.titles[t] for t, r, _ in history if r >= TOP_RATING or (r >= LOVED_MIN_RATING and r > mean)
        }
        _, genres, vote_average, vote_count = self.films[pick.film.tmdb_id]
        failures = []
        for reason in pick.reasons:
            ok = True
            if reason.kind in (ReasonKind.FANS_ALSO_LOVED, ReasonKind.SIMILAR_TO):
                ok = all(title in loved_titles for title in reason.values)
            elif reason.kind is ReasonKind.SHARED_GENRES:
                for genre in reason.values:
                    with_genre = [r for t, r, _ in recent if genre in self.films[t][1]]
                    ok &= genre in genres and bool(with_genre) and statistics.fmean(with_genre) > mean
            elif reason.kind is ReasonKind.NEW_GENRE:
                share = sum(1 for t, _, _ in recent if reason.values[0] in self.films[t][1]) / len(recent)
                ok = share < NEW_GENRE_MAX_SHARE
            elif reason.kind is ReasonKind.NEW_DECADE:
                dated = [y for t, _, _ in recent if (y := self.films[t][0]) is not None]
                decade = int(reason.values[0].rstrip("s"))
                ok = sum(1 for y in dated if y - y % 10 == decade) < USUAL_DECADE_SHARE * len(dated)
            elif reason.kind is ReasonKind.HIDDEN_GEM:
                ok = vote_count < self.median_votes
            elif reason.kind is ReasonKind.HIGHLY_RATED:
                weighted = bayesian_rating(vote_average, vote_count)
                ok = reason.values == (f"{vote_average:.1f}",) and weighted > BAYES_PRIOR_MEAN
            if not ok:
                failures.append(f"{reason.kind.value} {reason.values}")
        return failures

    def under_floor(self, pick: ShownPick) -> bool:
        """A 🧭/🎲 pick below SLOT_MIN_VOTES votes or the catalog's median weighted rating."""
        _, _, vote_average, vote_count = self.films[pick.film.tmdb_id]
        weighted = bayesian_rating(vote_average, vote_count)
        return vote_count < SLOT_MIN_VOTES or weighted < self.median_weighted


def ndcg_at_k(top: Sequence[int], relevant: set[int]) -> float:
    gains = np.array([t in relevant for t in top[:K]], dtype=float)
    gains = np.pad(gains, (0, K - len(gains)))
    return float((gains * DISCOUNTS).sum() / DISCOUNTS[: min(len(relevant), K)].sum())


def search_weights(
    ranked: dict[int, list[tuple[int, dict[str, float]]]], relevant: dict[int, set[int]]
) -> tuple[RankWeights, list[tuple[float, dict[str, float]]]]:
    """The GRID point with the best mean NDCG@10 on validation: each candidate's score is
    recomputed from the components the service computed at unit fresh weights."""
    users = [u for u in ranked if ranked[u]]
    names = list(FRESH_COMPONENTS)
    data = []
    for u in users:
        ids = np.array([t for t, _ in ranked[u]])
        comps = ranked[u]
        raw = np.array([[c.get(n, 0.0) for n in names] for _, c in comps])
        rest = np.array([sum(v for k, v in c.items() if k not in FRESH_COMPONENTS) for _, c in comps])
        data.append((ids, raw, rest, relevant[u]))
    results = []
    for combo in itertools.product(*(GRID[FRESH_COMPONENTS[n]] for n in names)):
        w = np.array(combo)
        ndcg = []
        for ids, raw, rest, rel in data:
            score = rest + raw @ w
            top = ids[np.argsort(-score, kind="stable")[:K]]
            ndcg.append(ndcg_at_k(top.tolist(), rel))
        results.append(
            (float(np.mean(ndcg)), dict(zip([FRESH_COMPONENTS[n] for n in names], combo, strict=True)))
        )
    results.sort(key=lambda r: -r[0])
    return replace(DEFAULT_WEIGHTS, **results[0][1]), results


async def load_prior(
    session_factory: async_sessionmaker[AsyncSession], split: Split, users: Sequence[int]
) -> int:
    """Replace the ratings prior with the train parts of `users` (as `cf load-ratings` stores
    one); returns the number of ratings."""
    async with session_factory() as session:
        await session.execute(text("TRUNCATE cf_priors, cf_prior_ratings"))
        records = [(u, t, r) for u in users for t, r, _ in split.train[u]]
        prior_id = (
            await session.execute(
                text(
                    "INSERT INTO cf_priors (name, format, n_users, n_films, n_ratings, n_unlinked) "
                    "VALUES ('bench-folds', 'movielens', :u, :f, :r, 0) RETURNING id"
                ),
                {"u": len(users), "f": len({t for _, t, _ in records}), "r": len(records)},
            )
        ).scalar_one()
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        assert driver is not None
        await driver.copy_records_to_table(
            "cf_prior_ratings",
            records=[(prior_id, u, t, float(r)) for u, t, r in records],
            columns=["prior_id", "prior_user", "tmdb_id", "rating"],
        )
        await session.commit()
    return len(records)


async def evaluate(lab: Lab, split: Split, users: Sequence[int], weights: RankWeights, run: Run) -> None:
    for ml_user in users:
        history = split.train[ml_user]
        ranked, picks, ms = await lab.alone(ml_user, history, weights, picks=True)
        relevant = split.relevant[ml_user]
        run.scores.add([t for t, _ in ranked[:K]], relevant)
        run.picks_hit3.append(float(any(p.film.tmdb_id in relevant for p in picks)))
        assert run.rank_ms is not None
        run.rank_ms.append(ms)
        for pick in picks:
            run.reasons += len(pick.reasons)
            failures = lab.reason_failures(pick, history)
            if failures:
                say(f"  false reason for ml{ml_user} on {pick.film.title}: {failures}")
            run.failed += len(failures)
            if pick.slot is not Slot.SAFE:
                run.slot_picks += 1
                run.under_floor += lab.under_floor(pick)


async def main(datasets: Path, *, users_limit: int | None) -> None:
    started = time.perf_counter()
    split = load_split(datasets)
    url = await bench_database()
    engine = create_engine(url, pool_size=2)
    session_factory = create_session_factory(engine)
    embedder = LocalEmbedder()
    async with session_factory() as session:
        await session.execute(
            text("TRUNCATE users, cf_items, cf_neighbours, cf_models, cf_priors RESTART IDENTITY CASCADE")
        )
        await FilmRepository(session).upsert(read_tmdb_csv(datasets / "tmdb_5000" / "tmdb_5000_movies.csv"))
        await session.commit()
        todo = await EmbeddingService(session, embedder).films_to_embed()
    for start in range(0, len(todo), JOB_BATCH):
        async with session_factory() as session:
            await EmbeddingService(session, embedder).embed_films(todo[start : start + JOB_BATCH])
            await session.commit()
    lab = Lab(session_factory, embedder)
    await lab.load_catalog(split.catalog)
    evaluated = sorted(split.relevant)[:users_limit] if users_limit else sorted(split.relevant)
    say(f"fresh protocol: {len(evaluated)} evaluated users, each alone; catalog {len(split.catalog)} films")

    # validation: choose the thin-CF weights on each user's own train part ----------------------
    val_ranked: dict[int, list[tuple[int, dict[str, float]]]] = {}
    val_relevant: dict[int, set[int]] = {}
    for ml_user in evaluated:
        part, relevant = carve(split.train[ml_user])
        if part and relevant:
            val_ranked[ml_user], _, _ = await lab.alone(ml_user, part, UNIT, picks=False)
            val_relevant[ml_user] = relevant
    chosen, search = search_weights(val_ranked, val_relevant)
    say(f"validation: {len(val_ranked)} users, {len(search)} weight combinations searched")

    # alone, no prior ----------------------------------------------------------------------------
    fresh = Run(Scores.new(), [], rank_ms=[])
    await evaluate(lab, split, evaluated, chosen, fresh)
    say(f"alone, no prior: NDCG@10 {np.mean(fresh.scores.ndcg):.4f}")

    # alone, with a prior from the other folds -----------------------------------------------------
    prior = Run(Scores.new(), [], rank_ms=[])
    everyone = sorted(split.train)
    random.Random(SEED).shuffle(everyone)
    fold_of = {u: i % FOLDS for i, u in enumerate(everyone)}
    for fold in range(FOLDS):
        n = await load_prior(session_factory, split, [u for u in everyone if fold_of[u] != fold])
        async with session_factory() as session:
            report = await build_cf_model(session)
            await session.commit()
        say(f"fold {fold + 1}: prior of {n} ratings → CF model of {report.items} films")
        await evaluate(lab, split, [u for u in evaluated if fold_of[u] == fold], chosen, prior)
    say(f"alone, with the 5-fold prior: NDCG@10 {np.mean(prior.scores.ndcg):.4f}")
    async with session_factory() as session:  # leave the bench database without the folds' prior
        await session.execute(text("TRUNCATE cf_items, cf_neighbours, cf_models, cf_priors CASCADE"))
        await session.commit()

    # baselines from the same train parts ----------------------------------------------------------
    items = np.asarray(split.catalog)
    index = {int(t): i for i, t in enumerate(items)}
    va = np.array([lab.films[int(t)][2] for t in items])
    vc = np.array([lab.films[int(t)][3] for t in items], dtype=float)
    weighted = (vc * np.clip(va, 0, 10) + BAYES_MIN_VOTES * BAYES_PRIOR_MEAN) / (vc + BAYES_MIN_VOTES)
    vectors = await film_vector_matrix(engine, embedder.model, items)
    table: dict[str, Scores] = {}
    for name in ("weighted rating (IMDb-style)", "TMDB vote count", "content only (liked − 0.7·disliked)"):
        table[name] = Scores.new()
    for ml_user in evaluated:
        seen = np.zeros(len(items), dtype=bool)
        liked = np.zeros(len(items), dtype=bool)
        disliked = np.zeros(len(items), dtype=bool)
        for t, r, _ in split.train[ml_user]:
            seen[index[t]] = True
            liked[index[t]] = r >= 4.0
            disliked[index[t]] = r <= 2.0
        taste = (vectors[liked].mean(0) if liked.any() else 0) - 0.7 * (
            vectors[disliked].mean(0) if disliked.any() else 0
        )
        rel = split.relevant[ml_user]
        table["weighted rating (IMDb-style)"].add(rank_dense(weighted, seen, items), rel)
        table["TMDB vote count"].add(rank_dense(vc, seen, items), rel)
        table["content only (liked − 0.7·disliked)"].add(rank_dense(vectors @ taste, seen, items), rel)
    await engine.dispose()

    print()
    print("Thin-CF weights chosen on validation (each user's train part, its last 20 % held out):")
    for ndcg, combo in search[:5]:
        print(f"  NDCG@10 {ndcg:.4f}  " + ", ".join(f"{k}={v:g}" for k, v in combo.items()))
    in_code = {k: getattr(DEFAULT_WEIGHTS, k) for k in search[0][1]}
    print(
        "  chosen: "
        + ", ".join(f"{k}={v:g}" for k, v in search[0][1].items())
        + " (recommender/scoring.py: "
        + (
            "the same)"
            if in_code == search[0][1]
            else ", ".join(f"{k}={v:g}" for k, v in in_code.items()) + ")"
        )
    )
    print()
    print(
        f"Fresh install — every evaluated user alone in the database, {len(evaluated)} users, temporal 80/20"
    )
    print(f"{'method':<44} {'NDCG@10':>8} {'Recall@10':>10} {'HitRate@3':>10} {'picks Hit@3':>12}")
    for name, s in table.items():
        print(f"{name:<44} {np.mean(s.ndcg):>8.4f} {np.mean(s.recall):>10.4f} {np.mean(s.hit3):>10.3f}")
    for name, run in (
        ("this project, no prior", fresh),
        (f"this project, {FOLDS}-fold prior of other users", prior),
    ):
        s = run.scores
        print(
            f"{name:<44} {np.mean(s.ndcg):>8.4f} {np.mean(s.recall):>10.4f} {np.mean(s.hit3):>10.3f} "
            f"{np.mean(run.picks_hit3):>12.3f}"
        )
    print()
    for name, run in (("no prior", fresh), ("with the prior", prior)):
        assert run.rank_ms is not None
        print(
            f"picks shown ({name}): {run.reasons} reasons, {run.failed} break their rule; "
            f"{run.slot_picks} 🧭/🎲 picks, {run.under_floor} under the quality floor "
            f"({run.under_floor / max(run.slot_picks, 1):.1%}); ranking median "
            f"{statistics.median(run.rank_ms):.0f} ms"
        )
    print(f"total run time {(time.perf_counter() - started) / 60:.1f} min")
