"""What the user was shown lately: the novelty and repeat terms, and rescoring a ranking
against newer picks (recommender.recent)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recommender import Candidate, FilmFeatures, HistoryEntry, RecentPicks, build_taste, score_candidates
from recommender.recent import REPEAT_FAIR_SHARE, FilmIndex, Rescorer
from tests.recommender.helpers import candidate_lists, exclusions, film, films, histories, recents


def novelty_term(one: FilmFeatures, recent: RecentPicks) -> float:
    """FilmIndex's novelty term of one film on its own."""
    return float(FilmIndex([one]).novelty(recent)[0])


def repeat_term(one: FilmFeatures, recent: RecentPicks) -> float:
    """FilmIndex's repeat term of one film on its own."""
    return float(FilmIndex([one]).repeat(recent)[0])


def test_novelty_term_is_the_highest_jaccard_with_a_recent_film() -> None:
    space = film(1, genres=("Science Fiction",), keywords=("space", "robot"))
    recent = RecentPicks(
        (
            film(2, genres=("Science Fiction",), keywords=("space",)),  # 2 of 3 tags
            film(3, genres=("Comedy",)),
        )
    )
    assert novelty_term(space, recent) == pytest.approx(2 / 3)
    assert novelty_term(space, RecentPicks()) == 0.0
    assert novelty_term(film(4, genres=(), keywords=()), recent) == 0.0
    assert novelty_term(film(2, genres=("Horror",)), recent) == 1.0  # the same film


def test_repeat_term_pushes_over_represented_genre_and_decade() -> None:
    recent = RecentPicks(
        (
            film(1, genres=("Drama", "Romance"), year=1994),
            film(2, genres=("Drama",), year=1991),
            film(3, genres=("Comedy", "Drama"), year=2005),
        )
    )
    assert recent.genre_share("Drama") == pytest.approx(2 / 3)  # primary genre only
    assert recent.decade_share(1990) == pytest.approx(2 / 3)
    assert RecentPicks().genre_share("Drama") == 0.0 == RecentPicks().decade_share(1990)
    assert repeat_term(film(9, genres=("Drama",), year=1999), recent) == pytest.approx(
        2 * (2 / 3 - REPEAT_FAIR_SHARE)
    )
    assert repeat_term(film(9, genres=("Comedy",), year=2001), recent) == 0.0  # a fair share
    assert repeat_term(film(9, genres=(), year=None), recent) == 0.0


# --- score_candidates: examples --------------------------------------------------------------


@given(candidate_lists, histories, recents, recents, exclusions)
def test_rescoring_is_scoring_with_the_new_recent_picks(
    cands: list[Candidate],
    history: list[HistoryEntry],
    then: RecentPicks,
    now: RecentPicks,
    shown: frozenset[int],
) -> None:
    taste = build_taste(history)
    fresh = score_candidates(cands, taste, exclude=(), recent=now)
    updated = Rescorer(score_candidates(cands, taste, exclude=(), recent=then)).rescore(now, exclude=())
    # the same terms summed in the same order: the same floats, so the same order
    assert [(s.film.tmdb_id, s.score, s.components) for s in updated] == [
        (s.film.tmdb_id, s.score, s.components) for s in fresh
    ]
    kept = Rescorer(fresh).rescore(now, exclude=shown)
    assert [s.film.tmdb_id for s in kept] == [s.film.tmdb_id for s in fresh if s.film.tmdb_id not in shown]


@given(candidate_lists, histories, st.lists(recents, min_size=1, max_size=4), exclusions)
def test_one_rescorer_serves_many_answers(
    cands: list[Candidate], history: list[HistoryEntry], answers: list[RecentPicks], shown: frozenset[int]
) -> None:
    """A ranking reused answer after answer (domain.ranking_cache) gives each time what a fresh
    scoring with that answer's recent picks gives."""
    taste = build_taste(history)
    rescorer = Rescorer(score_candidates(cands, taste, exclude=(), recent=answers[0]))
    for recent in answers:
        fresh = score_candidates(cands, taste, exclude=(), recent=recent)
        assert [(s.film.tmdb_id, s.score, s.components) for s in rescorer.rescore(recent, exclude=shown)] == [
            (s.film.tmdb_id, s.score, s.components) for s in fresh if s.film.tmdb_id not in shown
        ]


@given(st.lists(films(), max_size=12), recents)
def test_repeat_terms_in_one_batch_are_the_single_ones(
    batch: list[FilmFeatures], recent: RecentPicks
) -> None:
    assert FilmIndex(batch).repeat(recent).tolist() == [repeat_term(f, recent) for f in batch]
    expected = []
    for f in batch:
        term = 0.0
        if f.genres:
            term += max(0.0, recent.genre_share(f.genres[0]) - REPEAT_FAIR_SHARE)
        if f.year is not None:
            term += max(0.0, recent.decade_share(f.year - f.year % 10) - REPEAT_FAIR_SHARE)
        expected.append(term)
    assert FilmIndex(batch).repeat(recent).tolist() == expected


TAGS = st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), max_size=4, unique=True)


@given(
    st.lists(st.tuples(st.integers(1, 6), TAGS, TAGS), max_size=6),
    st.lists(st.tuples(st.integers(1, 8), TAGS, TAGS), max_size=8),
)
def test_novelty_is_the_highest_jaccard_overlap_with_a_recent_film(
    shown: list[tuple[int, list[str], list[str]]], candidates: list[tuple[int, list[str], list[str]]]
) -> None:
    recent = RecentPicks(tuple(film(i, genres=tuple(g), keywords=tuple(k)) for i, g, k in shown))
    expected = []
    for tmdb_id, genres, keywords in candidates:
        tags = set(genres) | set(keywords)
        if not shown or not tags:
            expected.append(0.0)
        elif tmdb_id in {i for i, _g, _k in shown}:
            expected.append(1.0)
        else:
            overlaps = [len(tags & (set(g) | set(k))) / len(tags | set(g) | set(k)) for _i, g, k in shown]
            expected.append(max(overlaps))
    films = [film(i, genres=tuple(g), keywords=tuple(k)) for i, g, k in candidates]
    assert FilmIndex(films).novelty(recent).tolist() == expected  # the same floats, in one batch
    assert [novelty_term(f, recent) for f in films] == expected
