"""Picks for a group watching together: films several people will enjoy, with reasons that
name people and never their ratings.

Rule (the "average without misery" strategy of Masthoff, "Group Recommender Systems:
Combining Individual Models", Recommender Systems Handbook, Springer 2011, pp. 677–702, with a
soft penalty instead of a hard cut so a group whose tastes clash still gets three films):

- A member's *fit* for a film is its percentile in that member's own ranking of the group's
  shared candidate pool (`fit_percentiles`: 1.0 = their best candidate, 0.0 = their worst).
  Percentiles make members whose raw scores have different scales comparable.
- A member is *predicted to dislike* a film (`dislikes`) when they have a history
  (`MemberTaste.informative`) and the film is in the bottom MISERY_FIT of their ranking, or
  one of its genres has an affinity ≤ DISLIKE_AFFINITY for them (stars below their own mean
  rating, shrunk: `recommender.taste.build_taste`), or it touches one of their /avoid topics.
  Members without history are never predicted to dislike anything.
- group score = mean fit over all members − MISERY_PENALTY × (members predicted to dislike it).
  With fits in 0–1, a film one member dislikes scores below every film nobody dislikes whose
  mean fit is at most MISERY_PENALTY lower than its own.

`group_picks` takes the best three by group score, diversified by MMR
(`recommender.picks.mmr_select`, λ = GROUP_MMR_LAMBDA). `group_reasons` says why, each reason
only where its rule holds (see GroupReasonKind).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from recommender.picks import film_similarity, mmr_select
from recommender.scoring import BAYES_PRIOR_MEAN, bayesian_rating
from recommender.taste import POSITIVE_AFFINITY_MIN
from recommender.types import FilmFeatures, TasteProfile

#: Bottom share of a member's ranking that counts as a predicted dislike.
MISERY_FIT = 0.2
#: Genre affinity (shrunk mean of the member's mean-centred ratings, in stars) at or below
#: which a film of that genre is a predicted dislike.
DISLIKE_AFFINITY = -0.3
#: Subtracted from the group score for each member predicted to dislike the film.
MISERY_PENALTY = 0.5
#: Fit from which a member is named as a fan of the film (their top fifth).
FAN_FIT = 0.8
#: Relevance against variety when choosing the three (1 = relevance only).
GROUP_MMR_LAMBDA = 0.7
#: Picks per round.
GROUP_PICKS = 3
#: Reasons shown per pick.
GROUP_REASONS_MAX = 2


@dataclass(frozen=True, slots=True)
class MemberTaste:
    """One member as the group ranking sees them.

    `key`: who (the caller's id, e.g. `users.id`); `scores`: tmdb id → the member's own
    ranking score (`recommender.scoring.score_candidates`) for the films of the shared pool
    (a film missing from it, one the member's rules removed, fits 0); `taste`: their profile;
    `avoided`: tmdb ids touching one of their /avoid topics.
    """

    key: int
    scores: Mapping[int, float]
    taste: TasteProfile
    avoided: frozenset[int] = frozenset()

    @property
    def informative(self) -> bool:
        """Whether the member has a rated or liked film: only then can a dislike be predicted
        or a taste be named."""
        return self.taste.n_rated > 0


class GroupReasonKind(StrEnum):
    """Why a film suits the group. `members` are the keys of the people named."""

    #: Fans: informative members with fit ≥ FAN_FIT who do not dislike it; `genre` (when
    #: set) is one of the film's genres among every named fan's top genres.
    FITS = "fits"
    #: `members` (one) has an affinity ≥ POSITIVE_AFFINITY_MIN for `genre`, one of the film's
    #: genres, does not dislike the film, and is not named as a fan.
    LIKES_GENRE = "likes_genre"
    #: Every member is informative, nobody is predicted to dislike the film, and none has an
    #: affinity ≤ DISLIKE_AFFINITY for `genre` (the film's first genre). No members named.
    SAFE_MIDDLE = "safe_middle"
    #: The film's TMDB weighted rating (`scoring.bayesian_rating`) beats BAYES_PRIOR_MEAN;
    #: `value` is TMDB's vote average. Given only when no other reason holds.
    WELL_RATED = "well_rated"
    #: Fallback with nothing else true: a popular film (no members, no value).
    POPULAR = "popular"


@dataclass(frozen=True, slots=True)
class GroupReason:
    kind: GroupReasonKind
    members: tuple[int, ...] = ()
    genre: str | None = None
    value: str | None = None


@dataclass(frozen=True, slots=True)
class GroupFit:
    """The group's view of one film: `score` (see the module docstring), `mean_fit` (0–1),
    `fits` member key → fit, and the members predicted to dislike it (`miserable`)."""

    film: FilmFeatures
    score: float
    mean_fit: float
    fits: Mapping[int, float]
    miserable: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class GroupPick:
    film: FilmFeatures
    score: GroupFit
    reasons: tuple[GroupReason, ...]


def fit_percentiles(scores: Mapping[int, float], pool: Sequence[int]) -> dict[int, float]:
    """Each pool film's percentile in the ranking by `scores` (0–1, best = 1.0; ties share
    their mean rank; a film without a score ranks below all scored ones). One film: 1.0."""
    if not pool:
        return {}
    missing = float("-inf")
    ordered = sorted(pool, key=lambda t: scores.get(t, missing))
    n = len(ordered)
    if n == 1:
        return {ordered[0]: 1.0}
    fits: dict[int, float] = {}
    i = 0
    while i < n:
        j = i
        value = scores.get(ordered[i], missing)
        while j + 1 < n and scores.get(ordered[j + 1], missing) == value:
            j += 1
        fit = ((i + j) / 2) / (n - 1)
        for k in range(i, j + 1):
            fits[ordered[k]] = fit
        i = j + 1
    return fits


def dislikes(member: MemberTaste, film: FilmFeatures, fit: float) -> bool:
    """Whether `member` is predicted to dislike `film` (module docstring)."""
    if not member.informative:
        return False
    if fit < MISERY_FIT or film.tmdb_id in member.avoided:
        return True
    return any(member.taste.genre_affinity.get(g, 0.0) <= DISLIKE_AFFINITY for g in film.genres)


def group_scores(films: Sequence[FilmFeatures], members: Sequence[MemberTaste]) -> list[GroupFit]:
    """The group score of every film, best first (ties: lower tmdb id first).

    Raises ValueError without members."""
    if not members:
        raise ValueError("a group needs at least one member")
    pool = [f.tmdb_id for f in films]
    fits_by_member = {m.key: fit_percentiles(m.scores, pool) for m in members}
    result = []
    for film in films:
        fits = {m.key: fits_by_member[m.key][film.tmdb_id] for m in members}
        miserable = tuple(m.key for m in members if dislikes(m, film, fits[m.key]))
        mean = sum(fits.values()) / len(fits)
        result.append(GroupFit(film, mean - MISERY_PENALTY * len(miserable), mean, fits, miserable))
    return sorted(result, key=lambda s: (-s.score, s.film.tmdb_id))


def group_reasons(score: GroupFit, members: Sequence[MemberTaste]) -> tuple[GroupReason, ...]:
    """Why `score.film` suits the group, most telling first, at most GROUP_REASONS_MAX, each
    only where its rule (GroupReasonKind) holds. Never a rating of anyone's."""
    film = score.film
    happy = [m for m in members if m.informative and m.key not in score.miserable]
    fans = [m for m in happy if score.fits[m.key] >= FAN_FIT]
    reasons: list[GroupReason] = []
    if fans:
        shared = [g for g in film.genres if all(g in m.taste.top_genres for m in fans)]
        reasons.append(
            GroupReason(GroupReasonKind.FITS, tuple(m.key for m in fans), shared[0] if shared else None)
        )
    named = {m.key for m in fans}
    for m in happy:
        if m.key in named:
            continue
        liked = [g for g in film.genres if m.taste.genre_affinity.get(g, 0.0) >= POSITIVE_AFFINITY_MIN]
        if liked:
            liked.sort(key=lambda g: -m.taste.genre_affinity[g])
            reasons.append(GroupReason(GroupReasonKind.LIKES_GENRE, (m.key,), liked[0]))
            named.add(m.key)
    if (
        film.genres
        and len(fans) < len(members)
        and not score.miserable
        and all(m.informative for m in members)
        and all(m.taste.genre_affinity.get(film.genres[0], 0.0) > DISLIKE_AFFINITY for m in members)
    ):
        reasons.append(GroupReason(GroupReasonKind.SAFE_MIDDLE, genre=film.genres[0]))
    if not reasons:
        if bayesian_rating(film.vote_average, film.vote_count) > BAYES_PRIOR_MEAN:
            reasons.append(GroupReason(GroupReasonKind.WELL_RATED, value=f"{film.vote_average:.1f}"))
        else:
            reasons.append(GroupReason(GroupReasonKind.POPULAR))
    # a safe middle speaks for everyone: keep it when it would be cut behind single likes
    if len(reasons) > GROUP_REASONS_MAX and reasons[-1].kind is GroupReasonKind.SAFE_MIDDLE:
        reasons = [*reasons[: GROUP_REASONS_MAX - 1], reasons[-1]]
    return tuple(reasons[:GROUP_REASONS_MAX])


def group_picks(
    films: Sequence[FilmFeatures], members: Sequence[MemberTaste], *, k: int = GROUP_PICKS
) -> list[GroupPick]:
    """Up to `k` films for the group: the best group scores, diversified by MMR (genres,
    decade, keywords: `recommender.picks.film_similarity`), each with its reasons.

    Raises ValueError without members."""
    scores = group_scores(films, members)
    if not scores:
        return []
    top, bottom = scores[0].score, scores[-1].score
    span = (top - bottom) or 1.0
    chosen = mmr_select(
        scores,
        k,
        relevance=lambda s: (s.score - bottom) / span,
        similarity=lambda a, b: film_similarity(a.film, b.film),
        lam=GROUP_MMR_LAMBDA,
    )
    return [GroupPick(s.film, s, group_reasons(s, members)) for s in chosen]
