"""End to end on a toy community: EASE → CFModel → score_candidates → pick_three.

Users' tastes form two clusters (films 1–10 and 11–20, with a little noise); a user who liked
some of cluster A must get the rest of cluster A ranked above all of cluster B (the margins
hold for every seed tried, 30 of them, so the few seeds used here are not cherry-picked). A broken
pipeline (a sign flip, scores mapped to the wrong films, the wrong matrix orientation) fails.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from recommender import (
    Candidate,
    CandidateSource,
    CFModel,
    HistoryEntry,
    ScoredCandidate,
    Signal,
    build_taste,
    history_weights,
    pick_three,
    score_candidates,
)
from recommender.cf_train import ease_weights, truncate_by_target
from tests.recommender.helpers import film

CLUSTER_A = list(range(1, 11))
CLUSTER_B = list(range(11, 21))
FILMS = CLUSTER_A + CLUSTER_B
GENRE = {**dict.fromkeys(CLUSTER_A, "Horror"), **dict.fromkeys(CLUSTER_B, "Comedy")}


def community(seed: int) -> npt.NDArray[np.float64]:
    """200 users × 20 films, half in each cluster: a user has each film of their cluster with
    probability 0.6 and each film of the other one with probability 0.03."""
    rng = np.random.default_rng(seed)
    x = (rng.random((200, 20)) < 0.03).astype(np.float64)
    for user in range(200):
        own = slice(0, 10) if user % 2 else slice(10, 20)
        x[user, own] = rng.random(10) < 0.6
    return x


def trained_model(x: npt.NDArray[np.float64]) -> CFModel:
    b = ease_weights(x, l2=50.0)
    sources, targets, weights = truncate_by_target(b)
    edges = [(FILMS[s], FILMS[t], float(w)) for s, t, w in zip(sources, targets, weights, strict=True)]
    return CFModel.from_edges(1, FILMS, x.sum(axis=0).astype(int).tolist(), edges)


def recommend(model: CFModel, signals: list[Signal]) -> list[ScoredCandidate]:
    weights = history_weights(signals)
    ids, values = model.scores(weights)
    support = model.support(ids.tolist())
    cf = dict(zip(ids.tolist(), values.tolist(), strict=True))
    candidates = [
        Candidate(
            # all films alike except for CF: same quality, popularity, decade
            film(tmdb_id, genres=(GENRE[tmdb_id],), popularity=50.0, vote_average=7.0),
            sources=frozenset({CandidateSource.CF}),
            cf=cf.get(tmdb_id, 0.0),
            cf_support=support.get(tmdb_id, 0),
            cf_seeds=tuple(model.contributors(tmdb_id, weights)),
        )
        for tmdb_id in FILMS
    ]
    history = [
        HistoryEntry(film(s.tmdb_id, genres=(GENRE[s.tmdb_id],)), s.rating, liked=s.liked) for s in signals
    ]
    return score_candidates(candidates, build_taste(history), exclude=())


SEEDS = [0, 1, 2]


@pytest.mark.parametrize("seed", SEEDS)
def test_ease_learns_the_two_clusters(seed: int) -> None:
    b = ease_weights(community(seed), l2=50.0)
    in_a = np.arange(20) < 10
    same = in_a[:, None] == in_a[None, :]  # both films in A or both in B
    np.fill_diagonal(same, False)
    # within a cluster films predict each other; across clusters weights are noise around 0
    assert b[same].mean() > 0.05
    assert (b[same] > 0).mean() > 0.95
    assert abs(b[~same].mean()) < 0.2 * b[same].mean()


@pytest.mark.parametrize("seed", SEEDS)
def test_a_cluster_a_fan_gets_cluster_a_first(seed: int) -> None:
    model = trained_model(community(seed))
    liked = [Signal(1, 5.0), Signal(2, 4.5), Signal(3, 5.0), Signal(4, 4.0)]
    ranked = recommend(model, liked)
    order = [s.film.tmdb_id for s in ranked]
    assert set(order) == set(FILMS) - {1, 2, 3, 4}  # the history is never recommended
    rest_of_a = [f for f in CLUSTER_A if f > 4]
    assert set(order[: len(rest_of_a)]) == set(rest_of_a)
    for s in ranked[: len(rest_of_a)]:
        assert s.components["cf"] > 0
        assert s.candidate.cf_seeds and set(s.candidate.cf_seeds) <= {1, 2, 3, 4}
    assert max(s.score for s in ranked if s.film.tmdb_id in CLUSTER_B) < min(
        s.score for s in ranked if s.film.tmdb_id in rest_of_a
    )

    picks = pick_three(ranked, build_taste([]))
    assert picks[0].film.tmdb_id in rest_of_a


@pytest.mark.parametrize("seed", SEEDS)
def test_the_same_holds_for_cluster_b_and_a_disliked_film_pushes_its_cluster_down(seed: int) -> None:
    model = trained_model(community(seed))
    # liked two B films, disliked an A film
    ranked = recommend(model, [Signal(12, 5.0), Signal(1, 1.0), Signal(15, 4.5)])
    by_id = {s.film.tmdb_id: s for s in ranked}
    rest_of_b = [f for f in CLUSTER_B if f not in (12, 15)]
    rest_of_a = [f for f in CLUSTER_A if f != 1]
    assert min(by_id[f].score for f in rest_of_b) > max(by_id[f].score for f in rest_of_a)
    # the disliked film's neighbours get a negative CF score
    assert min(by_id[f].components["cf"] for f in rest_of_a) < 0
