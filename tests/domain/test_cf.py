"""Training and loading the stored CF model (domain/cf.py, domain/cf_cache.py): the sparse
RP3beta path above the dense size, the time-decayed input matrix and loading the edges with a
binary COPY."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np
import pytest
from scipy import sparse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import domain.cf as cf_module
from db.copy import BinaryCopyReader
from db.models import CFItem, CFModelInfo, CFNeighbour, Film, User, UserFilm
from domain.cf import build_cf_model
from domain.cf_cache import CFModelCache
from recommender.cf import CFModel
from recommender.cf_train import (
    Cooccurrence,
    SessionRows,
    TargetGrades,
    add_edges,
    ease_from_gram,
    ease_from_grams,
    rp3beta_edges,
    truncate_by_target,
)

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
FILMS = list(range(1, 13))
# user → films, oldest first (rated_at one day apart); film 12 has one user only
HISTORIES = [
    [1, 2, 3, 4],
    [2, 3, 5, 1],
    [4, 5, 6, 7, 8, 1],
    [6, 7, 8, 9],
    [9, 10, 11, 2, 3],
    [10, 11, 1, 12],
    [3, 4, 9, 10, 11],
]


async def world(session: AsyncSession) -> list[int]:
    session.add_all([Film(tmdb_id=t, title=f"Film {t}") for t in FILMS])
    await session.flush()
    ids = []
    for n, history in enumerate(HISTORIES):
        user = User(telegram_id=71_000 + n)
        session.add(user)
        await session.flush()
        ids.append(user.id)
        session.add_all(
            [
                UserFilm(
                    user_id=user.id,
                    tmdb_id=t,
                    rating=Decimal("4"),
                    watched=True,
                    rated_at=T0 + dt.timedelta(days=k),
                    source="bot",
                )
                for k, t in enumerate(history)
            ]
        )
    await session.flush()
    return ids


def reference_matrix(tau: float, films: list[int]) -> sparse.csr_array:
    """X of HISTORIES over `films`: exp(−age/τ), age 0 = the newest of each user."""
    col = {t: j for j, t in enumerate(films)}
    rows, cols, values = [], [], []
    for u, history in enumerate(HISTORIES):
        for age, t in enumerate(reversed(history)):
            if t in col:
                rows.append(u)
                cols.append(col[t])
                values.append(math.exp(-age / tau))
    return sparse.csr_array((values, (rows, cols)), shape=(len(HISTORIES), len(films)))


async def stored_edges(session: AsyncSession) -> dict[tuple[int, int], float]:
    rows = await session.execute(select(CFNeighbour.source_id, CFNeighbour.target_id, CFNeighbour.weight))
    return {(s, t): w for s, t, w in rows.all()}


def as_edges(
    films: list[int], result: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> dict[tuple[int, int], float]:
    s, t, w = result
    return {(films[i], films[j]): float(v) for i, j, v in zip(s, t, w, strict=True)}


def assert_same(got: dict[tuple[int, int], float], expected: dict[tuple[int, int], float]) -> None:
    assert got.keys() == expected.keys()
    for key, weight in expected.items():
        assert got[key] == pytest.approx(weight, rel=1e-5, abs=1e-7)


async def test_ages_rank_each_users_interactions_most_recent_first(session: AsyncSession) -> None:
    session.add_all([Film(tmdb_id=t, title=f"Film {t}") for t in FILMS])
    user = User(telegram_id=72_000)
    session.add(user)
    await session.flush()
    updated = T0 + dt.timedelta(days=30)
    session.add_all(
        [
            UserFilm(user_id=user.id, tmdb_id=1, rating=Decimal("4"), rated_at=T0, source="bot"),
            UserFilm(
                user_id=user.id, tmdb_id=2, rating=Decimal("3"), rated_at=T0 + dt.timedelta(1), source="bot"
            ),
            # never rated: after every rated one, by updated_at desc, then tmdb id
            UserFilm(user_id=user.id, tmdb_id=5, watched=True, updated_at=updated, source="bot"),
            UserFilm(user_id=user.id, tmdb_id=3, liked=True, updated_at=updated, source="bot"),
            UserFilm(user_id=user.id, tmdb_id=4, watched=True, updated_at=T0, source="bot"),
            # not interactions: 🚫 and a bare watchlist entry
            UserFilm(user_id=user.id, tmdb_id=6, watched=True, not_interested=True, source="bot"),
            UserFilm(user_id=user.id, tmdb_id=7, on_watchlist=True, source="bot"),
        ]
    )
    await session.flush()
    driver = (await (await session.connection()).get_raw_connection()).driver_connection
    assert driver is not None
    sink = BinaryCopyReader(cf_module._TRAIN_COLUMNS)
    await driver.copy_from_query(cf_module._INTERACTIONS_SQL, output=sink, format="binary")
    rows = sink.finish()
    ages = dict(zip(rows["tmdb"].tolist(), rows["age"].tolist(), strict=True))
    assert ages == {2: 0, 1: 1, 3: 2, 5: 3, 4: 4}
    assert set(rows["user"].tolist()) == {user.id} and set(rows["source"].tolist()) == {0}


@pytest.mark.parametrize("tau", [2.0, math.inf])
async def test_ease_trains_on_the_time_decayed_matrix(session: AsyncSession, tau: float) -> None:
    await world(session)
    report = await build_cf_model(session, tau=tau, l2=1.0, neighbours=4)
    films = FILMS[:11]  # film 12 has one user
    x = reference_matrix(tau, films)
    expected = as_edges(films, truncate_by_target(ease_from_gram((x.T @ x).toarray(), 1.0), 4))
    assert (report.method, report.items, report.tau) == ("ease", 11, tau)
    assert_same(await stored_edges(session), expected)


# ratings of some (user index, film) pairs of HISTORIES; the rest are 4
RATINGS = {(0, 2): 3.0, (1, 5): 2.0, (2, 6): 3.5, (4, 10): 1.5, (6, 4): 2.5}


def graded_session_matrices(
    films: list[int], grades: TargetGrades, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X, Y and the row weights written out: a row per user, then a row per run of `size`
    films of each user (ages 0…size−1, size…2·size−1, … counted from the newest, among all the
    user's films), restricted to `films`."""
    col = {t: j for j, t in enumerate(films)}
    x_rows, y_rows, weights = [], [], []
    for u, history in enumerate(HISTORIES):
        newest_first = list(reversed(history))
        runs = [newest_first] + [newest_first[k : k + size] for k in range(0, len(newest_first), size)]
        for n, run in enumerate(runs):
            x_row, y_row = np.zeros(len(films)), np.zeros(len(films))
            for t in (t for t in run if t in col):
                rating = RATINGS.get((u, t), 4.0)
                x_row[col[t]] = 1.0
                y_row[col[t]] = 1.0 if rating >= 4 else grades.middling if rating >= 3 else grades.disliked
            if x_row.any():
                x_rows.append(x_row)
                y_rows.append(y_row)
                weights.append(1.0 if n == 0 else 2.5)
    return np.array(x_rows), np.array(y_rows), np.array(weights)


async def test_ease_learns_graded_targets_with_session_rows(session: AsyncSession) -> None:
    users = await world(session)
    for (u, t), rating in RATINGS.items():
        film = await session.get(UserFilm, (users[u], t))
        assert film is not None
        film.rating = Decimal(str(rating))
    await session.flush()
    grades, sessions = TargetGrades(middling=0.5, disliked=0.2), SessionRows(size=2, weight=2.5)
    report = await build_cf_model(
        session, tau=math.inf, l2=1.0, neighbours=4, target=grades, sessions=sessions
    )
    films = FILMS[:11]
    x, y, w = graded_session_matrices(films, grades, 2)
    expected = as_edges(
        films, truncate_by_target(ease_from_grams(x.T @ np.diag(w) @ x, x.T @ np.diag(w) @ y, 1.0), 4)
    )
    assert (report.method, report.users, report.target, report.sessions) == ("ease", 7, grades, sessions)
    assert_same(await stored_edges(session), expected)
    users_only = reference_matrix(math.inf, films).toarray()
    plain = as_edges(films, truncate_by_target(ease_from_gram(users_only.T @ users_only, 1.0), 4))
    assert expected.keys() != plain.keys() or expected != pytest.approx(plain)


def reference_cooccurrence(films: list[int], window: int) -> np.ndarray:
    """S of HISTORIES over `films`, written out: pairs at most `window` positions apart among
    all of a user's films, over √ of the two films' user counts."""
    col = {t: j for j, t in enumerate(films)}
    n_users = np.zeros(len(films))
    counts = np.zeros((len(films), len(films)))
    for history in HISTORIES:
        for t in history:
            if t in col:
                n_users[col[t]] += 1
        for a in range(len(history)):
            for b in range(a + 1, min(a + window, len(history) - 1) + 1):
                if history[a] in col and history[b] in col:
                    counts[col[history[a]], col[history[b]]] += 1
                    counts[col[history[b]], col[history[a]]] += 1
    return counts / np.sqrt(np.outer(n_users, n_users))


@pytest.mark.parametrize("dense_max_items", [100, 5])
async def test_films_watched_close_together_are_added_to_the_weights(
    session: AsyncSession, dense_max_items: int
) -> None:
    await world(session)
    together = Cooccurrence(window=2, weight=0.3)
    report = await build_cf_model(
        session, tau=math.inf, l2=1.0, neighbours=4, dense_max_items=dense_max_items, cooccurrence=together
    )
    films = FILMS[:11]
    x = reference_matrix(math.inf, films)
    s = reference_cooccurrence(films, 2)
    if report.method == "ease":
        b = ease_from_gram((x.T @ x).toarray(), 1.0)
        expected = as_edges(films, truncate_by_target((b + 0.3 * s).astype(np.float32), 4))
    else:
        edges = rp3beta_edges(x, neighbours=4)
        expected = as_edges(films, add_edges(edges, sparse.csr_array(0.3 * s), 4))
    assert report.method == ("ease" if dense_max_items == 100 else "rp3beta")
    assert report.cooccurrence == together
    assert_same(await stored_edges(session), expected)
    # the matrix the build used is the written-out one
    assert s[films.index(4), films.index(5)] > 0  # user 2 had 4 and 5 in a row
    assert s[films.index(1), films.index(4)] == 0  # never within 2 of each other


async def test_older_interactions_weigh_less(session: AsyncSession) -> None:
    # user 3 had 1 last, right after 8; user 2 had 1 last too, long after 2: with a short τ
    # the pairs of recent films dominate and 8 → 1 outweighs 2 → 1, with τ = ∞ the order flips
    await world(session)
    await build_cf_model(session, tau=1.0, dense_max_items=0, neighbours=10)
    decayed = await stored_edges(session)
    await build_cf_model(session, tau=math.inf, dense_max_items=0, neighbours=10)
    flat = await stored_edges(session)
    assert decayed[(8, 1)] > decayed[(2, 1)]
    assert flat[(8, 1)] < flat[(2, 1)]


async def test_above_the_dense_size_rp3beta_covers_every_film_with_enough_users(
    session: AsyncSession,
) -> None:
    await world(session)
    report = await build_cf_model(session, dense_max_items=5, min_users=2, tau=3.0, alpha=0.75, beta=0.3)
    films = FILMS[:11]
    x = reference_matrix(3.0, films)
    expected = as_edges(films, rp3beta_edges(x, alpha=0.75, beta=0.3, neighbours=200))
    assert (report.method, report.items, report.edges) == ("rp3beta", 11, len(expected))
    items = {t for (t,) in (await session.execute(select(CFItem.tmdb_id))).all()}
    assert items == set(films)  # every film with ≥ 2 users, not the 5 most common
    assert_same(await stored_edges(session), expected)
    info = await session.scalar(select(CFModelInfo).where(CFModelInfo.id == report.version))
    assert info is not None and info.method == "rp3beta"

    small = await build_cf_model(session, dense_max_items=11)
    info = await session.scalar(select(CFModelInfo).where(CFModelInfo.id == small.version))
    assert small.method == "ease" and info is not None and info.method == "ease"
    with pytest.raises(ValueError, match="tau"):
        await build_cf_model(session, tau=0.0)


async def test_the_cache_loads_the_stored_model_with_copy_exactly(session: AsyncSession) -> None:
    await world(session)
    report = await build_cf_model(session, dense_max_items=5, tau=4.0)
    model = await CFModelCache().get(session)
    items = (await session.execute(select(CFItem.tmdb_id, CFItem.n_ratings))).all()
    edges = (
        await session.execute(select(CFNeighbour.source_id, CFNeighbour.target_id, CFNeighbour.weight))
    ).all()
    expected = CFModel.from_edges(report.version, [r[0] for r in items], [r[1] for r in items], edges)
    assert model.version == report.version and len(edges) == report.edges > 0
    for field in ("item_ids", "n_ratings", "src_indptr", "src_targets", "tgt_indptr", "tgt_sources"):
        assert np.array_equal(getattr(model, field), getattr(expected, field)), field
    assert np.allclose(model.src_weights, expected.src_weights) and np.allclose(
        model.tgt_weights, expected.tgt_weights
    )
    assert model.scores({1: 1.0, 4: 0.5})[1].tolist() == expected.scores({1: 1.0, 4: 0.5})[1].tolist()
