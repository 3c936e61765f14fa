"""More like this: how close a candidate is to the film asked about, and the reasons, each
relative to that film, that are true of it by a written rule (pure: no I/O).

Reasons, in the order a card shows them (`similar_reasons`):

- SAME_DIRECTOR: the candidate and the asked film share a director (only when the catalog
  knows directors; values: the shared names, in the asked film's order).
- FANS_LOVED: the candidate is among the asked film's CF neighbours with an item-to-item
  weight B[asked, candidate] of at least FANS_MIN_WEIGHT and at least FANS_MIN_SHARE of the
  asked film's strongest neighbour's weight (EASE weights, see recommender.cf_train: people who had
  the asked film in their history had this one too, beyond chance; the scale of EASE weights
  shrinks with the regularisation on small data, hence the relative bound).
- TMDB_SIMILAR: TMDB lists the candidate under the asked film's recommendations or similar.
- SHARED_KEYWORDS: at least KEYWORDS_MIN shared keywords (values: up to KEYWORDS_SHOWN of
  them, in the asked film's order).
- SHARED_GENRES: the candidate has at least GENRES_MIN_SHARE of the asked film's genres (and
  at least one; values: the shared genres, in the asked film's order).

`closeness` combines the signals into one number in [0, 1] (see its docstring); the domain
service mixes it with the user's own ranking (domain/similar.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

#: Smallest CF weight B[asked, candidate] for "Fans of X loved it" (below it the link is noise),
#: and smallest share of the asked film's strongest neighbour's weight.
FANS_MIN_WEIGHT = 0.005
FANS_MIN_SHARE = 0.5
#: Fewest shared keywords for "Also about: …", and how many are named.
KEYWORDS_MIN = 2
KEYWORDS_SHOWN = 3
#: Smallest share of the asked film's genres the candidate must have for "Shares X's genres".
GENRES_MIN_SHARE = 0.5

#: Weights of the closeness terms (they sum to 1): the CF weight relative to the strongest
#: candidate's, the embedding similarity (clipped to 0…1), TMDB listing it, the share of the
#: asked film's genres, the share of its keywords (capped at KEYWORDS_FULL shared keywords),
#: a shared director.
W_CF = 0.30
W_EMBEDDING = 0.20
W_TMDB = 0.15
W_GENRES = 0.15
W_KEYWORDS = 0.10
W_DIRECTOR = 0.10
KEYWORDS_FULL = 3


class SimilarReasonKind(StrEnum):
    """Why a film is like the one asked about; the bot turns these into sentences."""

    SAME_DIRECTOR = "same_director"  # values: shared directors
    FANS_LOVED = "fans_loved"  # no values
    TMDB_SIMILAR = "tmdb_similar"  # no values
    SHARED_KEYWORDS = "shared_keywords_with"  # values: shared keywords
    SHARED_GENRES = "shared_genres_with"  # values: shared genres


@dataclass(frozen=True, slots=True)
class SimilarReason:
    """One reason relative to the asked film, e.g. SimilarReason(SHARED_GENRES, ("Horror",))."""

    kind: SimilarReasonKind
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FilmFacts:
    """What the rules read of a film: genre and keyword names, director names (empty when the
    catalog does not know them)."""

    tmdb_id: int
    genres: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    directors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Closeness:
    """The signals linking one candidate to the asked film: `cf_weight` B[asked, candidate]
    (0 when not a CF neighbour), `embedding` cosine similarity of their vectors (None: no
    vectors), `tmdb` whether TMDB lists it as related."""

    film: FilmFacts
    cf_weight: float = 0.0
    embedding: float | None = None
    tmdb: bool = False


def _shared(asked: Sequence[str], other: Sequence[str]) -> tuple[str, ...]:
    """The names of `asked` also in `other` (case-insensitive), in `asked`'s order."""
    theirs = {name.casefold() for name in other}
    return tuple(dict.fromkeys(name for name in asked if name.casefold() in theirs))


def shared_genres(asked: FilmFacts, candidate: FilmFacts) -> tuple[str, ...]:
    """The asked film's genres the candidate has, when they are at least GENRES_MIN_SHARE of
    them (and at least one); else ()."""
    shared = _shared(asked.genres, candidate.genres)
    if not shared or len(shared) < GENRES_MIN_SHARE * len(asked.genres):
        return ()
    return shared


def shared_keywords(asked: FilmFacts, candidate: FilmFacts) -> tuple[str, ...]:
    """Up to KEYWORDS_SHOWN shared keywords when at least KEYWORDS_MIN are shared; else ()."""
    shared = _shared(asked.keywords, candidate.keywords)
    return shared[:KEYWORDS_SHOWN] if len(shared) >= KEYWORDS_MIN else ()


def fans_loved(cf_weight: float, strongest: float) -> bool:
    """The FANS_LOVED rule: `cf_weight` B[asked, candidate] is at least FANS_MIN_WEIGHT and at
    least FANS_MIN_SHARE of `strongest`, the largest weight of any neighbour of the asked film."""
    return cf_weight >= FANS_MIN_WEIGHT and cf_weight >= FANS_MIN_SHARE * strongest


def similar_reasons(asked: FilmFacts, candidate: Closeness, strongest: float) -> tuple[SimilarReason, ...]:
    """Every reason that holds for `candidate`, in the module docstring's order (empty: none
    does, and the candidate should not be offered as "like" the asked film). `strongest`: the
    largest CF weight of any neighbour of the asked film (0 when it has none)."""
    reasons: list[SimilarReason] = []
    directors = _shared(asked.directors, candidate.film.directors)
    if directors:
        reasons.append(SimilarReason(SimilarReasonKind.SAME_DIRECTOR, directors))
    if fans_loved(candidate.cf_weight, strongest):
        reasons.append(SimilarReason(SimilarReasonKind.FANS_LOVED))
    if candidate.tmdb:
        reasons.append(SimilarReason(SimilarReasonKind.TMDB_SIMILAR))
    keywords = shared_keywords(asked, candidate.film)
    if keywords:
        reasons.append(SimilarReason(SimilarReasonKind.SHARED_KEYWORDS, keywords))
    genres = shared_genres(asked, candidate.film)
    if genres:
        reasons.append(SimilarReason(SimilarReasonKind.SHARED_GENRES, genres))
    return tuple(reasons)


def closeness(asked: FilmFacts, candidate: Closeness, max_cf_weight: float) -> float:
    """How close `candidate` is to the asked film, in [0, 1]:

        W_CF · min(1, cf_weight / max_cf_weight) + W_EMBEDDING · clip(embedding, 0, 1)
        + W_TMDB · [listed by TMDB] + W_GENRES · (shared genres / the asked film's genres)
        + W_KEYWORDS · min(1, shared keywords / KEYWORDS_FULL) + W_DIRECTOR · [a shared director]

    `max_cf_weight` is the largest CF weight among the candidates (≤ 0: the CF term is 0). A
    missing signal (no vectors, TMDB offline) counts 0, so it lowers every candidate alike.
    """
    cf = max(0.0, min(1.0, candidate.cf_weight / max_cf_weight)) if max_cf_weight > 0 else 0.0
    embedding = max(0.0, min(1.0, candidate.embedding)) if candidate.embedding is not None else 0.0
    genres = len(_shared(asked.genres, candidate.film.genres)) / len(asked.genres) if asked.genres else 0.0
    keywords = min(1.0, len(_shared(asked.keywords, candidate.film.keywords)) / KEYWORDS_FULL)
    return (
        W_CF * cf
        + W_EMBEDDING * embedding
        + W_TMDB * (1.0 if candidate.tmdb else 0.0)
        + W_GENRES * genres
        + W_KEYWORDS * keywords
        + W_DIRECTOR * (1.0 if _shared(asked.directors, candidate.film.directors) else 0.0)
    )


#: Share of the final order given to closeness to the asked film; the rest is the user's own
#: taste (their ranking of the same candidates, as a percentile).
CLOSENESS_SHARE = 0.6


def combined(closeness_value: float, taste_percentile: float) -> float:
    """The order of "more like this" picks: CLOSENESS_SHARE · closeness + (1 − CLOSENESS_SHARE)
    · taste percentile (1 = the user's best-ranked candidate, 0 = their worst), in [0, 1].
    `closeness_value` should be `relative` (the closest candidate 1): a signal missing for
    every candidate (offline, no vectors) then does not hand the order to taste alone."""
    return CLOSENESS_SHARE * closeness_value + (1 - CLOSENESS_SHARE) * taste_percentile


def relative(values: Mapping[int, float]) -> dict[int, float]:
    """Each value divided by the largest (all 0 when the largest is ≤ 0): tmdb id → 0…1."""
    top = max(values.values(), default=0.0)
    return {t: max(0.0, v) / top if top > 0 else 0.0 for t, v in values.items()}


def percentiles(ordered: Sequence[int]) -> dict[int, float]:
    """tmdb id → 1 − position / (n − 1) for ids best first (a single id gets 1.0)."""
    n = len(ordered)
    return {t: 1.0 - i / (n - 1) if n > 1 else 1.0 for i, t in enumerate(ordered)}
