"""Item-to-item collaborative filtering over all users' histories: EASE, truncated and sparse.

EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019) learns an
item × item weight matrix B with a zero diagonal from the user × item interaction matrix X:

    P = (XᵀX + λI)⁻¹,   B[i, j] = −P[i, j] / P[j, j]  (i ≠ j),   B[j, j] = 0.

A user's CF score of film j is Σᵢ wᵢ · B[i, j] over the films i in their history, where wᵢ is
the signed, recency-weighted signal of `history_weights`. For each target film j only the
`NEIGHBOURS_PER_ITEM` largest positive B[i, j] are kept, so the model is a sparse list of
(source, target, weight) edges that fits in a table and in memory.

Training from many users (the bot's own and the anonymous users of a public ratings prior,
domain/prior.py) goes through a sparse Gram matrix: G = Xᵀ·diag(w)·X with a weight per user
(`weighted_gram`), then `ease_from_gram`; `ease_weights` is the dense shortcut w = 1.

Pure functions over numpy arrays and scipy.sparse matrices; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

#: L2 regularisation λ of EASE. Steck (2019) reports λ in the hundreds for MovieLens-sized
#: data; 200 is best on the MovieLens protocol of bench/recommend_quality.py.
EASE_L2 = 200.0
#: Sources kept per target film (the strongest positive EASE weights).
NEIGHBOURS_PER_ITEM = 200

# --- history weights -------------------------------------------------------------------------
# Signal of one history film by rating (Letterboxd half stars): loved or liked films pull
# towards their neighbours, middling ones a little, disliked ones push away.
LIKED_MIN_RATING = 3.5
MIDDLING_MIN_RATING = 2.5
W_LIKED = 1.0
W_MIDDLING = 0.3
W_DISLIKED = -0.5
W_WATCHED_UNRATED = 0.3
W_NOT_INTERESTED = -0.5
# A film on the user's watchlist (🔖 in the bot, or a Letterboxd watchlist.csv) that they have
# not rated, liked, watched or marked 🚫: a weak positive. Above W_WATCHED_UNRATED, because
# saving a film is a deliberate choice of that film for its own appeal, while an unrated watch
# also covers films seen for someone else's sake or logged long after without an opinion; well
# below W_LIKED, because it is intent, not enjoyment: the user has not seen it yet. Not tuned:
# the benchmark's data (bench/) has no watchlists, so 0.4 is a judgement, not a measurement.
# Such films usually sit at the end of the history (saved without a `rated_at`, see
# LibraryRepository.signals), so their recency factor is near RECENCY_FLOOR and a long
# imported watchlist does not outweigh the films the user actually rated.
W_WATCHLIST = 0.4
# Recency: the k-th most recent film (k = 0, 1, …) is weighted RECENCY_FLOOR + exp(−k / τ), so
# the last few dozen films weigh up to 4× more than old ones: tastes drift, and what someone
# watched lately predicts what they watch next (the temporal split of the benchmark shows it).
RECENCY_FLOOR = 0.3
RECENCY_TAU = 20.0


@dataclass(frozen=True, slots=True)
class Signal:
    """One film of a user's history as the recommender sees it.

    `rating` 0.5–5 in half steps or None; `liked` a Letterboxd heart or an onboarding tap;
    `watched` logged as seen; `not_interested` the user tapped 🚫 on it; `on_watchlist` saved
    to watch later (🔖, or a Letterboxd watchlist).
    """

    tmdb_id: int
    rating: float | None
    liked: bool = False
    watched: bool = False
    not_interested: bool = False
    on_watchlist: bool = False


def signal_weight(signal: Signal) -> float:
    """The unweighted-by-recency signal of one film, in [W_DISLIKED, W_LIKED]. A watchlist
    film counts (W_WATCHLIST) only when nothing stronger is known of it: a rating, like, watch
    or 🚫 decides instead."""
    if signal.not_interested:
        return W_NOT_INTERESTED
    if signal.rating is not None:
        if signal.rating >= LIKED_MIN_RATING:
            return W_LIKED
        if signal.rating >= MIDDLING_MIN_RATING:
            return W_MIDDLING if not signal.liked else W_LIKED
        return W_DISLIKED
    if signal.liked:
        return W_LIKED
    if signal.watched:
        return W_WATCHED_UNRATED
    return W_WATCHLIST if signal.on_watchlist else 0.0


def history_weights(signals: Sequence[Signal]) -> dict[int, float]:
    """tmdb id → signed weight of each history film; `signals` must be most recent first.

    weight = signal_weight · (RECENCY_FLOOR + exp(−k / RECENCY_TAU)), k = position in `signals`.
    Films with a zero signal are left out; a repeated id keeps its most recent entry.
    """
    weights: dict[int, float] = {}
    seen: set[int] = set()
    for k, signal in enumerate(signals):
        if signal.tmdb_id in seen:
            continue
        seen.add(signal.tmdb_id)
        base = signal_weight(signal)
        if base:
            weights[signal.tmdb_id] = base * (RECENCY_FLOOR + math.exp(-k / RECENCY_TAU))
    return weights


# --- training --------------------------------------------------------------------------------
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
GramArray = npt.NDArray[np.float64]


def ease_weights(interactions: npt.NDArray[np.floating], l2: float = EASE_L2) -> FloatArray:
    """EASE's B (items × items, float32, zero diagonal) from a users × items 0/1 matrix.

    G = XᵀX, then :func:`ease_from_gram`. Cost: one items × items inverse, O(items³) time and
    items² memory (5,000 items: ~2 s and 200 MB in float64). Raises numpy.linalg.LinAlgError
    only if λ ≤ 0 makes G singular.
    """
    x = np.asarray(interactions, dtype=np.float64)
    return ease_from_gram(x.T @ x, l2, overwrite=True)


def weighted_gram(interactions: sparse.csr_array, row_weights: npt.NDArray[np.floating]) -> GramArray:
    """G = Xᵀ·diag(w)·X (items × items, dense float64) from a sparse users × items matrix.

    `interactions`: scipy.sparse CSR, users × items (0/1 for EASE); `row_weights`: one weight
    ≥ 0 per user (row), e.g. 1 for the bot's users and `CF_PRIOR_WEIGHT` for prior users, so
    each user's row counts w times in G (a weighted least-squares EASE, Steck 2019 eq. 1 with
    row weights). The product is sparse (scipy SpGEMM, O(Σᵤ nᵤ²) for nᵤ films of user u); only
    the items × items result is dense. Raises ValueError when the weights do not match the rows.
    """
    n_rows, n_items = interactions.shape
    w = np.asarray(row_weights, dtype=np.float64)
    if w.shape != (n_rows,):
        raise ValueError(f"row_weights has shape {w.shape}, expected ({n_rows},)")
    x = sparse.csr_array(interactions, dtype=np.float64)
    weighted = sparse.csr_array(sparse.diags_array(w) @ x)
    gram = (x.T @ weighted).toarray() if n_items else np.zeros((0, 0), dtype=np.float64)
    return np.asarray(gram, dtype=np.float64)


def ease_from_gram(
    gram: npt.NDArray[np.floating], l2: float = EASE_L2, *, overwrite: bool = False
) -> FloatArray:
    """EASE's B (items × items, float32, zero diagonal) from the Gram matrix G = XᵀX (or
    Xᵀ·diag(w)·X, see :func:`weighted_gram`), items × items.

    P = (G + λI)⁻¹, B[i, j] = −P[i, j] / P[j, j], B[j, j] = 0 (Steck 2019, eq. 8). With
    `overwrite` a float64 `gram` is used as scratch space (saves items² × 8 bytes). Raises
    numpy.linalg.LinAlgError only if λ ≤ 0 makes G singular.
    """
    g = np.array(gram, dtype=np.float64, copy=None if overwrite else True)
    diag = np.diag_indices_from(g)
    g[diag] += l2
    p = np.linalg.inv(g)
    b = p / (-np.diag(p))
    b[diag] = 0.0
    return b.astype(np.float32)


def truncate_by_target(b: FloatArray, k: int = NEIGHBOURS_PER_ITEM) -> tuple[IntArray, IntArray, FloatArray]:
    """The k largest positive weights of every column (target) of B, as (source index,
    target index, weight) arrays, sorted by source then target."""
    n = b.shape[0]
    k = min(k, max(n - 1, 0))
    if k == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0, dtype=np.float32)
    top = np.argpartition(-b, k - 1, axis=0)[:k, :]  # k × n source indices per target column
    targets = np.broadcast_to(np.arange(n), top.shape)
    weights = b[top, targets]
    keep = weights > 0
    sources, targets, weights = top[keep], targets[keep], weights[keep]
    order = np.lexsort((targets, sources))
    return (
        sources[order].astype(np.int64),
        targets[order].astype(np.int64),
        weights[order].astype(np.float32),
    )


# --- scoring ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CFModel:
    """A trained, truncated item-to-item model, indexed for scoring and for explanations.

    `item_ids` are the tmdb ids of the model's films (sorted); `n_ratings[i]` how many users
    had item i in the training data. Edges are kept twice, grouped by source (to score) and by
    target (to explain), as CSR-style index arrays.
    """

    version: int
    item_ids: IntArray
    n_ratings: IntArray
    src_indptr: IntArray
    src_targets: IntArray
    src_weights: FloatArray
    tgt_indptr: IntArray
    tgt_sources: IntArray
    tgt_weights: FloatArray

    @classmethod
    def from_edges(
        cls,
        version: int,
        item_ids: Iterable[int],
        n_ratings: Iterable[int],
        edges: Iterable[tuple[int, int, float]],
    ) -> CFModel:
        """Build from tmdb ids, their rating counts (same order) and (source id, target id,
        weight) edges. Edges naming a film outside `item_ids` are ignored."""
        ids = np.asarray(list(item_ids), dtype=np.int64)
        counts = np.asarray(list(n_ratings), dtype=np.int64)
        order = np.argsort(ids)
        ids, counts = ids[order], counts[order]
        rows = [(s, t, w) for s, t, w in edges]
        src = np.asarray([r[0] for r in rows], dtype=np.int64)
        tgt = np.asarray([r[1] for r in rows], dtype=np.int64)
        wts = np.asarray([r[2] for r in rows], dtype=np.float32)
        si, ti = _index_of(ids, src), _index_of(ids, tgt)
        ok = (si >= 0) & (ti >= 0)
        si, ti, wts = si[ok], ti[ok], wts[ok]
        n = len(ids)
        by_src = np.lexsort((ti, si))
        by_tgt = np.lexsort((si, ti))
        return cls(
            version=version,
            item_ids=ids,
            n_ratings=counts,
            src_indptr=_indptr(si[by_src], n),
            src_targets=ti[by_src],
            src_weights=wts[by_src],
            tgt_indptr=_indptr(ti[by_tgt], n),
            tgt_sources=si[by_tgt],
            tgt_weights=wts[by_tgt],
        )

    @classmethod
    def empty(cls) -> CFModel:
        """A model that knows no films (before the first build)."""
        return cls.from_edges(0, [], [], [])

    def __len__(self) -> int:
        return len(self.item_ids)

    def scores(self, weights: Mapping[int, float]) -> tuple[IntArray, FloatArray]:
        """CF scores Σᵢ wᵢ·B[i, j] for every film j reachable from the weighted history films:
        (tmdb ids, scores), unordered. Films outside the model contribute nothing."""
        if not weights or not len(self.item_ids):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        hist_ids = np.fromiter(weights.keys(), dtype=np.int64, count=len(weights))
        hist_w = np.fromiter(weights.values(), dtype=np.float64, count=len(weights))
        idx = _index_of(self.item_ids, hist_ids)
        ok = idx >= 0
        idx, hist_w = idx[ok], hist_w[ok]
        if not len(idx):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        starts, ends = self.src_indptr[idx], self.src_indptr[idx + 1]
        lengths = ends - starts
        positions = np.repeat(ends - lengths.cumsum(), lengths) + np.arange(lengths.sum())
        targets = self.src_targets[positions]
        contrib = self.src_weights[positions] * np.repeat(hist_w, lengths)
        totals = np.bincount(targets, weights=contrib, minlength=len(self.item_ids))
        reached = np.flatnonzero(np.bincount(targets, minlength=len(self.item_ids)))
        return self.item_ids[reached], totals[reached].astype(np.float32)

    def support(self, tmdb_ids: Sequence[int]) -> dict[int, int]:
        """tmdb id → number of users who had it in the training data (0 if not in the model)."""
        ids = np.asarray(tmdb_ids, dtype=np.int64)
        idx = _index_of(self.item_ids, ids)
        return {int(t): int(self.n_ratings[i]) if i >= 0 else 0 for t, i in zip(ids, idx, strict=True)}

    def contributors(self, target: int, weights: Mapping[int, float], limit: int = 3) -> list[int]:
        """The history films that raise `target`'s CF score most (positive wᵢ·B[i, target]),
        largest first, up to `limit`: the "people who loved X also loved this" of a pick."""
        idx = _index_of(self.item_ids, np.asarray([target], dtype=np.int64))[0]
        if idx < 0:
            return []
        start, end = self.tgt_indptr[idx], self.tgt_indptr[idx + 1]
        found: list[tuple[float, int]] = []
        for source, weight in zip(self.tgt_sources[start:end], self.tgt_weights[start:end], strict=True):
            tmdb_id = int(self.item_ids[source])
            value = weights.get(tmdb_id, 0.0) * float(weight)
            if value > 0:
                found.append((value, tmdb_id))
        found.sort(key=lambda pair: (-pair[0], pair[1]))
        return [tmdb_id for _, tmdb_id in found[:limit]]


def _index_of(sorted_ids: IntArray, ids: IntArray) -> IntArray:
    """Position of each id in `sorted_ids`, −1 where absent."""
    if not len(sorted_ids):
        return np.full(len(ids), -1, dtype=np.int64)
    pos = np.searchsorted(sorted_ids, ids)
    pos = np.clip(pos, 0, len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == ids, pos, -1).astype(np.int64)


def _indptr(sorted_rows: IntArray, n: int) -> IntArray:
    counts = np.bincount(sorted_rows, minlength=n) if len(sorted_rows) else np.zeros(n, dtype=np.int64)
    return np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
