"""The project's ranking constants, chosen on a validation split (issue 13).

bench/recommend_quality.py carves a validation split from each user's train part by the rule
that carved the test part (`validation` in bench/split.py) and calls `choose`. A training
configuration is the input of the CF build (`Training`: EASE λ, the time decay τ of the input,
graded targets, session rows and co-occurrence, recommender.cf_train); a query configuration the
recency τ and floor of the CF query. `choose` searches in two stages:

- stage 1: for every training configuration of TRAIN_GRID, the CF model is trained on
  train-minus-validation and the CF term alone (no other weight, no damping) ranks every
  validation user's unrated films, for each query configuration; the FINALISTS best training
  configurations, and the bot's own, go on to
- stage 2: for each of them and each query configuration, steps 1–3 below.

1. trains the CF model on train-minus-validation with the code the bot's build job runs
   (`domain.cf.fit_models`: the CF model and the transition model of recommender.sequence, then
   `CFModel.from_arrays`);
2. computes each validation user's unweighted features over every catalog film they have not
   rated, with the functions `RecommendationService.rank` uses (`history_weights`,
   `recent_weights`, `CFModel.scores`, `SequenceModel.scores`, `taste_vector`,
   `bayesian_rating`, `votes_term`);
3. searches the weights of `recommender.scoring.personal_components` (the score the bot ranks
   by) by coordinate ascent over the grids below, maximising validation NDCG@10 among the
   weightings whose top-10 lists cover at least COVERAGE_MIN of the catalog (the issue's
   coverage floor; a product requirement: the bot should not show everyone the same films).
   Coverage needs no labels, so it is measured on what the bot would deploy: the model
   trained on the whole train part ranking the same users' films outside it.
   The ascent starts twice and keeps the better end: from START, and from the CF score alone
   damped by the smallest popularity exponent that meets the floor (`cf_only_start`). The floor
   makes the search space ragged: from START the floor is met mostly through the content
   weight, and no single step reaches the region where the damping meets it instead (on the
   random split that region scored 0.199 against 0.183 on validation).
4. keeps the bot's defaults (DEFAULT_WEIGHTS with CF_TRAIN_TAU and EASE_L2, the incumbent)
   unless the best configuration beats them on validation by more than one standard error of
   the per-user paired difference of NDCG@10 (the one-standard-error rule: Breiman et al.,
   "Classification and Regression Trees", 1984; Hastie, Tibshirani, Friedman, "The Elements of
   Statistical Learning", §7.10). A difference within noise is no reason to change what the bot
   ships, and the defaults also serve the fresh-install protocol, which this search never sees.

It prints every configuration's validation NDCG@10 (and coverage in stage 2) and the chosen
values. Nothing here reads the test part. Pure numpy after the data is in memory, on 2 cores for
the 610 MovieLens users: about 6 s per training configuration in stage 1, 40 s per training and
query configuration in stage 2 (two ascents); about 8 minutes in all.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np
import numpy.typing as npt

from bench.baselines import DISCOUNTS, Histories, K
from domain.cf import CF_DENSE_MAX_ITEMS, CF_MIN_USERS, fit_models
from recommender.cf import CFModel, Signal, history_weights, recent_weights
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
)
from recommender.content import taste_vector
from recommender.scoring import (
    BAYES_PRIOR_MEAN,
    DEFAULT_WEIGHTS,
    PersonalFeatures,
    RankWeights,
    bayesian_rating,
    personal_components,
    votes_term,
)
from recommender.sequence import SequenceModel


@dataclass(frozen=True)
class Training:
    """One configuration of the CF model's training input (the arguments of build_cf_model):
    τ of the time-decayed input (∞: 0/1), EASE λ, the targets' grades and the session rows."""

    tau: float
    l2: float
    target: TargetGrades = field(default_factory=TargetGrades)
    sessions: SessionRows = field(default_factory=SessionRows)
    cooccurrence: Cooccurrence = field(default_factory=Cooccurrence)

    def label(self) -> str:
        grades, runs = self.target, self.sessions
        target = "plain" if grades.plain else f"graded {grades.middling:g}/{grades.disliked:g}"
        sessions = f"sessions {runs.size}×{runs.weight:g}" if runs.enabled else "no sessions"
        near = self.cooccurrence
        together = f"co-occurrence {near.window}×{near.weight:g}" if near.enabled else "no co-occurrence"
        return f"τ={self.tau:g} λ={self.l2:g} {target} {sessions} {together}"


#: The bot's training defaults (recommender.cf_train).
DEFAULT_TRAINING = Training(CF_TRAIN_TAU, EASE_L2, TARGET_GRADES, SESSION_ROWS, COOCCURRENCE)
#: Training configurations of the first stage. τ = 50 and 200 were searched until stop 22 and
#: lost to ∞ on both splits in every run; τ = 100 stays as the check that decay still loses.
#: Graded targets (middling/disliked), session rows (size × weight) and co-occurrence (window ×
#: weight) were added at stop 25; the values are around those a first search on the validation
#: split of the random protocol preferred (grades 0.3/0.1 and sessions of 5 never led there).
TRAIN_GRID = (
    *(Training(100.0, l2) for l2 in (200.0, 400.0)),
    *(
        Training(math.inf, l2, target, sessions, together)
        for l2 in (200.0, 400.0)
        for target in (TargetGrades(), TargetGrades(0.6, 0.3))
        for sessions in (SessionRows(), SessionRows(10, 2.0), SessionRows(20, 1.0))
        for together in (Cooccurrence(), Cooccurrence(3, 0.1), Cooccurrence(3, 0.2))
    ),
)
#: Training configurations that go on to the second stage (plus the bot's defaults).
FINALISTS = 2
#: CF query configurations: (recency τ, floor) of `history_weights`.
QUERY_GRID = ((20.0, 0.3), (math.inf, 0.0))
#: Weights searched (cf stays 1: it sets the scale), each over its grid.
WEIGHT_GRID: dict[str, tuple[float, ...]] = {
    "recent_cf": (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5),
    "seq": (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0),
    "content": (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
    "quality": (0.0, 0.05, 0.1, 0.2, 0.3, 0.5),
    "votes": (0.0, 0.1, 0.2, 0.4, 0.6),
    # finer where the coverage floor binds: a step of 0.1 moves coverage@10 by 0.02–0.04, so it
    # overshoots the floor and gives NDCG away
    "popularity_exponent": (0.0, 0.1, *(round(0.2 + 0.025 * i, 3) for i in range(17))),
}
START = RankWeights(recent_cf=0.25, seq=0.2, content=0.5, quality=0.1, votes=0.1, popularity_exponent=0.3)
ASCENT_ROUNDS = 2
#: The coverage@10 a chosen weighting must reach (issue 13's floor), measured on what the bot
#: would deploy: the CF model trained on the whole train part ranking each evaluated user's
#: films outside it. Coverage needs no labels, so this reads nothing of the test part, and it
#: is the quantity the floor is about; the validation model's coverage is only an estimate of
#: it (trained on a quarter fewer ratings: in one run a weighting at 0.151 there covered 0.139).
COVERAGE_MIN = 0.15


@dataclass(frozen=True)
class Chosen:
    """The chosen training configuration (the arguments of `build_cf_model`) and ranking
    weights, with their validation NDCG@10 and deployed coverage@10 (see COVERAGE_MIN)."""

    training: Training
    weights: RankWeights
    ndcg: float
    coverage: float


@dataclass
class _User:
    """One validation user: the features of the films they have not rated (`positions`: their
    catalog indices) and the positions, among those, of their relevant validation films."""

    positions: npt.NDArray[np.int64]
    relevant: npt.NDArray[np.int64]
    features: PersonalFeatures


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def choose(
    train: Histories,
    fit: Histories,
    held: Mapping[int, set[int]],
    items: npt.NDArray[np.int64],
    films: Mapping[int, tuple[float, int]],
    vectors: npt.NDArray[np.float32],
) -> Chosen:
    """The best configuration on validation (see the module docstring).

    `train`: ML user → the whole train part (tmdb id, rating, timestamp) in time order, which
    the coverage constraint ranks (no labels); `fit`: the train part minus validation;
    `held`: ML user → validation films rated ≥ 4; `items`: the catalog's tmdb ids,
    sorted; `films`: tmdb id → (TMDB vote average, vote count); `vectors`: catalog × 384 film
    vectors in `items` order (zero rows for films without one).
    """
    index = {int(t): i for i, t in enumerate(items)}
    quality = np.array([(bayesian_rating(*films[int(t)]) - BAYES_PRIOR_MEAN) / 2 for t in items])
    votes = np.array([votes_term(films[int(t)][1]) for t in items])
    evaluated = [u for u in sorted(fit) if held.get(u)]

    def users_of(model: CFModel, q_tau: float, q_floor: float, *, whole: bool = False) -> list[_User]:
        """Validation users (`fit` histories, `held` films), or with `whole` the same users
        with their whole train part and no relevant films: what the deployed model ranks."""
        return [
            _user(
                (train if whole else fit)[u],
                set() if whole else held[u],
                items,
                index,
                model,
                vectors,
                quality,
                votes,
                q_tau,
                q_floor,
            )
            for u in evaluated
        ]

    say(
        f"tuning the project on validation: {len(evaluated)} users; stage 1, the CF term alone "
        f"for {len(TRAIN_GRID)} training configurations × {len(QUERY_GRID)} queries"
    )
    cf_alone = RankWeights(
        recent_cf=0.0, seq=0.0, content=0.0, quality=0.0, votes=0.0, popularity_exponent=0.0
    )
    first: dict[Training, float] = {}
    for training in TRAIN_GRID:
        model = _train(fit, training)
        values = [float(_ndcgs(users_of(model, *query), cf_alone).mean()) for query in QUERY_GRID]
        first[training] = max(values)
        say(f"  {training.label()}: CF alone, validation NDCG@10 " + " / ".join(f"{v:.4f}" for v in values))
    finalists = sorted(first, key=lambda t: -first[t])[:FINALISTS]
    if DEFAULT_TRAINING not in finalists:
        finalists.append(DEFAULT_TRAINING)
    say(f"stage 2, every weight searched for {len(finalists)} training configurations (best, the bot's)")
    best: Chosen | None = None
    best_per_user = np.zeros(0)
    incumbent: tuple[Chosen, npt.NDArray[np.float64]] | None = None
    for training in finalists:
        model, deployed = _train(fit, training), _train(train, training)
        for q_tau, q_floor in QUERY_GRID:
            users = users_of(model, q_tau, q_floor)
            reach = users_of(deployed, q_tau, q_floor, whole=True)
            if training == DEFAULT_TRAINING and (q_tau, q_floor) == (
                DEFAULT_WEIGHTS.recency_tau,
                DEFAULT_WEIGHTS.recency_floor,
            ):
                per_user = _ndcgs(users, DEFAULT_WEIGHTS)
                coverage = _coverage(reach, DEFAULT_WEIGHTS, len(items))
                incumbent = Chosen(training, DEFAULT_WEIGHTS, float(per_user.mean()), coverage), per_user
            weights, ndcg, coverage = max(
                (
                    _ascend(
                        users, reach, replace(start, recency_tau=q_tau, recency_floor=q_floor), len(items)
                    )
                    for start in (START, cf_only_start(reach, len(items)))
                ),
                key=lambda end: end[1] if end[2] >= COVERAGE_MIN else -1.0,
            )
            say(
                f"  train {training.label()}, query τ={q_tau:g} floor={q_floor:g}: validation "
                f"NDCG@10 {ndcg:.4f}, deployed coverage@10 {coverage:.4f} with {_label(weights)}"
            )
            if best is None or ndcg > best.ndcg:
                best = Chosen(training, weights, ndcg, coverage)
                best_per_user = _ndcgs(users, weights)
    assert best is not None and incumbent is not None, "the defaults must be in the grids"
    kept, kept_per_user = incumbent
    difference = best_per_user - kept_per_user
    margin = float(difference.std(ddof=1) / math.sqrt(len(difference)))
    say(
        f"the bot's defaults: validation NDCG@10 {kept.ndcg:.4f}, deployed coverage@10 {kept.coverage:.4f}; "
        f"the best beats them by {difference.mean():+.4f} (one standard error {margin:.4f})"
    )
    if kept.coverage >= COVERAGE_MIN and difference.mean() <= margin:
        best = kept
    say(f"chosen: train {best.training.label()}; {_label(best.weights)}")
    return best


def _label(w: RankWeights) -> str:
    names = ("recency_tau", "recency_floor", *WEIGHT_GRID)
    return ", ".join(f"{n}={getattr(w, n):g}" for n in names)


def _train(fit: Histories, training: Training) -> CFModel:
    """The CF and transition models trained as the bot's build job trains them
    (domain.cf.fit_models), from histories in time order."""
    keys, tmdb, ages, ratings = [], [], [], []
    for user, history in sorted(fit.items()):
        for age, (tmdb_id, rating, _ts) in enumerate(reversed(history)):
            keys.append(user)
            tmdb.append(tmdb_id)
            ages.append(age)
            ratings.append(rating)
    trained = fit_models(
        np.asarray(keys, dtype=np.int64),
        np.asarray(tmdb, dtype=np.int32),
        np.asarray(ages, dtype=np.int32),
        np.asarray(ratings, dtype=np.float32),
        np.zeros(len(keys), dtype=np.int32),
        l2=training.l2,
        neighbours=NEIGHBOURS_PER_ITEM,
        dense_max_items=CF_DENSE_MAX_ITEMS,
        min_users=CF_MIN_USERS,
        prior_weight=1.0,
        tau=training.tau,
        alpha=RP3_ALPHA,
        beta=RP3_BETA,
        target=training.target,
        sessions=training.sessions,
        cooccurrence=training.cooccurrence,
    )
    ids = trained.item_ids
    t_src, t_tgt, t_w = trained.transitions
    return CFModel.from_arrays(
        1,
        ids,
        trained.n_ratings,
        ids[trained.sources],
        ids[trained.targets],
        trained.weights,
        transitions=SequenceModel.from_arrays(ids[t_src], ids[t_tgt], t_w),
    )


def _dense(
    ids: npt.NDArray[np.int64], values: npt.ArrayLike, items: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Scores keyed by tmdb id as one value per catalog film (`items` sorted; 0 where absent)."""
    out = np.zeros(len(items))
    ids = np.asarray(ids, dtype=np.int64)
    pos = np.clip(np.searchsorted(items, ids), 0, len(items) - 1)
    hit = items[pos] == ids
    out[pos[hit]] = np.asarray(values, dtype=np.float64)[hit]
    return out


def _user(
    history: Sequence[tuple[int, float, int]],
    relevant: set[int],
    items: npt.NDArray[np.int64],
    index: Mapping[int, int],
    model: CFModel,
    vectors: npt.NDArray[np.float32],
    quality: npt.NDArray[np.float64],
    votes: npt.NDArray[np.float64],
    q_tau: float,
    q_floor: float,
) -> _User:
    n = len(index)
    signals = [Signal(t, r, watched=True) for t, r, _ in reversed(history)]  # most recent first
    cf = _dense(*model.scores(history_weights(signals, tau=q_tau, floor=q_floor)), items)
    recent = _dense(*model.scores(recent_weights(signals)), items)
    seq_scores = model.transitions.scores([s.tmdb_id for s in signals if s.interacted])
    seq = _dense(np.fromiter(seq_scores, dtype=np.int64), list(seq_scores.values()), items)
    default_weights = history_weights(signals)
    film_vectors = {t: vectors[index[t]] for t in default_weights if vectors[index[t]].any()}
    taste = taste_vector(default_weights, film_vectors)
    content = vectors @ taste if taste is not None else np.zeros(n)
    support = _dense(model.item_ids, model.n_ratings, items)
    seen = np.zeros(n, dtype=bool)
    seen[[index[t] for t, _, _ in history]] = True
    zeros = np.zeros(n)
    features = PersonalFeatures(
        cf=cf,
        recent_cf=recent,
        support=support,
        seq=seq,
        content=content.astype(np.float64),
        quality=quality,
        votes=votes,
        tmdb=zeros,
        genres=zeros,
        era=zeros,
    )
    unseen = ~seen
    positions = np.flatnonzero(unseen)
    wanted = [index[t] for t in relevant if t in index]
    return _User(
        positions=positions,
        relevant=np.flatnonzero(np.isin(positions, wanted)),
        features=PersonalFeatures(
            **{f.name: getattr(features, f.name)[unseen] for f in fields(PersonalFeatures)}
        ),
    )


def _top(user: _User, weights: RankWeights) -> npt.NDArray[np.int64]:
    """Positions (in `user.positions`) of the user's top 10 by the weighting, best first."""
    score = np.sum(list(personal_components(user.features, weights).values()), axis=0)
    top = np.argpartition(-score, K)[:K]
    return top[np.argsort(-score[top], kind="stable")]


def _ndcgs(users: Sequence[_User], weights: RankWeights) -> npt.NDArray[np.float64]:
    """Each validation user's NDCG@10 of the weighting (in `users` order)."""
    ndcgs = []
    for user in users:
        gains = np.isin(_top(user, weights), user.relevant).astype(float)
        ndcgs.append(float((gains * DISCOUNTS).sum() / DISCOUNTS[: min(len(user.relevant), K)].sum()))
    return np.asarray(ndcgs, dtype=np.float64)


def _coverage(reach: Sequence[_User], weights: RankWeights, n_items: int) -> float:
    """Coverage@10 of the weighting: the share of the catalog in at least one user's top 10."""
    covered: set[int] = set()
    for user in reach:
        covered.update(user.positions[_top(user, weights)].tolist())
    return len(covered) / n_items


def _evaluate(
    users: Sequence[_User], reach: Sequence[_User], weights: RankWeights, n_items: int
) -> tuple[float, float]:
    """Mean validation NDCG@10 over `users` and coverage@10 over `reach`."""
    return float(_ndcgs(users, weights).mean()), _coverage(reach, weights, n_items)


def cf_only_start(reach: Sequence[_User], n_items: int) -> RankWeights:
    """The CF term alone (every other weight 0), damped by the smallest popularity exponent of
    WEIGHT_GRID whose coverage@10 over `reach` reaches COVERAGE_MIN (the largest if none does)."""
    cf_only = RankWeights(recent_cf=0.0, seq=0.0, content=0.0, quality=0.0, votes=0.0)
    grid = WEIGHT_GRID["popularity_exponent"]
    for exponent in grid:
        candidate = replace(cf_only, popularity_exponent=exponent)
        if _coverage(reach, candidate, n_items) >= COVERAGE_MIN:
            return candidate
    return replace(cf_only, popularity_exponent=grid[-1])


def _ascend(
    users: Sequence[_User], reach: Sequence[_User], start: RankWeights, n_items: int
) -> tuple[RankWeights, float, float]:
    def value(w: RankWeights) -> tuple[float, float, float]:
        ndcg, coverage = _evaluate(users, reach, w, n_items)
        return (ndcg if coverage >= COVERAGE_MIN else -1.0), ndcg, coverage

    best = start
    best_value = value(start)
    for _ in range(ASCENT_ROUNDS):
        changed = False
        for name, grid in WEIGHT_GRID.items():
            for v in grid:
                candidate = replace(best, **{name: v})
                if candidate == best:
                    continue
                result = value(candidate)
                if result[0] > best_value[0] + 1e-6:
                    best, best_value, changed = candidate, result, True
        if not changed:
            break
    return best, best_value[1], best_value[2]
