"""Plain data the recommender takes and returns.

Everything here is a frozen dataclass of plain values, so the domain service can build the
inputs from whatever it stores and a later recommender (embeddings, collaborative filtering)
can keep the same seam: films and history in, ranked picks with structured reasons out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from domain.entities import Slot


@dataclass(frozen=True, slots=True)
class FilmFeatures:
    """What the recommender knows about a film.

    `genres` and `keywords` are TMDB names in TMDB's order (the first genre is taken as the
    primary one); `popularity` is TMDB's unbounded popularity (typically 0–1000);
    `vote_average` is TMDB's 0–10 mean and `vote_count` the number of votes behind it.
    """

    tmdb_id: int
    title: str
    year: int | None
    genres: tuple[str, ...]
    keywords: tuple[str, ...]
    popularity: float
    vote_average: float
    vote_count: int
    original_language: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One film in the user's history: `rating` 0.5–5 (None = watched or liked but unrated)."""

    film: FilmFeatures
    rating: float | None
    liked: bool = False


class CandidateSource(StrEnum):
    """Where a candidate came from (a film may come from several)."""

    CF = "cf"  # item-to-item collaborative filtering over all users' ratings
    TASTE = "taste"  # nearest films to the user's taste vector (pgvector ANN)
    TMDB = "tmdb"  # TMDB /recommendations or /similar of the user's best films
    POPULAR = "popular"  # popular, well-rated catalog films (the prior)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A film that could be recommended, with the signals the scorer combines.

    - `cf`: raw item-to-item CF score Σᵢ wᵢ·B[i, j] (unbounded, 0 when unreached) over the
      whole history; `recent_cf`: the same over the latest films only
      (`recommender.cf.recent_weights`); `cf_support`: users who had the film in the CF
      model's training data.
    - `seq`: sequential score, what tends to follow the latest films (recommender.sequence, ≥ 0).
    - `content`: cosine similarity (−1…1) of the film's vector to the user's taste vector;
      None when either vector is missing.
    - `avoid`: highest cosine similarity of the film's vector to one of the user's avoid
      topics (0 without topics); `avoid_keyword`: a topic's words appear in the film's title,
      genres or keywords.
    - `cf_seeds`: history films behind the CF score (strongest first); `similar_seeds`:
      liked history films closest to it (TMDB related lists or embedding neighbours).
    """

    film: FilmFeatures
    sources: frozenset[CandidateSource] = frozenset()
    cf: float = 0.0
    cf_support: int = 0
    recent_cf: float = 0.0
    seq: float = 0.0
    content: float | None = None
    avoid: float = 0.0
    avoid_keyword: bool = False
    cf_seeds: tuple[int, ...] = ()
    similar_seeds: tuple[int, ...] = ()


class ReasonKind(StrEnum):
    """Why a film is recommended; the bot turns these into sentences."""

    SIMILAR_TO = "similar_to"  # values: titles of liked films it is close to
    FANS_ALSO_LOVED = "fans_also_loved"  # values: titles of liked films whose fans loved it (CF)
    SHARED_GENRES = "shared_genres"  # values: the film's genres with positive affinity, best first
    SHARED_KEYWORDS = "shared_keywords"  # values: the film's keywords with positive affinity
    HIGHLY_RATED = "highly_rated"  # values: TMDB vote average, e.g. ("8.4",)
    POPULAR = "popular"  # no values
    NEW_GENRE = "new_genre"  # values: the film's primary genre, outside the user's top genres
    NEW_DECADE = "new_decade"  # values: the decade, e.g. ("1970s",), outside the user's usual ones
    HIDDEN_GEM = "hidden_gem"  # no values: less popular than the median candidate


@dataclass(frozen=True, slots=True)
class Reason:
    """One structured reason: e.g. Reason(SIMILAR_TO, ("Alien", "Blade Runner"))."""

    kind: ReasonKind
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScoredCandidate:
    """A candidate with its score, the weighted components that sum to it, and its reasons.

    `components` maps component name (see `recommender.scoring.score_candidates`) to its
    weighted contribution; `score == sum(components.values())`. `reasons` is
    non-empty, most important first (empty only when scored with `with_reasons=False`).
    """

    candidate: Candidate
    score: float
    components: Mapping[str, float]
    reasons: tuple[Reason, ...]

    @property
    def film(self) -> FilmFeatures:
        """The candidate's film."""
        return self.candidate.film


@dataclass(frozen=True, slots=True)
class Pick:
    """One of the three films /recommend shows; `reasons` non-empty, most important first."""

    film: FilmFeatures
    slot: Slot
    score: float
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class CatalogStats:
    """Medians of the whole catalog, for the 🎲 label and the 🧭/🎲 quality floor:
    `median_votes` (TMDB vote count) and `median_weighted` (the weighted rating, 0–10, of
    `recommender.scoring.bayesian_rating`)."""

    median_votes: float
    median_weighted: float


@dataclass(frozen=True, slots=True)
class TasteProfile:
    """A user's taste, summarised from their history by `recommender.taste.build_taste`.

    - `genre_affinity`, `keyword_affinity`: name → shrunk mean of mean-centred ratings, in
      rating points (roughly −4.5…+4.5, typically within ±1.5); > 0 means "rated above
      the user's own mean".
    - `decade_counts`: decade (1970 for 1979) → number of history films from it.
    - `top_genres`: up to 3 genres with the highest positive affinity (≥ 0.05), best first.
    - `usual_decades`: decades the user mostly watches, most-watched first.
    - `n_rated`: number of history films that are rated or liked (the informative ones).
    - `mean_rating`: mean of the user's ratings (0.5–5), None without ratings.
    - `seed_titles`: tmdb id → title for every history film.
    - `seed_signals`: tmdb id → the film's centred signal (rating − mean, +0.5 for liked but
      unrated, 0 for watched only); orders seed titles in reasons, best first.
    - `loved`: tmdb ids a reason may call loved: liked, rated 5★, or rated at least
      `LOVED_MIN_RATING` and above the user's own mean (see `build_taste`).
    - `genre_shares`: genre → the share (0–1) of the user's rated films that have it.
    - `era_year`: the median release year of the user's `ERA_FILMS` most recent history films
      with a known year (None without any): the era they are watching now.
    """

    genre_affinity: Mapping[str, float]
    keyword_affinity: Mapping[str, float]
    decade_counts: Mapping[int, int]
    top_genres: tuple[str, ...]
    usual_decades: tuple[int, ...]
    n_rated: int
    mean_rating: float | None
    seed_titles: Mapping[int, str]
    seed_signals: Mapping[int, float] = field(default_factory=dict)
    loved: frozenset[int] = frozenset()
    genre_shares: Mapping[str, float] = field(default_factory=dict)
    era_year: float | None = None


__all__ = [
    "Candidate",
    "CandidateSource",
    "CatalogStats",
    "FilmFeatures",
    "HistoryEntry",
    "Pick",
    "Reason",
    "ReasonKind",
    "ScoredCandidate",
    "Slot",
    "TasteProfile",
]
