"""The numpy/scipy baselines of bench/recommend_quality.py and their tuning on a validation split.

Every baseline sees one train part as {MovieLens user → [(tmdb id, rating, timestamp)], in time
order}. Tuned baselines choose their constants on a validation split carved from each user's
train part by the rule that carved the test part (`validation` in bench/split.py): they are
trained on train-minus-validation, scored by NDCG@10 on the validation films rated ≥ 4, and
the best values are retrained on the whole train part; `search` prints each value tried.

- EASE (Steck, WWW 2019) on the 0/1 matrix, λ ∈ 50…1600 (doubling).
- EASE on a time-decayed input: X[u, i] = exp(−age/τ), age = the rank of the rating among the
  user's train ratings counted from the most recent (0 = the most recent); τ = ∞ is X = 0/1.
  τ and λ are searched together.
- RP3beta (Paudel, Christoffel, Newell, Bernstein, "Updatable, Accurate, Diverse, and Scalable
  Recommendations for Interactive Applications", ACM TiiS 7(1), 2016): a three-step random
  walk item → user → item with transition probabilities P(i→u) = X[u,i]/deg(i) and
  P(u→j) = X[u,j]/deg(u), each raised to α, divided by pop(j)^β; the diagonal is zeroed and
  each item keeps its top k = 200 targets. α and β are searched.
- item-kNN (cosine, 100 neighbours, Sarwar et al. 2001) and most popular are not tuned.

Films nobody rated in a train part have no column in the models (EASE's B and RP3beta's W are
zero there anyway); they score 0, as a full-catalog model would give them.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import sparse

from recommender.cf_train import ease_from_gram

K = 10
DISCOUNTS = 1 / np.log2(np.arange(2, K + 2))

History = list[tuple[int, float, int]]  # (tmdb id, rating, timestamp), in time order
Histories = Mapping[int, History]

EASE_L2_GRID = (50.0, 100.0, 200.0, 400.0, 800.0, 1600.0)
DECAY_TAU_GRID = (10.0, 20.0, 50.0, 100.0, math.inf)
DECAY_L2_GRID = (100.0, 200.0, 400.0, 800.0)
RP3_ALPHA_GRID = (0.5, 0.75, 1.0)
RP3_BETA_GRID = (0.0, 0.2, 0.4, 0.6)
RP3_TOP_K = 200


# --- matrices --------------------------------------------------------------------------------
def interaction_matrix(
    histories: Histories, users: Sequence[int], items: np.ndarray, *, tau: float = math.inf
) -> np.ndarray:
    """Users × items: 1 for a rated film, or exp(−age/τ) with age = rank from the most recent."""
    index = {int(t): i for i, t in enumerate(items)}
    x = np.zeros((len(users), len(items)), dtype=np.float32)
    for u, user in enumerate(users):
        history = histories[user]
        for age, (tmdb_id, _r, _ts) in enumerate(reversed(history)):
            x[u, index[tmdb_id]] = 1.0 if math.isinf(tau) else math.exp(-age / tau)
    return x


def rating_matrix(histories: Histories, users: Sequence[int], items: np.ndarray) -> np.ndarray:
    index = {int(t): i for i, t in enumerate(items)}
    r = np.zeros((len(users), len(items)), dtype=np.float32)
    for u, user in enumerate(users):
        for tmdb_id, rating, _ts in histories[user]:
            r[u, index[tmdb_id]] = rating
    return r


# --- models: each returns users × items scores ---------------------------------------------------
def ease_scores(x: np.ndarray, l2: float) -> np.ndarray:
    """X·B with EASE's B trained on X (only the columns someone interacted with)."""
    active = np.flatnonzero(x.any(axis=0))
    xa = x[:, active].astype(np.float64)
    b = ease_from_gram(xa.T @ xa, l2, overwrite=True)
    scores = np.zeros(x.shape, dtype=np.float64)
    scores[:, active] = xa @ b
    return scores


def rp3beta_weights(x: np.ndarray, alpha: float, beta: float, top_k: int = RP3_TOP_K) -> sparse.csr_array:
    """Item × item W[i, j] = Σᵤ P(i→u)^α · P(u→j)^α / pop(j)^β, top_k per row, zero diagonal."""
    xs = sparse.csr_array((x > 0).astype(np.float64))
    user_degree = np.asarray(xs.sum(axis=1)).ravel()
    item_degree = np.asarray(xs.sum(axis=0)).ravel()
    p_ui = sparse.csr_array(sparse.diags_array(1 / np.maximum(user_degree, 1)) @ xs)  # P(u→j)
    p_iu = sparse.csr_array(sparse.diags_array(1 / np.maximum(item_degree, 1)) @ xs.T)  # P(i→u)
    p_ui.data **= alpha
    p_iu.data **= alpha
    w = (p_iu @ p_ui).toarray()
    w *= np.where(item_degree > 0, np.maximum(item_degree, 1) ** -beta, 0.0)[None, :]
    np.fill_diagonal(w, 0.0)
    k = min(top_k, w.shape[1] - 1)
    cut = np.argpartition(-w, k, axis=1)[:, k:]
    np.put_along_axis(w, cut, 0.0, axis=1)
    return sparse.csr_array(w)


def rp3beta_scores(x: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    w = rp3beta_weights(x, alpha, beta)
    return np.asarray((sparse.csr_array((x > 0).astype(np.float64)) @ w).toarray())


def item_knn(x: np.ndarray, neighbours: int = 100) -> np.ndarray:
    """Cosine item-item similarity keeping each item's `neighbours` most similar items."""
    norms = np.linalg.norm(x, axis=0)
    norms[norms == 0] = 1
    sim = (x.T @ x) / np.outer(norms, norms)
    np.fill_diagonal(sim, 0)
    cut = np.argpartition(-sim, neighbours, axis=1)[:, neighbours:]
    np.put_along_axis(sim, cut, 0, axis=1)
    return sim


# --- tuning ----------------------------------------------------------------------------------
def ndcg(
    scores: np.ndarray, seen: np.ndarray, relevant: Mapping[int, set[int]], index: Mapping[int, int]
) -> float:
    """Mean NDCG@10 (binary gains) over the rows in `relevant` (row → relevant tmdb ids)."""
    values = []
    for row, rel in relevant.items():
        s = np.where(seen[row], -np.inf, scores[row])
        top = np.argpartition(-s, K)[:K]
        top = top[np.argsort(-s[top], kind="stable")]
        wanted = {index[t] for t in rel}
        gains = np.array([i in wanted for i in top], dtype=float)
        values.append((gains * DISCOUNTS).sum() / DISCOUNTS[: min(len(rel), K)].sum())
    return float(np.mean(values))


Scorer = Callable[..., np.ndarray]  # (histories, users, items, **params) → users × items scores


def search(
    name: str,
    scorer: Scorer,
    grid: Iterable[dict[str, Any]],
    validation: tuple[Histories, Mapping[int, set[int]]],
    users: Sequence[int],
    items: np.ndarray,
) -> tuple[dict[str, Any], dict[str, float]]:
    """The grid point with the best validation NDCG@10 (the first of equals); prints the search."""
    fit, held = validation
    index = {int(t): i for i, t in enumerate(items)}
    row = {u: r for r, u in enumerate(users)}
    relevant = {row[u]: rel for u, rel in held.items() if rel}
    seen = interaction_matrix(fit, users, items) > 0
    results: dict[str, float] = {}
    best: dict[str, Any] = {}
    best_value = -1.0
    for params in grid:
        label = ", ".join(f"{k}={v:g}" for k, v in params.items())
        results[label] = ndcg(scorer(fit, users, items, **params), seen, relevant, index)
        if results[label] > best_value:
            best, best_value = params, results[label]
    chosen = ", ".join(f"{k}={v:g}" for k, v in best.items())
    print(
        f"{name}: validation NDCG@10 ({len(relevant)} users) — "
        + "; ".join(f"{k}: {v:.4f}" for k, v in results.items())
        + f" → chosen {chosen}",
        file=sys.stderr,
        flush=True,
    )
    return best, results


def ease(histories: Histories, users: Sequence[int], items: np.ndarray, *, l2: float) -> np.ndarray:
    return ease_scores(interaction_matrix(histories, users, items), l2)


def ease_decay(
    histories: Histories, users: Sequence[int], items: np.ndarray, *, tau: float, l2: float
) -> np.ndarray:
    return ease_scores(interaction_matrix(histories, users, items, tau=tau), l2)


def rp3beta(
    histories: Histories, users: Sequence[int], items: np.ndarray, *, alpha: float, beta: float
) -> np.ndarray:
    return rp3beta_scores(interaction_matrix(histories, users, items), alpha, beta)


TUNED: dict[str, tuple[Scorer, list[dict[str, Any]]]] = {
    "EASE": (ease, [{"l2": lam} for lam in EASE_L2_GRID]),
    "EASE, time-decayed input": (
        ease_decay,
        [{"tau": tau, "l2": lam} for tau in DECAY_TAU_GRID for lam in DECAY_L2_GRID],
    ),
    "RP3beta": (rp3beta, [{"alpha": a, "beta": b} for a in RP3_ALPHA_GRID for b in RP3_BETA_GRID]),
}


def tuned_baselines(
    train: Histories,
    validation: tuple[Histories, Mapping[int, set[int]]],
    users: Sequence[int],
    items: np.ndarray,
) -> list[tuple[str, dict[str, Any], np.ndarray]]:
    """(name, chosen constants, users × items scores retrained on the whole train part)."""
    out = []
    for name, (scorer, grid) in TUNED.items():
        best, _results = search(name, scorer, grid, validation, users, items)
        out.append((name, best, scorer(train, users, items, **best)))
    return out
