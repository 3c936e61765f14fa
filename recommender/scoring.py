"""Hybrid candidate scoring and the reasons of a candidate (the taste profile it scores
against is `recommender.taste`).

Pure functions: no I/O, no clock, no randomness. Scores are unbounded floats; only their
order matters. Each score is the sum of weighted components (see `score_candidates`). The
weights were chosen on the MovieLens protocol of bench/recommend_quality.py (train/test split
by time); the benchmark prints what they achieve next to EASE and the other baselines.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recommender.cf import RECENCY_FLOOR, RECENCY_TAU, CFModel
from recommender.recent import NO_RECENT_PICKS, W_NOVELTY, W_REPEAT, FilmIndex, RecentPicks
from recommender.taste import POSITIVE_AFFINITY_MIN, is_cold_start
from recommender.types import (
    Candidate,
    CandidateSource,
    Reason,
    ReasonKind,
    ScoredCandidate,
    TasteProfile,
)

# --- quality prior: IMDb's Top 250 weighted rating WR = (v/(v+m))·R + (m/(v+m))·C ------------
# (R = the film's mean vote, v = its vote count, m = votes needed to be trusted, C = the
# mean vote across the catalogue; TMDB's vote averages centre around 6.5.)
BAYES_MIN_VOTES = 200
BAYES_PRIOR_MEAN = 6.5
HIGHLY_RATED_MIN = 7.5  # weighted rating (0–10) from which HIGHLY_RATED is given
POPULARITY_CAP = 1000.0  # TMDB popularity at which the popularity term saturates at 1

# --- hybrid weights (personalised users) ------------------------------------------------------
# Every W_* below and the popularity exponent were chosen on a validation split carved from the
# train part of bench/recommend_quality.py's temporal protocol (bench/tune.py prints the
# search); they are the defaults of `RankWeights`. Each CF-like term is divided by the largest
# |value| among the candidates, so it is in [−1, 1].
# cf: Σᵢ wᵢ·B[i, j] with the user's whole history weighted by `recommender.cf.history_weights`,
# divided by (support + 1)^POPULARITY_EXPONENT: the division damps the popularity bias of
# item-to-item CF (a blockbuster is everyone's neighbour) and widens catalog coverage.
W_CF = 1.0
POPULARITY_EXPONENT = 0.3
# recent_cf: the same CF model queried with the user's latest films only
# (`recommender.cf.recent_weights`), damped the same way: what they are watching these weeks.
W_RECENT_CF = 0.25
# seq: what tends to follow their latest films in other users' histories (recommender.sequence).
W_SEQ = 0.5
# content: cosine(film, taste vector), typically 0.1–0.7 for all-MiniLM-L6-v2.
W_CONTENT = 1.5
# quality: (weighted rating − BAYES_PRIOR_MEAN) / 2, roughly −1…+1.
W_QUALITY = 0.1
# votes: `votes_term`, 0–1: how well-known the film is.
W_VOTES = 0.4
# tmdb: log1p(#history films whose TMDB /recommendations or /similar list it is on). Not tuned:
# the benchmark runs without TMDB.
W_TMDB = 0.15
# preferred: the film has a genre the user asked for (onboarding or a question), 0/1.
W_PREFERRED = 0.3
# avoid: similarity to an avoid topic above AVOID_MIN_SIMILARITY, rescaled to 0–1, plus 1 for a
# keyword hit; topics push films down, they never ban them.
W_AVOID = 0.6
AVOID_MIN_SIMILARITY = 0.3
# novelty and repeat (W_NOVELTY, W_REPEAT): what was shown lately, recommender.recent.
# --- thin collaborative signal: a fresh install, or a user the CF model barely knows ----------
# A self-hosted bot starts with one user and an empty CF model. Then the ranking leans on what
# it knows without other users: the quality prior, the taste vector, the user's genre
# affinities, how well-known a film is and whether it is from the era the user is watching.
# The blend moves from these "fresh" weights to the CF weights above as the CF model covers
# more of the user's history: cf_strength = the share of their positively weighted films
# (at most CF_FULL_HISTORY of them) that the model has.
# The `RankWeights.fresh_*` defaults are what `python -m bench.recommend_quality --fresh` chose on a
# validation split carved from each user's train part (it prints its search).
CF_FULL_HISTORY = 10
# era: exp(−((year − era_year) / ERA_WIDTH_YEARS)²), 1 for a film from the median year of the
# user's ERA_FILMS most recent films (recommender.taste), 0.37 fifteen years away (a Gaussian
# kernel on years).
ERA_WIDTH_YEARS = 15.0
# votes: log1p(vote count) / log1p(VOTES_CAP), capped at 1: how well-known a film is.
VOTES_CAP = 10_000


@dataclass(frozen=True, slots=True)
class RankWeights:
    """The weights of the personalised score's components (see `score_candidates`).

    `cf`, `recent_cf`, `seq`, `content`, `quality`, `votes` apply in full when the CF model
    knows the user's history (cf_strength 1); the `fresh_*` ones take over as cf_strength falls
    to 0 (an empty CF model). `popularity_exponent` damps the CF terms by (support + 1)^−p;
    `recency_tau` and `recency_floor` weight the history of the `cf` query
    (`recommender.cf.history_weights`).
    Defaults: the module's W_* constants, chosen on validation (see above).
    """

    cf: float = W_CF
    recent_cf: float = W_RECENT_CF
    seq: float = W_SEQ
    content: float = W_CONTENT
    quality: float = W_QUALITY
    votes: float = W_VOTES
    tmdb: float = W_TMDB
    popularity_exponent: float = POPULARITY_EXPONENT
    recency_tau: float = RECENCY_TAU
    recency_floor: float = RECENCY_FLOOR
    fresh_content: float = 1.0
    fresh_quality: float = 1.0
    fresh_genres: float = 1.0
    fresh_votes: float = 1.5
    fresh_era: float = 1.5


@dataclass(frozen=True, slots=True)
class PersonalFeatures:
    """The unweighted personal signals of n candidates, one float64 array of length n each.

    `cf`, `recent_cf`: raw CF scores (Σᵢ wᵢ·B[i, j], 0 when unreached); `support`: users who
    had the film in the CF training data; `seq`: the sequential score (recommender.sequence,
    ≥ 0); `content`: cosine to the taste vector (0 when unknown); `quality`: (weighted rating
    − BAYES_PRIOR_MEAN) / 2; `votes`: `votes_term`; `tmdb`: log1p(#TMDB seeds); `genres`:
    `genres_term`; `era`: `era_term`.
    """

    cf: npt.NDArray[np.float64]
    recent_cf: npt.NDArray[np.float64]
    support: npt.NDArray[np.float64]
    seq: npt.NDArray[np.float64]
    content: npt.NDArray[np.float64]
    quality: npt.NDArray[np.float64]
    votes: npt.NDArray[np.float64]
    tmdb: npt.NDArray[np.float64]
    genres: npt.NDArray[np.float64]
    era: npt.NDArray[np.float64]


def personal_components(
    f: PersonalFeatures, weights: RankWeights, cf_strength: float = 1.0
) -> dict[str, npt.NDArray[np.float64]]:
    """Each weighted personal term of the score, one array per component name (length n).

    With a = cf_strength (clamped to 0–1), b = 1 − a, w = weights, and unit(x) = x / max|x|
    (0 when all are 0), damp = (support + 1)^−w.popularity_exponent:
    cf = a·w.cf·unit(cf·damp), recent_cf = a·w.recent_cf·unit(recent_cf·damp),
    seq = a·w.seq·unit(seq), content = (a·w.content + b·w.fresh_content)·content,
    quality = (a·w.quality + b·w.fresh_quality)·quality, votes = (a·w.votes + b·w.fresh_votes)·votes,
    tmdb = w.tmdb·tmdb, and when b > 0: genres = b·w.fresh_genres·genres, era = b·w.fresh_era·era.
    The benchmark's search (bench/tune.py) scores with this same function.
    """
    a = min(max(cf_strength, 0.0), 1.0)
    b = 1.0 - a
    w = weights
    damp = popularity_damping(f.support, w.popularity_exponent)
    out = {
        "cf": a * w.cf * _unit(f.cf * damp),
        "recent_cf": a * w.recent_cf * _unit(f.recent_cf * damp),
        "seq": a * w.seq * _unit(f.seq),
        "content": (a * w.content + b * w.fresh_content) * f.content,
        "quality": (a * w.quality + b * w.fresh_quality) * f.quality,
        "votes": (a * w.votes + b * w.fresh_votes) * f.votes,
        "tmdb": w.tmdb * f.tmdb,
    }
    if b:
        out["genres"] = b * w.fresh_genres * f.genres
        out["era"] = b * w.fresh_era * f.era
    return out


def popularity_damping(support: npt.ArrayLike, exponent: float) -> npt.NDArray[np.float64]:
    """(support + 1)^−exponent per film (`support`: users who had it in the CF training data):
    the factor that damps a CF score for a popular film (see POPULARITY_EXPONENT)."""
    return (np.asarray(support, dtype=np.float64) + 1.0) ** -exponent


def top_cf_candidates(
    model: CFModel,
    cf_ids: npt.NDArray[np.int64],
    cf_scores: npt.NDArray[np.floating],
    exclude: Collection[int],
    limit: int,
    exponent: float,
) -> list[int]:
    """The `limit` films of positive CF score (`cf_ids`, `cf_scores`: `CFModel.scores`) not in
    `exclude`, best first by score · `popularity_damping` (ties in `cf_ids` order: a stable
    sort): the CF candidates of a ranking, in numpy over the whole model's reach."""
    scores = np.asarray(cf_scores, dtype=np.float64)
    keep = scores > 0
    if exclude:
        keep &= ~np.isin(cf_ids, np.fromiter(exclude, dtype=np.int64, count=len(exclude)))
    ids, scores = cf_ids[keep], scores[keep]
    damped = scores * popularity_damping(model.support_counts(ids), exponent)
    order = np.argsort(-damped, kind="stable")[:limit]
    top: list[int] = ids[order].tolist()
    return top


def _unit(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    scale = float(np.abs(x).max()) if len(x) else 0.0
    return x / scale if scale > 0 else np.zeros_like(x, dtype=np.float64)


DEFAULT_WEIGHTS = RankWeights()

# --- cold start: popular, well-rated, diverse (diversity comes from MMR in picks) -------------
W_COLD_QUALITY = 1.0  # (weighted rating − C) / 2
W_COLD_POPULARITY = 0.5  # popularity_term, 0–1

REASON_VALUES_MAX = 2  # seed titles, genres or keywords named per reason


# --- film-level terms ------------------------------------------------------------------------


def bayesian_rating(vote_average: float, vote_count: int) -> float:
    """IMDb Top 250 weighted rating on TMDB's 0–10 scale: (v/(v+m))·R + (m/(v+m))·C.

    m = BAYES_MIN_VOTES (200), C = BAYES_PRIOR_MEAN (6.5); inputs are clamped to R ∈ [0, 10],
    v ≥ 0, so the result is in [0, 10] and equals C for a film without votes.
    """
    r = min(max(vote_average, 0.0), 10.0)
    v = max(vote_count, 0)
    return (v * r + BAYES_MIN_VOTES * BAYES_PRIOR_MEAN) / (v + BAYES_MIN_VOTES)


def votes_term(vote_count: int) -> float:
    """log1p(vote count) / log1p(VOTES_CAP), in [0, 1]: how well-known a film is on TMDB."""
    return min(1.0, math.log1p(max(vote_count, 0)) / math.log1p(VOTES_CAP))


def era_term(year: int | None, era_year: float | None) -> float:
    """exp(−((year − era_year) / ERA_WIDTH_YEARS)²) in (0, 1]; 0 when either is unknown."""
    if year is None or era_year is None:
        return 0.0
    return math.exp(-(((year - era_year) / ERA_WIDTH_YEARS) ** 2))


def genres_term(genres: Sequence[str], taste: TasteProfile) -> float:
    """The mean of the user's genre affinities (rating points, 0 for an unknown genre) over
    the film's genres; 0 for a film without genres."""
    if not genres:
        return 0.0
    names = dict.fromkeys(genres)
    return sum(taste.genre_affinity.get(g, 0.0) for g in names) / len(names)


def popularity_term(popularity: float) -> float:
    """log1p(popularity) / log1p(POPULARITY_CAP), in [0, 1] (negative popularity counts as 0)."""
    return min(1.0, math.log1p(max(popularity, 0.0)) / math.log1p(POPULARITY_CAP))


# --- scoring ---------------------------------------------------------------------------------


def score_candidates(
    candidates: Iterable[Candidate],
    taste: TasteProfile,
    *,
    exclude: Collection[int],
    recent: RecentPicks = NO_RECENT_PICKS,
    preferred_genres: Collection[str] = (),
    with_reasons: bool = True,
    cf_strength: float = 1.0,
    weights: RankWeights = DEFAULT_WEIGHTS,
) -> list[ScoredCandidate]:
    """Score candidates for a user: best first (score desc, then tmdb_id asc).

    Hard rule: films in `exclude` or in the user's history (`taste.seed_titles`) never appear.
    Duplicates (same tmdb_id) are merged (`merge_candidates`).

    Personalised (not `is_cold_start(taste)`, or any candidate has a CF, sequential or content
    signal), with a = `cf_strength` (0–1, see CF_FULL_HISTORY) and w = `weights`: the terms of
    `personal_components` (cf, recent_cf, seq, content, quality, votes, tmdb, and as a falls
    genres and era) + W_PREFERRED·preferred − W_AVOID·avoid − W_NOVELTY·novelty
    − W_REPEAT·repeat.
    Cold start: W_COLD_QUALITY·quality + W_COLD_POPULARITY·popularity + W_PREFERRED·preferred
    − the same avoid, novelty and repeat terms. `components` holds each weighted term.
    `with_reasons=False` leaves `reasons` empty, for callers that `explain` only the films they
    show (explaining hundreds of candidates is most of the scoring time).
    """
    excluded = set(exclude) | set(taste.seed_titles)
    merged = [c for c in merge_candidates(candidates) if c.film.tmdb_id not in excluded]
    quality = np.array(
        [(bayesian_rating(c.film.vote_average, c.film.vote_count) - BAYES_PRIOR_MEAN) / 2 for c in merged]
    )
    personal = (
        not is_cold_start(taste)
        or any(c.cf or c.recent_cf or c.seq for c in merged)
        or any(c.content is not None for c in merged)
    )
    terms: dict[str, npt.NDArray[np.float64]] = {}
    if personal:
        terms = personal_components(_features(merged, taste, quality), weights, cf_strength)
    preferred = set(preferred_genres)
    films = FilmIndex([c.film for c in merged])
    novelty = films.novelty(recent)
    repeat = films.repeat(recent)
    scored = []
    for k, c in enumerate(merged):
        film = c.film
        components: dict[str, float] = {}
        if personal:
            components = {name: float(values[k]) for name, values in terms.items()}
        else:
            components["quality"] = W_COLD_QUALITY * float(quality[k])
            components["popularity"] = W_COLD_POPULARITY * popularity_term(film.popularity)
        components["preferred"] = W_PREFERRED * (1.0 if preferred.intersection(film.genres) else 0.0)
        components["avoid"] = -W_AVOID * avoid_term(c)
        components["novelty"] = -W_NOVELTY * float(novelty[k])
        components["repeat"] = -W_REPEAT * float(repeat[k])
        reasons = explain(c, taste) if with_reasons else ()
        scored.append(ScoredCandidate(c, sum(components.values()), components, reasons))
    return sorted(scored, key=lambda s: (-s.score, s.candidate.film.tmdb_id))


def merge_candidates(candidates: Iterable[Candidate]) -> list[Candidate]:
    """One candidate per tmdb_id: the first one's film, the union of sources, the strongest of
    each signal (cf, recent_cf, seq, content, avoid), and the seeds of all, first seen first."""
    merged: dict[int, Candidate] = {}
    for c in candidates:
        first = merged.get(c.film.tmdb_id)
        if first is None:
            merged[c.film.tmdb_id] = c
            continue
        merged[c.film.tmdb_id] = Candidate(
            film=first.film,
            sources=first.sources | c.sources,
            cf=max(first.cf, c.cf, key=abs),
            cf_support=max(first.cf_support, c.cf_support),
            recent_cf=max(first.recent_cf, c.recent_cf, key=abs),
            seq=max(first.seq, c.seq),
            content=_max_optional(first.content, c.content),
            avoid=max(first.avoid, c.avoid),
            avoid_keyword=first.avoid_keyword or c.avoid_keyword,
            cf_seeds=tuple(dict.fromkeys(first.cf_seeds + c.cf_seeds)),
            similar_seeds=tuple(dict.fromkeys(first.similar_seeds + c.similar_seeds)),
        )
    return list(merged.values())


def cf_strength(in_model: int, loved: int) -> float:
    """How far the CF model knows the user, 0–1: of the user's positively weighted history
    films (`loved`, capped at CF_FULL_HISTORY), the share that are in the model (`in_model`),
    capped at 1. 0 on a fresh install (no model) or when none of them is in it."""
    needed = min(max(loved, 0), CF_FULL_HISTORY)
    return min(1.0, max(in_model, 0) / needed) if needed else 0.0


def _max_optional(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


def _features(
    merged: Sequence[Candidate], taste: TasteProfile, quality: npt.NDArray[np.float64]
) -> PersonalFeatures:
    def column(values: Iterable[float]) -> npt.NDArray[np.float64]:
        return np.fromiter(values, dtype=np.float64, count=len(merged))

    return PersonalFeatures(
        cf=column(c.cf for c in merged),
        recent_cf=column(c.recent_cf for c in merged),
        support=column(c.cf_support for c in merged),
        seq=column(c.seq for c in merged),
        content=column(c.content or 0.0 for c in merged),
        quality=quality,
        votes=column(votes_term(c.film.vote_count) for c in merged),
        tmdb=column(
            math.log1p(len(c.similar_seeds) if CandidateSource.TMDB in c.sources else 0) for c in merged
        ),
        genres=column(genres_term(c.film.genres, taste) for c in merged),
        era=column(era_term(c.film.year, taste.era_year) for c in merged),
    )


def avoid_term(c: Candidate) -> float:
    """0–2: similarity above AVOID_MIN_SIMILARITY rescaled to 0–1, plus 1 for a keyword hit."""
    semantic = max(0.0, c.avoid - AVOID_MIN_SIMILARITY) / (1 - AVOID_MIN_SIMILARITY)
    return min(semantic, 1.0) + (1.0 if c.avoid_keyword else 0.0)


# --- reasons ---------------------------------------------------------------------------------


def explain(candidate: Candidate, taste: TasteProfile) -> tuple[Reason, ...]:
    """The candidate's reasons, most important first, each only where true:
    FANS_ALSO_LOVED (up to 2 loved CF seed titles), SIMILAR_TO (up to 2 similar loved films),
    SHARED_GENRES / SHARED_KEYWORDS (the film's names with affinity ≥ POSITIVE_AFFINITY_MIN),
    HIGHLY_RATED (weighted rating ≥ HIGHLY_RATED_MIN). With none of those: HIGHLY_RATED when the
    weighted rating beats BAYES_PRIOR_MEAN, POPULAR otherwise."""
    film = candidate.film
    weighted = bayesian_rating(film.vote_average, film.vote_count)
    rating = f"{film.vote_average:.1f}"
    found = [
        (ReasonKind.FANS_ALSO_LOVED, _seed_titles(candidate.cf_seeds, taste)),
        (ReasonKind.SIMILAR_TO, _seed_titles(candidate.similar_seeds, taste, exclude=candidate.cf_seeds)),
        (ReasonKind.SHARED_GENRES, _positive(film.genres, taste.genre_affinity)),
        (ReasonKind.SHARED_KEYWORDS, _positive(film.keywords, taste.keyword_affinity)),
        (ReasonKind.HIGHLY_RATED, (rating,) if weighted >= HIGHLY_RATED_MIN else ()),
    ]
    reasons = tuple(Reason(kind, values) for kind, values in found if values)
    if reasons:
        return reasons
    if weighted > BAYES_PRIOR_MEAN:
        return (Reason(ReasonKind.HIGHLY_RATED, (rating,)),)
    return (Reason(ReasonKind.POPULAR),)


def _seed_titles(seeds: Iterable[int], taste: TasteProfile, exclude: Iterable[int] = ()) -> tuple[str, ...]:
    """Titles of up to REASON_VALUES_MAX loved seeds (TasteProfile.loved), in the given order
    (strongest first): a reason never calls a film loved that the user did not love."""
    skip = set(exclude)
    titles = (taste.seed_titles[s] for s in seeds if s in taste.loved and s not in skip)
    return tuple(dict.fromkeys(titles))[:REASON_VALUES_MAX]


def _positive(names: Iterable[str], affinity: Mapping[str, float]) -> tuple[str, ...]:
    liked = [name for name in dict.fromkeys(names) if affinity.get(name, 0.0) >= POSITIVE_AFFINITY_MIN]
    liked.sort(key=lambda name: (-affinity[name], name))
    return tuple(liked[:REASON_VALUES_MAX])
