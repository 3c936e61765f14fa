"""What follows what: a first-order transition model over all users' histories in time order.

For every user's films in the order they were watched (rated), each film i "leads to" the
films j watched in the next `SEQ_WINDOW` positions, with weight 1/d for the d-th one after it.
Summed over users and normalised per source (a row sums to 1), T[i, j] estimates how often j
comes soon after i: the item-to-item transition matrix of session-based recommenders (the
"sequential rules" baseline of Ludewig & Jannach, "Evaluation of session-based recommendation
algorithms", UMUAI 28, 2018, which weighs a rule by 1/d of the gap in the same way). Only the
`SEQ_NEIGHBOURS` strongest targets of each source are kept.

A user's sequential score of film j is Σₖ exp(−k / SEQ_TAU) · T[hₖ, j] over their
SEQ_LAST most recent films h₀, h₁, … (k = 0 the latest): what tends to follow what they
watched lately. Pure functions over numpy/scipy arrays; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]

#: A film leads to the films watched in the next SEQ_WINDOW positions of the same history.
SEQ_WINDOW = 5
#: Targets kept per source film (the strongest transitions).
SEQ_NEIGHBOURS = 100
#: Most recent history films whose transitions score a user's candidates.
SEQ_LAST = 10
#: Recency of those films: the k-th most recent weighs exp(−k / SEQ_TAU).
SEQ_TAU = 3.0


def transition_edges(
    users: npt.NDArray[np.integer],
    items: npt.NDArray[np.integer],
    ages: npt.NDArray[np.integer],
    n_items: int,
    *,
    window: int = SEQ_WINDOW,
    neighbours: int = SEQ_NEIGHBOURS,
) -> tuple[IntArray, IntArray, FloatArray]:
    """The transition model's edges from interactions, as (source index, target index, weight)
    arrays sorted by source then target.

    `users`, `items`, `ages`: one entry per interaction (user key, item index in
    [0, n_items), age = 0 for the user's most recent film, 1 for the one before, …). Pairs are
    formed within a user only; a film never leads to itself. Memory: one pass per gap d keeps
    O(interactions) pairs. Raises ValueError when the arrays differ in length.
    """
    total = sparse.csr_array((n_items, n_items), dtype=np.float64)
    for d, src, tgt in gap_pairs(users, items, ages, window):
        pairs = sparse.csr_array(
            (np.full(len(src), 1.0 / d), (src, tgt)), shape=(n_items, n_items), dtype=np.float64
        )
        total = sparse.csr_array(total + pairs)
    row_sums = np.asarray(total.sum(axis=1)).ravel()
    total = sparse.csr_array(sparse.diags_array(1 / np.maximum(row_sums, 1e-12)) @ total)
    return top_per_row(total, neighbours)


def gap_pairs(
    users: npt.NDArray[np.integer],
    items: npt.NDArray[np.integer],
    ages: npt.NDArray[np.integer],
    window: int,
) -> Iterator[tuple[int, IntArray, IntArray]]:
    """(d, earlier, later) for each gap d = 1…`window`: the item indices of every pair of one
    user's films d positions apart in time order (`earlier` watched first), never a film with
    itself. `users`, `items`, `ages` as `transition_edges`; one pass per gap, O(interactions)
    memory. Raises ValueError when the arrays differ in length."""
    if not len(users) == len(items) == len(ages):
        raise ValueError("users, items and ages must have the same length")
    order = np.lexsort((-np.asarray(ages, dtype=np.int64), np.asarray(users, dtype=np.int64)))
    u = np.asarray(users, dtype=np.int64)[order]
    i = np.asarray(items, dtype=np.int64)[order]
    for d in range(1, window + 1):
        if len(u) <= d:
            break
        same = (u[:-d] == u[d:]) & (i[:-d] != i[d:])
        yield d, i[:-d][same], i[d:][same]


def top_per_row(m: sparse.csr_array, k: int) -> tuple[IntArray, IntArray, FloatArray]:
    """The `k` largest stored values of each row of `m` as (row, column, value) arrays, sorted
    by row then column (values float32)."""
    sources: list[IntArray] = []
    targets: list[IntArray] = []
    weights: list[npt.NDArray[np.float64]] = []
    indptr, indices, data = m.indptr, m.indices, m.data
    for row in range(m.shape[0]):
        start, end = indptr[row], indptr[row + 1]
        if start == end:
            continue
        cols, vals = indices[start:end], data[start:end]
        if len(vals) > k:
            keep = np.argpartition(-vals, k - 1)[:k]
            cols, vals = cols[keep], vals[keep]
        order = np.argsort(cols)
        sources.append(np.full(len(cols), row, dtype=np.int64))
        targets.append(cols[order].astype(np.int64))
        weights.append(vals[order])
    if not sources:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0, dtype=np.float32)
    return (
        np.concatenate(sources),
        np.concatenate(targets),
        np.concatenate(weights).astype(np.float32),
    )


@dataclass(frozen=True)
class SequenceModel:
    """The stored transitions, indexed by source for scoring.

    `item_ids`: sorted tmdb ids of every film that is a source or a target; `indptr`,
    `targets` (indices into `item_ids`), `weights`: CSR rows by source.
    """

    item_ids: IntArray
    indptr: IntArray
    targets: IntArray
    weights: FloatArray

    @classmethod
    def from_arrays(
        cls,
        sources: npt.NDArray[np.integer],
        targets: npt.NDArray[np.integer],
        weights: npt.NDArray[np.floating],
    ) -> SequenceModel:
        """Build from (source tmdb id, target tmdb id, weight) arrays of equal length."""
        src = np.asarray(sources, dtype=np.int64)
        tgt = np.asarray(targets, dtype=np.int64)
        wts = np.asarray(weights, dtype=np.float32)
        ids = np.unique(np.concatenate([src, tgt]))
        si, ti = np.searchsorted(ids, src), np.searchsorted(ids, tgt)
        order = np.lexsort((ti, si))
        counts = np.bincount(si[order], minlength=len(ids)) if len(si) else np.zeros(len(ids), np.int64)
        indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        return cls(ids, indptr, ti[order].astype(np.int64), wts[order])

    @classmethod
    def empty(cls) -> SequenceModel:
        """A model without transitions (before the first build)."""
        empty = np.zeros(0, dtype=np.int64)
        return cls.from_arrays(empty, empty, np.zeros(0, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.targets)

    def scores(
        self, recent: Sequence[int], *, last: int = SEQ_LAST, tau: float = SEQ_TAU
    ) -> dict[int, float]:
        """tmdb id → Σₖ exp(−k/τ)·T[recentₖ, j] over the first `last` films of `recent`
        (most recent first, tmdb ids; unknown films add nothing). Scores are ≥ 0."""
        if not len(self.item_ids):
            return {}
        totals: dict[int, float] = {}
        for k, tmdb_id in enumerate(recent[:last]):
            pos = int(np.searchsorted(self.item_ids, tmdb_id))
            if pos >= len(self.item_ids) or self.item_ids[pos] != tmdb_id:
                continue
            start, end = self.indptr[pos], self.indptr[pos + 1]
            decay = math.exp(-k / tau)
            for target, weight in zip(
                self.targets[start:end].tolist(), self.weights[start:end].tolist(), strict=True
            ):
                tid = int(self.item_ids[target])
                totals[tid] = totals.get(tid, 0.0) + decay * weight
        return totals
