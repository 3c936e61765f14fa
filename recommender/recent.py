"""What the user was shown lately, and the two score components that depend on it: novelty (a
film much like one just shown is pushed down) and repeat (a genre or decade that fills the
recent picks is pushed down). `recommender.scoring.score_candidates` adds both; `Rescorer`
brings a scored list up to date with newer picks without scoring it again (the ranking a
process reuses between answers, domain.ranking_cache).

Pure functions: no I/O, no clock, no randomness.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import sparse

from recommender.taste import decade_of
from recommender.types import FilmFeatures, ScoredCandidate

# novelty: highest Jaccard overlap of genres + keywords with a recently shown film.
W_NOVELTY = 0.15
# repeat: how much the film's primary genre and decade exceed a third of recent picks.
W_REPEAT = 0.3
REPEAT_FAIR_SHARE = 1 / 3


@dataclass(frozen=True)
class RecentPicks:
    """What the user was shown lately, for the novelty and repeat terms.

    `films`: features of recently shown films (any order); empty for a new user.
    """

    films: tuple[FilmFeatures, ...] = ()
    # derived once, so scoring hundreds of candidates costs lookups and one matrix product
    tags: tuple[frozenset[str], ...] = field(init=False, repr=False, compare=False)
    sizes: npt.NDArray[np.float64] = field(init=False, repr=False, compare=False)
    ids: frozenset[int] = field(init=False, repr=False, compare=False)
    primary_genres: Counter[str] = field(init=False, repr=False, compare=False)
    decades: Counter[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tags = tuple(frozenset(f.genres) | frozenset(f.keywords) for f in self.films)
        object.__setattr__(self, "tags", tags)
        object.__setattr__(self, "sizes", np.array([len(t) for t in tags], dtype=np.float64))
        object.__setattr__(self, "ids", frozenset(f.tmdb_id for f in self.films))
        object.__setattr__(self, "primary_genres", Counter(f.genres[0] for f in self.films if f.genres))
        decades = Counter(d for f in self.films if (d := decade_of(f.year)) is not None)
        object.__setattr__(self, "decades", decades)

    def genre_share(self, genre: str) -> float:
        """Share of the recent films whose primary (first) genre is `genre`, 0–1."""
        return self.primary_genres[genre] / len(self.films) if self.films else 0.0

    def decade_share(self, decade: int) -> float:
        """Share of the recent films from `decade`, 0–1."""
        return self.decades[decade] / len(self.films) if self.films else 0.0


#: A user who was shown nothing yet.
NO_RECENT_PICKS = RecentPicks()


class FilmIndex:
    """n films as arrays, for their novelty and repeat terms against any `RecentPicks`: their
    genres + keywords as a sparse n × tags 0/1 matrix over their own tag vocabulary, each one's
    tag count, primary genre and decade as indices (−1: none). Built in O(n × tags per film);
    each term is then numpy over the n films."""

    def __init__(self, films: Sequence[FilmFeatures]) -> None:
        n = len(films)
        self.ids = np.fromiter((f.tmdb_id for f in films), dtype=np.int64, count=n)
        tags = [{*f.genres, *f.keywords} for f in films]
        flat = [tag for film_tags in tags for tag in film_tags]
        self.columns: dict[str, int] = {tag: k for k, tag in enumerate(dict.fromkeys(flat))}
        self.sizes = np.fromiter(map(len, tags), dtype=np.float64, count=n)
        # row i holds film i's tags: flat[indptr[i]:indptr[i + 1]]
        indptr = np.concatenate(([0], np.cumsum(self.sizes, dtype=np.intp)))
        cols = np.fromiter(map(self.columns.__getitem__, flat), dtype=np.intp, count=len(flat))
        self.incidence = sparse.csr_array((np.ones(len(flat)), cols, indptr), shape=(n, len(self.columns)))
        self.genres: dict[str, int] = {}
        self.genre = np.fromiter(
            (self.genres.setdefault(f.genres[0], len(self.genres)) if f.genres else -1 for f in films),
            dtype=np.int64,
            count=n,
        )
        self.decades: dict[int, int] = {}
        self.decade = np.fromiter(
            (
                -1 if (d := decade_of(f.year)) is None else self.decades.setdefault(d, len(self.decades))
                for f in films
            ),
            dtype=np.int64,
            count=n,
        )

    def __len__(self) -> int:
        return len(self.ids)

    def novelty(self, recent: RecentPicks) -> npt.NDArray[np.float64]:
        """The novelty term of each film, 0–1, shape (n,): the highest Jaccard overlap of its
        genres + keywords with a recently shown film's (1 = the same tags as something just
        shown, or the film itself; 0 for a film without tags). The tags every film shares with
        every recent one come from one sparse product (exact small integers), so the floats
        are those of a pairwise loop."""
        if not recent.films or not len(self):
            return np.zeros(len(self))
        rows: list[int] = []
        cols: list[int] = []
        for j, tags in enumerate(recent.tags):
            for tag in tags:
                column = self.columns.get(tag)
                if column is not None:
                    rows.append(column)
                    cols.append(j)
        shown_tags = sparse.csr_array(
            (np.ones(len(rows)), (rows, cols)), shape=(len(self.columns), len(recent.films))
        )
        # films × recent films: tags in common (a sparse product: no BLAS threads for a small one)
        shared = np.asarray((self.incidence @ shown_tags).toarray())
        union = self.sizes[:, None] + recent.sizes[None, :] - shared
        jaccard = np.divide(shared, union, out=np.zeros_like(shared), where=shared > 0)
        terms: npt.NDArray[np.float64] = np.max(jaccard, axis=1)
        shown = np.isin(self.ids, np.fromiter(recent.ids, dtype=np.int64, count=len(recent.ids)))
        terms[shown & (self.sizes > 0)] = 1.0
        return terms

    def repeat(self, recent: RecentPicks) -> npt.NDArray[np.float64]:
        """The repeat term of each film, 0–~1.3, shape (n,): how far its primary genre and its
        decade exceed REPEAT_FAIR_SHARE of the recent picks (an over-represented genre or
        decade is pushed down)."""
        if not recent.films:
            return np.zeros(len(self))
        # each vocabulary's shares, and 0 in the last slot for the films with none (index −1)
        genre_share = np.zeros(len(self.genres) + 1)
        for genre, k in self.genres.items():
            genre_share[k] = recent.genre_share(genre)
        decade_share = np.zeros(len(self.decades) + 1)
        for decade, k in self.decades.items():
            decade_share[k] = recent.decade_share(decade)
        by_genre = np.maximum(0.0, genre_share[self.genre] - REPEAT_FAIR_SHARE)
        by_decade = np.maximum(0.0, decade_share[self.decade] - REPEAT_FAIR_SHARE)
        terms: npt.NDArray[np.float64] = by_genre + by_decade
        return terms


class Rescorer:
    """A scored list (from `recommender.scoring.score_candidates`) prepared to be brought up to
    date with newer recent picks again and again (`rescore`): its films' `FilmIndex`, each
    candidate's novelty and repeat components and the sum of its other components. Building
    it is O(films × tags); each `rescore` is numpy over the list, plus new objects for the
    candidates whose terms changed."""

    def __init__(self, scored: Sequence[ScoredCandidate]) -> None:
        self.scored = tuple(scored)
        n = len(self.scored)
        self.films = FilmIndex([s.candidate.film for s in self.scored])
        self.novelty = np.fromiter((s.components["novelty"] for s in self.scored), dtype=np.float64, count=n)
        self.repeat = np.fromiter((s.components["repeat"] for s in self.scored), dtype=np.float64, count=n)
        # score_candidates adds novelty and repeat last: the sum of the others, in their order
        self.rest = np.fromiter(
            (sum(itertools.islice(s.components.values(), len(s.components) - 2)) for s in self.scored),
            dtype=np.float64,
            count=n,
        )

    def rescore(self, recent: RecentPicks, *, exclude: Collection[int]) -> list[ScoredCandidate]:
        """The list with the films in `exclude` left out and the novelty and repeat terms
        recomputed against `recent` (as `score_candidates` computes them; every other
        component kept); best first (score desc, then tmdb_id asc). The scores are the same
        floats as `score_candidates`' sum. Components are normalised over the pool that was
        scored, so the scores equal a fresh scoring of the remaining pool only when nothing
        was left out. A candidate whose terms did not change is returned as it was."""
        keep = np.ones(len(self.scored), dtype=bool)
        if exclude:
            keep = ~np.isin(self.films.ids, np.fromiter(exclude, dtype=np.int64, count=len(exclude)))
        novelty = -W_NOVELTY * self.films.novelty(recent)
        repeat = -W_REPEAT * self.films.repeat(recent)
        scores = (self.rest + novelty) + repeat
        kept = np.flatnonzero(keep)
        order = kept[np.lexsort((self.films.ids[kept], -scores[kept]))]  # score desc, tmdb_id asc
        changed = (novelty != self.novelty) | (repeat != self.repeat)
        out = []
        for k in order.tolist():
            s = self.scored[k]
            if changed[k]:
                components = {**s.components, "novelty": float(novelty[k]), "repeat": float(repeat[k])}
                s = ScoredCandidate(s.candidate, float(scores[k]), components, s.reasons)
            out.append(s)
        return out
