"""Item-to-item CF at query time (recommender.cf): the sparse model, its scores and
contributors, and history weights. Training (recommender.cf_train) is in test_cf_train.py."""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from recommender.cf import (
    RECENCY_FLOOR,
    RECENCY_TAU,
    W_DISLIKED,
    W_LIKED,
    W_MIDDLING,
    W_NOT_INTERESTED,
    W_WATCHED_UNRATED,
    CFModel,
    Signal,
    history_weights,
    signal_weight,
)
from recommender.cf_train import truncate_by_target


def recency(k: int) -> float:
    return RECENCY_FLOOR + math.exp(-k / RECENCY_TAU)


# --- CFModel ---------------------------------------------------------------------------------


def small_model() -> CFModel:
    # films 10, 20, 30, 40 (given unsorted); 99 is not in the model
    return CFModel.from_edges(
        version=3,
        item_ids=[30, 10, 40, 20],
        n_ratings=[3, 1, 4, 2],
        edges=[
            (10, 20, 0.5),
            (10, 30, 0.2),
            (20, 30, 0.4),
            (40, 30, 0.1),
            (30, 10, 0.3),
            (99, 10, 1.0),  # unknown source: ignored
            (10, 99, 1.0),  # unknown target: ignored
        ],
    )


def as_dict(result: tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]) -> dict[int, float]:
    ids, values = result
    assert len(ids) == len(set(ids.tolist()))
    return {int(i): float(v) for i, v in zip(ids, values, strict=True)}


def test_model_indexes_and_support() -> None:
    model = small_model()
    assert len(model) == 4 and model.version == 3
    assert model.item_ids.tolist() == [10, 20, 30, 40]
    assert model.support([40, 10, 99]) == {40: 4, 10: 1, 99: 0}


def test_model_scores_example() -> None:
    model = small_model()
    scores = as_dict(model.scores({10: 1.0, 20: -0.5, 99: 7.0}))
    assert scores == {
        20: pytest.approx(0.5),
        30: pytest.approx(1.0 * 0.2 - 0.5 * 0.4),  # reached, even though the sum is ~0
    }
    assert as_dict(model.scores({})) == {}
    assert as_dict(model.scores({99: 1.0})) == {}
    assert as_dict(CFModel.empty().scores({10: 1.0})) == {}
    assert len(CFModel.empty()) == 0


def test_contributors_are_the_largest_positive_products_in_order() -> None:
    model = small_model()
    # into 30: 10 → 0.2·w, 20 → 0.4·w, 40 → 0.1·w
    assert model.contributors(30, {10: 1.0, 20: 1.0, 40: 1.0}) == [20, 10, 40]
    assert model.contributors(30, {10: 1.0, 20: 0.25, 40: 1.0}) == [10, 20, 40]
    assert model.contributors(30, {10: 1.0, 20: 1.0, 40: 1.0}, limit=2) == [20, 10]
    assert model.contributors(30, {10: 1.0, 20: -1.0}) == [10]  # a disliked source lowers it
    assert model.contributors(30, {}) == []
    assert model.contributors(99, {10: 1.0}) == []
    assert model.contributors(40, {10: 1.0}) == []  # nothing points at 40


def test_contributors_break_ties_by_tmdb_id() -> None:
    model = CFModel.from_edges(1, [1, 2, 3, 4], [1, 1, 1, 1], [(3, 4, 0.5), (1, 4, 0.5), (2, 4, 0.5)])
    assert model.contributors(4, {1: 1.0, 2: 1.0, 3: 1.0}) == [1, 2, 3]


@st.composite
def models_and_weights(
    draw: st.DrawFn,
) -> tuple[list[int], npt.NDArray[np.float32], int, dict[int, float]]:
    n = draw(st.integers(1, 7))
    ids = draw(st.lists(st.integers(1, 1000), min_size=n, max_size=n, unique=True))
    b = draw(arrays(np.float32, (n, n), elements=st.floats(-1.0, 1.0, width=32, allow_subnormal=False)))
    np.fill_diagonal(b, 0.0)
    k = draw(st.integers(0, n))
    history = draw(st.lists(st.sampled_from([*ids, 2000, 2001]), unique=True, max_size=n + 2))
    weights = {i: draw(st.floats(-1.5, 1.5, allow_nan=False, allow_subnormal=False)) for i in history}
    return ids, b, k, weights


@settings(deadline=None)
@given(models_and_weights())
def test_model_scores_equal_the_dense_product_over_kept_edges(
    case: tuple[list[int], npt.NDArray[np.float32], int, dict[int, float]],
) -> None:
    ids, b, k, weights = case
    sources, targets, kept_weights = truncate_by_target(b, k)
    model = CFModel.from_edges(
        1,
        ids,
        range(len(ids)),
        [(ids[s], ids[t], float(w)) for s, t, w in zip(sources, targets, kept_weights, strict=True)],
    )
    kept = np.zeros_like(b, dtype=np.float64)
    kept[sources, targets] = kept_weights
    w = np.array([weights.get(i, 0.0) for i in ids])
    dense = w @ kept
    in_history = np.array([i in weights for i in ids])
    reached = {ids[j] for j in range(len(ids)) if np.any(kept[in_history, j] != 0)}

    scores = as_dict(model.scores(weights))
    assert set(scores) == reached
    for j, tmdb_id in enumerate(ids):
        if tmdb_id in scores:
            assert scores[tmdb_id] == pytest.approx(dense[j], rel=1e-5, abs=1e-5)
    assert model.support(ids) == dict(zip(ids, range(len(ids)), strict=True))

    for j, target in enumerate(ids):
        products = {ids[i]: w[i] * kept[i, j] for i in range(len(ids)) if w[i] * kept[i, j] > 0}
        expected = sorted(products, key=lambda i: (-products[i], i))[:3]
        got = model.contributors(target, weights)
        assert len(got) == len(expected)
        assert [products[i] for i in got] == pytest.approx([products[i] for i in expected], rel=1e-5)


def test_from_arrays_equals_from_edges() -> None:
    edges = [(10, 20, 0.5), (10, 30, 0.2), (20, 30, 0.4), (40, 30, 0.1), (30, 10, 0.3), (99, 10, 1.0)]
    a = CFModel.from_edges(3, [30, 10, 40, 20], [3, 1, 4, 2], edges)
    b = CFModel.from_arrays(
        3,
        np.array([30, 10, 40, 20]),
        np.array([3, 1, 4, 2]),
        np.array([e[0] for e in edges]),
        np.array([e[1] for e in edges]),
        np.array([e[2] for e in edges], dtype=np.float32),
    )
    for field in (
        "item_ids",
        "n_ratings",
        "src_indptr",
        "src_targets",
        "src_weights",
        "tgt_indptr",
        "tgt_sources",
    ):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    with pytest.raises(ValueError, match="length"):
        CFModel.from_arrays(1, [1, 2], [1], [], [], [])


@pytest.mark.parametrize("offset", [0, 1 << 30])  # a lookup table, or a binary search for huge ids
def test_from_arrays_indexes_unsorted_edges_like_from_edges(offset: int) -> None:
    rng = np.random.default_rng(3)
    ids = rng.choice(5000, size=300, replace=False) + offset
    edges = [
        (int(s), int(t), float(w))
        for s, t, w in zip(rng.choice(ids, 2000), rng.choice(ids, 2000), rng.random(2000), strict=True)
        if s != t
    ]
    edges = list({(s, t): (s, t, w) for s, t, w in edges}.values())  # unique pairs, unsorted
    edges.append((offset + 99_999, int(ids[0]), 1.0))  # unknown source: ignored
    model = CFModel.from_arrays(
        1, ids, np.arange(300), [e[0] for e in edges], [e[1] for e in edges], [e[2] for e in edges]
    )
    for target in ids[:50].tolist():
        into = {s: w for s, t, w in edges if t == target and s in set(ids.tolist())}
        history = dict.fromkeys(list(into)[:5], 1.0)
        expected = sorted(history, key=lambda s: (-np.float32(into[s]), s))[:3]
        assert model.contributors(target, history) == expected
    history = {int(i): 1.0 for i in ids[:20]}
    got = dict(zip(*[a.tolist() for a in model.scores(history)], strict=True))
    dense: dict[int, float] = {}
    for s, t, w in edges:
        if s in history:
            dense[t] = dense.get(t, 0.0) + w
    assert got.keys() == dense.keys()
    assert [got[t] for t in dense] == pytest.approx(list(dense.values()), rel=1e-5)


# --- history weights -------------------------------------------------------------------------


def test_signal_weight_by_rating_and_flags() -> None:
    assert signal_weight(Signal(1, 5.0)) == W_LIKED
    assert signal_weight(Signal(1, 3.5)) == W_LIKED
    assert signal_weight(Signal(1, 3.0)) == W_MIDDLING
    assert signal_weight(Signal(1, 3.0, liked=True)) == W_LIKED
    assert signal_weight(Signal(1, 2.0)) == W_DISLIKED < 0
    assert signal_weight(Signal(1, None, liked=True)) == W_LIKED
    assert signal_weight(Signal(1, None, watched=True)) == W_WATCHED_UNRATED
    assert signal_weight(Signal(1, None)) == 0.0
    assert signal_weight(Signal(1, 5.0, liked=True, not_interested=True)) == W_NOT_INTERESTED < 0


def test_history_weights_example() -> None:
    weights = history_weights(
        [
            Signal(1, 5.0),  # most recent
            Signal(2, 1.0),  # disliked
            Signal(3, None),  # nothing: skipped (but still takes its position)
            Signal(4, None, not_interested=True),
            Signal(1, 1.0),  # older duplicate: ignored
            Signal(5, None, watched=True),
        ]
    )
    assert weights == {
        1: pytest.approx(W_LIKED * recency(0)),
        2: pytest.approx(W_DISLIKED * recency(1)),
        4: pytest.approx(W_NOT_INTERESTED * recency(3)),
        5: pytest.approx(W_WATCHED_UNRATED * recency(5)),
    }
    assert weights[2] < 0 and weights[4] < 0
    assert history_weights([]) == {}


def test_recent_films_weigh_more_and_old_ones_keep_a_floor() -> None:
    signals = [Signal(i, 5.0) for i in range(200)]
    weights = history_weights(signals)
    values = [weights[i] for i in range(200)]
    assert all(a > b for a, b in itertools.pairwise(values))
    assert values[0] == pytest.approx(1.0 + RECENCY_FLOOR)
    assert values[-1] > RECENCY_FLOOR
    disliked = history_weights([Signal(i, 1.0) for i in range(10)])
    assert all(abs(disliked[i]) > abs(disliked[i + 1]) for i in range(9))


signals = st.builds(
    Signal,
    tmdb_id=st.integers(1, 15),
    rating=st.none() | st.sampled_from([x / 2 for x in range(1, 11)]),
    liked=st.booleans(),
    watched=st.booleans(),
    not_interested=st.booleans(),
)


@given(st.lists(signals, max_size=30))
def test_history_weights_properties(history: list[Signal]) -> None:
    weights = history_weights(history)
    first: dict[int, int] = {}
    for k, signal in enumerate(history):
        first.setdefault(signal.tmdb_id, k)
    assert set(weights) <= set(first)
    for weight in weights.values():
        assert weight != 0
        assert abs(weight) <= W_LIKED * (1 + RECENCY_FLOOR)
    for tmdb_id, k in first.items():
        signal = history[k]
        base = signal_weight(signal)
        if base:
            # the most recent entry wins, weighted by its own position
            assert weights[tmdb_id] == pytest.approx(base * recency(k))
            assert (weights[tmdb_id] < 0) == (signal.not_interested or base < 0)


def test_history_weights_most_recent_entry_wins_even_when_it_carries_no_signal() -> None:
    # "a repeated id keeps its most recent entry": here that entry carries no signal, so the
    # film is left out rather than falling back to the older 5-star entry
    assert history_weights([Signal(7, None), Signal(7, 5.0)]) == {}
