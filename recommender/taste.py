"""The taste profile: what a user's history says they like (genres, keywords, decades, the
films they loved, the era they are watching), built once per ranking.

Pure functions: no I/O, no clock, no randomness.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from statistics import fmean, median

from recommender.types import HistoryEntry, TasteProfile

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
# "You loved X" (FANS_ALSO_LOVED, SIMILAR_TO) names only films the user liked, or rated at
# least this many stars and above their own mean: a 3★ from a user whose mean is 4.2 is not
# love, nor a 4★ at a mean of 4. A 5★ (the top of Letterboxd's scale) always is.
LOVED_MIN_RATING = 4.0
TOP_RATING = 5.0
# "A step outside your usual genres" (NEW_GENRE) only for a genre that fewer than this share
# of the user's rated films have.
NEW_GENRE_MAX_SHARE = 0.10
# The era a user is watching (TasteProfile.era_year): the median year of their ERA_FILMS most
# recent dated films.
ERA_FILMS = 20


def decade_of(year: int | None) -> int | None:
    """The decade a year falls in: 1979 → 1970; None stays None."""
    return None if year is None else year - year % 10


def decade_label(decade: int) -> str:
    """1970 → "1970s"."""
    return f"{decade}s"


def build_taste(history: Sequence[HistoryEntry]) -> TasteProfile:
    """Summarise a history (any length, most recent first) into a `TasteProfile`.

    Each film's signal is its mean-centred rating (rating − the user's mean rating), +0.5 for a
    like without a rating, 0 for a film only watched. Genre and keyword affinities are the
    signals summed per name over rated-or-liked films and shrunk toward 0 as
    sum / (n + AFFINITY_SHRINKAGE). If a film appears twice, the last entry wins. Only
    `era_year` depends on the order: the median year of the first ERA_FILMS dated entries.
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
        loved=frozenset(e.film.tmdb_id for e in entries if _loved(e, mean)),
        genre_shares=_genre_shares(entries),
        era_year=_era_year(entries),
    )


def _era_year(entries: Sequence[HistoryEntry]) -> float | None:
    years = [e.film.year for e in entries if e.film.year is not None][:ERA_FILMS]
    return float(median(years)) if years else None


def _loved(entry: HistoryEntry, mean: float | None) -> bool:
    """Liked, rated TOP_RATING, or rated ≥ LOVED_MIN_RATING and above the user's mean (see
    TasteProfile.loved)."""
    if entry.liked:
        return True
    rating = entry.rating
    if rating is None or mean is None or rating < LOVED_MIN_RATING:
        return False
    return rating > mean or rating >= TOP_RATING


def _genre_shares(entries: Sequence[HistoryEntry]) -> dict[str, float]:
    rated = [e for e in entries if e.rating is not None]
    counts = Counter(g for e in rated for g in dict.fromkeys(e.film.genres))
    return {genre: n / len(rated) for genre, n in counts.items()}


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
