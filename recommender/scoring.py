"""Taste profile and candidate scoring (v1: hand-weighted content features, no learning).

Pure functions: no I/O, no clock, no randomness. Scores are unbounded floats; only their
order matters. Each score is the sum of weighted components (see `ScoredCandidate`).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from statistics import fmean

from recommender.types import (
    Candidate,
    FilmFeatures,
    HistoryEntry,
    Reason,
    ReasonKind,
    ScoredCandidate,
    TasteProfile,
)

# --- taste profile ---------------------------------------------------------------------------
# Pseudo-count for shrinking an affinity toward 0: affinity = sum(signals) / (n + k). One film
# rated 1 point above the mean gives 0.25, four such films give 0.57 (additive smoothing, as
# in the damped-mean baseline of Funk/Koren-style recommenders).
AFFINITY_SHRINKAGE = 3.0
# A like without a rating counts as this many rating points above the user's mean.
LIKED_UNRATED_SIGNAL = 0.5
TOP_GENRES_MAX = 3
# An affinity counts as positive (top genre, SHARED_* reason) from this many rating points up,
# so float noise and near-neutral names are not presented as the user's taste.
POSITIVE_AFFINITY_MIN = 0.05
# A decade is "usual" when at least this share of the dated history comes from it; when no
# decade reaches it, the USUAL_DECADES_FALLBACK most-watched decades are.
USUAL_DECADE_SHARE = 0.15
USUAL_DECADES_FALLBACK = 2
# Below this many rated-or-liked films the profile is too thin for seeds and keywords.
COLD_START_MIN_FILMS = 5

# --- quality prior: IMDb's Top 250 weighted rating WR = (v/(v+m))·R + (m/(v+m))·C ------------
# (R = the film's mean vote, v = its vote count, m = votes needed to be trusted, C = the
# mean vote across the catalogue; TMDB's vote averages centre around 6.5.)
BAYES_MIN_VOTES = 200
BAYES_PRIOR_MEAN = 6.5
HIGHLY_RATED_MIN = 7.5  # weighted rating (0–10) from which HIGHLY_RATED is given
POPULARITY_CAP = 1000.0  # TMDB popularity at which the popularity term saturates at 1

# --- weights (hand-tuned for v1; every component is roughly on a 0–1 or ±1 scale) -----------
# seeds: log1p(#distinct seeds): 1 seed → 0.69, 3 seeds → 1.39.
W_SEEDS = 0.5
# genres/keywords: mean affinity in rating points (typically ±1).
W_GENRES = 0.6
W_KEYWORDS = 0.3
# quality: weighted rating / 10, so one point of weighted rating is worth 0.15.
W_QUALITY = 1.5
# popularity: log1p(popularity) / log1p(POPULARITY_CAP), capped at 1; a small tie-breaker.
W_POPULARITY = 0.15

REASON_VALUES_MAX = 2  # seed titles, genres or keywords named per reason


def decade_of(year: int | None) -> int | None:
    """The decade a year falls in: 1979 → 1970; None stays None."""
    return None if year is None else year - year % 10


def decade_label(decade: int) -> str:
    """1970 → "1970s"."""
    return f"{decade}s"


# --- taste -----------------------------------------------------------------------------------


def build_taste(history: Sequence[HistoryEntry]) -> TasteProfile:
    """Summarise a history (any length, any order) into a `TasteProfile`.

    Each film's signal is its mean-centred rating (rating − the user's mean rating), +0.5 for a
    like without a rating, 0 for a film only watched. Genre and keyword affinities are the
    signals summed per name over rated-or-liked films and shrunk toward 0 as
    sum / (n + AFFINITY_SHRINKAGE). If a film appears twice, the last entry wins.
    """
    entries = list({entry.film.tmdb_id: entry for entry in history}.values())
    ratings = [entry.rating for entry in entries if entry.rating is not None]
    mean = fmean(ratings) if ratings else None
    signals = {entry.film.tmdb_id: _signal(entry, mean) for entry in entries}
    informative = [entry for entry in entries if entry.rating is not None or entry.liked]
    genre_affinity = _affinity((e.film.genres, signals[e.film.tmdb_id]) for e in informative)
    keyword_affinity = _affinity((e.film.keywords, signals[e.film.tmdb_id]) for e in informative)
    decade_counts = Counter(d for e in entries if (d := decade_of(e.film.year)) is not None)
    return TasteProfile(
        genre_affinity=genre_affinity,
        keyword_affinity=keyword_affinity,
        decade_counts=dict(decade_counts),
        top_genres=_top_positive(genre_affinity, TOP_GENRES_MAX),
        usual_decades=_usual_decades(decade_counts),
        n_rated=len(informative),
        mean_rating=mean,
        seed_titles={entry.film.tmdb_id: entry.film.title for entry in entries},
        seed_signals=signals,
    )


def is_cold_start(taste: TasteProfile) -> bool:
    """True when fewer than COLD_START_MIN_FILMS films are rated or liked."""
    return taste.n_rated < COLD_START_MIN_FILMS


def _signal(entry: HistoryEntry, mean: float | None) -> float:
    if entry.rating is not None and mean is not None:
        return entry.rating - mean
    return LIKED_UNRATED_SIGNAL if entry.liked else 0.0


def _affinity(items: Iterable[tuple[tuple[str, ...], float]]) -> dict[str, float]:
    sums: defaultdict[str, float] = defaultdict(float)
    counts: Counter[str] = Counter()
    for names, signal in items:
        for name in dict.fromkeys(names):
            sums[name] += signal
            counts[name] += 1
    return {name: sums[name] / (counts[name] + AFFINITY_SHRINKAGE) for name in sums}


def _top_positive(affinity: Mapping[str, float], limit: int) -> tuple[str, ...]:
    positive = (name for name, value in affinity.items() if value >= POSITIVE_AFFINITY_MIN)
    ranked = sorted(positive, key=lambda name: (-affinity[name], name))
    return tuple(ranked[:limit])


def _usual_decades(counts: Counter[int]) -> tuple[int, ...]:
    ranked = sorted(counts, key=lambda decade: (-counts[decade], -decade))
    total = sum(counts.values())
    usual = [decade for decade in ranked if counts[decade] >= USUAL_DECADE_SHARE * total]
    return tuple(usual or ranked[:USUAL_DECADES_FALLBACK])


# --- film-level terms ------------------------------------------------------------------------


def bayesian_rating(vote_average: float, vote_count: int) -> float:
    """IMDb Top 250 weighted rating on TMDB's 0–10 scale: (v/(v+m))·R + (m/(v+m))·C.

    m = BAYES_MIN_VOTES (200), C = BAYES_PRIOR_MEAN (6.5); inputs are clamped to R ∈ [0, 10],
    v ≥ 0, so the result is in [0, 10] and equals C for a film without votes.
    """
    r = min(max(vote_average, 0.0), 10.0)
    v = max(vote_count, 0)
    return (v * r + BAYES_MIN_VOTES * BAYES_PRIOR_MEAN) / (v + BAYES_MIN_VOTES)


def quality_prior(film: FilmFeatures) -> float:
    """The film's weighted rating scaled to 0–1."""
    return bayesian_rating(film.vote_average, film.vote_count) / 10.0


def popularity_term(popularity: float) -> float:
    """log1p(popularity) / log1p(POPULARITY_CAP), in [0, 1] (negative popularity counts as 0)."""
    return min(1.0, math.log1p(max(popularity, 0.0)) / math.log1p(POPULARITY_CAP))


# --- scoring ---------------------------------------------------------------------------------


def score_candidates(
    candidates: Iterable[Candidate], taste: TasteProfile, *, exclude: Collection[int]
) -> list[ScoredCandidate]:
    """Score candidates for a user: best first (score desc, then tmdb_id asc).

    Films in `exclude` or in the user's history (`taste.seed_titles`) never appear.
    Duplicates (same tmdb_id) are merged: the first one's features, the union of seeds,
    `from_popular` if any was. Components (weights are the W_* constants):
    seeds = log1p(#distinct seeds); genres = mean genre affinity over the film's genres;
    keywords = mean affinity over the film's keywords the profile knows; quality =
    `quality_prior`; popularity = `popularity_term`. In cold start only genres, quality and
    popularity count (seeds and keywords are 0).

    Reasons, most important first, each where true: SIMILAR_TO (up to 2 seed titles, highest
    seed signal first), SHARED_GENRES / SHARED_KEYWORDS (up to 2 of the film's names with
    affinity ≥ POSITIVE_AFFINITY_MIN), HIGHLY_RATED (weighted rating ≥ HIGHLY_RATED_MIN). With
    none of those: POPULAR for popularity-fallback films, HIGHLY_RATED for films whose weighted
    rating beats BAYES_PRIOR_MEAN, POPULAR otherwise.
    """
    excluded = set(exclude) | set(taste.seed_titles)
    merged = _merge(c for c in candidates if c.film.tmdb_id not in excluded)
    cold = is_cold_start(taste)
    scored = [_score(candidate, taste, cold) for candidate in merged]
    return sorted(scored, key=lambda s: (-s.score, s.candidate.film.tmdb_id))


def _merge(candidates: Iterable[Candidate]) -> list[Candidate]:
    merged: dict[int, Candidate] = {}
    for candidate in candidates:
        first = merged.get(candidate.film.tmdb_id)
        if first is None:
            merged[candidate.film.tmdb_id] = candidate
        else:
            merged[candidate.film.tmdb_id] = Candidate(
                film=first.film,
                seeds=first.seeds + candidate.seeds,
                from_popular=first.from_popular or candidate.from_popular,
            )
    return [Candidate(c.film, tuple(sorted(set(c.seeds))), c.from_popular) for c in merged.values()]


def _score(candidate: Candidate, taste: TasteProfile, cold: bool) -> ScoredCandidate:
    film = candidate.film
    components = {
        "seeds": 0.0 if cold else W_SEEDS * math.log1p(len(candidate.seeds)),
        "genres": W_GENRES * _mean(taste.genre_affinity.get(g, 0.0) for g in dict.fromkeys(film.genres)),
        "keywords": 0.0 if cold else W_KEYWORDS * _mean_known(film.keywords, taste.keyword_affinity),
        "quality": W_QUALITY * quality_prior(film),
        "popularity": W_POPULARITY * popularity_term(film.popularity),
    }
    return ScoredCandidate(candidate, sum(components.values()), components, _reasons(candidate, taste))


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return fmean(items) if items else 0.0


def _mean_known(names: Iterable[str], affinity: Mapping[str, float]) -> float:
    return _mean(affinity[name] for name in dict.fromkeys(names) if name in affinity)


# --- reasons ---------------------------------------------------------------------------------


def _reasons(candidate: Candidate, taste: TasteProfile) -> tuple[Reason, ...]:
    film = candidate.film
    weighted = bayesian_rating(film.vote_average, film.vote_count)
    rating = f"{film.vote_average:.1f}"
    found = [
        (ReasonKind.SIMILAR_TO, _seed_titles(candidate.seeds, taste)),
        (ReasonKind.SHARED_GENRES, _positive(film.genres, taste.genre_affinity)),
        (ReasonKind.SHARED_KEYWORDS, _positive(film.keywords, taste.keyword_affinity)),
        (ReasonKind.HIGHLY_RATED, (rating,) if weighted >= HIGHLY_RATED_MIN else ()),
    ]
    reasons = tuple(Reason(kind, values) for kind, values in found if values)
    if reasons:
        return reasons
    if weighted > BAYES_PRIOR_MEAN and not candidate.from_popular:
        return (Reason(ReasonKind.HIGHLY_RATED, (rating,)),)
    return (Reason(ReasonKind.POPULAR),)


def _seed_titles(seeds: Iterable[int], taste: TasteProfile) -> tuple[str, ...]:
    known = [seed for seed in seeds if seed in taste.seed_titles]
    known.sort(key=lambda seed: (-taste.seed_signals.get(seed, 0.0), taste.seed_titles[seed], seed))
    return tuple(dict.fromkeys(taste.seed_titles[seed] for seed in known))[:REASON_VALUES_MAX]


def _positive(names: Iterable[str], affinity: Mapping[str, float]) -> tuple[str, ...]:
    liked = [name for name in dict.fromkeys(names) if affinity.get(name, 0.0) >= POSITIVE_AFFINITY_MIN]
    liked.sort(key=lambda name: (-affinity[name], name))
    return tuple(liked[:REASON_VALUES_MAX])
