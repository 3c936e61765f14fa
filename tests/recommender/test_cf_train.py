"""Training item-to-item CF (recommender.cf_train): EASE's closed forms, the weighted Gram
path, graded targets, co-occurrence, truncation and RP3beta's edges."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import sparse

from recommender.cf_train import (
    EASE_L2,
    TargetGrades,
    add_edges,
    cooccurrence_matrix,
    ease_from_gram,
    ease_from_grams,
    ease_weights,
    rp3beta_edges,
    truncate_by_target,
    weighted_gram,
)

# A tiny hand-made interaction matrix: 6 users × 5 films.
X = np.array(
    [
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],
        [0, 1, 1, 0, 0],
        [0, 0, 0, 1, 1],
        [0, 0, 1, 1, 1],
        [1, 0, 0, 0, 1],
    ],
    dtype=np.float64,
)


def steck(x: npt.NDArray[np.float64], l2: float) -> npt.NDArray[np.float64]:
    """Steck (2019), eq. 8: B = I − P·diagMat(1 ⊘ diag(P)), P = (XᵀX + λI)⁻¹."""
    p = np.linalg.inv(x.T @ x + l2 * np.eye(x.shape[1]))
    return np.eye(x.shape[1]) - p @ np.diag(1.0 / np.diag(p))


# --- ease_weights ----------------------------------------------------------------------------


@pytest.mark.parametrize("l2", [0.5, 10.0, EASE_L2])
def test_ease_weights_match_steck_closed_form(l2: float) -> None:
    b = ease_weights(X, l2=l2)
    assert b.dtype == np.float32
    assert b.shape == (5, 5)
    assert np.all(np.diag(b) == 0.0)
    np.testing.assert_allclose(b, steck(X, l2), rtol=1e-5, atol=1e-7)


def test_ease_weights_satisfy_the_constrained_least_squares_optimum() -> None:
    # KKT of min ‖X − XB‖² + λ‖B‖² s.t. diag(B) = 0: (G + λI)·B − G is diagonal.
    l2 = 2.0
    b = ease_weights(X, l2=l2).astype(np.float64)
    gram = X.T @ X
    residual = (gram + l2 * np.eye(5)) @ b - gram
    off_diagonal = residual - np.diag(np.diag(residual))
    np.testing.assert_allclose(off_diagonal, 0.0, atol=1e-5)


def test_ease_two_films_always_seen_together() -> None:
    # G + λI = [[n+λ, n], [n, n+λ]] → B[0, 1] = n / (n + λ): 3 users, λ = 1 → 0.75
    b = ease_weights(np.ones((3, 2)), l2=1.0)
    np.testing.assert_allclose(b, [[0.0, 0.75], [0.75, 0.0]], rtol=1e-6)


def test_ease_co_watched_films_get_positive_weights() -> None:
    b = ease_weights(X, l2=1.0)
    assert b[0, 1] > 0 and b[3, 4] > 0  # watched together
    assert b[0, 3] < 0  # never together


@settings(deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 6)), elements=st.sampled_from([0.0, 1.0]))
)
def test_ease_zero_diagonal_and_closed_form_on_random_matrices(x: npt.NDArray[np.float64]) -> None:
    b = ease_weights(x, l2=5.0)
    assert np.all(np.diag(b) == 0.0)
    np.testing.assert_allclose(b, steck(x, 5.0), rtol=1e-4, atol=1e-6)


# --- the sparse, weighted Gram path (prior users) -------------------------------------------


def random_interactions(seed: int, users: int = 60, items: int = 25) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    return (rng.random((users, items)) < 0.2).astype(np.float64)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_gram_path_gives_the_dense_b(seed: int) -> None:
    x = random_interactions(seed)
    gram = weighted_gram(sparse.csr_array(x), np.ones(x.shape[0]))
    assert gram.dtype == np.float64 and gram.shape == (25, 25)
    np.testing.assert_allclose(gram, x.T @ x)
    np.testing.assert_allclose(ease_from_gram(gram, EASE_L2), ease_weights(x, EASE_L2), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ease_from_gram(gram, 3.0), steck(x, 3.0), rtol=1e-4, atol=1e-6)


def test_weighted_gram_is_x_transpose_diag_w_x() -> None:
    x = random_interactions(3)
    w = np.random.default_rng(4).uniform(0.0, 3.0, size=x.shape[0])
    np.testing.assert_allclose(weighted_gram(sparse.csr_array(x), w), x.T @ np.diag(w) @ x, rtol=1e-12)


def test_a_row_weight_of_2_is_that_row_twice() -> None:
    x = random_interactions(5, users=20, items=10)
    w = np.where(np.arange(20) < 8, 2.0, 1.0)  # the first 8 users weigh 2
    doubled = np.vstack([x, x[:8]])
    b_weighted = ease_from_gram(weighted_gram(sparse.csr_array(x), w), 4.0)
    np.testing.assert_allclose(b_weighted, ease_weights(doubled, 4.0), rtol=1e-5, atol=1e-8)
    zero = np.where(np.arange(20) < 8, 0.0, 1.0)  # weight 0: those rows are not there
    np.testing.assert_allclose(weighted_gram(sparse.csr_array(x), zero), x[8:].T @ x[8:])


def test_ease_from_gram_leaves_its_input_alone_unless_told() -> None:
    gram = X.T @ X
    before = gram.copy()
    ease_from_gram(gram, 2.0)
    np.testing.assert_array_equal(gram, before)
    with pytest.raises(ValueError, match="row_weights"):
        weighted_gram(sparse.csr_array(X), np.ones(X.shape[0] + 1))


# --- graded targets --------------------------------------------------------------------------


def test_target_grades_follow_the_rating_thresholds() -> None:
    ratings = np.array([5.0, 4.0, 3.5, 3.0, 2.5, 0.5, np.nan, 2.0, np.nan])
    liked = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1], dtype=bool)
    got = TargetGrades(middling=0.6, disliked=0.2).of(ratings, liked)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [1, 1, 0.6, 0.6, 0.2, 0.2, 0.6, 1, 1], rtol=1e-6)
    assert TargetGrades().plain and not TargetGrades(0.6, 0.2).plain
    assert (TargetGrades().of(ratings, liked) == 1.0).all()


def column_by_column(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], l2: float
) -> npt.NDArray[np.float64]:
    """The constrained least squares solved the slow way: column j of B regresses Y[:, j] on X
    without its column j (so B[j, j] = 0), ridge λ."""
    n = x.shape[1]
    b = np.zeros((n, n))
    for j in range(n):
        others = [i for i in range(n) if i != j]
        xo = x[:, others]
        b[others, j] = np.linalg.solve(xo.T @ xo + l2 * np.eye(n - 1), xo.T @ y[:, j])
    return b


@pytest.mark.parametrize("seed", [0, 1])
def test_ease_from_grams_solves_the_regression_of_y_on_x_with_a_zero_diagonal(seed: int) -> None:
    x = random_interactions(seed)
    rng = np.random.default_rng(seed + 10)
    y = x * rng.choice([1.0, 0.6, 0.2], size=x.shape)
    w = rng.uniform(0.5, 2.0, size=x.shape[0])
    gram = weighted_gram(sparse.csr_array(x), w)
    cross = weighted_gram(sparse.csr_array(x), w, sparse.csr_array(y))
    np.testing.assert_allclose(cross, x.T @ np.diag(w) @ y, rtol=1e-12)
    b = ease_from_grams(gram, cross, 3.0)
    assert b.dtype == np.float32 and np.all(np.diag(b) == 0.0)
    root = np.sqrt(w)[:, None]
    np.testing.assert_allclose(b, column_by_column(root * x, root * y, 3.0), rtol=1e-4, atol=1e-6)
    # Y = X is plain EASE
    plain = ease_from_grams(weighted_gram(sparse.csr_array(x), w), gram.copy(), 3.0)
    np.testing.assert_allclose(plain, ease_from_gram(gram, 3.0), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="targets"):
        weighted_gram(sparse.csr_array(x), w, sparse.csr_array(y[:, :3]))


# --- co-occurrence ---------------------------------------------------------------------------


def test_cooccurrence_counts_pairs_within_the_window_in_either_order_cosine_normalised() -> None:
    # user 0 watched films 0, 1, 2, 3 (oldest first), user 1 watched 2, 0, 4; ages count from
    # the newest; the rows are given shuffled
    users = np.array([0, 1, 0, 1, 0, 0, 1])
    items = np.array([3, 4, 0, 0, 2, 1, 2])
    ages = np.array([0, 0, 3, 1, 1, 2, 2])
    item_users = np.array([2.0, 1.0, 2.0, 1.0, 1.0])
    s = cooccurrence_matrix(users, items, ages, item_users, window=2).toarray()
    counts = np.zeros((5, 5))
    for history in ([0, 1, 2, 3], [2, 0, 4]):
        for a, b in itertools.combinations(range(len(history)), 2):
            if b - a <= 2:
                counts[history[a], history[b]] += 1
                counts[history[b], history[a]] += 1
    np.testing.assert_allclose(s, counts / np.sqrt(np.outer(item_users, item_users)))
    assert s[0, 2] == pytest.approx(2 / 2)  # together for both users
    assert s[0, 3] == 0.0  # three apart
    assert np.all(np.diag(s) == 0.0)
    with pytest.raises(ValueError, match="window"):
        cooccurrence_matrix(users, items, ages, item_users, window=0)
    with pytest.raises(ValueError, match="length"):
        cooccurrence_matrix(users, items[:3], ages, item_users, window=1)


def test_add_edges_sums_the_union_and_keeps_the_top_k_per_target() -> None:
    rng = np.random.default_rng(11)
    b = np.where(rng.random((12, 12)) < 0.5, rng.random((12, 12)), 0.0)
    np.fill_diagonal(b, 0.0)
    extra = np.where(rng.random((12, 12)) < 0.3, rng.random((12, 12)), 0.0)
    np.fill_diagonal(extra, 0.0)
    edges = truncate_by_target(b.astype(np.float32), 4)
    got = add_edges(edges, sparse.csr_array(extra), 3)
    kept = np.zeros((12, 12))
    kept[edges[0], edges[1]] = edges[2]
    expected = truncate_by_target((kept + extra).astype(np.float32), 3)
    for a, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-6)


# --- truncate_by_target ----------------------------------------------------------------------

square = st.integers(1, 7).flatmap(
    lambda n: arrays(np.float32, (n, n), elements=st.floats(-1.0, 1.0, width=32, allow_subnormal=False))
)


@settings(deadline=None)
@given(square, st.integers(0, 8))
def test_truncate_keeps_the_k_largest_positive_weights_per_target(b: npt.NDArray[np.float32], k: int) -> None:
    np.fill_diagonal(b, 0.0)
    sources, targets, weights = truncate_by_target(b, k)
    assert sources.dtype == targets.dtype == np.int64 and weights.dtype == np.float32
    assert len(sources) == len(targets) == len(weights)
    assert list(zip(sources, targets, strict=True)) == sorted(zip(sources, targets, strict=True))
    assert len(set(zip(sources, targets, strict=True))) == len(sources)
    assert np.all(weights > 0)
    np.testing.assert_array_equal(weights, b[sources, targets])
    n = b.shape[0]
    for j in range(n):
        kept = {int(s) for s, t in zip(sources, targets, strict=True) if t == j}
        assert len(kept) <= k
        positive = [i for i in range(n) if b[i, j] > 0]
        if len(positive) <= k:
            assert kept == set(positive)
        else:
            assert len(kept) == k
            dropped = [b[i, j] for i in positive if i not in kept]
            assert not kept or max(dropped) <= min(b[i, j] for i in kept)


def test_truncate_example() -> None:
    b = np.array([[0.0, 0.5, -0.2], [0.1, 0.0, 0.3], [0.4, 0.2, 0.0]], dtype=np.float32)
    sources, targets, weights = truncate_by_target(b, 1)
    assert list(zip(sources.tolist(), targets.tolist(), weights.tolist(), strict=True)) == [
        (0, 1, 0.5),
        (1, 2, pytest.approx(0.3)),
        (2, 0, pytest.approx(0.4)),
    ]
    assert all(len(a) == 0 for a in truncate_by_target(b, 0))
    assert all(len(a) == 0 for a in truncate_by_target(np.zeros((1, 1), dtype=np.float32), 5))


# --- rp3beta_edges ---------------------------------------------------------------------------


def rp3beta_dense(
    x: npt.NDArray[np.float64], alpha: float, beta: float, y: npt.NDArray[np.float64] | None = None
) -> npt.NDArray[np.float64]:
    """Paudel et al. (2016) as written: W[i, j] = Σᵤ (X[u,i]/deg(i))^α (X[u,j]/deg(u))^α / deg(j)^β;
    with targets Y the second step and deg(j) are Y's."""
    y = x if y is None else y
    deg_u, deg_i, deg_j = y.sum(axis=1), x.sum(axis=0), y.sum(axis=0)
    p_iu = np.where(x > 0, x / np.where(deg_i > 0, deg_i, 1)[None, :], 0.0).T ** alpha
    p_uj = np.where(y > 0, y / np.where(deg_u > 0, deg_u, 1)[:, None], 0.0) ** alpha
    w = (p_iu @ p_uj) * np.where(deg_j > 0, np.where(deg_j > 0, deg_j, 1) ** -beta, 0.0)[None, :]
    np.fill_diagonal(w, 0.0)
    return np.asarray(w)


@pytest.mark.parametrize(("alpha", "beta", "k"), [(1.0, 0.0, 3), (0.75, 0.4, 5), (0.5, 0.2, 30)])
def test_rp3beta_edges_are_the_dense_top_k_per_target_in_any_block_size(
    alpha: float, beta: float, k: int
) -> None:
    rng = np.random.default_rng(7)
    x = rng.random((40, 25)) * (rng.random((40, 25)) < 0.25)  # decayed weights in (0, 1)
    x[:, 24] = 0.0  # a film nobody had: no edges in or out
    dense = rp3beta_dense(x, alpha, beta)
    expected: dict[tuple[int, int], float] = {}
    for j in range(dense.shape[1]):
        column = dense[:, j]
        for i in np.argsort(-column)[: min(k, 24)]:
            if column[i] > 0:
                expected[(int(i), j)] = float(column[i])
    results = [
        rp3beta_edges(sparse.csr_array(x), alpha=alpha, beta=beta, neighbours=k, block=block)
        for block in (1, 4, 25, 100)
    ]
    for sources, targets, weights in results:
        got = {(int(s), int(t)): float(w) for s, t, w in zip(sources, targets, weights, strict=True)}
        assert got.keys() == expected.keys()
        assert [got[e] for e in expected] == pytest.approx(list(expected.values()), rel=1e-5)
        assert not (sources == targets).any()
        assert not ((sources == 24) | (targets == 24)).any()
        assert list(zip(sources, targets, strict=True)) == sorted(zip(sources, targets, strict=True))
        assert np.array_equal(sources, results[0][0]) and np.array_equal(targets, results[0][1])
    assert max(np.bincount(results[0][1])) <= k


def test_rp3beta_edges_walk_to_graded_targets() -> None:
    rng = np.random.default_rng(8)
    x = (rng.random((40, 20)) < 0.3).astype(np.float64)
    y = x * rng.choice([1.0, 0.5, 0.1], size=x.shape)
    dense = rp3beta_dense(x, 0.75, 0.3, y)
    sources, targets, weights = rp3beta_edges(
        sparse.csr_array(x), alpha=0.75, beta=0.3, neighbours=19, targets=sparse.csr_array(y)
    )
    expected = {(int(i), int(j)): dense[i, j] for i, j in zip(*np.nonzero(dense > 0), strict=True)}
    got = {(int(s), int(t)): float(w) for s, t, w in zip(sources, targets, weights, strict=True)}
    assert got.keys() == expected.keys()
    assert [got[e] for e in expected] == pytest.approx(list(expected.values()), rel=1e-5)
    assert not np.allclose(dense, rp3beta_dense(x, 0.75, 0.3))  # the grades change the walk
    with pytest.raises(ValueError, match="targets"):
        rp3beta_edges(sparse.csr_array(x), targets=sparse.csr_array(y[:5]))


def test_rp3beta_edges_scale_free_rows_and_reject_bad_input() -> None:
    x = sparse.csr_array(X)
    sources, targets, weights = rp3beta_edges(x, alpha=1.0, beta=0.0, neighbours=4)
    # with α = 1, β = 0 each target's column is a probability mix: 1 → 0 is (1/3)(1/2 + 1/3)
    got = {(int(s), int(t)): float(w) for s, t, w in zip(sources, targets, weights, strict=True)}
    assert got[(1, 0)] == pytest.approx((1 / 2 + 1 / 3) / 3)
    assert all(len(a) == 0 for a in rp3beta_edges(sparse.csr_array((3, 1)), neighbours=4))
    with pytest.raises(ValueError, match=">= 0"):
        rp3beta_edges(sparse.csr_array(-X))
    with pytest.raises(ValueError, match="block"):
        rp3beta_edges(x, block=0)
