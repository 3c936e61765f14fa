"""Choosing the three picks /recommend shows: SAFE, ADJACENT, WILDCARD.

Pure and deterministic: ties are always broken by score (desc), then tmdb_id (asc).

Definitions (over the scored list, deduplicated by tmdb_id and ranked best first):
- Top pool: the first max(TOP_POOL_MIN, ceil(TOP_POOL_FRACTION · n)) ranked candidates.
- SAFE: the highest-scored candidate.
- ADJACENT: the best-scored remaining top-pool candidate that is adjacent to the user's taste:
  its primary (first) genre is not in `taste.top_genres` (NEW_GENRE), or its decade is not in
  `taste.usual_decades` (NEW_DECADE); each test applies only when the profile has top genres
  or usual decades and the film has a genre or year. If none qualifies: the remaining top-pool
  candidate maximising MMR_LAMBDA · s − (1 − MMR_LAMBDA) · jaccard(genres, SAFE's genres), with
  s the score min–max normalised over the ranked list (Carbonell & Goldstein 1998, MMR).
- WILDCARD: among the remaining top-pool candidates — excluding those with exactly SAFE's
  genre set unless nothing else remains — the most novel one, novelty = 1 − popularity
  percentile within the ranked list (mid-rank percentile; less popular = more novel). It gets
  HIDDEN_GEM when its popularity is below the median popularity of the ranked list.
- Each pick's reasons are the candidate's, with the slot reason (NEW_GENRE, NEW_DECADE,
  HIDDEN_GEM) first where it applies.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from statistics import median

from domain.entities import Slot
from recommender.scoring import decade_label, decade_of
from recommender.types import FilmFeatures, Pick, Reason, ReasonKind, ScoredCandidate, TasteProfile

TOP_POOL_FRACTION = 0.5  # ADJACENT and WILDCARD come from the top half of the ranked list…
TOP_POOL_MIN = 10  # …or the top 10, whichever is larger
MMR_LAMBDA = 0.5  # relevance vs. genre diversity in the ADJACENT fallback


def pick_three(scored: Sequence[ScoredCandidate], taste: TasteProfile) -> list[Pick]:
    """Up to three picks with distinct films, in slot order SAFE, ADJACENT, WILDCARD.

    Returns min(3, number of distinct tmdb ids in `scored`) picks; with fewer than three
    films, slots are filled in that order. `scored` needn't be sorted or deduplicated.
    """
    ranked = rank(scored)
    if not ranked:
        return []
    safe = ranked[0]
    picks = [_pick(safe, Slot.SAFE)]
    pool = top_pool(ranked)
    adjacent = _choose_adjacent(_remaining(pool, picks), ranked, safe, taste)
    if adjacent is not None:
        picks.append(adjacent)
    wildcard = _choose_wildcard(_remaining(pool, picks), ranked, safe)
    if wildcard is not None:
        picks.append(wildcard)
    return picks


def rank(scored: Sequence[ScoredCandidate]) -> list[ScoredCandidate]:
    """Best first (score desc, tmdb_id asc), keeping the best entry per tmdb_id."""
    best: dict[int, ScoredCandidate] = {}
    for s in sorted(scored, key=lambda s: (-s.score, s.film.tmdb_id)):
        best.setdefault(s.film.tmdb_id, s)
    return list(best.values())


def top_pool(ranked: Sequence[ScoredCandidate]) -> list[ScoredCandidate]:
    """The first max(TOP_POOL_MIN, ceil(TOP_POOL_FRACTION · n)) of a ranked list."""
    return list(ranked[: max(TOP_POOL_MIN, math.ceil(TOP_POOL_FRACTION * len(ranked)))])


def adjacency_reasons(film: FilmFeatures, taste: TasteProfile) -> tuple[Reason, ...]:
    """NEW_GENRE (primary genre outside the top genres) and/or NEW_DECADE (decade outside the
    usual ones); empty when the film is neither, or the profile has nothing to compare with."""
    reasons: list[Reason] = []
    if film.genres and taste.top_genres and film.genres[0] not in taste.top_genres:
        reasons.append(Reason(ReasonKind.NEW_GENRE, (film.genres[0],)))
    decade = decade_of(film.year)
    if decade is not None and taste.usual_decades and decade not in taste.usual_decades:
        reasons.append(Reason(ReasonKind.NEW_DECADE, (decade_label(decade),)))
    return tuple(reasons)


def _remaining(pool: Sequence[ScoredCandidate], picks: Sequence[Pick]) -> list[ScoredCandidate]:
    taken = {pick.film.tmdb_id for pick in picks}
    return [s for s in pool if s.film.tmdb_id not in taken]


def _pick(scored: ScoredCandidate, slot: Slot, slot_reasons: tuple[Reason, ...] = ()) -> Pick:
    reasons = slot_reasons + scored.reasons or (Reason(ReasonKind.POPULAR),)
    return Pick(film=scored.film, slot=slot, score=scored.score, reasons=reasons)


def _choose_adjacent(
    remaining: Sequence[ScoredCandidate],
    ranked: Sequence[ScoredCandidate],
    safe: ScoredCandidate,
    taste: TasteProfile,
) -> Pick | None:
    for candidate in remaining:
        if reasons := adjacency_reasons(candidate.film, taste):
            return _pick(candidate, Slot.ADJACENT, reasons)
    if not remaining:
        return None
    low, high = ranked[-1].score, ranked[0].score
    safe_genres = set(safe.film.genres)

    def mmr(s: ScoredCandidate) -> float:
        relevance = (s.score - low) / (high - low) if high > low else 1.0
        return MMR_LAMBDA * relevance - (1 - MMR_LAMBDA) * _jaccard(set(s.film.genres), safe_genres)

    best = max(remaining, key=lambda s: (mmr(s), s.score, -s.film.tmdb_id))
    return _pick(best, Slot.ADJACENT)


def _choose_wildcard(
    remaining: Sequence[ScoredCandidate], ranked: Sequence[ScoredCandidate], safe: ScoredCandidate
) -> Pick | None:
    safe_genres = set(safe.film.genres)
    different = [s for s in remaining if not safe_genres or set(s.film.genres) != safe_genres]
    eligible = different or list(remaining)
    if not eligible:
        return None
    popularities = sorted(s.film.popularity for s in ranked)
    best = max(eligible, key=lambda s: (novelty(s.film.popularity, popularities), s.score, -s.film.tmdb_id))
    gem = best.film.popularity < median(popularities)
    return _pick(best, Slot.WILDCARD, (Reason(ReasonKind.HIDDEN_GEM),) if gem else ())


def novelty(popularity: float, popularities: Sequence[float]) -> float:
    """1 − the mid-rank percentile of `popularity` within sorted `popularities` (which
    include it once): 1.0 for the least popular, 0.0 for the most popular, 0.5 if alone."""
    if len(popularities) < 2:
        return 0.5
    below = bisect_left(popularities, popularity)
    ties = bisect_right(popularities, popularity) - below - 1
    return 1.0 - (below + 0.5 * ties) / (len(popularities) - 1)


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0
