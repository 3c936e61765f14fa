"""Training item-to-item collaborative filtering: EASE, truncated and sparse, and RP3beta.

EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019) learns an
item × item weight matrix B with a zero diagonal from the user × item interaction matrix X:

    P = (XᵀX + λI)⁻¹,   B[i, j] = −P[i, j] / P[j, j]  (i ≠ j),   B[j, j] = 0.

For each target film j only the `NEIGHBOURS_PER_ITEM` largest positive B[i, j] are kept, so
the model is a sparse list of (source, target, weight) edges that fits in a table and in
memory (`recommender.cf.CFModel` queries it).

Training from many users (the bot's own and the anonymous users of a public ratings prior,
domain/prior.py) goes through a sparse Gram matrix: G = Xᵀ·diag(w)·X with a weight per user
(`weighted_gram`), then `ease_from_gram`; `ease_weights` is the dense shortcut w = 1. Above
the dense size (domain/cf.py), `rp3beta_edges` computes RP3beta's edges block by block.

Two choices of the training input, both chosen on validation by bench/tune.py:

- **Graded targets** (`TargetGrades`): EASE's least squares reproduce X from X; here they may
  reproduce Y from X instead, where Y grades each film by its rating (1 for a film rated ≥ 4,
  less for a middling or disliked one), so the model learns which films a user will *like*
  given everything they watched, not only which they will watch. The closed form is EASE's
  with the cross Gram matrix XᵀY (`ease_from_grams`).
- **Session rows** (`SessionRows`): besides one row per user, every run of `size` consecutive
  films of a user's history (in time order) is a row of its own, weighted `weight`: films
  watched close together co-occur twice, so the model also learns what goes with what in a
  stretch of someone's viewing (the "session" co-occurrence of session-based recommenders,
  Ludewig & Jannach, UMUAI 28, 2018; here as extra rows of one EASE).

Pure functions over numpy arrays and scipy.sparse matrices; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from recommender.cf import FloatArray, GramArray, IntArray
from recommender.sequence import gap_pairs, top_per_row

#: L2 regularisation λ of EASE. Steck (2019) reports λ in the hundreds for MovieLens-sized
#: data; 200 is what bench/tune.py chooses on the validation split of the temporal protocol
#: (searched over 100, 200, 400 together with CF_TRAIN_TAU).
EASE_L2 = 200.0
#: Sources kept per target film (the strongest positive EASE weights).
NEIGHBOURS_PER_ITEM = 200
#: Time decay of the training input: a bot user's interaction of age a (its rank among the
#: user's interactions, 0 = the most recent) weighs exp(−a/τ) in X; math.inf is 0/1. Chosen on
#: the validation split of the temporal protocol by bench/tune.py among 50, 100, 200 and ∞:
#: on MovieLens the recency of the query (RECENCY_TAU, RECENT_TAU) and the transition model
#: capture the drift, and the undecayed input scores best (the search is printed by the bench).
CF_TRAIN_TAU = math.inf

#: Ratings at or above this (Letterboxd stars) are a liked film's: the benches' relevance
#: threshold too (a held-out film rated ≥ 4 is one the user should have been shown).
TARGET_LIKED_MIN_RATING = 4.0
#: Ratings below this are a disliked film's; [TARGET_MIDDLING_MIN_RATING, 4) are middling.
TARGET_MIDDLING_MIN_RATING = 3.0


@dataclass(frozen=True, slots=True)
class TargetGrades:
    """EASE's regression target Y per interaction: 1 for a film rated ≥ 4 or ♥-liked, `middling`
    for a rating in [3, 4) or a watch without a rating, `disliked` for a rating below 3 (not
    liked). middling = disliked = 1 is plain EASE (Y = X). Values in [0, 1]."""

    middling: float = 1.0
    disliked: float = 1.0

    @property
    def plain(self) -> bool:
        """Every interaction's target is 1: Y = X."""
        return self.middling == 1.0 and self.disliked == 1.0

    def of(self, ratings: npt.NDArray[np.floating], liked: npt.NDArray[np.bool_]) -> FloatArray:
        """The target of each interaction: `ratings` 0.5–5 or NaN (none), `liked` the ♥ flags,
        both one per interaction; float32, same length."""
        r = np.asarray(ratings, dtype=np.float64)
        grade = np.where(r >= TARGET_LIKED_MIN_RATING, 1.0, self.middling)
        grade = np.where(r < TARGET_MIDDLING_MIN_RATING, self.disliked, grade)
        return np.where(np.asarray(liked, dtype=bool), 1.0, grade).astype(np.float32)


@dataclass(frozen=True, slots=True)
class SessionRows:
    """Extra training rows: each run of `size` consecutive films of a user's history (by age,
    the most recent first) becomes one row of weight `weight`. size 0 or weight 0: none."""

    size: int = 0
    weight: float = 0.0

    @property
    def enabled(self) -> bool:
        """Whether the build adds session rows at all."""
        return self.size > 0 and self.weight > 0


@dataclass(frozen=True, slots=True)
class Cooccurrence:
    """Films watched close together, added to the trained weights: B' = B + `weight` · S with
    S[i, j] = nᵢⱼ / √(nᵢ·nⱼ), nᵢⱼ the number of times i and j are at most `window` positions
    apart in a user's history (either order), nᵢ the users who had i (`cooccurrence_matrix`).
    window 0 or weight 0: none."""

    window: int = 0
    weight: float = 0.0

    @property
    def enabled(self) -> bool:
        """Whether the build adds co-occurrence at all."""
        return self.window > 0 and self.weight > 0


#: The bot's training targets, session rows and co-occurrence: chosen with EASE_L2 and
#: CF_TRAIN_TAU on the validation split of the temporal protocol by bench/tune.py (the bench
#: prints its search).
TARGET_GRADES = TargetGrades()
SESSION_ROWS = SessionRows()
COOCCURRENCE = Cooccurrence()


def cooccurrence_matrix(
    users: npt.NDArray[np.integer],
    items: npt.NDArray[np.integer],
    ages: npt.NDArray[np.integer],
    item_users: npt.NDArray[np.floating],
    *,
    window: int,
) -> sparse.csr_array:
    """S (items × items, scipy CSR, float64, zero diagonal): S[i, j] = nᵢⱼ / √(nᵢ·nⱼ), nᵢⱼ the
    number of pairs (i, j) at most `window` positions apart in one user's history, in either
    order, and nᵢ = `item_users`[i] (the users who had film i): the cosine-normalised
    co-occurrence of item-based session neighbourhoods (Ludewig & Jannach, UMUAI 28, 2018).

    `users`, `items` (indices < len(item_users)), `ages` (0 = a user's most recent film): one
    entry per interaction. One pass per gap d ≤ window; memory O(interactions · window). Raises
    ValueError when the arrays differ in length or window < 1.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    n = len(item_users)
    total = sparse.csr_array((n, n), dtype=np.float64)
    for _d, a, b in gap_pairs(users, items, ages, window):
        pairs = sparse.csr_array(
            (np.ones(2 * len(a)), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n)
        )
        total = sparse.csr_array(total + pairs)
    norm = 1.0 / np.sqrt(np.maximum(np.asarray(item_users, dtype=np.float64), 1.0))
    return sparse.csr_array(sparse.diags_array(norm) @ total @ sparse.diags_array(norm))


def add_edges(
    edges: tuple[IntArray, IntArray, FloatArray], extra: sparse.csr_array, k: int = NEIGHBOURS_PER_ITEM
) -> tuple[IntArray, IntArray, FloatArray]:
    """The union of truncated `edges` (source, target, weight; as :func:`truncate_by_target`
    returns them) and the items × items matrix `extra`, weights summed, each target's `k`
    largest positive weights kept; sorted by source then target. For RP3beta's edges, whose
    full matrix is never formed (the dense EASE path adds to B before truncating)."""
    n = extra.shape[0]
    sources, targets, weights = edges
    merged = sparse.csr_array(
        sparse.csr_array((weights.astype(np.float64), (sources, targets)), shape=(n, n)) + extra
    )
    merged.sum_duplicates()
    t, s, w = top_per_row(sparse.csr_array(merged.T), k)  # rows of Bᵀ are targets
    keep = w > 0
    t, s, w = t[keep], s[keep], w[keep]
    order = np.lexsort((t, s))
    return s[order], t[order], w[order]


def ease_weights(interactions: npt.NDArray[np.floating], l2: float = EASE_L2) -> FloatArray:
    """EASE's B (items × items, float32, zero diagonal) from a users × items 0/1 matrix.

    G = XᵀX, then :func:`ease_from_gram`. Cost: one items × items inverse, O(items³) time and
    items² memory (5,000 items: ~2 s and 200 MB in float64). Raises numpy.linalg.LinAlgError
    only if λ ≤ 0 makes G singular.
    """
    x = np.asarray(interactions, dtype=np.float64)
    return ease_from_gram(x.T @ x, l2, overwrite=True)


def weighted_gram(
    interactions: sparse.csr_array,
    row_weights: npt.NDArray[np.floating],
    targets: sparse.csr_array | None = None,
) -> GramArray:
    """G = Xᵀ·diag(w)·X (items × items, dense float64) from a sparse users × items matrix, or
    the cross Gram matrix Xᵀ·diag(w)·Y when `targets` Y (the same shape as X) is given.

    `interactions`: scipy.sparse CSR, users × items (0/1 for EASE); `row_weights`: one weight
    ≥ 0 per user (row), e.g. 1 for the bot's users and `CF_PRIOR_WEIGHT` for prior users, so
    each user's row counts w times in G (a weighted least-squares EASE, Steck 2019 eq. 1 with
    row weights). The product is sparse (scipy SpGEMM, O(Σᵤ nᵤ²) for nᵤ films of user u); only
    the items × items result is dense. Raises ValueError when the weights do not match the rows
    or Y's shape is not X's.
    """
    n_rows, n_items = interactions.shape
    w = np.asarray(row_weights, dtype=np.float64)
    if w.shape != (n_rows,):
        raise ValueError(f"row_weights has shape {w.shape}, expected ({n_rows},)")
    if targets is not None and targets.shape != interactions.shape:
        raise ValueError(f"targets has shape {targets.shape}, expected {interactions.shape}")
    x = sparse.csr_array(interactions, dtype=np.float64)
    y = x if targets is None else sparse.csr_array(targets, dtype=np.float64)
    weighted = sparse.csr_array(sparse.diags_array(w) @ y)
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


def ease_from_grams(
    gram: npt.NDArray[np.floating],
    cross: npt.NDArray[np.floating],
    l2: float = EASE_L2,
    *,
    overwrite: bool = False,
) -> FloatArray:
    """EASE's B (items × items, float32, zero diagonal) trained to reproduce targets Y from X:
    argmin ‖Y − XB‖² + λ‖B‖² subject to diag(B) = 0, from G = XᵀX and the cross Gram matrix
    C = XᵀY (both items × items; row-weighted as in :func:`weighted_gram`).

    With P = (G + λI)⁻¹ the Lagrangian gives B = P·C − P·diag(μ), μⱼ = (P·C)ⱼⱼ / Pⱼⱼ (the
    derivation of Steck 2019, eq. 4–8, with XᵀY for XᵀX on the right); for Y = X it is
    :func:`ease_from_gram`'s B. With `overwrite` a float64 `gram` is used as scratch space.
    Peak memory about 32 bytes × items² beyond the inputs. Raises numpy.linalg.LinAlgError only
    if λ ≤ 0 makes G singular.
    """
    g = np.array(gram, dtype=np.float64, copy=None if overwrite else True)
    g[np.diag_indices_from(g)] += l2
    p = np.linalg.inv(g)
    del g
    b = p @ np.asarray(cross, dtype=np.float64)
    mu = np.diag(b) / np.diag(p)
    b -= p * mu[None, :]
    del p
    b[np.diag_indices_from(b)] = 0.0
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


#: RP3beta's exponents α (on both transition probabilities) and β (on the target's
#: popularity), used above the dense EASE size (domain/cf.py). Chosen on the temporal
#: validation split of bench/recommend_quality.py (`load_split`, `validation`, `search` of
#: bench/baselines.py over α ∈ {0.5, 0.75, 1}, β ∈ {0, 0.2, 0.4, 0.6}, 200 neighbours per
#: target, X decayed with τ = CF_TRAIN_TAU = 50): α = 0.75, β = 0 gives NDCG@10 0.1111 (α = 0.5,
#: β = 0.2: 0.1094; α = 1, β = 0.4: 0.0677). With τ = ∞ the best is α = 0.5, β = 0.2 (0.1139);
#: revisit if CF_TRAIN_TAU changes.
RP3_ALPHA = 0.75
RP3_BETA = 0.0
#: Target columns of RP3beta's W computed at once: the dense items × block scratch block costs
#: items × block × 8 bytes (50,000 films × 256 ≈ 100 MB).
RP3_BLOCK = 256


def rp3beta_edges(
    interactions: sparse.csr_array,
    *,
    alpha: float = RP3_ALPHA,
    beta: float = RP3_BETA,
    neighbours: int = NEIGHBOURS_PER_ITEM,
    block: int = RP3_BLOCK,
    targets: sparse.csr_array | None = None,
) -> tuple[IntArray, IntArray, FloatArray]:
    """RP3beta's item × item weights, truncated per target, as (source index, target index,
    weight) arrays sorted by source then target (the shape of :func:`truncate_by_target`).

    RP3beta (Paudel, Christoffel, Newell, Bernstein, "Updatable, Accurate, Diverse, and
    Scalable Recommendations for Interactive Applications", ACM TiiS 7(1), 2016) is a random
    walk item → user → item: P(i→u) = X[u,i]/deg(i), P(u→j) = X[u,j]/deg(u), with deg the
    row and column sums of X (weighted degrees), and

        W[i, j] = Σᵤ P(i→u)^α · P(u→j)^α / deg(j)^β,   W[j, j] = 0,

    the formula of bench/baselines.py::rp3beta_weights. Every target column j keeps its
    `neighbours` largest positive W[i, j]. `interactions`: users × items, float weights ≥ 0
    (any scipy sparse format). With `targets` Y (graded targets, `TargetGrades`; X's shape) the
    second step walks on Y: P(u→j) = Y[u,j]/Σⱼ Y[u,j], and deg(j) is Y's column sum. W is
    computed `block` target columns at a time (a sparse product, then a dense items × block
    scratch array), so memory is O(nnz(X) + items × block + edges), never items × items; time is
    O(Σᵤ deg(u)²) for the product. Raises ValueError for negative weights, a shape mismatch, or
    a block or neighbours < 1.
    """
    if block < 1 or neighbours < 1:
        raise ValueError(f"block and neighbours must be >= 1, got {block}, {neighbours}")
    x = sparse.csr_array(interactions, dtype=np.float64)
    x.sum_duplicates()
    y = x if targets is None else sparse.csr_array(targets, dtype=np.float64)
    if targets is not None:
        y.sum_duplicates()
        if y.shape != x.shape:
            raise ValueError(f"targets has shape {y.shape}, expected {x.shape}")
    if (x.nnz and x.data.min() < 0) or (y.nnz and y.data.min() < 0):
        raise ValueError("interactions and targets must be >= 0")
    n = x.shape[1]
    k = min(neighbours, max(n - 1, 0))
    empty = np.zeros(0, dtype=np.int64)
    if k == 0 or x.nnz == 0:
        return empty, empty.copy(), np.zeros(0, dtype=np.float32)
    item_degree = np.asarray(x.sum(axis=0)).ravel()
    user_degree = np.asarray(y.sum(axis=1)).ravel()
    target_degree = np.asarray(y.sum(axis=0)).ravel()
    inv_user = np.divide(1.0, user_degree, out=np.zeros_like(user_degree), where=user_degree > 0)
    inv_item = np.divide(1.0, item_degree, out=np.zeros_like(item_degree), where=item_degree > 0)
    p_uj = sparse.csc_array(sparse.diags_array(inv_user) @ y)  # users × items, P(u→j)
    p_iu = sparse.csr_array((x @ sparse.diags_array(inv_item)).T)  # items × users, P(i→u)
    p_uj.data **= alpha
    p_iu.data **= alpha
    popularity = np.zeros(n, dtype=np.float64)
    positive = target_degree > 0
    popularity[positive] = target_degree[positive] ** -beta
    del x, y
    parts: list[tuple[IntArray, IntArray, FloatArray]] = []
    for start in range(0, n, block):
        stop = min(start + block, n)
        w = sparse.csr_array(p_iu @ p_uj[:, start:stop]).toarray()  # items × (stop − start)
        w *= popularity[start:stop][None, :]
        columns = np.arange(stop - start)
        w[start + columns, columns] = 0.0
        top = np.argpartition(-w, k - 1, axis=0)[:k, :]
        cols = np.broadcast_to(columns, top.shape)
        values = w[top, cols]
        keep = values > 0
        parts.append(
            (
                top[keep].astype(np.int64),
                (cols[keep] + start).astype(np.int64),
                values[keep].astype(np.float32),
            )
        )
        del w, top, values
    sources = np.concatenate([p[0] for p in parts])
    targets = np.concatenate([p[1] for p in parts])
    weights = np.concatenate([p[2] for p in parts])
    del parts
    order = np.argsort(sources * n + targets)
    return sources[order], targets[order], weights[order]
