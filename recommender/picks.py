"""Choosing the three picks /recommend shows: 🎯 SAFE, 🧭 ADJACENT, 🎲 WILDCARD, with MMR.

Pure and deterministic: ties are always broken by score (desc), then tmdb_id (asc).

Maximal marginal relevance (Carbonell & Goldstein, SIGIR 1998) picks, one at a time, the
candidate maximising λ·relevance − (1 − λ)·max similarity to the films already picked, so the
three films differ from each other. Here relevance is the score min–max normalised over the
pool, and similarity is `film_similarity` (genres, keywords, decade).

Definitions (over the scored list, deduplicated by tmdb_id, best first):
- Pool: the first POOL_SIZE candidates.
- SAFE: the highest-scored candidate (highest predicted fit).
- ADJACENT: among pool candidates with relevance ≥ ADJACENT_MIN_FIT ("good fit") that are
  adjacent to the user's usual taste (`adjacency_reasons`: a primary genre few of their
  rated films have, NEW_GENRE, or a decade outside `taste.usual_decades`, NEW_DECADE; never
  with fewer than COLD_START_MIN_FILMS rated or liked films), the one with the highest MMR against
  SAFE (λ = MMR_LAMBDA). If none is adjacent: the highest MMR among the good fits (or the
  whole pool when no other good fit exists).
- WILDCARD: among the remaining pool candidates, the one maximising
  WILDCARD_NOVELTY·novelty + (1 − WILDCARD_NOVELTY)·MMR against SAFE and ADJACENT, where
  novelty = 1 − popularity percentile within the pool (less popular = more novel). It gets
  HIDDEN_GEM when its popularity is below the pool's median.
- Each pick's reasons are the candidate's, with the slot reason (NEW_GENRE, NEW_DECADE,
  HIDDEN_GEM) first where it applies.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from statistics import median
from typing import TypeVar

from domain.entities import Slot
from recommender.scoring import bayesian_rating
from recommender.taste import NEW_GENRE_MAX_SHARE, decade_label, decade_of, is_cold_start
from recommender.types import (
    CatalogStats,
    FilmFeatures,
    Pick,
    Reason,
    ReasonKind,
    ScoredCandidate,
    TasteProfile,
)

POOL_SIZE = 50  # picks come from the 50 best-scored films
MMR_LAMBDA = 0.7  # relevance vs. difference from the films already picked
ADJACENT_MIN_FIT = 0.5  # ADJACENT needs at least this normalised relevance
WILDCARD_NOVELTY = 0.5  # WILDCARD: weight of novelty against MMR
# 🧭 and 🎲 never take a film with fewer TMDB votes than this, nor one whose weighted rating
# is below the catalog's median (given `CatalogStats`): "different" must not mean "worse".
# 50 votes: below it TMDB's average is a handful of opinions (Alien Zone, 4.0 from 3 votes).
SLOT_MIN_VOTES = 50

T = TypeVar("T")


def mmr_select(
    items: Sequence[T],
    k: int,
    relevance: Callable[[T], float],
    similarity: Callable[[T, T], float],
    *,
    lam: float = MMR_LAMBDA,
    chosen: Sequence[T] = (),
) -> list[T]:
    """Up to k items from `items` by maximal marginal relevance, in the order chosen.

    Each step takes argmax λ·relevance(x) − (1 − λ)·max_{c ∈ chosen} similarity(x, c), with
    ties going to the earlier item. Items already in `chosen` (compared by identity or
    equality) are never returned, and no item is returned twice. Each item's largest
    similarity to the chosen ones is kept and updated with the newest choice only, so
    `similarity` is called about (k + len(chosen)) · len(items) times, not k² · len(items).
    """
    picked = list(chosen)
    result: list[T] = []
    remaining: list[T] = []
    for item in items:
        if item not in picked and item not in remaining:
            remaining.append(item)
    scores = [relevance(item) for item in remaining]
    closest = [max((similarity(item, c) for c in picked), default=0.0) for item in remaining]
    while remaining and len(result) < k:
        best = max(range(len(remaining)), key=lambda i: (lam * scores[i] - (1 - lam) * closest[i], -i))
        item = remaining.pop(best)
        del scores[best], closest[best]
        result.append(item)
        if len(result) < k:
            closest = [max(near, similarity(o, item)) for o, near in zip(remaining, closest, strict=True)]
    return result


def film_similarity(a: FilmFeatures, b: FilmFeatures) -> float:
    """0–1: 0.5·Jaccard(genres) + 0.25·Jaccard(keywords) + 0.25·(same decade)."""
    same_decade = 1.0 if a.year is not None and decade_of(a.year) == decade_of(b.year) else 0.0
    return (
        0.5 * _jaccard(set(a.genres), set(b.genres))
        + 0.25 * _jaccard(set(a.keywords), set(b.keywords))
        + 0.25 * same_decade
    )


def pick_three(
    scored: Sequence[ScoredCandidate], taste: TasteProfile, catalog: CatalogStats | None = None
) -> list[Pick]:
    """Up to three picks with distinct films, in slot order SAFE, ADJACENT, WILDCARD.

    Without `catalog`, returns min(3, number of distinct tmdb ids in `scored`) picks, and 🎲
    is "a lesser-known gem" when it is less popular than the median of the pool. With it, 🧭
    and 🎲 come only from films above the quality floor (SLOT_MIN_VOTES votes and a weighted
    rating at least the catalog's median; fewer picks when none is), and 🎲 is "lesser-known"
    only with fewer votes than the catalog's median. `scored` needn't be sorted or deduplicated.
    """
    pool = rank(scored)[:POOL_SIZE]
    if not pool:
        return []
    relevance = _relevance(pool)

    def sim(a: ScoredCandidate, b: ScoredCandidate) -> float:
        return film_similarity(a.film, b.film)

    safe = pool[0]
    picks = [_pick(safe, Slot.SAFE)]

    rest = [s for s in pool[1:] if catalog is None or above_floor(s.film, catalog)]
    good = [s for s in rest if relevance(s) >= ADJACENT_MIN_FIT]
    adjacent_pool = [s for s in good if adjacency_reasons(s.film, taste)]
    choice = mmr_select(adjacent_pool or good or rest, 1, relevance, sim, chosen=[safe])
    if not choice:
        return picks
    adjacent = choice[0]
    picks.append(_pick(adjacent, Slot.ADJACENT, adjacency_reasons(adjacent.film, taste)))

    remaining = [s for s in rest if s is not adjacent]
    if not remaining:
        return picks
    popularities = sorted(s.film.popularity for s in pool)
    chosen = [safe, adjacent]

    def wildcard_value(s: ScoredCandidate) -> float:
        mmr = MMR_LAMBDA * relevance(s) - (1 - MMR_LAMBDA) * max(sim(s, c) for c in chosen)
        return WILDCARD_NOVELTY * novelty(s.film.popularity, popularities) + (1 - WILDCARD_NOVELTY) * mmr

    wildcard = max(remaining, key=lambda s: (wildcard_value(s), s.score, -s.film.tmdb_id))
    if catalog is None:
        gem = wildcard.film.popularity < median(popularities)
    else:
        gem = wildcard.film.vote_count < catalog.median_votes
    picks.append(_pick(wildcard, Slot.WILDCARD, (Reason(ReasonKind.HIDDEN_GEM),) if gem else ()))
    return picks


def above_floor(film: FilmFeatures, catalog: CatalogStats) -> bool:
    """The 🧭/🎲 quality floor: at least SLOT_MIN_VOTES TMDB votes and a weighted rating at
    least the catalog's median."""
    return (
        film.vote_count >= SLOT_MIN_VOTES
        and bayesian_rating(film.vote_average, film.vote_count) >= catalog.median_weighted
    )


def rank(scored: Sequence[ScoredCandidate]) -> list[ScoredCandidate]:
    """Best first (score desc, tmdb_id asc), keeping the best entry per tmdb_id."""
    best: dict[int, ScoredCandidate] = {}
    for s in sorted(scored, key=lambda s: (-s.score, s.film.tmdb_id)):
        best.setdefault(s.film.tmdb_id, s)
    return list(best.values())


def adjacency_reasons(film: FilmFeatures, taste: TasteProfile) -> tuple[Reason, ...]:
    """NEW_GENRE (primary genre that fewer than NEW_GENRE_MAX_SHARE of the user's rated films
    have) and/or NEW_DECADE (decade outside the usual ones); empty when the film is neither,
    or the profile has nothing to compare with: fewer than COLD_START_MIN_FILMS rated or
    liked films make no "usual genres" or "decade you rarely watch" (one film rated ½ is not
    a habit)."""
    if is_cold_start(taste):
        return ()
    reasons: list[Reason] = []
    shares = taste.genre_shares
    if film.genres and shares and shares.get(film.genres[0], 0.0) < NEW_GENRE_MAX_SHARE:
        reasons.append(Reason(ReasonKind.NEW_GENRE, (film.genres[0],)))
    decade = decade_of(film.year)
    if decade is not None and taste.usual_decades and decade not in taste.usual_decades:
        reasons.append(Reason(ReasonKind.NEW_DECADE, (decade_label(decade),)))
    return tuple(reasons)


def novelty(popularity: float, popularities: Sequence[float]) -> float:
    """1 − the mid-rank percentile of `popularity` within sorted `popularities` (which
    include it once): 1.0 for the least popular, 0.0 for the most popular, 0.5 if alone."""
    if len(popularities) < 2:
        return 0.5
    below = bisect_left(popularities, popularity)
    ties = bisect_right(popularities, popularity) - below - 1
    return 1.0 - (below + 0.5 * ties) / (len(popularities) - 1)


def _relevance(pool: Sequence[ScoredCandidate]) -> Callable[[ScoredCandidate], float]:
    high, low = pool[0].score, pool[-1].score
    return lambda s: (s.score - low) / (high - low) if high > low else 1.0


def _pick(scored: ScoredCandidate, slot: Slot, slot_reasons: tuple[Reason, ...] = ()) -> Pick:
    reasons = slot_reasons + scored.reasons or (Reason(ReasonKind.POPULAR),)
    return Pick(film=scored.film, slot=slot, score=scored.score, reasons=reasons)


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0
