"""Item-to-item collaborative filtering over all users' histories: the query side.

A user's CF score of film j is Σᵢ wᵢ · B[i, j] over the films i in their history, where wᵢ is
the signed, recency-weighted signal of `history_weights` and B the item × item weights that
`recommender.cf_train` learns (EASE or RP3beta), kept as a sparse list of (source, target,
weight) edges: `CFModel` scores with them and says which history films raised a score.

Pure functions over numpy arrays; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from recommender.sequence import SequenceModel

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
# watched lately predicts what they watch next. Chosen on the validation split of
# bench/recommend_quality.py's temporal protocol (bench/tune.py), with the RECENT_* below.
RECENCY_FLOOR = 0.3
RECENCY_TAU = 20.0
# The short-term query (`recent_weights`): the k-th most recent film weighs exp(−k / RECENT_TAU)
# with no floor; only the RECENT_FILMS latest count (exp(−20/5) ≈ 0.02 beyond).
RECENT_TAU = 5.0
RECENT_FILMS = 20


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

    @property
    def interacted(self) -> bool:
        """Rated, watched or liked, and not marked 🚫: what the CF and transition models train
        on (domain/cf.py)."""
        return (self.rating is not None or self.watched or self.liked) and not self.not_interested


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


def history_weights(
    signals: Sequence[Signal], *, tau: float = RECENCY_TAU, floor: float = RECENCY_FLOOR
) -> dict[int, float]:
    """tmdb id → signed weight of each history film; `signals` must be most recent first.

    weight = signal_weight · (floor + exp(−k / tau)), k = position in `signals` (defaults
    RECENCY_FLOOR, RECENCY_TAU). Films with a zero signal are left out; a repeated id keeps its
    most recent entry.
    """
    weights: dict[int, float] = {}
    seen: set[int] = set()
    for k, signal in enumerate(signals):
        if signal.tmdb_id in seen:
            continue
        seen.add(signal.tmdb_id)
        base = signal_weight(signal)
        if base:
            weights[signal.tmdb_id] = base * (floor + math.exp(-k / tau))
    return weights


def recent_weights(
    signals: Sequence[Signal], *, tau: float = RECENT_TAU, films: int = RECENT_FILMS
) -> dict[int, float]:
    """The short-term query: `history_weights` of the `films` most recent signals with no floor,
    weight = signal_weight · exp(−k / tau). `signals` most recent first."""
    return history_weights(signals[:films], tau=tau, floor=0.0)


# --- the model ------------------------------------------------------------------------------
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
GramArray = npt.NDArray[np.float64]


#: Largest tmdb id for which :func:`_edge_positions` uses a lookup table (4 bytes per id).
_LOOKUP_MAX_ID = 1 << 24


def _edge_positions(sorted_ids: IntArray, ids: IntArray) -> IntArray:
    """Position of each id in `sorted_ids` (sorted, unique, ≥ 0), −1 where absent: a lookup
    table indexed by id when the ids are small (one gather, cache-friendly for millions of
    edges), else a binary search."""
    if not len(sorted_ids) or not len(ids):
        return np.full(len(ids), -1, dtype=np.int64)
    top = int(sorted_ids[-1])
    if sorted_ids[0] < 0 or top > _LOOKUP_MAX_ID:
        return _index_of(sorted_ids, ids)
    table = np.full(top + 2, -1, dtype=np.int32)
    table[sorted_ids] = np.arange(len(sorted_ids), dtype=np.int32)
    if ids.min() < 0 or ids.max() > top:
        ids = np.where((ids >= 0) & (ids <= top), ids, top + 1)
    return table[ids].astype(np.int64)


def _edge_orders(sources: IntArray, targets: IntArray, n: int) -> tuple[IntArray | None, IntArray]:
    """(the permutation that sorts edges by (source, target), or None when they are in that
    order already, as build_cf_model stores them; the permutation of the edges in that order
    that sorts them by (target, source)), for positions < n. The second is a stable sort by
    target, a radix sort when n fits 16 bits."""
    key = sources * n + targets
    by_src = None if bool(np.all(key[1:] >= key[:-1])) else np.argsort(key, kind="stable")
    del key
    tgt_key = targets if by_src is None else targets[by_src]
    if n <= 1 << 16:
        tgt_key = tgt_key.astype(np.uint16)
    return by_src, np.argsort(tgt_key, kind="stable").astype(np.int64)


# --- scoring ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CFModel:
    """A trained, truncated item-to-item model, indexed for scoring and for explanations.

    `item_ids` are the tmdb ids of the model's films (sorted); `n_ratings[i]` how many users
    had item i in the training data. Edges are kept twice, grouped by source (to score) and by
    target (to explain), as CSR-style index arrays. `transitions` is the sequential model
    trained with it (recommender.sequence; empty unless given).
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
    transitions: SequenceModel = field(default_factory=SequenceModel.empty)

    @classmethod
    def from_edges(
        cls,
        version: int,
        item_ids: Iterable[int],
        n_ratings: Iterable[int],
        edges: Iterable[tuple[int, int, float]],
    ) -> CFModel:
        """Build from tmdb ids, their rating counts (same order) and (source id, target id,
        weight) edges; see :meth:`from_arrays`."""
        rows = list(edges)
        return cls.from_arrays(
            version,
            np.asarray(list(item_ids), dtype=np.int64),
            np.asarray(list(n_ratings), dtype=np.int64),
            np.asarray([r[0] for r in rows], dtype=np.int64),
            np.asarray([r[1] for r in rows], dtype=np.int64),
            np.asarray([r[2] for r in rows], dtype=np.float32),
        )

    @classmethod
    def from_arrays(
        cls,
        version: int,
        item_ids: npt.ArrayLike,
        n_ratings: npt.ArrayLike,
        sources: npt.ArrayLike,
        targets: npt.ArrayLike,
        weights: npt.ArrayLike,
        *,
        transitions: SequenceModel | None = None,
    ) -> CFModel:
        """Build from arrays: `item_ids` tmdb ids and `n_ratings` their user counts (same
        length), and one edge per position of `sources`, `targets` (tmdb ids) and `weights`
        (same length), with the transition model `transitions` (empty when None). Edges naming
        a film outside `item_ids` are ignored. Vectorised: two
        sorts of the edges (10M edges: a few seconds). Raises ValueError on mismatched lengths."""
        ids = np.asarray(item_ids, dtype=np.int64)
        counts = np.asarray(n_ratings, dtype=np.int64)
        src = np.asarray(sources, dtype=np.int64)
        tgt = np.asarray(targets, dtype=np.int64)
        wts = np.asarray(weights, dtype=np.float32)
        if ids.shape != counts.shape or not (src.shape == tgt.shape == wts.shape):
            raise ValueError("item_ids/n_ratings and sources/targets/weights must match in length")
        order = np.argsort(ids)
        ids, counts = ids[order], counts[order]
        si, ti = _edge_positions(ids, src), _edge_positions(ids, tgt)
        del src, tgt
        ok = (si >= 0) & (ti >= 0)
        if not ok.all():
            si, ti, wts = si[ok], ti[ok], wts[ok]
        n = len(ids)
        by_src, by_tgt = _edge_orders(si, ti, n)
        if by_src is not None:  # None: the edges are already in (source, target) order
            si, ti, wts = si[by_src], ti[by_src], wts[by_src]
        return cls(
            version=version,
            item_ids=ids,
            n_ratings=counts,
            src_indptr=_indptr(si, n),
            src_targets=ti,
            src_weights=wts,
            tgt_indptr=_indptr(ti[by_tgt], n),
            tgt_sources=si[by_tgt],
            tgt_weights=wts[by_tgt],
            transitions=transitions if transitions is not None else SequenceModel.empty(),
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
        return dict(zip(ids.tolist(), self.support_counts(ids).tolist(), strict=True))

    def support_counts(self, tmdb_ids: Sequence[int] | IntArray) -> IntArray:
        """`support` as an array in the order of `tmdb_ids` (0 for a film outside the model),
        without a dict of Python ints: for hundreds of candidates per answer."""
        idx = _index_of(self.item_ids, np.asarray(tmdb_ids, dtype=np.int64))
        counts = np.zeros(len(idx), dtype=np.int64)
        found = idx >= 0
        counts[found] = self.n_ratings[idx[found]]
        return counts

    def contributors(self, target: int, weights: Mapping[int, float], limit: int = 3) -> list[int]:
        """The history films that raise `target`'s CF score most (positive wᵢ·B[i, target]),
        largest first, up to `limit`: the "people who loved X also loved this" of a pick."""
        idx = _index_of(self.item_ids, np.asarray([target], dtype=np.int64))[0]
        if idx < 0 or not weights:
            return []
        start, end = self.tgt_indptr[idx], self.tgt_indptr[idx + 1]
        sources = self.item_ids[self.tgt_sources[start:end]]
        hist_ids = np.fromiter(weights.keys(), dtype=np.int64, count=len(weights))
        hist_w = np.fromiter(weights.values(), dtype=np.float64, count=len(weights))
        order = np.argsort(hist_ids)
        pos = _index_of(hist_ids[order], sources)
        values = np.where(pos >= 0, hist_w[order][pos], 0.0) * self.tgt_weights[start:end].astype(np.float64)
        positive = values > 0
        sources, values = sources[positive], values[positive]
        best: list[int] = sources[np.lexsort((sources, -values))][:limit].tolist()
        return best


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
