"""The transition model: what follows what in users' histories (recommender.sequence)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recommender.sequence import SequenceModel, transition_edges

A, B, C, D, E = range(5)


def edges_of(histories: list[list[int]], n: int = 5, **kwargs: int) -> dict[tuple[int, int], float]:
    """Histories oldest first → {(source, target): weight}."""
    users, items, ages = [], [], []
    for u, history in enumerate(histories):
        for position, item in enumerate(history):
            users.append(u)
            items.append(item)
            ages.append(len(history) - 1 - position)
    src, tgt, w = transition_edges(np.array(users), np.array(items), np.array(ages), n, **kwargs)
    return {(int(s), int(t)): float(x) for s, t, x in zip(src, tgt, w, strict=True)}


def test_a_film_leads_to_the_next_ones_by_one_over_the_gap() -> None:
    edges = edges_of([[A, B, C]])
    # A → B at gap 1 (weight 1), A → C at gap 2 (1/2): normalised over A's row
    assert edges[(A, B)] == pytest.approx(1 / 1.5)
    assert edges[(A, C)] == pytest.approx(0.5 / 1.5)
    assert edges[(B, C)] == pytest.approx(1.0)
    assert (C, A) not in edges and (B, A) not in edges  # only forward in time


def test_pairs_stay_within_one_user_and_rows_sum_to_one() -> None:
    edges = edges_of([[A, B], [C, D]])
    assert set(edges) == {(A, B), (C, D)}  # B → C would cross users
    edges = edges_of([[A, B, C], [A, B, D], [E, A, D]])
    rows: dict[int, float] = {}
    for (s, _t), w in edges.items():
        rows[s] = rows.get(s, 0.0) + w
    assert all(total == pytest.approx(1.0) for total in rows.values())
    assert edges[(A, B)] > edges[(A, D)]  # B followed A twice at gap 1


def test_window_and_neighbours_bound_the_model() -> None:
    assert (A, C) not in edges_of([[A, B, C]], window=1)
    edges = edges_of([[A, B, C, D, E]], neighbours=2)
    assert {t for s, t in edges if s == A} == {B, C}  # the two strongest of A's four


def test_a_film_never_leads_to_itself() -> None:
    edges = edges_of([[A, A, B]])
    assert (A, A) not in edges


def test_ages_not_input_order_give_the_time_order() -> None:
    # the same interactions listed newest first: A is the oldest (age 2)
    src, tgt, _w = transition_edges(np.array([0, 0, 0]), np.array([C, B, A]), np.array([0, 1, 2]), 5)
    assert (int(src[0]), int(tgt[0])) == (A, B)


def test_scores_decay_with_the_recency_of_the_source() -> None:
    model = SequenceModel.from_arrays(
        np.array([10, 20]), np.array([11, 21]), np.array([1.0, 1.0], dtype=np.float32)
    )
    scores = model.scores([10, 20], tau=3.0)  # 10 is the latest film, 20 the one before
    assert scores[11] == pytest.approx(1.0)
    assert scores[21] == pytest.approx(math.exp(-1 / 3))
    assert model.scores([99]) == {}  # unknown films add nothing
    assert model.scores([20, 10], last=1) == {21: pytest.approx(1.0)}
    assert SequenceModel.empty().scores([10]) == {}


@given(st.lists(st.lists(st.integers(0, 7), min_size=0, max_size=12), max_size=6))
def test_edges_are_positive_and_each_source_sums_to_at_most_one(histories: list[list[int]]) -> None:
    edges = edges_of(histories, n=8)
    rows: dict[int, float] = {}
    for (s, t), w in edges.items():
        assert s != t and w > 0
        rows[s] = rows.get(s, 0.0) + w
    assert all(total <= 1.0 + 1e-6 for total in rows.values())
