"""Training the collaborative-filtering model from every user's history in the database and
storing it in `cf_items` / `cf_neighbours` / `cf_transitions`.

Training (`build_cf_model`) runs in a background job (periodic, and on demand with
`python -m bot cf rebuild`, and after `cf load-ratings` / `cf drop-prior`); it streams all
users' interactions and the loaded ratings priors' (domain/prior.py) out of PostgreSQL with a
binary COPY, solves EASE (dense, up to CF_DENSE_MAX_ITEMS films) or RP3beta (sparse, above it)
over a time-decayed sparse matrix in a worker thread and replaces the stored model in one
transaction. This module holds the training (`build_cf_model`, `fit_models`, `CFBuildReport`)
and its settings' defaults (CF_DENSE_MAX_ITEMS, CF_MIN_USERS, CF_PRIOR_WEIGHT); the per-process
cache that loads the newest stored model is `domain.cf_cache.CFModelCache`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog
from scipy import sparse
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from db.copy import copy_in, copy_out
from db.models import CFItem, CFModelInfo, CFNeighbour, CFTransition
from recommender.cf import IntArray
from recommender.cf_train import (
    CF_TRAIN_TAU,
    COOCCURRENCE,
    EASE_L2,
    NEIGHBOURS_PER_ITEM,
    RP3_ALPHA,
    RP3_BETA,
    SESSION_ROWS,
    TARGET_GRADES,
    Cooccurrence,
    SessionRows,
    TargetGrades,
    add_edges,
    cooccurrence_matrix,
    ease_from_gram,
    ease_from_grams,
    rp3beta_edges,
    truncate_by_target,
    weighted_gram,
)
from recommender.sequence import transition_edges

log = structlog.get_logger(__name__)

#: Above this many films the model is RP3beta (sparse) instead of EASE (dense). Dense EASE's
#: peak is about 28·n² bytes for n films: G (8n², float64, reused as scratch) + LAPACK's copy
#: and P = G⁻¹ (16n²) + B = −P/diag(P) (8n²) while G and P are alive, then B as float32 (4n²);
#: plus the process and the interactions (≈ 0.5 GB at 2M, ~50 bytes each). Measured with
#: bench/scale.py: 10,000 films and 2M interactions peaked at 3.44 GiB RSS (139 s), too close
#: to the 4 GB ceiling of the whole build; 8,000 films ≈ 1.8 GB + the interactions.
CF_DENSE_MAX_ITEMS = 8_000
#: A film enters the model once this many users have it in their history.
CF_MIN_USERS = 2
#: Default weight of each prior user's row in the Gram matrix (the setting CF_PRIOR_WEIGHT,
#: bot/settings.py, has the same default): a MovieLens user counts as much as a bot user.
CF_PRIOR_WEIGHT = 1.0

#: Training method stored in cf_models.method.
METHOD_EASE = "ease"
METHOD_RP3BETA = "rp3beta"


#: The training rows: (source, user, tmdb id, age, rating, liked): int4 but the rating (float4,
#: NaN for none).
_TRAIN_COLUMNS = (
    ("source", ">i4"),
    ("user", ">i4"),
    ("tmdb", ">i4"),
    ("age", ">i4"),
    ("rating", ">f4"),
    ("liked", ">i4"),
)

#: Every interaction the model trains on, as (source, user, tmdb id, age, rating or NaN, ♥ 0/1)
#: (the rating and ♥ grade EASE's target, `TargetGrades`): source 0 is the bot's
#: own users (user = users.id), source k > 0 the prior cf_priors.id = k (user = the dataset's
#: user id). A bot user's rated, watched or liked films that they did not mark 🚫; every rating
#: of a prior user whose film is in the catalog (binary: low ratings are interactions too).
#: age is the rank of a bot user's interaction among theirs, most recent first (0 = the most
#: recent) in the order of db/repositories/library.py MOST_RECENT_FIRST; priors have no time,
#: age 0.
_INTERACTIONS_SQL = """
SELECT 0::int4, user_id::int4, tmdb_id::int4,
       (row_number() OVER (
            PARTITION BY user_id ORDER BY rated_at DESC NULLS LAST, updated_at DESC, tmdb_id
        ) - 1)::int4,
       COALESCE(rating, 'NaN')::float4, liked::int4
FROM user_films
WHERE NOT not_interested AND (rating IS NOT NULL OR watched OR liked)
"""
_PRIOR_INTERACTIONS_SQL = """
UNION ALL
SELECT r.prior_id::int4, r.prior_user::int4, r.tmdb_id::int4, 0::int4,
       COALESCE(r.rating, 'NaN')::float4, 0::int4
FROM cf_prior_ratings AS r JOIN films AS f ON f.tmdb_id = r.tmdb_id
"""


@dataclass(frozen=True, slots=True)
class CFBuildReport:
    """What a build trained on: `users` the bot's users and `prior_users` the prior users with
    at least one film in the model, `items` films, `interactions` (user, film) pairs of both,
    `edges` stored weights, `prior_weight` each prior user's weight, `seconds` wall time,
    `method` "ease" (dense) or "rp3beta" (sparse), `tau` the input's time decay, `target` and
    `sessions` the grades and session rows of the training input, `cooccurrence` what was added."""

    version: int
    users: int
    items: int
    interactions: int
    edges: int
    seconds: float
    prior_users: int = 0
    prior_weight: float = 0.0
    method: str = METHOD_EASE
    tau: float = math.inf
    target: TargetGrades = TARGET_GRADES
    sessions: SessionRows = SESSION_ROWS
    cooccurrence: Cooccurrence = COOCCURRENCE


def _user_key(source: npt.NDArray[Any], user: npt.NDArray[Any]) -> IntArray:
    """One int64 per training user: source (0 = the bot's users, k = prior k) in the high 32
    bits, the user id (≥ 0) in the low ones, so the bot's users sort first."""
    return (source.astype(np.int64) << 32) | user.astype(np.int64)


@dataclass(frozen=True, slots=True)
class FittedModels:
    """What `fit_models` trained: the model's films (`item_ids`, tmdb ids, sorted) and their
    user counts, the users it saw, the CF edges as (source, target) indices into `item_ids`
    with their weights, the `method`, and the transition edges in the same form."""

    item_ids: IntArray
    n_ratings: IntArray
    bot_users: int
    prior_users: int
    interactions: int
    sources: IntArray
    targets: IntArray
    weights: npt.NDArray[np.float32]
    method: str
    transitions: tuple[IntArray, IntArray, npt.NDArray[np.float32]]


def fit_models(
    keys: IntArray,
    items: npt.NDArray[np.int32],
    ages: npt.NDArray[np.int32],
    ratings: npt.NDArray[np.floating],
    liked: npt.NDArray[np.integer],
    *,
    l2: float,
    neighbours: int,
    dense_max_items: int,
    min_users: int,
    prior_weight: float,
    tau: float,
    alpha: float,
    beta: float,
    target: TargetGrades = TARGET_GRADES,
    sessions: SessionRows = SESSION_ROWS,
    cooccurrence: Cooccurrence = COOCCURRENCE,
) -> FittedModels:
    """Train the CF and transition models from one row per interaction: `keys` the user
    (`_user_key`: source in the high bits, 0 for the bot's users), `items` the tmdb id, `ages`
    its rank in the user's history (0 = the most recent), `ratings` 0.5–5 or NaN, `liked` ♥ 0/1.
    Picks the films with ≥ `min_users` users, builds the sparse, time-decayed users × films
    matrix X (plus a row per run of `sessions.size` consecutive films of each bot user, weighted
    `sessions.weight`; prior users have no order) and the targets Y = `target`'s grade × X,
    solves EASE (dense) or RP3beta (sparse) by the number of films, adds `cooccurrence`'s
    weight times the co-occurrence of the bot users' films (recommender.cf_train.Cooccurrence),
    and trains the transition model on the bot users' histories in time order. CPU only;
    `build_cf_model` runs it in a thread, bench/tune.py calls it directly. Parameters as
    `build_cf_model`."""
    item_ids, item_pos, counts = np.unique(items, return_inverse=True, return_counts=True)
    keep = counts >= min_users
    kept_ids = item_ids[keep].astype(np.int64)
    new_index = np.full(len(item_ids), -1, dtype=np.int64)
    new_index[keep] = np.arange(int(keep.sum()))
    col = new_index[item_pos] if len(items) else np.zeros(0, dtype=np.int64)
    del item_pos
    mask = col >= 0
    user_keys, user_pos = np.unique(keys[mask], return_inverse=True)
    is_prior = (user_keys >> 32) > 0
    n_prior = int(is_prior.sum())
    empty = np.zeros(0, dtype=np.int64)
    sources, targets, weights = empty, empty, np.zeros(0, dtype=np.float32)
    dense = len(kept_ids) <= dense_max_items
    bot = mask & ((keys >> 32) == 0)
    together = (
        cooccurrence.weight
        * cooccurrence_matrix(
            keys[bot], col[bot], ages[bot], counts[keep].astype(np.float64), window=cooccurrence.window
        )
        if cooccurrence.enabled and len(kept_ids) >= 2
        else None
    )
    if len(kept_ids) >= 2:
        x, y, row_weights = _training_matrices(
            user_pos,
            col[mask],
            ages[mask],
            None if target.plain else target.of(ratings[mask], liked[mask] != 0),
            np.where(is_prior, prior_weight, 1.0),
            len(kept_ids),
            tau=tau,
            sessions=sessions,
        )
        del user_pos
        if dense:
            gram = weighted_gram(x, row_weights)
            b = (
                ease_from_gram(gram, l2, overwrite=True)
                if y is None
                else ease_from_grams(gram, weighted_gram(x, row_weights, y), l2, overwrite=True)
            )
            del x, y, gram
            if together is not None:
                pairs = sparse.coo_array(together)
                b[pairs.row, pairs.col] += pairs.data.astype(np.float32)
            sources, targets, weights = truncate_by_target(b, neighbours)
        else:
            scale = sparse.diags_array(row_weights)
            sources, targets, weights = rp3beta_edges(
                sparse.csr_array(scale @ x),
                alpha=alpha,
                beta=beta,
                neighbours=neighbours,
                targets=None if y is None else sparse.csr_array(scale @ y),
            )
            if together is not None:
                sources, targets, weights = add_edges((sources, targets, weights), together, neighbours)
    del together
    transitions = transition_edges(keys[bot], col[bot], ages[bot], len(kept_ids))
    return FittedModels(
        kept_ids,
        counts[keep].astype(np.int64),
        len(user_keys) - n_prior,
        n_prior,
        int(mask.sum()),
        sources,
        targets,
        weights,
        METHOD_EASE if dense else METHOD_RP3BETA,
        transitions,
    )


def _training_matrices(
    user_pos: IntArray,
    cols: IntArray,
    ages: npt.NDArray[np.integer],
    grades: npt.NDArray[np.float32] | None,
    user_weights: npt.NDArray[np.float64],
    n_items: int,
    *,
    tau: float,
    sessions: SessionRows,
) -> tuple[sparse.csr_array, sparse.csr_array | None, npt.NDArray[np.float64]]:
    """(X, Y or None when the targets are X, one weight per row) over the model's films.

    One row per user (`user_pos` indexes `user_weights`; prior users weigh `prior_weight`, set
    by the caller) with X[u, i] = exp(−age/τ); with `sessions` enabled, then one row per run of
    `sessions.size` consecutive films of each user whose ages are not all 0 (the bot's users;
    a prior user's films all have age 0 and no order), weighted `sessions.weight`. Y is X times
    each interaction's grade."""
    values = np.exp(-ages.astype(np.float64) / tau)  # τ = ∞: all 1
    rows, row_weights = user_pos, user_weights
    cols_all, values_all, grades_all = cols, values, grades
    if sessions.enabled:
        ordered = np.zeros(len(user_weights), dtype=bool)
        ordered[user_pos[ages > 0]] = True
        inside = ordered[user_pos]
        run = ages[inside].astype(np.int64) // sessions.size
        run_key = user_pos[inside] * (int(run.max(initial=0)) + 1) + run
        run_keys, run_pos = np.unique(run_key, return_inverse=True)
        rows = np.concatenate([user_pos, len(user_weights) + run_pos])
        row_weights = np.concatenate([user_weights, np.full(len(run_keys), sessions.weight)])
        cols_all = np.concatenate([cols, cols[inside]])
        values_all = np.concatenate([values, values[inside]])
        grades_all = None if grades is None else np.concatenate([grades, grades[inside]])
    shape = (len(row_weights), n_items)
    x = sparse.csr_array((values_all, (rows, cols_all)), shape=shape)
    if grades_all is None:
        return x, None, row_weights
    y = sparse.csr_array((values_all * grades_all, (rows, cols_all)), shape=shape)
    return x, y, row_weights


async def build_cf_model(
    session: AsyncSession,
    *,
    l2: float = EASE_L2,
    neighbours: int = NEIGHBOURS_PER_ITEM,
    dense_max_items: int = CF_DENSE_MAX_ITEMS,
    min_users: int = CF_MIN_USERS,
    prior_weight: float = CF_PRIOR_WEIGHT,
    tau: float = CF_TRAIN_TAU,
    alpha: float = RP3_ALPHA,
    beta: float = RP3_BETA,
    target: TargetGrades = TARGET_GRADES,
    sessions: SessionRows = SESSION_ROWS,
    cooccurrence: Cooccurrence = COOCCURRENCE,
) -> CFBuildReport:
    """Train item-to-item CF on all users' rated, watched or liked films (not 🚫 ones), and on
    the ratings of the loaded priors' users for films in the catalog, and store it as the
    newest model.

    X is a sparse users × films matrix (scipy CSR) over the bot's users and the prior users.
    A bot user's interaction of age a (its rank among the user's, most recent first, 0 = the
    most recent; ordered like MOST_RECENT_FIRST) is exp(−a/`tau`) in X (`tau` = math.inf: 0/1);
    a prior user's is 1 (no timestamps). Each prior user's row weighs `prior_weight` (≥ 0), a
    bot user's 1. EASE reproduces `target`'s grades of X rather than X itself
    (recommender.cf_train.TargetGrades; RP3beta walks to them), and `sessions` adds a row per
    run of consecutive films of a bot user (SessionRows); `cooccurrence` adds the films the bot's
    users watched close together to the weights (Cooccurrence). Every film with at least `min_users`
    users (bot and prior, unweighted) enters the model; a film's stored `n_ratings` is that user
    count. Up to `dense_max_items` films the model is EASE: G = Xᵀ·diag(w)·X + λI
    (recommender.cf_train.weighted_gram, ease_from_gram(s)); above it, RP3beta on diag(w)·X
    with exponents `alpha`, `beta` (recommender.cf_train.rp3beta_edges), whose memory grows
    with the interactions, not films². `prior_weight` 0 leaves the priors out entirely. Each
    target keeps its `neighbours` strongest positive sources. The rows are streamed out of
    PostgreSQL with a binary COPY, everything numeric runs in a worker thread and the edges go
    back with a binary COPY. The caller commits. With fewer than two films it stores an empty
    model. Raises ValueError for a negative `prior_weight` or a `tau` ≤ 0."""
    if not prior_weight >= 0:
        raise ValueError(f"prior_weight must be >= 0, got {prior_weight}")
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    started = time.perf_counter()
    raw = await (await session.connection()).get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    query = _INTERACTIONS_SQL + (_PRIOR_INTERACTIONS_SQL if prior_weight > 0 else "")
    rows = await copy_out(driver, query, _TRAIN_COLUMNS)
    keys = _user_key(rows.pop("source"), rows.pop("user"))
    fit = await asyncio.to_thread(
        fit_models,
        keys,
        rows.pop("tmdb"),
        rows.pop("age"),
        rows.pop("rating"),
        rows.pop("liked"),
        l2=l2,
        neighbours=neighbours,
        dense_max_items=dense_max_items,
        min_users=min_users,
        prior_weight=prior_weight,
        tau=tau,
        alpha=alpha,
        beta=beta,
        target=target,
        sessions=sessions,
        cooccurrence=cooccurrence,
    )
    del keys, rows

    await session.execute(delete(CFNeighbour))
    await session.execute(delete(CFTransition))
    await session.execute(delete(CFItem))
    await copy_in(
        driver,
        "cf_items",
        [("tmdb_id", fit.item_ids.astype(np.int32)), ("n_ratings", fit.n_ratings.astype(np.int32))],
    )
    await copy_in(driver, "cf_neighbours", _edge_columns(fit.item_ids, fit.sources, fit.targets, fit.weights))
    await copy_in(driver, "cf_transitions", _edge_columns(fit.item_ids, *fit.transitions))
    seconds = time.perf_counter() - started
    info = CFModelInfo(
        n_users=fit.bot_users,
        n_items=len(fit.item_ids),
        n_ratings=fit.interactions,
        l2=l2,
        seconds=seconds,
        n_prior_users=fit.prior_users,
        prior_weight=prior_weight,
        method=fit.method,
    )
    session.add(info)
    await session.flush()
    report = CFBuildReport(
        version=info.id,
        users=fit.bot_users,
        items=len(fit.item_ids),
        interactions=fit.interactions,
        edges=len(fit.weights),
        seconds=seconds,
        prior_users=fit.prior_users,
        prior_weight=prior_weight,
        method=fit.method,
        tau=tau,
        target=target,
        sessions=sessions,
        cooccurrence=cooccurrence,
    )
    log.info("cf_model_built", **dataclasses.asdict(report))
    return report


def _edge_columns(
    item_ids: IntArray, sources: IntArray, targets: IntArray, weights: npt.NDArray[np.floating]
) -> list[tuple[str, npt.NDArray[Any]]]:
    """Edges between positions of `item_ids` as the columns of `cf_neighbours` /
    `cf_transitions` (tmdb ids, float8 weight; see domain/cf_cache.py _EDGE_COLUMNS)."""
    return [
        ("source_id", item_ids[sources].astype(np.int32)),
        ("target_id", item_ids[targets].astype(np.int32)),
        ("weight", weights.astype(np.float64)),
    ]
